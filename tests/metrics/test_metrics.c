// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// /metrics over HTTP: the text is strictly valid Prometheus text (checked
// with tools/top/prom.c, whose strictness is tested first), histograms are
// cumulative and end with +Inf == _count, the expected series are there,
// per-peer series on a node, and troupe-top --once draws its sections.
#define _POSIX_C_SOURCE 200809L
#include "tests/test.h"
#include "tools/top/prom.h"

#include <troupe/cluster.h>
#include <troupe/metrics.h>

#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>

extern char **environ;

// ---------------------------------------------------------------------------
// The reader: good text passes, each kind of bad text fails.

static bool
prom_ok(const char *text)
{
    struct prom_doc d;
    char err[256];
    int rc = prom_parse(&d, text, strlen(text), err, sizeof err);
    if (rc == 0)
        prom_free(&d);
    return rc == 0;
}

static void
test_reader_is_strict(void **state)
{
    (void)state;
    const char *good = "# HELP a_total A \\\\ help\\nline.\n"
                       "# TYPE a_total counter\n"
                       "a_total{x=\"q\\\"\\\\\\n\"} 3\n"
                       "a_total 4 1700000000000\n"
                       "# TYPE h histogram\n"
                       "h_bucket{le=\"0.5\"} 1\n"
                       "h_bucket{le=\"1\"} 1\n"
                       "h_bucket{le=\"+Inf\"} 2\n"
                       "h_sum 1.5e0\n"
                       "h_count 2\n"
                       "g NaN\n";
    assert_true(prom_ok(good));
    struct prom_doc d;
    char err[256];
    assert_int_equal(prom_parse(&d, good, strlen(good), err, sizeof err), 0);
    assert_string_equal(d.families[0].help, "A \\ help\nline.");
    assert_string_equal(prom_label_get(&d.samples[0], "x"), "q\"\\\n");
    assert_string_equal(d.families[2].type, "untyped");
    prom_free(&d);

    static const char *const bad[] = {
        "a 1",                                       // no newline
        "a{x=\"1\"} 1\na{x=\"1\"} 2\n",              // same series
        "a{x=\"1\",x=\"2\"} 1\n",                    // label twice
        "a{x=\"\\t\"} 1\n",                          // bad escape
        "a{x=1} 1\n",                                // unquoted
        "a 0x10\n",                                  // hex value
        "a 1 2 3\n",                                 // trailing
        "1a 1\n",                                    // bad name
        "# TYPE a counter\n# TYPE a gauge\na 1\n",   // TYPE twice
        "a 1\n# TYPE a gauge\n",                     // TYPE after
        "# TYPE a wrong\na 1\n",                     // unknown type
        "# HELP a x\\y\na 1\n",                      // bad HELP escape
        "# TYPE a counter\na -1\n",                  // negative counter
        "a 1\nb 1\na{x=\"y\"} 1\n",                  // not together
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\n" // not cumulative
        "h_bucket{le=\"2\"} 1\nh_bucket{le=\"+Inf\"} 2\n"
        "h_sum 1\nh_count 2\n",
        "# TYPE h histogram\nh_bucket{le=\"2\"} 1\n" // le going down
        "h_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\n"
        "h_sum 1\nh_count 1\n",
        "# TYPE h histogram\nh_bucket{le=\"1\"} 1\n" // no +Inf
        "h_sum 1\nh_count 1\n",
        "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\n" // count differs
        "h_sum 1\nh_count 3\n",
        "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\n" // no _sum
        "h_count 2\n",
        "# TYPE h histogram\nh_bucket 2\nh_sum 1\nh_count 2\n", // no le
        "# TYPE h histogram\nh 2\n",                            // bare name
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (prom_ok(bad[i]))
            fail_msg("accepted bad text #%zu: %s", i, bad[i]);
    }
}

// ---------------------------------------------------------------------------
// A system with something to show: a held actor with a deep mailbox, and
// an echo that handled some traffic.

enum { MSG_HOLD = 1, MSG_WORK, MSG_PING, MSG_PONG };

static _Atomic int held, open_gate;

static int
gated_receive(tr_ctx *ctx, const tr_msg *m)
{
    (void)ctx;
    if (tr_msg_type(m) == MSG_HOLD) {
        atomic_store(&held, 1);
        TEST_WAIT_UNTIL(atomic_load(&open_gate));
    }
    return 0;
}

// A name that needs escaping in a label value.
static const tr_behavior gated = {.name = "gated \"slow\" \\ one",
                                  .receive = gated_receive};

static int
echo_receive(tr_ctx *ctx, const tr_msg *m)
{
    if (tr_msg_type(m) == MSG_PING)
        return tr_send(ctx, tr_msg_sender(m), MSG_PONG, NULL, 0);
    return 0;
}

static const tr_behavior echo = {.name = "echo", .receive = echo_receive};

struct fixture {
    tr_system *sys;
    tr_ref gated, echo;
    char url[256];
};

static void
fixture_open(struct fixture *f)
{
    tr_config cfg = {
        .actor_stats = true, .loops = 2, .sample_every = 1, .watchdog_ms = -1};
    assert_int_equal(tr_system_open(&f->sys, &cfg), 0);
    assert_int_equal(tr_metrics_serve(f->sys, "http://127.0.0.1:0", NULL), 0);
    assert_int_equal(tr_metrics_url(f->sys, f->url, sizeof f->url), 0);
    tr_spawn_opts on1 = {.placement = TR_PLACE_LOOP, .loop = 1};
    assert_int_equal(tr_system_spawn(&f->gated, f->sys, &gated, NULL, 0, &on1),
                     0);
    assert_int_equal(tr_system_spawn(&f->echo, f->sys, &echo, NULL, 0, NULL),
                     0);
    tr_inbox *ib;
    assert_int_equal(tr_inbox_alloc(&ib, f->sys), 0);
    for (int i = 0; i < 200; i++) {
        assert_int_equal(tr_inbox_send(ib, f->echo, MSG_PING, NULL, 0), 0);
        tr_msg_free(test_recv(ib, MSG_PONG));
    }
    tr_inbox_free(ib);
    // The echo's last turn books its messages when it ends, which may be
    // a moment after its last reply: wait for that.
    tr_actor_info top[1];
    size_t n = 0;
    TEST_WAIT_UNTIL(tr_actors_top(f->sys, TR_TOP_HANDLED, top, 1, &n) == 0 &&
                    n == 1 && top[0].handled == 200);
    assert_int_equal(top[0].handled, 200);
    atomic_store(&held, 0);
    atomic_store(&open_gate, 0);
    assert_int_equal(tr_system_send(f->sys, f->gated, MSG_HOLD, NULL, 0), 0);
    TEST_WAIT_UNTIL(atomic_load(&held));
    assert_true(atomic_load(&held));
    for (int i = 0; i < 100; i++)
        assert_int_equal(tr_system_send(f->sys, f->gated, MSG_WORK, NULL, 0),
                         0);
}

static void
fixture_close(struct fixture *f)
{
    atomic_store(&open_gate, 1);
    test_close(f->sys);
}

// GETs `url` with nng's HTTP client. Returns the status; *body (malloc'd,
// NUL-terminated) and the Content-Type are the response's.
static unsigned
http_get(const char *url, char **body, size_t *len, char *ctype, size_t csize)
{
    nng_url *u;
    nng_http_client *c;
    nng_http_req *req;
    nng_http_res *res;
    nng_aio *aio;
    assert_int_equal(nng_url_parse(&u, url), 0);
    assert_int_equal(nng_http_client_alloc(&c, u), 0);
    assert_int_equal(nng_http_req_alloc(&req, u), 0);
    assert_int_equal(nng_http_res_alloc(&res), 0);
    assert_int_equal(nng_aio_alloc(&aio, NULL, NULL), 0);
    nng_aio_set_timeout(aio, TEST_WAIT_MS);
    nng_http_client_transact(c, req, res, aio);
    nng_aio_wait(aio);
    assert_int_equal(nng_aio_result(aio), 0);
    unsigned status = nng_http_res_get_status(res);
    void *data;
    size_t n;
    nng_http_res_get_data(res, &data, &n);
    *body = malloc(n + 1);
    assert_non_null(*body);
    if (n != 0)
        memcpy(*body, data, n);
    (*body)[n] = 0;
    *len = n;
    const char *ct = nng_http_res_get_header(res, "Content-Type");
    snprintf(ctype, csize, "%s", ct != NULL ? ct : "");
    nng_aio_free(aio);
    nng_http_res_free(res);
    nng_http_req_free(req);
    nng_http_client_free(c);
    nng_url_free(u);
    return status;
}

// Scrapes `url` and parses the text strictly; fails the test with the
// reader's message if it is not valid.
static void
scrape(const char *url, struct prom_doc *d)
{
    char *body, ctype[128], err[256];
    size_t len;
    assert_int_equal(http_get(url, &body, &len, ctype, sizeof ctype), 200);
    assert_string_equal(ctype, "text/plain; version=0.0.4; charset=utf-8");
    if (prom_parse(d, body, len, err, sizeof err) != 0)
        fail_msg("/metrics is not valid Prometheus text: %s", err);
    free(body);
}

static const struct prom_family *
family(const struct prom_doc *d, const char *name, const char *type)
{
    long f = prom_find(d, name);
    if (f < 0)
        fail_msg("no family %s", name);
    assert_string_equal(d->families[f].type, type);
    assert_non_null(d->families[f].help);
    return &d->families[f];
}

// The value of the sample `name` whose label `label` is `value` (or the
// first one, with label NULL); fails if there is none.
static double
sample(const struct prom_doc *d, const char *name, const char *label,
       const char *value)
{
    for (size_t i = 0; i < d->nsamples; i++) {
        const struct prom_sample *s = &d->samples[i];
        if (strcmp(s->name, name) != 0)
            continue;
        const char *v = label != NULL ? prom_label_get(s, label) : NULL;
        if (label == NULL || (v != NULL && strcmp(v, value) == 0))
            return s->value;
    }
    fail_msg("no sample %s{%s=\"%s\"}", name, label ? label : "",
             value ? value : "");
    return NAN;
}

static void
test_metrics_over_http(void **state)
{
    (void)state;
    struct fixture f;
    fixture_open(&f);
    assert_non_null(strstr(f.url, "http://127.0.0.1:"));
    assert_non_null(strstr(f.url, "/metrics"));
    struct prom_doc d;
    scrape(f.url, &d);

    // Naming: every counter ends in _total, every family is troupe_*.
    for (size_t i = 0; i < d.nfamilies; i++) {
        const char *n = d.families[i].name;
        assert_int_equal(strncmp(n, "troupe_", 7), 0);
        size_t l = strlen(n);
        if (strcmp(d.families[i].type, "counter") == 0)
            assert_string_equal(n + l - 6, "_total");
    }
    family(&d, "troupe_actors", "gauge");
    family(&d, "troupe_messages_sent_total", "counter");
    family(&d, "troupe_dead_letters_total", "counter");
    family(&d, "troupe_requests_timed_out_total", "counter");
    family(&d, "troupe_loop_lag_seconds", "histogram");
    family(&d, "troupe_loop_run_seconds", "histogram");
    family(&d, "troupe_loop_lag_quantile_seconds", "gauge");
    family(&d, "troupe_pool_queued_jobs", "gauge");
    family(&d, "troupe_pool_jobs_rejected_total", "counter");
    family(&d, "troupe_actor_mailbox_depth", "gauge");
    family(&d, "troupe_actor_busy_seconds_total", "counter");
    assert_int_equal(prom_find(&d, "troupe_node_info"), -1); // not a node

    assert_true(sample(&d, "troupe_actors", NULL, NULL) >= 2);
    assert_true(sample(&d, "troupe_messages_sent_total", NULL, NULL) >= 500);
    assert_int_equal(sample(&d, "troupe_loops", NULL, NULL), 2);
    // Both loops have their series; the echo's loop handled the pings.
    double handled =
        sample(&d, "troupe_loop_messages_handled_total", "loop", "0") +
        sample(&d, "troupe_loop_messages_handled_total", "loop", "1");
    assert_true(handled >= 200);
    // Every turn was timed: the run histograms are not empty (a turn may
    // have taken several pings), and their +Inf bucket is their count
    // (the reader checked it equals _count).
    double turns = sample(&d, "troupe_loop_run_seconds_count", "loop", "0") +
                   sample(&d, "troupe_loop_run_seconds_count", "loop", "1");
    assert_true(turns >= 1);
    // The held actor is the deepest: 100 queued and the hold in progress,
    // its name escaped in the text and read back as it was.
    double depth = -1;
    for (size_t i = 0; i < d.nsamples; i++) {
        const struct prom_sample *s = &d.samples[i];
        if (strcmp(s->name, "troupe_actor_mailbox_depth") != 0)
            continue;
        if (depth < 0) { // the first is the deepest
            assert_string_equal(prom_label_get(s, "behavior"), gated.name);
            assert_string_equal(prom_label_get(s, "loop"), "1");
            depth = s->value;
        }
    }
    assert_int_equal(depth, 101);
    assert_true(sample(&d, "troupe_actor_messages_total", "behavior", "echo") >=
                200);
    prom_free(&d);

    // Another path is not served; a second server is refused.
    char *body, ctype[128], other[300];
    size_t len;
    snprintf(other, sizeof other, "%.*s/other",
             (int)(strstr(f.url, "/metrics") - f.url), f.url);
    assert_int_equal(http_get(other, &body, &len, ctype, sizeof ctype), 404);
    free(body);
    assert_int_equal(tr_metrics_serve(f.sys, "http://127.0.0.1:0", NULL),
                     TR_EBUSY);
    fixture_close(&f);
}

// Counts the lines of `text` that start with `prefix`.
static int
lines_starting(const char *text, const char *prefix)
{
    int n = 0;
    for (const char *p = text; p != NULL && *p != 0;) {
        if (strncmp(p, prefix, strlen(prefix)) == 0)
            n++;
        p = strchr(p, '\n');
        if (p != NULL)
            p++;
    }
    return n;
}

// The deepest actor and the busiest are two different ones: both listed,
// once each. (The merge of the two lists ran past its end when the
// busiest were not among the deepest: a chat node crashed in a scrape
// while its connections closed.)
static void
test_metrics_deepest_and_busiest_differ(void **state)
{
    (void)state;
    struct fixture f;
    fixture_open(&f); // gated: 100 queued, nothing handled; echo: busy
    tr_metrics_opts o = {.top_actors = 1};
    size_t size = 1 << 20, len = 0;
    char *buf = malloc(size);
    assert_non_null(buf);
    assert_int_equal(tr_metrics_text(f.sys, &o, buf, size, &len), 0);
    assert_true(prom_ok(buf));
    assert_int_equal(lines_starting(buf, "troupe_actor_mailbox_depth{"), 2);
    assert_int_equal(lines_starting(buf, "troupe_actor_mailbox_depth{actor=\""),
                     2);
    assert_non_null(strstr(buf, "behavior=\"echo\""));
    assert_non_null(strstr(buf, "behavior=\"gated"));
    free(buf);
    fixture_close(&f);
}

static void
test_metrics_text_and_args(void **state)
{
    (void)state;
    tr_system *sys;
    tr_config cfg = {.actor_stats = true, .loops = 1};
    assert_int_equal(tr_system_open(&sys, &cfg), 0);
    size_t len = 0;
    char small[16];
    assert_int_equal(tr_metrics_text(sys, NULL, small, sizeof small, &len),
                     TR_ELIMIT);
    assert_true(len > sizeof small);
    size_t size = len + 4096; // room for counters that grew meanwhile
    char *buf = malloc(size);
    assert_non_null(buf);
    assert_int_equal(tr_metrics_text(sys, NULL, buf, size, &len), 0);
    assert_int_equal(strlen(buf), len);
    assert_true(prom_ok(buf));
    free(buf);
    char url[64];
    assert_int_equal(tr_metrics_url(sys, url, sizeof url), TR_EINVAL);
    assert_int_equal(tr_metrics_serve(sys, "tcp://127.0.0.1:0", NULL),
                     TR_EINVAL);
    assert_int_equal(tr_metrics_serve(sys, "not a url", NULL), TR_EINVAL);
    tr_metrics_opts o = {.top_actors = 3};
    assert_int_equal(tr_metrics_serve(sys, "http://127.0.0.1:0/m", &o), 0);
    assert_int_equal(tr_metrics_url(sys, url, 8), TR_ELIMIT);
    assert_int_equal(tr_metrics_url(sys, url, sizeof url), 0);
    assert_string_equal(url + strlen(url) - 2, "/m");
    // Closing stops the server before anything else.
    test_close(sys);
}

// ---------------------------------------------------------------------------
// A node: peers and their outboxes.

static tr_system *
node_open(const char *name, const char *seed)
{
    tr_system *sys;
    tr_config cfg = {.actor_stats = true, .loops = 1};
    assert_int_equal(tr_system_open(&sys, &cfg), 0);
    const char *seeds[1] = {seed};
    tr_node_config nc = {
        .name = name,
        .listen = "tcp://127.0.0.1:0",
        .seeds = seeds,
        .nseeds = seed != NULL,
        .insecure = true,
        .heartbeat_ms = 100,
        .timeout_ms = 2000,
        .reconnect_min_ms = 20,
        .reconnect_max_ms = 200,
    };
    assert_int_equal(tr_node_start(sys, &nc), 0);
    return sys;
}

static void
test_metrics_node_peers(void **state)
{
    (void)state;
    tr_system *a = node_open("alpha", NULL);
    char url[256];
    assert_int_equal(tr_node_url(a, url, sizeof url), 0);
    tr_system *b = node_open("beta", url);
    assert_int_equal(tr_node_wait_peers(a, 1, TEST_WAIT_MS), 0);

    tr_node_peer peers[4];
    size_t n = 0;
    assert_int_equal(tr_node_peers(a, peers, 4, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(peers[0].name, "beta");
    assert_true(peers[0].up);
    assert_int_equal(tr_node_peers(a, NULL, 0, &n), 0);
    assert_int_equal(n, 1);
    tr_system *plain;
    tr_config cfg = {.actor_stats = true, .loops = 1};
    assert_int_equal(tr_system_open(&plain, &cfg), 0);
    assert_int_equal(tr_node_peers(plain, peers, 4, &n), TR_EINVAL);
    test_close(plain);

    assert_int_equal(tr_metrics_serve(a, "http://127.0.0.1:0", NULL), 0);
    assert_int_equal(tr_metrics_url(a, url, sizeof url), 0);
    struct prom_doc d;
    scrape(url, &d);
    family(&d, "troupe_node_info", "gauge");
    family(&d, "troupe_peer_outbox_bytes", "gauge");
    family(&d, "troupe_node_bytes_out_total", "counter");
    assert_int_equal(sample(&d, "troupe_node_info", "node", "alpha"), 1);
    assert_int_equal(sample(&d, "troupe_node_peers_up", NULL, NULL), 1);
    assert_int_equal(sample(&d, "troupe_peer_up", "peer", "beta"), 1);
    assert_true(sample(&d, "troupe_peer_outbox_bytes", "peer", "beta") >= 0);
    prom_free(&d);
    test_close(b);
    test_close(a);
}

// ---------------------------------------------------------------------------
// troupe-top --once

// Runs troupe-top with `args` (NULL-terminated), returns its exit status
// and its stdout in out (NUL-terminated, truncated to size).
static int
run_top(char *const args[], char *out, size_t size)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_addclose(&fa, fds[1]);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    assert_int_equal(posix_spawn(&pid, TROUPE_TOP, &fa, NULL, args, environ),
                     0);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    size_t n = 0;
    ssize_t r;
    while ((r = read(fds[0], out + n, size - 1 - n)) > 0)
        n += (size_t)r;
    out[n] = 0;
    close(fds[0]);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    return WEXITSTATUS(st);
}

static void
test_top_once(void **state)
{
    (void)state;
    struct fixture f;
    fixture_open(&f);
    static char out[16384];
    char *args[] = {"troupe-top", "--once", "--timeout", "20000", f.url, NULL};
    assert_int_equal(run_top(args, out, sizeof out), 0);
    static const char *const want[] = {
        "troupe-top  http://127.0.0.1:",
        "LOOPS",
        "ACTORS BY MAILBOX DEPTH",
        "ACTORS BY BUSY TIME",
        "POOL",
        "PEERS",
        "(not a node)",
        "gated \"slow\" \\ one",
        "echo",
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        if (strstr(out, want[i]) == NULL)
            fail_msg("troupe-top --once printed no \"%s\":\n%s", want[i], out);
    assert_null(strchr(out, '\033')); // plain text, no escape codes
    // The deepest row names the held actor with its 101 messages.
    const char *row = strstr(strstr(out, "ACTORS BY MAILBOX DEPTH"), "gated");
    assert_non_null(row);
    assert_non_null(strstr(row, " 101 "));
    fixture_close(&f);

    // Nothing listens there any more: exit 1, no frame.
    assert_int_equal(run_top(args, out, sizeof out), 1);
    assert_null(strstr(out, "LOOPS"));
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reader_is_strict),
        cmocka_unit_test(test_metrics_over_http),
        cmocka_unit_test(test_metrics_text_and_args),
        cmocka_unit_test(test_metrics_deepest_and_busiest_differ),
        cmocka_unit_test(test_metrics_node_peers),
        cmocka_unit_test(test_top_once),
    };
    test_main("metrics/metrics", tests, argc, argv);
}
