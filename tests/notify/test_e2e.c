// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// examples/notify end to end, over loopback: the server on a free port,
// driven by the HTTP and WebSocket clients of examples/notify/client.c.
// Short latencies and a seeded gateway keep it quick; every wait is on an
// answer or a condition, with a deadline.
#define _POSIX_C_SOURCE 200809L
#include "tests/test.h"

#include "client.h"
#include "server.h"

#include <troupe/cluster.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <nng/nng.h>

struct rig {
    notify_server *srv;
    notify_http *http;
    int port;
};

static void
config(notify_config *c)
{
    notify_config_defaults(c);
    c->port = 0;
    c->loops = 2;
    c->shards = 2;
    c->seed = 7;
    c->gateways = 2;
    c->streams = 4;
    c->latency_min_ms = 1;
    c->latency_max_ms = 5;
    c->min_attempt_ms = 1;
    c->fail_rate = 0;
    c->rate = 0;
    c->queue = 64;
    c->store = 256;
}

static void
rig_start(struct rig *r, const notify_config *c)
{
    const char *why = NULL;
    assert_int_equal(notify_server_start(&r->srv, c, &why), 0);
    r->port = notify_server_port(r->srv);
    assert_true(r->port > 0);
    assert_int_equal(notify_http_open(&r->http, "127.0.0.1", r->port), 0);
}

static void
rig_stop(struct rig *r)
{
    notify_http_close(r->http);
    assert_int_equal(notify_server_stop(r->srv), 0);
}

// dump prints what the server holds, for a request that got no answer:
// its /stats document and the actors with messages waiting.
static void
dump(struct rig *r, const char *method, const char *path, int rv)
{
    fprintf(stderr, "%s %s: %s\n", method, path,
            rv != 0 ? nng_strerror(rv) : "503, no answer in time");
    char *s = notify_stats_json(notify_server_edge(r->srv));
    fprintf(stderr, "stats: %s\n", s != NULL ? s : "?");
    free(s);
    tr_actor_info top[16];
    size_t n = 0;
    if (tr_actors_top(notify_server_system(r->srv), TR_TOP_QUEUED, top, 16,
                      &n) == 0)
        for (size_t i = 0; i < n && i < 16 && top[i].queued != 0; i++)
            fprintf(stderr, "actor %s loop %u: %u queued, %llu handled\n",
                    top[i].name != NULL ? top[i].name : "?", top[i].loop,
                    top[i].queued, (unsigned long long)top[i].handled);
}

// req makes one request; *body (if not NULL) gets the parsed JSON answer.
static int
req(struct rig *r, const char *method, const char *path, const char *text,
    json_t **body, int *retry_after)
{
    int status = 0, ra = 0;
    char *resp = NULL;
    int rv = notify_http_do(r->http, method, path, text,
                            text != NULL ? strlen(text) : 0, TEST_WAIT_MS,
                            &status, &resp, &ra);
    // The edge answers 503 "no answer in time" for a request no actor
    // answered within pending_ms (10 s): as much a lost request as a
    // timeout here.
    if (rv != 0 || (status == 503 && resp != NULL &&
                    strstr(resp, "no answer in time") != NULL))
        dump(r, method, path, rv);
    assert_int_equal(rv, 0);
    if (body != NULL) {
        *body = json_loads(resp != NULL ? resp : "", 0, NULL);
        assert_non_null(*body);
    }
    if (retry_after != NULL)
        *retry_after = ra;
    free(resp);
    return status;
}

static uint64_t
post(struct rig *r, const char *text)
{
    json_t *j;
    assert_int_equal(req(r, "POST", "/notify", text, &j, NULL), 202);
    json_int_t id = 0;
    assert_int_equal(json_unpack(j, "{s:I}", "id", &id), 0);
    json_decref(j);
    return (uint64_t)id;
}

// push_final polls GET /notify/<id> until the push channel is final, and
// returns the document; *seen_retrying says whether a poll saw "retrying".
static json_t *
push_final(struct rig *r, uint64_t id, bool *seen_retrying)
{
    char path[64];
    snprintf(path, sizeof path, "/notify/%llu", (unsigned long long)id);
    int64_t end = tr_now_ns() + (int64_t)TEST_WAIT_MS * 1000000;
    for (;;) {
        json_t *j;
        assert_int_equal(req(r, "GET", path, NULL, &j, NULL), 200);
        const char *st;
        assert_int_equal(json_unpack(j, "{s:{s:s}}", "push", "state", &st), 0);
        if (strcmp(st, "delivered") == 0 || strcmp(st, "failed") == 0 ||
            strcmp(st, "expired") == 0)
            return j;
        if (seen_retrying != NULL && strcmp(st, "retrying") == 0)
            *seen_retrying = true;
        json_decref(j);
        assert_true(tr_now_ns() < end);
    }
}

static void
test_post_get_and_websocket(void **state)
{
    (void)state;
    struct rig r;
    notify_config c;
    config(&c);
    rig_start(&r, &c);
    notify_ws *ws;
    char line[1024];
    assert_int_equal(
        notify_ws_open(&ws, "127.0.0.1", r.port, "user=carol&topic=news"), 0);
    // The first line says the session joined its groups.
    assert_int_equal(notify_ws_line(ws, line, sizeof line, TEST_WAIT_MS), 0);
    assert_non_null(strstr(line, "\"u:carol\""));
    assert_non_null(strstr(line, "\"t:news\""));

    uint64_t id = post(&r, "{\"user\":\"carol\",\"title\":\"Hi\","
                           "\"body\":\"caf\\u00e9 \\\"x\\\"\"}");
    assert_int_equal(notify_ws_line(ws, line, sizeof line, TEST_WAIT_MS), 0);
    json_t *ev = json_loads(line, 0, NULL);
    json_int_t eid;
    const char *body;
    assert_int_equal(json_unpack(ev, "{s:I, s:s}", "id", &eid, "body", &body),
                     0);
    assert_int_equal(eid, id);
    assert_string_equal(body, "caf\xc3\xa9 \"x\"");
    json_decref(ev);

    json_t *j = push_final(&r, id, NULL);
    const char *push, *wst, *user;
    int sessions;
    assert_int_equal(json_unpack(j, "{s:s, s:{s:s}, s:{s:s, s:i}}", "user",
                                 &user, "push", "state", &push, "ws", "state",
                                 &wst, "sessions", &sessions),
                     0);
    assert_string_equal(user, "carol");
    assert_string_equal(push, "delivered");
    assert_string_equal(wst, "delivered");
    assert_int_equal(sessions, 1);
    json_decref(j);

    // A topic, and a subscription made from the page's side.
    assert_int_equal(notify_ws_send(ws, "{\"subscribe\":\"sport\"}"), 0);
    (void)post(&r, "{\"topic\":\"news\",\"title\":\"Extra\"}");
    assert_int_equal(notify_ws_line(ws, line, sizeof line, TEST_WAIT_MS), 0);
    assert_non_null(strstr(line, "\"topic\":\"news\""));
    // The subscription travels on the socket, the POST on another
    // connection: wait for the session to have joined before publishing.
    size_t members = 0;
    int64_t end = tr_now_ns() + (int64_t)TEST_WAIT_MS * 1000000;
    while (members == 0 && tr_now_ns() < end) {
        (void)tr_pg_members(notify_server_system(r.srv), "t:sport", NULL, 0,
                            &members);
        sched_yield();
    }
    assert_int_equal(members, 1);
    (void)post(&r, "{\"topic\":\"sport\",\"title\":\"Goal\"}");
    assert_int_equal(notify_ws_line(ws, line, sizeof line, TEST_WAIT_MS), 0);
    assert_non_null(strstr(line, "\"Goal\""));

    notify_ws_close(ws);
    rig_stop(&r);
}

static void
test_bad_input_gets_400_and_the_server_keeps_serving(void **state)
{
    (void)state;
    struct rig r;
    notify_config c;
    config(&c);
    rig_start(&r, &c);
    static const char *const bad[] = {
        "",
        "{",
        "not json",
        "[1,2,3]",
        "{\"user\":\"a\",\"title\":\"t\"} trailing",
        "{\"user\":5,\"title\":\"t\"}",
        "{\"user\":\"a b\",\"title\":\"t\"}",
        "{\"title\":\"no target\"}",
        "{\"user\":\"a\",\"topic\":\"b\",\"title\":\"both\"}",
        "{\"user\":\"a\"}",
        "{\"user\":\"a\",\"title\":\"\"}",
        "{\"user\":\"a\",\"title\":\"t\",\"ttl_ms\":-1}",
        "{\"user\":\"a\",\"title\":\"t\",\"ttl_ms\":\"soon\"}",
        "{\"user\":\"a\",\"title\":\"t\",\"ttl_ms\":99999999999}",
        "{\"user\":\"a\",\"title\":\"t\",\"body\":7}",
        "{\"user\":\"a\",\"user\":\"b\",\"title\":\"dup\"}",
        "{\"user\":\"a\",\"title\":\"\xff\xfe\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *j;
        const char *err;
        assert_int_equal(req(&r, "POST", "/notify", bad[i], &j, NULL), 400);
        assert_int_equal(json_unpack(j, "{s:s}", "error", &err), 0);
        assert_true(strlen(err) > 0);
        json_decref(j);
    }
    // Too large a body: nng refuses it before the handler (and leaves the
    // body unread, so that connection is done for: use another).
    size_t big = 64 * 1024;
    char *huge = malloc(big);
    memset(huge, ' ', big);
    notify_http *h;
    int status = 0, ra;
    assert_int_equal(notify_http_open(&h, "127.0.0.1", r.port), 0);
    assert_int_equal(notify_http_do(h, "POST", "/notify", huge, big,
                                    TEST_WAIT_MS, &status, NULL, &ra),
                     0);
    assert_int_equal(status, 400);
    notify_http_close(h);
    free(huge);
    assert_int_equal(req(&r, "GET", "/notify/abc", NULL, NULL, NULL), 400);
    assert_int_equal(req(&r, "GET", "/notify/", NULL, NULL, NULL), 400);
    assert_int_equal(req(&r, "GET", "/notify/12x", NULL, NULL, NULL), 400);
    assert_int_equal(req(&r, "GET", "/notify/999999", NULL, NULL, NULL), 404);
    assert_int_equal(req(&r, "GET", "/nothing", NULL, NULL, NULL), 404);
    // And it still serves.
    uint64_t id = post(&r, "{\"user\":\"a\",\"title\":\"fine\"}");
    json_decref(push_final(&r, id, NULL));
    json_t *st;
    json_int_t bad_count;
    assert_int_equal(req(&r, "GET", "/stats", NULL, &st, NULL), 200);
    assert_int_equal(
        json_unpack(st, "{s:{s:I}}", "edge", "bad_request", &bad_count), 0);
    assert_int_equal(bad_count, sizeof bad / sizeof bad[0] + 3);
    json_decref(st);
    rig_stop(&r);
}

// Every attempt fails: the status shows the retries, the pauses grow, and
// it ends "failed" with the reason after max_attempts.
static void
test_retry_and_backoff_over_http(void **state)
{
    (void)state;
    struct rig r;
    notify_config c;
    config(&c);
    c.fail_rate = 1;
    c.permanent_rate = 0;
    c.max_attempts = 4;
    c.backoff_ms = 30;
    rig_start(&r, &c);
    uint64_t id = post(&r, "{\"user\":\"ivan\",\"title\":\"t\"}");
    bool retrying = false;
    json_t *j = push_final(&r, id, &retrying);
    const char *st, *err;
    int attempts;
    json_int_t done;
    assert_int_equal(json_unpack(j, "{s:{s:s, s:i, s:s, s:I}}", "push", "state",
                                 &st, "attempts", &attempts, "last_error", &err,
                                 "done_after_ms", &done),
                     0);
    assert_string_equal(st, "failed");
    assert_int_equal(attempts, 4);
    assert_string_equal(err, "gave up after 4 attempts: gateway: 503 service "
                             "unavailable");
    // Pauses of 30, 60 and 120 ms, at least half of each: 105 ms at least.
    assert_true(done >= 105);
    assert_true(retrying); // polled all along: the backoff was visible
    json_decref(j);
    rig_stop(&r);
}

// Past capacity the API sheds: 503 with Retry-After, and every 202 ends
// delivered.
static void
test_full_queue_sheds_503_with_retry_after(void **state)
{
    (void)state;
    struct rig r;
    notify_config c;
    config(&c);
    c.shards = 1;
    c.gateways = 1;
    c.streams = 1;
    c.queue = 2;
    c.store = 8;
    c.latency_min_ms = c.latency_max_ms = 1500;
    c.attempt_ms = 5000;
    rig_start(&r, &c);
    uint64_t ids[8];
    int ok = 0, shed = 0;
    for (int i = 0; i < 8; i++) {
        json_t *j;
        int ra = 0;
        int status = req(&r, "POST", "/notify",
                         "{\"user\":\"judy\",\"title\":\"t\"}", &j, &ra);
        if (status == 202) {
            json_int_t id;
            assert_int_equal(json_unpack(j, "{s:I}", "id", &id), 0);
            ids[ok++] = (uint64_t)id;
        } else {
            assert_int_equal(status, 503);
            assert_true(ra >= 1);
            shed++;
        }
        json_decref(j);
    }
    // Two fit (one sending, one waiting); the first answer takes 1.5 s,
    // far longer than eight requests on loopback.
    assert_int_equal(ok, 2);
    assert_int_equal(shed, 6);
    for (int i = 0; i < ok; i++) {
        json_t *j = push_final(&r, ids[i], NULL);
        const char *st;
        assert_int_equal(json_unpack(j, "{s:{s:s}}", "push", "state", &st), 0);
        assert_string_equal(st, "delivered");
        json_decref(j);
    }
    struct notify_totals t;
    notify_server_totals(r.srv, &t);
    assert_int_equal(t.accepted, 2);
    assert_int_equal(t.rejected, 6);
    assert_int_equal(t.delivered, 2);
    assert_int_equal(t.live, 0);
    rig_stop(&r);
}

static void
test_rate_limit_429_over_http(void **state)
{
    (void)state;
    struct rig r;
    notify_config c;
    config(&c);
    c.rate = 0.2; // one more every 5 s: none comes back during the test
    c.burst = 1;
    rig_start(&r, &c);
    (void)post(&r, "{\"user\":\"kim\",\"title\":\"t\"}");
    int ra = 0;
    assert_int_equal(req(&r, "POST", "/notify",
                         "{\"user\":\"kim\",\"title\":\"t\"}", NULL, &ra),
                     429);
    assert_in_range(ra, 1, 5);
    (void)post(&r, "{\"user\":\"lee\",\"title\":\"t\"}"); // another user
    rig_stop(&r);
}

// lost_api stands for an api that stops with a request in its mailbox,
// as it does when its courier crashes: the request goes with it, and
// nobody will ever answer its token.
static int
lost_init(tr_ctx *ctx, const void *arg, size_t len)
{
    (void)arg, (void)len;
    char name[32];
    notify_api_name(name, sizeof name, 0);
    return tr_register(tr_ctx_system(ctx), name, tr_self(ctx));
}

static int
lost_receive(tr_ctx *ctx, const tr_msg *m)
{
    (void)m;
    tr_exit(ctx, TR_EXIT_NORMAL);
    return 0;
}

static const tr_behavior lost_api = {
    .name = "lost_api", .init = lost_init, .receive = lost_receive};

// A request whose actor stopped before answering gets 503 once it has
// waited pending_ms, with one request in flight: the table never fills,
// so only the edge's own timer can answer it.
static void
test_a_request_lost_with_its_actor_gets_503(void **state)
{
    (void)state;
    notify_config c;
    config(&c);
    c.shards = 1;
    c.pending_ms = 200;
    tr_system *sys;
    tr_config tc = {.loops = 1};
    assert_int_equal(tr_system_open(&sys, &tc), 0);
    tr_node_config nc = {.name = "lost"};
    assert_int_equal(tr_node_start(sys, &nc), 0);
    tr_ref api;
    assert_int_equal(tr_system_spawn(&api, sys, &lost_api, NULL, 0, NULL), 0);
    static struct notify_counters ctr;
    struct notify_edge *e;
    assert_int_equal(notify_edge_start(&e, sys, &c, &ctr), 0);
    notify_http *h;
    assert_int_equal(notify_http_open(&h, "127.0.0.1", notify_edge_port(e)), 0);
    int status = 0, ra = 0;
    char *resp = NULL;
    int64_t t0 = tr_now_ns();
    int rv = notify_http_do(h, "GET", "/notify/1", NULL, 0, TEST_WAIT_MS,
                            &status, &resp, &ra);
    int64_t ms = (tr_now_ns() - t0) / 1000000;
    assert_int_equal(rv, 0);
    assert_int_equal(status, 503);
    assert_int_equal(ra, 1);
    assert_non_null(resp);
    assert_non_null(strstr(resp, "no answer in time"));
    assert_true(ms >= c.pending_ms);
    free(resp);
    notify_http_close(h);
    notify_edge_close(e);
    test_close(sys);
    notify_edge_free(e);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_post_get_and_websocket),
        cmocka_unit_test(test_bad_input_gets_400_and_the_server_keeps_serving),
        cmocka_unit_test(test_retry_and_backoff_over_http),
        cmocka_unit_test(test_full_queue_sheds_503_with_retry_after),
        cmocka_unit_test(test_rate_limit_429_over_http),
        cmocka_unit_test(test_a_request_lost_with_its_actor_gets_503),
    };
    test_main("notify/e2e", tests, argc, argv);
}
