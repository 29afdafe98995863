// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// troupe-top: a terminal view of a running troupe system, in the spirit of
// Erlang's etop. It polls the system's metrics endpoint (tr_metrics_serve)
// over HTTP and draws the deepest and busiest actors, each loop's lag and
// turn times, the blocking pool and the cluster's peers.
//
//     troupe-top [--once] [--interval MS] [--timeout MS] [URL]
//
// URL defaults to http://127.0.0.1:9100/metrics (a URL without a path
// gets /metrics). --once prints one plain frame (no escape codes, no
// rates: they need two scrapes) and exits: 0, or 1 if the endpoint could
// not be read or its text was not valid Prometheus text.
#define _POSIX_C_SOURCE 200809L
#include "prom.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>

#define MAX_ROWS 10 // actors shown per list

// What one scrape says, in the shape the screen wants.
struct loop_row {
    long loop;
    double handled, turns, stalls;
    double lag50, lag99, lagmax, run99;
};

struct actor_row {
    char actor[32], behavior[64], loop[16];
    double depth, msgs, busy;
};

struct peer_row {
    char name[64];
    double up, outbox;
};

struct snap {
    double t; // CLOCK_MONOTONIC, s
    struct prom_doc doc;
    struct loop_row *loops;
    size_t nloops;
    struct actor_row *actors;
    size_t nactors;
    struct peer_row *peers;
    size_t npeers;
    char node[64];
};

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

// Gets `url` into a new NUL-terminated *body. Returns 0, or -1 with a
// reason in err.
static int
fetch(const char *url, int timeout_ms, char **body, size_t *len, char *err,
      size_t errlen)
{
    nng_url *u = NULL;
    nng_http_client *c = NULL;
    nng_http_req *req = NULL;
    nng_http_res *res = NULL;
    nng_aio *aio = NULL;
    int rv;
    if ((rv = nng_url_parse(&u, url)) != 0 ||
        (rv = nng_http_client_alloc(&c, u)) != 0 ||
        (rv = nng_http_req_alloc(&req, u)) != 0 ||
        (rv = nng_http_res_alloc(&res)) != 0 ||
        (rv = nng_aio_alloc(&aio, NULL, NULL)) != 0) {
        snprintf(err, errlen, "%s", nng_strerror(rv));
    } else {
        nng_aio_set_timeout(aio, timeout_ms);
        nng_http_client_transact(c, req, res, aio);
        nng_aio_wait(aio);
        rv = nng_aio_result(aio);
        if (rv != 0) {
            snprintf(err, errlen, "%s", nng_strerror(rv));
        } else if (nng_http_res_get_status(res) != 200) {
            snprintf(err, errlen, "HTTP %u %s", nng_http_res_get_status(res),
                     nng_http_res_get_reason(res));
            rv = -1;
        } else {
            void *data;
            size_t n;
            nng_http_res_get_data(res, &data, &n);
            *body = malloc(n + 1);
            if (*body == NULL) {
                snprintf(err, errlen, "out of memory");
                rv = -1;
            } else {
                if (n != 0)
                    memcpy(*body, data, n);
                (*body)[n] = 0;
                *len = n;
            }
        }
    }
    if (aio != NULL)
        nng_aio_free(aio);
    if (res != NULL)
        nng_http_res_free(res);
    if (req != NULL)
        nng_http_req_free(req);
    if (c != NULL)
        nng_http_client_free(c);
    if (u != NULL)
        nng_url_free(u);
    return rv == 0 ? 0 : -1;
}

static void
copy_label(char *dst, size_t size, const struct prom_sample *s,
           const char *name)
{
    const char *v = prom_label_get(s, name);
    snprintf(dst, size, "%s", v != NULL && *v != 0 ? v : "-");
}

// The value of the unlabelled sample `name`, or NAN.
static double
value(const struct prom_doc *d, const char *name)
{
    for (size_t i = 0; i < d->nsamples; i++)
        if (strcmp(d->samples[i].name, name) == 0)
            return d->samples[i].value;
    return NAN;
}

static struct loop_row *
loop_at(struct snap *s, long loop)
{
    for (size_t i = 0; i < s->nloops; i++)
        if (s->loops[i].loop == loop)
            return &s->loops[i];
    struct loop_row *v = realloc(s->loops, (s->nloops + 1) * sizeof *v);
    if (v == NULL)
        return NULL;
    s->loops = v;
    s->loops[s->nloops] = (struct loop_row){.loop = loop};
    return &s->loops[s->nloops++];
}

static struct actor_row *
actor_at(struct snap *s, const struct prom_sample *smp)
{
    const char *a = prom_label_get(smp, "actor");
    for (size_t i = 0; a != NULL && i < s->nactors; i++)
        if (strcmp(s->actors[i].actor, a) == 0)
            return &s->actors[i];
    struct actor_row *v = realloc(s->actors, (s->nactors + 1) * sizeof *v);
    if (v == NULL)
        return NULL;
    s->actors = v;
    struct actor_row *r = &s->actors[s->nactors++];
    *r = (struct actor_row){0};
    copy_label(r->actor, sizeof r->actor, smp, "actor");
    copy_label(r->behavior, sizeof r->behavior, smp, "behavior");
    copy_label(r->loop, sizeof r->loop, smp, "loop");
    return r;
}

static struct peer_row *
peer_at(struct snap *s, const struct prom_sample *smp)
{
    const char *p = prom_label_get(smp, "peer");
    for (size_t i = 0; p != NULL && i < s->npeers; i++)
        if (strcmp(s->peers[i].name, p) == 0)
            return &s->peers[i];
    struct peer_row *v = realloc(s->peers, (s->npeers + 1) * sizeof *v);
    if (v == NULL)
        return NULL;
    s->peers = v;
    struct peer_row *r = &s->peers[s->npeers++];
    *r = (struct peer_row){0};
    copy_label(r->name, sizeof r->name, smp, "peer");
    return r;
}

// Sorts the text's samples into rows.
static void
digest(struct snap *s)
{
    const struct prom_doc *d = &s->doc;
    snprintf(s->node, sizeof s->node, "-");
    for (size_t i = 0; i < d->nsamples; i++) {
        const struct prom_sample *m = &d->samples[i];
        const char *n = m->name;
        const char *lp = prom_label_get(m, "loop");
        const char *q = prom_label_get(m, "quantile");
        if (strncmp(n, "troupe_loop_", 12) == 0 && lp != NULL) {
            struct loop_row *r = loop_at(s, atol(lp));
            if (r == NULL)
                continue;
            if (strcmp(n, "troupe_loop_messages_handled_total") == 0)
                r->handled = m->value;
            else if (strcmp(n, "troupe_loop_turns_total") == 0)
                r->turns = m->value;
            else if (strcmp(n, "troupe_loop_stalls_total") == 0)
                r->stalls = m->value;
            else if (strcmp(n, "troupe_loop_lag_max_seconds") == 0)
                r->lagmax = m->value;
            else if (strcmp(n, "troupe_loop_lag_quantile_seconds") == 0 &&
                     q != NULL && strcmp(q, "0.5") == 0)
                r->lag50 = m->value;
            else if (strcmp(n, "troupe_loop_lag_quantile_seconds") == 0 &&
                     q != NULL && strcmp(q, "0.99") == 0)
                r->lag99 = m->value;
            else if (strcmp(n, "troupe_loop_run_quantile_seconds") == 0 &&
                     q != NULL && strcmp(q, "0.99") == 0)
                r->run99 = m->value;
        } else if (strncmp(n, "troupe_actor_", 13) == 0) {
            struct actor_row *r = actor_at(s, m);
            if (r == NULL)
                continue;
            if (strcmp(n, "troupe_actor_mailbox_depth") == 0)
                r->depth = m->value;
            else if (strcmp(n, "troupe_actor_messages_total") == 0)
                r->msgs = m->value;
            else if (strcmp(n, "troupe_actor_busy_seconds_total") == 0)
                r->busy = m->value;
        } else if (strncmp(n, "troupe_peer_", 12) == 0) {
            struct peer_row *r = peer_at(s, m);
            if (r == NULL)
                continue;
            if (strcmp(n, "troupe_peer_up") == 0)
                r->up = m->value;
            else if (strcmp(n, "troupe_peer_outbox_bytes") == 0)
                r->outbox = m->value;
        } else if (strcmp(n, "troupe_node_info") == 0) {
            copy_label(s->node, sizeof s->node, m, "node");
        }
    }
}

static void
snap_free(struct snap *s)
{
    prom_free(&s->doc);
    free(s->loops);
    free(s->actors);
    free(s->peers);
    *s = (struct snap){0};
}

// Human units: "850ns", "12.3us", "4.50ms", "1.20s".
static const char *
dur(char *buf, size_t size, double s)
{
    if (isnan(s))
        snprintf(buf, size, "-");
    else if (s < 1e-6)
        snprintf(buf, size, "%.0fns", s * 1e9);
    else if (s < 1e-3)
        snprintf(buf, size, "%.1fus", s * 1e6);
    else if (s < 1)
        snprintf(buf, size, "%.2fms", s * 1e3);
    else
        snprintf(buf, size, "%.2fs", s);
    return buf;
}

// "950", "12.3k", "4.5M", "1.2G"; "-" for NAN.
static const char *
num(char *buf, size_t size, double v)
{
    if (isnan(v))
        snprintf(buf, size, "-");
    else if (v < 1e3)
        snprintf(buf, size, "%.0f", v);
    else if (v < 1e6)
        snprintf(buf, size, "%.1fk", v / 1e3);
    else if (v < 1e9)
        snprintf(buf, size, "%.1fM", v / 1e6);
    else
        snprintf(buf, size, "%.1fG", v / 1e9);
    return buf;
}

// A per-second rate between two scrapes, NAN without a previous one.
static double
rate(double now, double before, double dt)
{
    if (dt <= 0 || isnan(before) || now < before)
        return NAN;
    return (now - before) / dt;
}

static const struct actor_row *
prev_actor(const struct snap *p, const char *actor)
{
    for (size_t i = 0; p != NULL && i < p->nactors; i++)
        if (strcmp(p->actors[i].actor, actor) == 0)
            return &p->actors[i];
    return NULL;
}

static const struct actor_row *sort_rows;
static int sort_by_busy;

static int
cmp_actor(const void *a, const void *b)
{
    const struct actor_row *x = &sort_rows[*(const size_t *)a];
    const struct actor_row *y = &sort_rows[*(const size_t *)b];
    double kx = sort_by_busy ? x->busy : x->depth;
    double ky = sort_by_busy ? y->busy : y->depth;
    if (kx != ky)
        return kx < ky ? 1 : -1;
    return strcmp(x->actor, y->actor);
}

static void
actor_table(const struct snap *s, const struct snap *p, bool busy)
{
    size_t *idx = malloc((s->nactors + 1) * sizeof *idx);
    if (idx == NULL)
        return;
    for (size_t i = 0; i < s->nactors; i++)
        idx[i] = i;
    sort_rows = s->actors;
    sort_by_busy = busy;
    qsort(idx, s->nactors, sizeof *idx, cmp_actor);
    printf("%s\n", busy ? "ACTORS BY BUSY TIME" : "ACTORS BY MAILBOX DEPTH");
    printf("  %-14s %-20s %-8s %10s %10s %10s %10s\n", "actor", "behavior",
           "loop", "queued", "msgs", "msgs/s", "busy");
    size_t shown = 0;
    for (size_t k = 0; k < s->nactors && shown < MAX_ROWS; k++) {
        const struct actor_row *r = &s->actors[idx[k]];
        if (busy ? r->busy <= 0 : r->depth <= 0)
            continue; // idle on this axis: nothing to say
        const struct actor_row *o = prev_actor(p, r->actor);
        char b1[16], b2[16], b3[16], b4[16];
        printf("  %-14s %-20.20s %-8s %10s %10s %10s %10s\n", r->actor,
               r->behavior, r->loop, num(b1, sizeof b1, r->depth),
               num(b2, sizeof b2, r->msgs),
               num(b3, sizeof b3,
                   o != NULL ? rate(r->msgs, o->msgs, s->t - p->t) : NAN),
               dur(b4, sizeof b4, r->busy));
        shown++;
    }
    if (shown == 0)
        printf("  (none)\n");
    printf("\n");
    free(idx);
}

static void
draw(const char *url, const struct snap *s, const struct snap *p)
{
    const struct prom_doc *d = &s->doc;
    const struct prom_doc *pd = p != NULL ? &p->doc : NULL;
    double dt = p != NULL ? s->t - p->t : 0;
    char b1[16], b2[16], b3[16], b4[16], b5[16], b6[16], b7[16];
    time_t wall = time(NULL);
    struct tm tm;
    localtime_r(&wall, &tm);
    char hms[16];
    strftime(hms, sizeof hms, "%H:%M:%S", &tm);
    printf("troupe-top  %s  node %s  %s\n", url, s->node, hms);
    double sent = value(d, "troupe_messages_sent_total");
    printf(
        "actors %s  sent %s (%s/s)  dead letters %s  timeouts %s  "
        "refused %s  crashed %s\n\n",
        num(b1, sizeof b1, value(d, "troupe_actors")), num(b2, sizeof b2, sent),
        num(b3, sizeof b3,
            pd != NULL ? rate(sent, value(pd, "troupe_messages_sent_total"), dt)
                       : NAN),
        num(b4, sizeof b4, value(d, "troupe_dead_letters_total")),
        num(b5, sizeof b5, value(d, "troupe_requests_timed_out_total")),
        num(b6, sizeof b6, value(d, "troupe_messages_refused_total")),
        num(b7, sizeof b7, value(d, "troupe_actors_crashed_total")));
    printf("LOOPS\n  %-5s %10s %10s %10s %10s %10s %10s %7s\n", "loop",
           "handled", "handled/s", "lag p50", "lag p99", "lag max", "turn p99",
           "stalls");
    for (size_t i = 0; i < s->nloops; i++) {
        const struct loop_row *r = &s->loops[i];
        double before = NAN;
        for (size_t j = 0; p != NULL && j < p->nloops; j++)
            if (p->loops[j].loop == r->loop)
                before = p->loops[j].handled;
        char c1[16], c2[16], c3[16], c4[16], c5[16], c6[16];
        printf("  %-5ld %10s %10s %10s %10s %10s %10s %7.0f\n", r->loop,
               num(c1, sizeof c1, r->handled),
               num(c2, sizeof c2, rate(r->handled, before, dt)),
               dur(c3, sizeof c3, r->lag50), dur(c4, sizeof c4, r->lag99),
               dur(c5, sizeof c5, r->lagmax), dur(c6, sizeof c6, r->run99),
               r->stalls);
    }
    printf("\n");
    actor_table(s, p, false);
    actor_table(s, p, true);
    printf("POOL\n  jobs: threads %s busy %s queued %s/%s run %s rejected "
           "%s\n",
           num(b1, sizeof b1, value(d, "troupe_pool_threads")),
           num(b2, sizeof b2, value(d, "troupe_pool_threads_busy")),
           num(b3, sizeof b3, value(d, "troupe_pool_queued_jobs")),
           num(b4, sizeof b4, value(d, "troupe_pool_queue_capacity")),
           num(b5, sizeof b5, value(d, "troupe_pool_jobs_total")),
           num(b6, sizeof b6, value(d, "troupe_pool_jobs_rejected_total")));
    printf(
        "  blocking actors: threads %s busy %s runnable %s refused %s\n\n",
        num(b1, sizeof b1, value(d, "troupe_pool_actor_threads")),
        num(b2, sizeof b2, value(d, "troupe_pool_actor_threads_busy")),
        num(b3, sizeof b3, value(d, "troupe_pool_actors_runnable")),
        num(b4, sizeof b4, value(d, "troupe_pool_actor_sends_refused_total")));
    printf("PEERS\n");
    if (prom_find(d, "troupe_node_info") < 0) {
        printf("  (not a node)\n");
        return;
    }
    printf("  %-24s %-6s %12s   node: up %s, msgs out %s, in %s\n", "peer",
           "state", "outbox",
           num(b1, sizeof b1, value(d, "troupe_node_peers_up")),
           num(b2, sizeof b2, value(d, "troupe_node_messages_out_total")),
           num(b3, sizeof b3, value(d, "troupe_node_messages_in_total")));
    for (size_t i = 0; i < s->npeers; i++)
        printf("  %-24s %-6s %12s\n", s->peers[i].name,
               s->peers[i].up > 0 ? "up" : "down",
               num(b1, sizeof b1, s->peers[i].outbox));
    if (s->npeers == 0)
        printf("  (none)\n");
}

static int
scrape(const char *url, int timeout_ms, struct snap *s, char *err,
       size_t errlen)
{
    char *body = NULL;
    size_t len = 0;
    *s = (struct snap){.t = now_s()};
    if (fetch(url, timeout_ms, &body, &len, err, errlen) != 0)
        return -1;
    char perr[256];
    int rc = prom_parse(&s->doc, body, len, perr, sizeof perr);
    free(body);
    if (rc != 0) {
        snprintf(err, errlen, "not valid Prometheus text: %s", perr);
        return -1;
    }
    digest(s);
    return 0;
}

static void
usage(void)
{
    fprintf(stderr, "usage: troupe-top [--once] [--interval MS] "
                    "[--timeout MS] [URL]\n");
    exit(2);
}

int
main(int argc, char **argv)
{
    const char *arg = "http://127.0.0.1:9100/metrics";
    bool once = false;
    long interval = 1000, timeout = 5000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--once") == 0)
            once = true;
        else if (strcmp(argv[i], "--interval") == 0 && i + 1 < argc)
            interval = atol(argv[++i]);
        else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc)
            timeout = atol(argv[++i]);
        else if (argv[i][0] == '-')
            usage();
        else
            arg = argv[i];
    }
    if (interval <= 0 || timeout <= 0 || timeout > 3600000)
        usage();
    // A URL with no path asks for /metrics.
    char url[512];
    const char *host = strstr(arg, "://");
    bool path = host != NULL && strchr(host + 3, '/') != NULL;
    snprintf(url, sizeof url, "%s%s", arg, path ? "" : "/metrics");

    char err[512];
    struct snap cur, prev = {0};
    bool have_prev = false;
    for (;;) {
        int rc = scrape(url, (int)timeout, &cur, err, sizeof err);
        if (once) {
            if (rc != 0) {
                fprintf(stderr, "troupe-top: %s: %s\n", url, err);
                return 1;
            }
            draw(url, &cur, NULL);
            snap_free(&cur);
            return 0;
        }
        printf("\033[H\033[2J");
        if (rc != 0) {
            printf("troupe-top: %s: %s (retrying)\n", url, err);
        } else {
            draw(url, &cur, have_prev ? &prev : NULL);
            if (have_prev)
                snap_free(&prev);
            prev = cur;
            have_prev = true;
        }
        fflush(stdout);
        struct timespec ts = {interval / 1000, (interval % 1000) * 1000000};
        nanosleep(&ts, NULL);
    }
}
