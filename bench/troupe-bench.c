// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// troupe-bench.c: the workloads of BENCH.md in one program.
//
//     troupe-bench <workload> [sizes...] [--loops K]
//
// Each run opens a system, times only the workload with tr_now_ns(), checks
// the workload's result, closes the system (which must stop every actor)
// and prints one line on stdout:
//
//     RESULT <name> <n> <seconds> <value> <unit>
//
// and peak_rss_kb=<VmHWM> on stderr. A failed check prints FAILED <reason>
// on stderr and exits 1; bad arguments print the usage and exit 2.
//
// A workload is driven by one "driver" actor that main spawns with a job
// (main's inbox and the size). The driver reports to the inbox when done,
// and reports any error the same way, so a failure ends the run instead of
// hanging it. Drivers do not hold their loop for the whole run: they send
// or spawn BATCH at a time, then send themselves MSG_MORE. A turn ends once
// an actor has handled and sent the loop's budget (64 by default) in all,
// so a batch of 64 is about one turn; then actors sharing the loop (the
// counter, the workers) get theirs.
#include <troupe.h>

#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__)
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define PRINTF_LIKE(f, a)
#endif

#define WAIT_MS   60000 // how long main waits for a driver's report
#define CLOSE_MS  30000 // how long tr_system_close may take
#define BATCH     64    // sends or spawns per handler turn
#define MAX_SIZES 2

enum {
    MSG_START = 1, // driver to itself, from its init: begin
    MSG_MORE,      // driver to itself: next batch
    MSG_BALL,      // pingpong: uint64 round trip number
    MSG_ADD,       // counting: uint64 to add
    MSG_GET,       // counting: ask for the total
    MSG_TOTAL,     // counting: struct report, the counter's answer
    MSG_WORK,      // fjcreate: uint64 for a worker
    MSG_DONE,      // fjcreate: uint64 result from a worker
    MSG_REPORT,    // driver to main: struct report
    MSG_REQ,       // request: uint64 x, answered with x + 1
};

// job is what main gives a driver; every driver's state starts with it.
struct job {
    tr_ref main; // main's inbox
    uint64_t n;  // the workload's size
    int variant; // a workload's variant (counting: 1 = cross-loop)
};

// report is a driver's last word to main: what it counted and summed, so
// main can check both.
struct report {
    uint64_t count;
    uint64_t sum; // wraps modulo 2^64
    int64_t err;  // 0, or the first error an actor hit
};

static uint64_t
msg_u64(const tr_msg *m)
{
    uint64_t v = 0;
    if (tr_msg_size(m) == sizeof v)
        memcpy(&v, tr_msg_data(m), sizeof v);
    return v;
}

// batch_end is where a batch starting at `done` of `n` ends.
static uint64_t
batch_end(uint64_t done, uint64_t n)
{
    return n - done > BATCH ? done + BATCH : n;
}

// driver_init copies the job into the state and sends MSG_START, so the
// work begins on the driver's loop rather than on main's thread.
static int
driver_init(tr_ctx *ctx, const void *arg, size_t len)
{
    if (len != sizeof(struct job))
        return TR_EINVAL;
    memcpy(tr_state(ctx), arg, len);
    return tr_send(ctx, tr_self(ctx), MSG_START, NULL, 0);
}

// report sends the driver's result to main. An error is reported and then
// returned, so the driver also stops (crashes) with it.
static int
report(tr_ctx *ctx, uint64_t count, uint64_t sum, int err)
{
    const struct job *job = tr_state(ctx);
    struct report r = {.count = count, .sum = sum, .err = err};
    int rc = tr_send(ctx, job->main, MSG_REPORT, &r, sizeof r);
    return err != 0 ? err : rc;
}

// ---------------------------------------------------------------------------
// Harness

// bench is one run: the system, main's inbox, the sizes, and the result the
// workload fills in.
struct bench {
    tr_system *sys;
    tr_inbox *ib;
    uint64_t size[MAX_SIZES]; // in the order of BENCH.md's table
    double seconds;           // the workload's own time
    double value;             // in the workload's unit
};

static int fail(const char *fmt, ...) PRINTF_LIKE(1, 2);

static int
fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("FAILED ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return -1;
}

// run_driver spawns a driver with behaviour `beh` for size n (top level,
// default placement: loop 0 in a fresh system), waits for its report and
// sets b->seconds from just before the spawn to the report's arrival.
// Returns 0, or -1 after printing FAILED.
static int
run_driver_variant(struct bench *b, const tr_behavior *beh, uint64_t n,
                   int variant, struct report *r)
{
    struct job job = {.main = tr_inbox_ref(b->ib), .n = n, .variant = variant};
    tr_ref driver;
    int64_t t0 = tr_now_ns();
    int rc = tr_system_spawn(&driver, b->sys, beh, &job, sizeof job, NULL);
    if (rc != 0)
        return fail("spawning %s: %s", beh->name, tr_strerror(rc));
    tr_msg *m;
    rc = tr_inbox_recv(b->ib, &m, WAIT_MS);
    if (rc != 0)
        return fail("%s: no report after %d s", beh->name, WAIT_MS / 1000);
    b->seconds = (double)(tr_now_ns() - t0) / 1e9;
    bool ok = tr_msg_type(m) == MSG_REPORT && tr_msg_size(m) == sizeof *r;
    if (ok)
        memcpy(r, tr_msg_data(m), sizeof *r);
    tr_msg_free(m);
    if (!ok)
        return fail("%s: unexpected message", beh->name);
    if (r->err != 0)
        return fail("%s: %s", beh->name, tr_strerror((int)r->err));
    return 0;
}

static int
run_driver(struct bench *b, const tr_behavior *beh, uint64_t n,
           struct report *r)
{
    return run_driver_variant(b, beh, n, 0, r);
}

// check compares a driver's report with what the workload expects.
static int
check(const struct report *r, uint64_t count, uint64_t sum)
{
    if (r->count != count || r->sum != sum)
        return fail("count %" PRIu64 " sum %" PRIu64 ", want %" PRIu64
                    " and %" PRIu64,
                    r->count, r->sum, count, sum);
    return 0;
}

// proc_status_kb returns a kB field of /proc/self/status ("VmRSS:"), or -1.
static long
proc_status_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL)
        return -1;
    char line[256];
    long kb = -1;
    size_t n = strlen(key);
    while (fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, key, n) == 0) {
            kb = strtol(line + n, NULL, 10);
            break;
        }
    fclose(f);
    return kb;
}

// ---------------------------------------------------------------------------
// pingpong N: ping and pong bounce one message N times.

struct ping {
    struct job job;
    tr_ref pong;
    uint64_t count; // round trips completed
    uint64_t sum;   // of the round trip numbers pong echoed
};

static int
pong_receive(tr_ctx *ctx, const tr_msg *m)
{
    return tr_reply(ctx, m, MSG_BALL, tr_msg_data(m), tr_msg_size(m));
}

static const tr_behavior pong_beh = {.name = "pong", .receive = pong_receive};

static int
ping_receive(tr_ctx *ctx, const tr_msg *m)
{
    struct ping *s = tr_state(ctx);
    int rc = 0;
    if (tr_msg_type(m) == MSG_START) {
        // Idiomatic placement: pong is ping's child, on ping's loop.
        rc = tr_spawn(&s->pong, ctx, &pong_beh, NULL, 0, NULL);
    } else if (tr_msg_type(m) == MSG_BALL) {
        s->sum += msg_u64(m);
        if (++s->count == s->job.n)
            return report(ctx, s->count, s->sum, 0);
    } else {
        return TR_EUNHANDLED;
    }
    if (rc == 0)
        rc = tr_send(ctx, s->pong, MSG_BALL, &s->count, sizeof s->count);
    return rc == 0 ? 0 : report(ctx, s->count, s->sum, rc);
}

static const tr_behavior ping_beh = {.name = "ping",
                                     .state_size = sizeof(struct ping),
                                     .init = driver_init,
                                     .receive = ping_receive};

static int
run_pingpong(struct bench *b)
{
    uint64_t n = b->size[0];
    struct report r;
    if (run_driver(b, &ping_beh, n, &r) != 0 ||
        check(&r, n, n * (n - 1) / 2) != 0) // round trips 0 .. n-1
        return -1;
    b->value = (double)n / b->seconds;
    return 0;
}

// ---------------------------------------------------------------------------
// request N: a client makes N sequential requests to a server, each with a
// 1 s deadline (an entry, a timer armed and cancelled, per request).

#define REQUEST_TIMEOUT_MS 1000

struct client {
    struct job job;
    tr_ref server;
    uint64_t count; // replies received
    uint64_t sum;   // of the replies
};

static int
server_receive(tr_ctx *ctx, const tr_msg *m)
{
    uint64_t x = msg_u64(m) + 1;
    return tr_reply(ctx, m, MSG_REQ, &x, sizeof x);
}

static const tr_behavior server_beh = {.name = "server",
                                       .receive = server_receive};

static void client_reply(tr_ctx *ctx, int status, const tr_msg *reply,
                         void *cookie);

static int
client_ask(tr_ctx *ctx, struct client *s)
{
    return tr_request(ctx, NULL, s->server, MSG_REQ, &s->count, sizeof s->count,
                      REQUEST_TIMEOUT_MS, client_reply, s);
}

static void
client_reply(tr_ctx *ctx, int status, const tr_msg *reply, void *cookie)
{
    struct client *s = cookie;
    int rc = status;
    if (rc == 0) {
        s->sum += msg_u64(reply);
        if (++s->count == s->job.n) {
            report(ctx, s->count, s->sum, 0);
            return;
        }
        rc = client_ask(ctx, s);
    }
    if (rc != 0)
        report(ctx, s->count, s->sum, rc);
}

static int
client_receive(tr_ctx *ctx, const tr_msg *m)
{
    struct client *s = tr_state(ctx);
    if (tr_msg_type(m) != MSG_START)
        return TR_EUNHANDLED;
    // Idiomatic placement: the server is the client's child, on its loop.
    int rc = tr_spawn(&s->server, ctx, &server_beh, NULL, 0, NULL);
    if (rc == 0)
        rc = client_ask(ctx, s);
    return rc == 0 ? 0 : report(ctx, 0, 0, rc);
}

static const tr_behavior client_beh = {.name = "client",
                                       .state_size = sizeof(struct client),
                                       .init = driver_init,
                                       .receive = client_receive};

static int
run_request(struct bench *b)
{
    uint64_t n = b->size[0];
    struct report r;
    if (run_driver(b, &client_beh, n, &r) != 0 ||
        check(&r, n, n * (n + 1) / 2) != 0) // replies 1 .. n
        return -1;
    b->value = (double)n / b->seconds;
    return 0;
}

// ---------------------------------------------------------------------------
// counting N: a producer sends 1 .. N to a counter, then asks for the total.

struct counter {
    uint64_t count;
    uint64_t sum;
};

static int
counter_receive(tr_ctx *ctx, const tr_msg *m)
{
    struct counter *s = tr_state(ctx);
    if (tr_msg_type(m) == MSG_ADD) {
        s->sum += msg_u64(m);
        s->count++;
        return 0;
    }
    if (tr_msg_type(m) == MSG_GET) {
        struct report r = {.count = s->count, .sum = s->sum};
        return tr_reply(ctx, m, MSG_TOTAL, &r, sizeof r);
    }
    return TR_EUNHANDLED;
}

static const tr_behavior counter_beh = {.name = "counter",
                                        .state_size = sizeof(struct counter),
                                        .receive = counter_receive};

struct producer {
    struct job job;
    tr_ref counter;
    uint64_t sent;
};

// producer_batch sends the next BATCH numbers, then MSG_MORE to itself, or
// MSG_GET to the counter after the last one.
static int
producer_batch(tr_ctx *ctx, struct producer *s)
{
    uint64_t end = batch_end(s->sent, s->job.n);
    while (s->sent < end) {
        uint64_t v = ++s->sent;
        int rc = tr_send(ctx, s->counter, MSG_ADD, &v, sizeof v);
        if (rc != 0)
            return rc;
    }
    if (s->sent < s->job.n)
        return tr_send(ctx, tr_self(ctx), MSG_MORE, NULL, 0);
    return tr_send(ctx, s->counter, MSG_GET, NULL, 0);
}

static int
producer_receive(tr_ctx *ctx, const tr_msg *m)
{
    struct producer *s = tr_state(ctx);
    int rc;
    if (tr_msg_type(m) == MSG_START) {
        // Placement: the counter is the producer's child. In `counting` it
        // has the default placement, its parent's loop, as a user's would;
        // in `counting-cross` it lives on the next loop, so with two or
        // more loops they run in parallel and every message crosses
        // threads.
        unsigned loops = tr_system_loops(tr_ctx_system(ctx));
        tr_spawn_opts o = {.placement = TR_PLACE_LOOP,
                           .loop = tr_ctx_loop(ctx)};
        if (s->job.variant == 1)
            o.loop = (o.loop + 1) % loops;
        rc = tr_spawn(&s->counter, ctx, &counter_beh, NULL, 0, &o);
        if (rc == 0)
            rc = producer_batch(ctx, s);
    } else if (tr_msg_type(m) == MSG_MORE) {
        rc = producer_batch(ctx, s);
    } else if (tr_msg_type(m) == MSG_TOTAL &&
               tr_msg_size(m) == sizeof(struct report)) {
        struct report r;
        memcpy(&r, tr_msg_data(m), sizeof r);
        return report(ctx, r.count, r.sum, 0);
    } else {
        return TR_EUNHANDLED;
    }
    return rc == 0 ? 0 : report(ctx, 0, 0, rc);
}

static const tr_behavior producer_beh = {.name = "producer",
                                         .state_size = sizeof(struct producer),
                                         .init = driver_init,
                                         .receive = producer_receive};

static int
run_counting_variant(struct bench *b, int variant)
{
    uint64_t n = b->size[0];
    struct report r;
    if (run_driver_variant(b, &producer_beh, n, variant, &r) != 0 ||
        check(&r, n, n * (n + 1) / 2) != 0)
        return -1;
    b->value = (double)n / b->seconds;
    return 0;
}

static int
run_counting(struct bench *b)
{
    return run_counting_variant(b, 0);
}

static int
run_counting_cross(struct bench *b)
{
    return run_counting_variant(b, 1);
}

// ---------------------------------------------------------------------------
// fjcreate N: a creator spawns N workers and sends each one message; each
// answers its parent and stops.

static int
worker_receive(tr_ctx *ctx, const tr_msg *m)
{
    uint64_t v = msg_u64(m) * 2 + 1; // the trivial work
    tr_exit(ctx, TR_EXIT_NORMAL);
    return tr_send(ctx, tr_parent(ctx), MSG_DONE, &v, sizeof v);
}

static const tr_behavior worker_beh = {.name = "worker",
                                       .receive = worker_receive};

struct creator {
    struct job job;
    uint64_t spawned;
    uint64_t done;
    uint64_t sum; // of the workers' answers
};

// Placement: default (each worker on the creator's loop). Round-robin
// across two loops measured about 4.0M actors/s against 6.8M here: each
// worker then costs cross-loop posts for its message, its answer and its
// exit notice, while the creator's loop does the spawning anyway.
static const tr_spawn_opts *const worker_place = NULL;

static int
creator_batch(tr_ctx *ctx, struct creator *s)
{
    uint64_t end = batch_end(s->spawned, s->job.n);
    while (s->spawned < end) {
        tr_ref w;
        int rc = tr_spawn(&w, ctx, &worker_beh, NULL, 0, worker_place);
        if (rc == 0)
            rc = tr_send(ctx, w, MSG_WORK, &s->spawned, sizeof s->spawned);
        if (rc != 0)
            return rc;
        s->spawned++;
    }
    if (s->spawned < s->job.n)
        return tr_send(ctx, tr_self(ctx), MSG_MORE, NULL, 0);
    return 0;
}

static int
creator_receive(tr_ctx *ctx, const tr_msg *m)
{
    struct creator *s = tr_state(ctx);
    int rc;
    if (tr_msg_type(m) == MSG_START || tr_msg_type(m) == MSG_MORE) {
        rc = creator_batch(ctx, s);
    } else if (tr_msg_type(m) == MSG_DONE) {
        s->sum += msg_u64(m);
        if (++s->done == s->job.n)
            return report(ctx, s->done, s->sum, 0);
        return 0;
    } else {
        return TR_EUNHANDLED;
    }
    return rc == 0 ? 0 : report(ctx, s->done, s->sum, rc);
}

static const tr_behavior creator_beh = {.name = "creator",
                                        .state_size = sizeof(struct creator),
                                        .init = driver_init,
                                        .receive = creator_receive};

static int
run_fjcreate(struct bench *b)
{
    uint64_t n = b->size[0];
    struct report r;
    // Worker i answers 2i + 1; the answers for i < n sum to n^2.
    if (run_driver(b, &creator_beh, n, &r) != 0 || check(&r, n, n * n) != 0)
        return -1;
    b->value = (double)n / b->seconds;
    return 0;
}

// ---------------------------------------------------------------------------
// idle N: spawn N actors that stay alive; bytes of RSS each one costs.

static int
idle_receive(tr_ctx *ctx, const tr_msg *m)
{
    (void)ctx;
    (void)m;
    return 0;
}

static const tr_behavior idle_beh = {.name = "idle", .receive = idle_receive};

struct pool {
    struct job job;
    uint64_t spawned;
};

// pool_receive spawns the idle actors as its children, on its own loop,
// and reports once all exist. They stop when tr_system_close stops it.
static int
pool_receive(tr_ctx *ctx, const tr_msg *m)
{
    struct pool *s = tr_state(ctx);
    if (tr_msg_type(m) != MSG_START && tr_msg_type(m) != MSG_MORE)
        return TR_EUNHANDLED;
    uint64_t end = batch_end(s->spawned, s->job.n);
    while (s->spawned < end) {
        tr_ref r;
        int rc = tr_spawn(&r, ctx, &idle_beh, NULL, 0, NULL);
        if (rc != 0)
            return report(ctx, s->spawned, 0, rc);
        s->spawned++;
    }
    if (s->spawned == s->job.n)
        return report(ctx, s->spawned, 0, 0);
    int rc = tr_send(ctx, tr_self(ctx), MSG_MORE, NULL, 0);
    return rc == 0 ? 0 : report(ctx, s->spawned, 0, rc);
}

static const tr_behavior pool_beh = {.name = "pool",
                                     .state_size = sizeof(struct pool),
                                     .init = driver_init,
                                     .receive = pool_receive};

static int
run_idle(struct bench *b)
{
    uint64_t n = b->size[0];
    struct report r;
    long before = proc_status_kb("VmRSS:");
    if (run_driver(b, &pool_beh, n, &r) != 0 || check(&r, n, 0) != 0)
        return -1;
    long after = proc_status_kb("VmRSS:");
    if (before < 0 || after < 0)
        return fail("cannot read VmRSS from /proc/self/status");
    b->value = (double)(after - before) * 1024 / (double)n;
    return 0;
}

// ---------------------------------------------------------------------------
// Workloads and main

struct workload {
    const char *name;
    unsigned nsizes;
    uint64_t size[MAX_SIZES]; // defaults: about 1-5 s on 2 cores
    const char *unit;
    int (*run)(struct bench *b); // 0, or -1 after printing FAILED
};

static const struct workload workloads[] = {
    {"pingpong", 1, {20000000}, "roundtrips/s", run_pingpong},
    {"counting", 1, {30000000}, "msgs/s", run_counting},
    {"counting-cross", 1, {30000000}, "msgs/s", run_counting_cross},
    {"fjcreate", 1, {10000000}, "actors/s", run_fjcreate},
    {"idle", 1, {1000000}, "B/actor", run_idle},
    {"request", 1, {10000000}, "requests/s", run_request},
};

#define NWORKLOADS (sizeof workloads / sizeof workloads[0])

static int
usage(void)
{
    fputs("usage: troupe-bench <workload> [sizes...] [--loops K]\n"
          "  --loops K  loop threads (default: one per online CPU)\n"
          "workloads (default sizes):\n",
          stderr);
    for (size_t i = 0; i < NWORKLOADS; i++) {
        fprintf(stderr, "  %-10s", workloads[i].name);
        for (unsigned j = 0; j < workloads[i].nsizes; j++)
            fprintf(stderr, " %" PRIu64, workloads[i].size[j]);
        fputc('\n', stderr);
    }
    return 2;
}

// parse_u64 parses a decimal number with nothing after it.
static bool
parse_u64(const char *s, uint64_t *out)
{
    char *end;
    if (*s < '0' || *s > '9')
        return false;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end != '\0' || v == ULLONG_MAX)
        return false;
    *out = v;
    return true;
}

int
main(int argc, char **argv)
{
    const struct workload *w = NULL;
    for (size_t i = 0; argc > 1 && i < NWORKLOADS; i++)
        if (strcmp(argv[1], workloads[i].name) == 0)
            w = &workloads[i];
    if (w == NULL)
        return usage();

    struct bench b = {0};
    tr_config cfg = {0}; // loops 0: one per online CPU
    unsigned nsizes = 0;
    for (int i = 2; i < argc; i++) {
        uint64_t v;
        if (strcmp(argv[i], "--loops") == 0) {
            if (++i == argc || !parse_u64(argv[i], &v) || v > 254)
                return usage();
            cfg.loops = (unsigned)v;
        } else if (nsizes < w->nsizes && parse_u64(argv[i], &v) && v > 0) {
            b.size[nsizes++] = v;
        } else {
            return usage();
        }
    }
    for (; nsizes < w->nsizes; nsizes++)
        b.size[nsizes] = w->size[nsizes];

    int rc = tr_system_open(&b.sys, &cfg);
    if (rc != 0) {
        fail("tr_system_open: %s", tr_strerror(rc));
        return 1;
    }
    rc = tr_inbox_alloc(&b.ib, b.sys);
    if (rc != 0) {
        fail("tr_inbox_alloc: %s", tr_strerror(rc));
        return 1;
    }
    bool ok = w->run(&b) == 0;
    tr_inbox_free(b.ib);
    tr_stats st;
    rc = tr_system_close(b.sys, CLOSE_MS, &st);
    if (rc != 0) {
        fail("tr_system_close: %s", tr_strerror(rc));
        return 1;
    }
    if (st.actors_live != 0) {
        fail("%" PRIu64 " actors live after tr_system_close", st.actors_live);
        return 1;
    }
    if (!ok)
        return 1;
    fprintf(stderr, "peak_rss_kb=%ld\n", proc_status_kb("VmHWM:"));
    printf("RESULT %s %" PRIu64 " %.3f %.0f %s\n", w->name, b.size[0],
           b.seconds, b.value, w->unit);
    return 0;
}
