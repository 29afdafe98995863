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
#define _POSIX_C_SOURCE 200809L
#include <troupe.h>
#include <troupe/cluster.h>
#include <troupe/supervisor.h>

#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

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
    MSG_CRASH,     // restart: main to the worker: crash
    MSG_STARTED,   // restart: a worker's init to main: its tr_ref
    MSG_TOKEN,     // threadring: uint64 hops still to go
    MSG_NEXT,      // threadring: tr_ref of the next node, a request
    MSG_PEERS,     // big: the workers' tr_refs, W of them
    MSG_PING,      // big: uint64, answered with MSG_PONG and the same value
    MSG_PONG,      // big: uint64, the value of the ping it answers
    MSG_CAST,      // fanout: uint64 message number, 1 .. M
};

// CRASH is the reason a worker crashes with on MSG_CRASH: any negative
// code is a crash; this one is no TR_E* code, so it cannot be mistaken for
// a runtime error.
#define CRASH (-100)

// job is what main gives a driver; every driver's state starts with it.
struct job {
    tr_ref main; // main's inbox
    uint64_t n;  // the workload's size
    int variant; // a workload's variant (counting: 1 = cross-loop)
    tr_ref peer; // remote workloads: the actor in the other process
    uint64_t n2; // the second size, for workloads that have one (big: W)
};

#define REMOTE 3 // the variant of pingpong and counting across processes

// counting's variants: placement on the next loop, a bounded mailbox.
enum {
    COUNT_PLAIN,
    COUNT_CROSS,
    COUNT_BOUNDED_CROSS,
    COUNT_REMOTE = REMOTE,
    COUNT_BOUNDED
};
#define BOUND        1024 // counting-bounded's mailbox capacity
#define BOUNDED_TURN 4096 // sends per turn at most: past the bound

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
    tr_ref peer;              // remote workloads: the other process's actor
    unsigned loops;           // --loops, passed on to the other process
    pid_t child;              // remote workloads: the other process
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
    struct job job = {.main = tr_inbox_ref(b->ib),
                      .n = n,
                      .variant = variant,
                      .peer = b->peer,
                      .n2 = b->size[1]};
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
        // Idiomatic placement: pong is ping's child, on ping's loop; or
        // in the other process.
        if (s->job.variant == REMOTE)
            s->pong = s->job.peer;
        else
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
    uint64_t pauses; // counting-bounded: TR_EFULLs, each a pause
};

static bool
count_bounded(const struct job *j)
{
    return j->variant == COUNT_BOUNDED || j->variant == COUNT_BOUNDED_CROSS;
}

// producer_batch sends the next BATCH numbers (bounded: until the mailbox
// is full, at most BOUNDED_TURN), then MSG_MORE to itself, or MSG_GET to
// the counter after the last one.
static int
producer_batch(tr_ctx *ctx, struct producer *s)
{
    uint64_t end = batch_end(s->sent, s->job.n);
    if (count_bounded(&s->job))
        end = s->job.n - s->sent > BOUNDED_TURN ? s->sent + BOUNDED_TURN
                                                : s->job.n;
    while (s->sent < end) {
        uint64_t v = s->sent + 1;
        int rc = tr_send(ctx, s->counter, MSG_ADD, &v, sizeof v);
        if (rc == TR_EFULL && s->job.variant == REMOTE) // outbox full
            return tr_send(ctx, tr_self(ctx), MSG_MORE, NULL, 0);
        if (rc == TR_EFULL) { // counting-bounded: pause until there is room
            s->pauses++;
            return tr_notify_writable(ctx, s->counter);
        }
        if (rc != 0)
            return rc;
        s->sent = v;
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
        // Placement: the counter is the producer's child. In `counting` and
        // `counting-bounded` it has the default placement, its parent's
        // loop, as a user's would; in the -cross variants it lives on the
        // next loop, so with two or more loops they run in parallel and
        // every message crosses threads.
        unsigned loops = tr_system_loops(tr_ctx_system(ctx));
        tr_spawn_opts o = {.placement = TR_PLACE_LOOP,
                           .loop = tr_ctx_loop(ctx)};
        if (s->job.variant == COUNT_CROSS ||
            s->job.variant == COUNT_BOUNDED_CROSS)
            o.loop = (o.loop + 1) % loops;
        if (count_bounded(&s->job))
            o.capacity = BOUND;
        rc = 0;
        if (s->job.variant == REMOTE)
            s->counter = s->job.peer;
        else
            rc = tr_spawn(&s->counter, ctx, &counter_beh, NULL, 0, &o);
        if (rc == 0)
            rc = producer_batch(ctx, s);
    } else if (tr_msg_type(m) == MSG_MORE ||
               tr_msg_type(m) == TR_MSG_WRITABLE) {
        rc = producer_batch(ctx, s);
    } else if (tr_msg_type(m) == MSG_TOTAL &&
               tr_msg_size(m) == sizeof(struct report)) {
        struct report r;
        memcpy(&r, tr_msg_data(m), sizeof r);
        // A bounded run on one loop that never filled the mailbox did not
        // measure it. (Across loops the counter may keep up: no check.)
        if (s->job.variant == COUNT_BOUNDED && s->pauses == 0 &&
            s->job.n > BOUND)
            return report(ctx, r.count, r.sum, TR_EPROTO);
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
    return run_counting_variant(b, COUNT_PLAIN);
}

static int
run_counting_cross(struct bench *b)
{
    return run_counting_variant(b, COUNT_CROSS);
}

// counting-bounded: counting with the counter's mailbox bounded at 1,024;
// the producer sends until TR_EFULL (so, on one loop, 1,024 at a time),
// pauses, and resumes on TR_MSG_WRITABLE, which the counter's loop sends
// once the mailbox is half empty. On one loop the run fails if it never
// paused.
// counting-bounded-cross: the same with the counter on the next loop.
static int
run_counting_bounded(struct bench *b)
{
    return run_counting_variant(b, COUNT_BOUNDED);
}

static int
run_counting_bounded_cross(struct bench *b)
{
    return run_counting_variant(b, COUNT_BOUNDED_CROSS);
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
// restart N: a one_for_one supervisor with one permanent worker, whose init
// sends main its ref. N times, main crashes the worker and waits for the
// replacement's ref: one restart's latency, end to end. The intensity
// allows N + 10 restarts within an hour, so none escalates.

#define RESTART_PERIOD_MS (3600 * 1000)

static int
rworker_init(tr_ctx *ctx, const void *arg, size_t len)
{
    tr_ref main_ib;
    if (len != sizeof main_ib)
        return TR_EINVAL;
    memcpy(&main_ib, arg, sizeof main_ib);
    tr_ref self = tr_self(ctx);
    return tr_send(ctx, main_ib, MSG_STARTED, &self, sizeof self);
}

static int
rworker_receive(tr_ctx *ctx, const tr_msg *m)
{
    (void)ctx;
    return tr_msg_type(m) == MSG_CRASH ? CRASH : TR_EUNHANDLED;
}

static const tr_behavior rworker_beh = {
    .name = "rworker", .init = rworker_init, .receive = rworker_receive};

// recv_type waits for the next message in main's inbox, which must be of
// `type` with `len` bytes, and copies its payload to `out`.
// Returns 0, or -1 after printing FAILED.
static int
recv_type(struct bench *b, const char *what, uint32_t type, void *out,
          size_t len)
{
    tr_msg *m;
    if (tr_inbox_recv(b->ib, &m, WAIT_MS) != 0)
        return fail("%s: nothing after %d s", what, WAIT_MS / 1000);
    bool ok = tr_msg_type(m) == type && tr_msg_size(m) == len;
    if (ok)
        memcpy(out, tr_msg_data(m), len);
    uint32_t got = tr_msg_type(m);
    tr_msg_free(m);
    if (!ok)
        return fail("%s: unexpected message of type %#" PRIx32, what, got);
    return 0;
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

// restart_check asks the supervisor what it counted, stops it, and
// checks that no start came late and that every worker had its own ref.
static int
restart_check(struct bench *b, tr_ref sup, uint64_t *refs, uint64_t n)
{
    tr_msg *m;
    int rc = tr_call(b->sys, sup, TR_SUP_WHICH_CHILDREN, NULL, 0, WAIT_MS, &m);
    if (rc != 0)
        return fail("restart: which_children: %s", tr_strerror(rc));
    tr_sup_child c = {0};
    bool one = tr_msg_size(m) == sizeof c;
    if (one)
        memcpy(&c, tr_msg_data(m), sizeof c);
    tr_msg_free(m);
    if (!one || c.restarts != n || c.state != TR_CHILD_RUNNING ||
        c.ref.bits != refs[n])
        return fail("restart: the supervisor counts %" PRIu32
                    " restarts, want %" PRIu64,
                    c.restarts, n);
    uint64_t mon;
    if ((rc = tr_inbox_monitor(b->ib, sup, &mon)) != 0 ||
        (rc = tr_system_stop(b->sys, sup, TR_EXIT_SHUTDOWN)) != 0)
        return fail("restart: stopping the supervisor: %s", tr_strerror(rc));
    tr_down d;
    if (recv_type(b, "restart: stopping", TR_MSG_DOWN, &d, sizeof d) != 0)
        return -1;
    if (tr_inbox_recv(b->ib, &m, 0) == 0) { // nothing may be left
        tr_msg_free(m);
        return fail("restart: a message after the supervisor's DOWN");
    }
    qsort(refs, n + 1, sizeof *refs, cmp_u64);
    for (uint64_t i = 1; i <= n; i++)
        if (refs[i] == refs[i - 1])
            return fail("restart: two workers had ref %#" PRIx64, refs[i]);
    return 0;
}

// restart_measure starts the supervisor and times the n restarts,
// storing every worker's ref in refs[0 .. n].
static int
restart_measure(struct bench *b, uint64_t *refs, uint64_t n)
{
    tr_ref main_ib = tr_inbox_ref(b->ib);
    tr_child_spec kid = {.id = "worker",
                         .behavior = &rworker_beh,
                         .arg = &main_ib,
                         .len = sizeof main_ib,
                         .restart = TR_PERMANENT};
    tr_sup_spec spec = {.strategy = TR_ONE_FOR_ONE,
                        .intensity = (int)n + 10,
                        .period_ms = RESTART_PERIOD_MS,
                        .children = &kid,
                        .n = 1};
    tr_ref sup, w;
    int rc = tr_sup_spawn_top(&sup, b->sys, &spec);
    if (rc != 0)
        return fail("restart: tr_sup_spawn_top: %s", tr_strerror(rc));
    if (recv_type(b, "restart: first start", MSG_STARTED, &w, sizeof w) != 0)
        return -1;
    refs[0] = w.bits;
    // Three legs, as the Erlang peer: does latency grow with the
    // supervisor's restart history?
    uint64_t tenth = n / 10;
    int64_t t0 = tr_now_ns(), t1 = t0, t2 = t0;
    for (uint64_t i = 1; i <= n; i++) {
        if (i == tenth + 1)
            t1 = tr_now_ns();
        if (i == n - tenth + 1)
            t2 = tr_now_ns();
        if ((rc = tr_system_send(b->sys, w, MSG_CRASH, NULL, 0)) != 0)
            return fail("restart: crashing worker %" PRIu64 ": %s", i - 1,
                        tr_strerror(rc));
        if (recv_type(b, "restart: replacement", MSG_STARTED, &w, sizeof w) !=
            0)
            return -1;
        if (w.bits == refs[i - 1])
            return fail("restart: the replacement has the old ref");
        refs[i] = w.bits;
    }
    int64_t t3 = tr_now_ns();
    b->seconds = (double)(t3 - t0) / 1e9;
    b->value = (double)n / b->seconds;
    if (restart_check(b, sup, refs, n) != 0)
        return -1;
    fprintf(stderr, "restart: mean latency %.2f us", b->seconds * 1e6 / n);
    if (tenth > 0)
        fprintf(stderr, " (first tenth %.2f us, last tenth %.2f us)",
                (double)(t1 - t0) / 1e3 / tenth,
                (double)(t3 - t2) / 1e3 / tenth);
    fputc('\n', stderr);
    return 0;
}

static int
run_restart(struct bench *b)
{
    uint64_t n = b->size[0];
    if (n > INT_MAX - 10)
        return fail("restart: N must be at most %d", INT_MAX - 10);
    uint64_t *refs = malloc((n + 1) * sizeof *refs); // every worker's ref
    if (refs == NULL)
        return fail("restart: out of memory");
    int rc = restart_measure(b, refs, n);
    free(refs);
    return rc;
}

// ---------------------------------------------------------------------------
// treestop N: a supervision tree shaped as the Erlang peer's: a subtree of
// `size` nodes is a one_for_one supervisor over size - 1 nodes split into
// at most 10 near-equal parts, a part of one node being an idle worker.
// Supervisors and workers add up to N. A supervisor's child is an actor
// behaviour, so each supervisor but the root hangs below an adapter: an
// actor whose init starts it (tr_sup_spawn) and which exits when it does;
// the tree then has N + (supervisors - 1) actors, and that true count is
// the n reported. Building is not timed. Timed: tr_system_stop on the root
// until its DOWN reaches main's inbox.

#define TREE_FANOUT 10

// Placement: default, every actor on its parent's loop, so the whole tree
// lives on the root's loop. A stopping actor stops its children one at a
// time, newest first, each subtree before the next (as OTP supervisors
// do), so the stop is sequential wherever the subtrees live: with the
// root's ten children round-robin over two loops it measured the same
// (2.10-2.14M against 2.10-2.15M actors/s). tree_spec leaves opts zero.

static atomic_uint_fast64_t tree_worker_stops; // worker stop hooks run

static int
tree_worker_receive(tr_ctx *ctx, const tr_msg *m)
{
    (void)ctx;
    (void)m;
    return 0;
}

static void
tree_worker_stop(tr_ctx *ctx, int reason)
{
    (void)ctx;
    (void)reason;
    // relaxed: main reads the count after the root's DOWN, which comes
    // after every stop hook below the root.
    atomic_fetch_add_explicit(&tree_worker_stops, 1, memory_order_relaxed);
}

static const tr_behavior tree_worker_beh = {.name = "tree-worker",
                                            .receive = tree_worker_receive,
                                            .stop = tree_worker_stop};

static const tr_behavior tree_adapter_beh;

// tree_spec fills `spec` for a supervisor over a subtree of `size` nodes
// (itself included): kids[i] is a worker, or an adapter whose argument is
// sizes[i], the size of its supervisor's subtree.
static void
tree_spec(tr_sup_spec *spec, tr_child_spec kids[TREE_FANOUT],
          uint64_t sizes[TREE_FANOUT], uint64_t size)
{
    uint64_t below = size - 1;
    size_t k = below < TREE_FANOUT ? (size_t)below : TREE_FANOUT;
    for (size_t i = 0; i < k; i++) {
        sizes[i] = below / k + (i < below % k ? 1 : 0);
        kids[i] = (tr_child_spec){.id = "node", .restart = TR_PERMANENT};
        if (sizes[i] == 1) {
            kids[i].behavior = &tree_worker_beh;
        } else {
            kids[i].behavior = &tree_adapter_beh;
            kids[i].arg = &sizes[i];
            kids[i].len = sizeof sizes[i];
        }
    }
    *spec = (tr_sup_spec){.strategy = TR_ONE_FOR_ONE, .children = kids, .n = k};
}

static int
tree_adapter_init(tr_ctx *ctx, const void *arg, size_t len)
{
    uint64_t size;
    if (len != sizeof size)
        return TR_EINVAL;
    memcpy(&size, arg, sizeof size);
    tr_sup_spec spec;
    tr_child_spec kids[TREE_FANOUT];
    uint64_t sizes[TREE_FANOUT];
    tree_spec(&spec, kids, sizes, size);
    tr_ref sup;
    int rc = tr_sup_spawn(&sup, ctx, &spec); // copies the spec
    return rc != 0 ? rc : tr_monitor(ctx, sup, NULL);
}

// tree_adapter_receive: the only monitor is on its supervisor, which
// stopped; the adapter follows it with its reason, as a linked OTP
// supervisor would.
static int
tree_adapter_receive(tr_ctx *ctx, const tr_msg *m)
{
    if (tr_msg_type(m) != TR_MSG_DOWN)
        return TR_EUNHANDLED;
    tr_down d;
    memcpy(&d, tr_msg_data(m), sizeof d);
    tr_exit(ctx, d.reason);
    return 0;
}

static const tr_behavior tree_adapter_beh = {.name = "tree-adapter",
                                             .init = tree_adapter_init,
                                             .receive = tree_adapter_receive};

struct tree_shape {
    uint64_t sups, workers;
    unsigned depth; // levels, the root's included
};

// tree_count computes the shape of a subtree of `size` nodes, as
// tree_spec splits it.
static struct tree_shape
tree_count(uint64_t size)
{
    struct tree_shape t = {.sups = 1, .depth = 1};
    if (size == 1)
        return t;
    uint64_t below = size - 1;
    uint64_t k = below < TREE_FANOUT ? below : TREE_FANOUT;
    for (uint64_t i = 0; i < k; i++) {
        uint64_t part = below / k + (i < below % k ? 1 : 0);
        struct tree_shape c = {.workers = 1, .depth = 1};
        if (part > 1)
            c = tree_count(part);
        t.sups += c.sups;
        t.workers += c.workers;
        if (c.depth + 1 > t.depth)
            t.depth = c.depth + 1;
    }
    return t;
}

// live_actors polls stats.actors_live, which is approximate while the
// system runs, for up to WAIT_MS until it equals `want`. Returns the last
// value read.
static uint64_t
live_actors(struct bench *b, uint64_t want)
{
    tr_stats st;
    int64_t until = tr_now_ns() + (int64_t)WAIT_MS * 1000000;
    for (;;) {
        tr_system_stats(b->sys, &st);
        if (st.actors_live == want || tr_now_ns() > until)
            return st.actors_live;
        tr_msg *m;
        if (tr_inbox_recv(b->ib, &m, 1) == 0)
            tr_msg_free(m);
    }
}

static int
run_treestop(struct bench *b)
{
    uint64_t n = b->size[0];
    struct tree_shape t = tree_count(n);
    uint64_t actors = t.sups + t.workers + (t.sups - 1); // with adapters
    tr_stats st;
    tr_system_stats(b->sys, &st);
    uint64_t base = st.actors_live; // main's inbox
    atomic_store(&tree_worker_stops, 0);

    tr_sup_spec spec;
    tr_child_spec kids[TREE_FANOUT];
    uint64_t sizes[TREE_FANOUT];
    tree_spec(&spec, kids, sizes, n);
    long rss0 = proc_status_kb("VmRSS:");
    int64_t t0 = tr_now_ns();
    tr_ref root;
    int rc = tr_sup_spawn_top(&root, b->sys, &spec); // builds it all
    if (rc != 0)
        return fail("treestop: building: %s", tr_strerror(rc));
    double build = (double)(tr_now_ns() - t0) / 1e9;
    long rss1 = proc_status_kb("VmRSS:");
    uint64_t built = live_actors(b, base + actors) - base;
    fprintf(stderr,
            "treestop: built %" PRIu64 " supervisors + %" PRIu64
            " workers (%" PRIu64 " as in the Erlang peer) + %" PRIu64
            " adapters, depth %u, in %.2f s; VmRSS +%ld MB (%ld B/actor)\n",
            t.sups, t.workers, n, t.sups - 1, t.depth, build,
            (rss1 - rss0) / 1024, (long)((rss1 - rss0) * 1024 / (long)actors));
    if (built != actors)
        return fail("treestop: %" PRIu64 " actors live after the build, "
                    "want %" PRIu64,
                    built, actors);

    uint64_t mon;
    if ((rc = tr_inbox_monitor(b->ib, root, &mon)) != 0)
        return fail("treestop: monitor: %s", tr_strerror(rc));
    t0 = tr_now_ns();
    if ((rc = tr_system_stop(b->sys, root, TR_EXIT_SHUTDOWN)) != 0)
        return fail("treestop: stopping: %s", tr_strerror(rc));
    tr_down d;
    if (recv_type(b, "treestop: the root's DOWN", TR_MSG_DOWN, &d, sizeof d) !=
        0)
        return -1;
    b->seconds = (double)(tr_now_ns() - t0) / 1e9;
    b->value = (double)actors / b->seconds;
    b->size[0] = actors; // the n reported: the true count
    fprintf(stderr, "treestop: %" PRIu64 " supervisors + workers/s\n",
            (uint64_t)((double)n / b->seconds));

    uint64_t stops = atomic_load(&tree_worker_stops);
    if (d.reason != TR_EXIT_SHUTDOWN)
        return fail("treestop: the root stopped with %d", (int)d.reason);
    if (stops != t.workers)
        return fail("treestop: %" PRIu64
                    " worker stop hooks ran, want %" PRIu64,
                    stops, t.workers);
    uint64_t left = live_actors(b, base);
    if (left != base)
        return fail("treestop: %" PRIu64 " actors live after the DOWN, want "
                    "%" PRIu64,
                    left, base);
    return 0;
}

// ---------------------------------------------------------------------------
// threadring N: RING_SIZE actors in a ring pass a token N hops in all. The
// token carries the hops still to go; the node that gets it at 0 tells the
// driver, which then asks every node how many tokens it saw (N + 1 in all:
// the driver's first send and the N hops).

#define RING_SIZE 503

// Placement: default, the whole ring on the driver's loop. Only one node
// holds the token at a time, so the ring is sequential wherever it lives;
// spread over loops, every hop would also cross threads.

struct ring_node {
    tr_ref next;
    uint64_t id;   // 0 .. RING_SIZE - 1
    uint64_t seen; // tokens received
};

static int
ring_node_init(tr_ctx *ctx, const void *arg, size_t len)
{
    struct ring_node *s = tr_state(ctx);
    if (len != sizeof s->id + sizeof s->next)
        return TR_EINVAL;
    memcpy(&s->id, arg, sizeof s->id);
    memcpy(&s->next, (const char *)arg + sizeof s->id, sizeof s->next);
    return 0;
}

static int
ring_node_receive(tr_ctx *ctx, const tr_msg *m)
{
    struct ring_node *s = tr_state(ctx);
    switch (tr_msg_type(m)) {
    case MSG_TOKEN: {
        uint64_t left = msg_u64(m);
        s->seen++;
        if (tr_ref_is_none(s->next)) // the ring was not closed yet
            return TR_EPROTO;
        if (left == 0)
            return tr_send(ctx, tr_parent(ctx), MSG_DONE, &s->id, sizeof s->id);
        left--;
        return tr_send(ctx, s->next, MSG_TOKEN, &left, sizeof left);
    }
    case MSG_NEXT: // the last node learns the first one's ref
        if (tr_msg_size(m) != sizeof s->next)
            return TR_EPROTO;
        memcpy(&s->next, tr_msg_data(m), sizeof s->next);
        return tr_reply(ctx, m, MSG_NEXT, NULL, 0);
    case MSG_GET: {
        struct report r = {.count = s->seen};
        return tr_reply(ctx, m, MSG_TOTAL, &r, sizeof r);
    }
    default:
        return TR_EUNHANDLED;
    }
}

static const tr_behavior ring_node_beh = {.name = "ring-node",
                                          .state_size =
                                              sizeof(struct ring_node),
                                          .init = ring_node_init,
                                          .receive = ring_node_receive};

struct ring {
    struct job job;
    tr_ref nodes[RING_SIZE];
    uint64_t last;    // the id of the node that got the token at 0
    uint64_t answers; // MSG_TOTALs received
    uint64_t seen;    // tokens the nodes saw, summed
};

// ring_closed runs when the last node knows the first: the ring is whole,
// so the token may go.
static void
ring_closed(tr_ctx *ctx, int status, const tr_msg *reply, void *cookie)
{
    struct ring *s = cookie;
    (void)reply;
    int rc = status;
    if (rc == 0)
        rc = tr_send(ctx, s->nodes[0], MSG_TOKEN, &s->job.n, sizeof s->job.n);
    if (rc != 0)
        report(ctx, 0, 0, rc);
}

static int
ring_receive(tr_ctx *ctx, const tr_msg *m)
{
    struct ring *s = tr_state(ctx);
    int rc = 0;
    if (tr_msg_type(m) == MSG_START) {
        // Node i's next is node i + 1, so spawn them last first; the last
        // node's next, node 0, is sent to it (a request, so the token
        // starts only once the ring is closed).
        for (uint64_t i = RING_SIZE; i-- > 0 && rc == 0;) {
            unsigned char arg[sizeof i + sizeof(tr_ref)];
            tr_ref next = i + 1 < RING_SIZE ? s->nodes[i + 1] : TR_REF_NONE;
            memcpy(arg, &i, sizeof i);
            memcpy(arg + sizeof i, &next, sizeof next);
            rc = tr_spawn(&s->nodes[i], ctx, &ring_node_beh, arg, sizeof arg,
                          NULL);
        }
        if (rc == 0)
            rc = tr_request(ctx, NULL, s->nodes[RING_SIZE - 1], MSG_NEXT,
                            &s->nodes[0], sizeof s->nodes[0], WAIT_MS,
                            ring_closed, s);
    } else if (tr_msg_type(m) == MSG_DONE) {
        s->last = msg_u64(m);
        for (size_t i = 0; i < RING_SIZE && rc == 0; i++)
            rc = tr_send(ctx, s->nodes[i], MSG_GET, NULL, 0);
    } else if (tr_msg_type(m) == MSG_TOTAL &&
               tr_msg_size(m) == sizeof(struct report)) {
        struct report r;
        memcpy(&r, tr_msg_data(m), sizeof r);
        s->seen += r.count;
        if (++s->answers == RING_SIZE)
            return report(ctx, s->seen, s->last, 0);
    } else {
        return TR_EUNHANDLED;
    }
    return rc == 0 ? 0 : report(ctx, s->seen, s->last, rc);
}

static const tr_behavior ring_beh = {.name = "ring",
                                     .state_size = sizeof(struct ring),
                                     .init = driver_init,
                                     .receive = ring_receive};

static int
run_threadring(struct bench *b)
{
    uint64_t n = b->size[0];
    struct report r;
    // N + 1 tokens received (the first send and N hops); the token ends
    // at node N mod RING_SIZE.
    if (run_driver(b, &ring_beh, n, &r) != 0 ||
        check(&r, n + 1, n % RING_SIZE) != 0)
        return -1;
    b->value = (double)n / b->seconds;
    return 0;
}

// ---------------------------------------------------------------------------
// big P W: W workers each send P pings, one at a time, to neighbours picked
// at random among the other W - 1; each ping is answered with a pong. A
// worker that has had its P pongs tells the driver (and goes on answering
// pings); once all have, the driver asks each how many pings it answered.
// Rate: pings and pongs, 2 P W messages, per second.

// Placement: default, every worker on the driver's loop. Round-robin over
// two loops, so that workers run in parallel, measured 2.0M msgs/s against
// 6-20M here: nearly every ping and pong then crosses threads, and a
// worker has little to do per message.
static const tr_spawn_opts *const big_place = NULL;

struct big_arg {
    uint64_t id;
    uint64_t pings; // P
};

struct big_worker {
    tr_ref *peers; // all W workers, itself included; malloc'd
    uint64_t npeers;
    uint64_t id;
    uint64_t rng;    // xorshift64 state, never 0
    uint64_t left;   // pings still to send
    uint64_t expect; // the value of the ping in flight
    uint64_t pongs;
    uint64_t answered; // pings answered
};

static int
big_worker_init(tr_ctx *ctx, const void *arg, size_t len)
{
    struct big_worker *s = tr_state(ctx);
    struct big_arg a;
    if (len != sizeof a)
        return TR_EINVAL;
    memcpy(&a, arg, sizeof a);
    s->id = a.id;
    s->left = a.pings;
    s->rng = 0x9E3779B97F4A7C15u * (a.id + 1);
    return 0;
}

static void
big_worker_stop(tr_ctx *ctx, int reason)
{
    struct big_worker *s = tr_state(ctx);
    (void)reason;
    free(s->peers);
}

// big_ping sends the next ping to a random other worker, or tells the
// driver that all P have been answered.
static int
big_ping(tr_ctx *ctx, struct big_worker *s)
{
    if (s->left == 0) {
        uint64_t ok = 0;
        return tr_send(ctx, tr_parent(ctx), MSG_DONE, &ok, sizeof ok);
    }
    s->left--;
    s->rng ^= s->rng << 13;
    s->rng ^= s->rng >> 7;
    s->rng ^= s->rng << 17;
    uint64_t to = s->rng % (s->npeers - 1);
    if (to >= s->id) // skip itself
        to++;
    s->expect = s->id << 32 | s->left;
    return tr_send(ctx, s->peers[to], MSG_PING, &s->expect, sizeof s->expect);
}

static int
big_worker_receive(tr_ctx *ctx, const tr_msg *m)
{
    struct big_worker *s = tr_state(ctx);
    switch (tr_msg_type(m)) {
    case MSG_PING:
        s->answered++;
        return tr_reply(ctx, m, MSG_PONG, tr_msg_data(m), tr_msg_size(m));
    case MSG_PONG:
        if (msg_u64(m) != s->expect) {
            uint64_t bad = 1; // tell the driver rather than hang it
            tr_send(ctx, tr_parent(ctx), MSG_DONE, &bad, sizeof bad);
            return TR_EPROTO;
        }
        s->pongs++;
        return big_ping(ctx, s);
    case MSG_PEERS:
        if (s->peers != NULL || tr_msg_size(m) < 2 * sizeof(tr_ref))
            return TR_EPROTO;
        s->npeers = tr_msg_size(m) / sizeof(tr_ref);
        if ((s->peers = malloc(tr_msg_size(m))) == NULL)
            return TR_ENOMEM;
        memcpy(s->peers, tr_msg_data(m), tr_msg_size(m));
        return big_ping(ctx, s);
    case MSG_GET: {
        struct report r = {.count = s->pongs, .sum = s->answered};
        return tr_reply(ctx, m, MSG_TOTAL, &r, sizeof r);
    }
    default:
        return TR_EUNHANDLED;
    }
}

static const tr_behavior big_worker_beh = {.name = "big-worker",
                                           .state_size =
                                               sizeof(struct big_worker),
                                           .init = big_worker_init,
                                           .receive = big_worker_receive,
                                           .stop = big_worker_stop};

struct big {
    struct job job; // n: P; n2: W
    tr_ref *workers;
    uint64_t done;    // workers that had their P pongs
    uint64_t answers; // MSG_TOTALs received
    uint64_t pongs, answered;
};

static void
big_stop(tr_ctx *ctx, int reason)
{
    struct big *s = tr_state(ctx);
    (void)reason;
    free(s->workers);
}

static int
big_start(tr_ctx *ctx, struct big *s)
{
    uint64_t w = s->job.n2;
    if ((s->workers = calloc(w, sizeof *s->workers)) == NULL)
        return TR_ENOMEM;
    for (uint64_t i = 0; i < w; i++) {
        struct big_arg a = {.id = i, .pings = s->job.n};
        int rc = tr_spawn(&s->workers[i], ctx, &big_worker_beh, &a, sizeof a,
                          big_place);
        if (rc != 0)
            return rc;
    }
    for (uint64_t i = 0; i < w; i++) {
        int rc = tr_send(ctx, s->workers[i], MSG_PEERS, s->workers,
                         w * sizeof *s->workers);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int
big_receive(tr_ctx *ctx, const tr_msg *m)
{
    struct big *s = tr_state(ctx);
    int rc = 0;
    if (tr_msg_type(m) == MSG_START) {
        rc = big_start(ctx, s);
    } else if (tr_msg_type(m) == MSG_DONE) {
        if (msg_u64(m) != 0)
            rc = TR_EPROTO; // a pong that answered another ping
        else if (++s->done == s->job.n2)
            for (uint64_t i = 0; i < s->job.n2 && rc == 0; i++)
                rc = tr_send(ctx, s->workers[i], MSG_GET, NULL, 0);
    } else if (tr_msg_type(m) == MSG_TOTAL &&
               tr_msg_size(m) == sizeof(struct report)) {
        struct report r;
        memcpy(&r, tr_msg_data(m), sizeof r);
        s->pongs += r.count;
        s->answered += r.sum;
        if (++s->answers == s->job.n2)
            return report(ctx, s->pongs, s->answered, 0);
    } else {
        return TR_EUNHANDLED;
    }
    return rc == 0 ? 0 : report(ctx, s->pongs, s->answered, rc);
}

static const tr_behavior big_beh = {.name = "big",
                                    .state_size = sizeof(struct big),
                                    .init = driver_init,
                                    .receive = big_receive,
                                    .stop = big_stop};

static int
run_big(struct bench *b)
{
    uint64_t p = b->size[0], w = b->size[1];
    struct report r;
    if (w < 2 || w > UINT32_MAX || p > UINT32_MAX)
        return fail("big: W must be 2 .. 2^32 - 1 and P below 2^32");
    if (run_driver(b, &big_beh, p, &r) != 0 || check(&r, p * w, p * w) != 0)
        return -1;
    b->value = 2.0 * (double)(p * w) / b->seconds;
    return 0;
}

// ---------------------------------------------------------------------------
// fanout M K: a broadcaster sends each of M messages (numbered 1 .. M) to
// each of K subscribers, BATCH sends a turn; then it asks each subscriber
// for its count and sum. A subscriber checks that the numbers come in
// order. Rate: M K deliveries per second.

// Placement: default, every subscriber on the broadcaster's loop, so they
// take turns with it and the backlog stays small. Round-robin over two
// loops measured no faster on a loaded machine (3.0-10.8M deliveries/s
// against 4.1-7.9M) and peaked at up to 55 MB instead of 6.
static const tr_spawn_opts *const fanout_place = NULL;

struct subscriber {
    uint64_t count;
    uint64_t sum;
    int64_t err; // TR_EPROTO once a number came out of order
};

static int
subscriber_receive(tr_ctx *ctx, const tr_msg *m)
{
    struct subscriber *s = tr_state(ctx);
    if (tr_msg_type(m) == MSG_CAST) {
        uint64_t v = msg_u64(m);
        if (v != s->count + 1)
            s->err = TR_EPROTO;
        s->count++;
        s->sum += v;
        return 0;
    }
    if (tr_msg_type(m) == MSG_GET) {
        struct report r = {.count = s->count, .sum = s->sum, .err = s->err};
        return tr_reply(ctx, m, MSG_TOTAL, &r, sizeof r);
    }
    return TR_EUNHANDLED;
}

static const tr_behavior subscriber_beh = {.name = "subscriber",
                                           .state_size =
                                               sizeof(struct subscriber),
                                           .receive = subscriber_receive};

struct broadcaster {
    struct job job; // n: M; n2: K
    tr_ref *subs;
    uint64_t msg;     // the message being sent, 1 .. M; M + 1: asking
    uint64_t sub;     // the next subscriber to send it to
    uint64_t answers; // MSG_TOTALs received
    uint64_t count, sum;
};

static void
broadcaster_stop(tr_ctx *ctx, int reason)
{
    struct broadcaster *s = tr_state(ctx);
    (void)reason;
    free(s->subs);
}

// broadcaster_batch sends the next BATCH deliveries (after the last
// message, MSG_GETs), then MSG_MORE to itself.
static int
broadcaster_batch(tr_ctx *ctx, struct broadcaster *s)
{
    uint64_t k = s->job.n2;
    for (unsigned i = 0; i < BATCH && s->msg <= s->job.n + 1; i++) {
        int rc = s->msg <= s->job.n
                     ? tr_send(ctx, s->subs[s->sub], MSG_CAST, &s->msg,
                               sizeof s->msg)
                     : tr_send(ctx, s->subs[s->sub], MSG_GET, NULL, 0);
        if (rc != 0)
            return rc;
        if (++s->sub == k) {
            s->sub = 0;
            s->msg++;
        }
    }
    if (s->msg <= s->job.n + 1)
        return tr_send(ctx, tr_self(ctx), MSG_MORE, NULL, 0);
    return 0;
}

static int
broadcaster_receive(tr_ctx *ctx, const tr_msg *m)
{
    struct broadcaster *s = tr_state(ctx);
    int rc = 0;
    if (tr_msg_type(m) == MSG_START) {
        if ((s->subs = calloc(s->job.n2, sizeof *s->subs)) == NULL)
            rc = TR_ENOMEM;
        for (uint64_t i = 0; i < s->job.n2 && rc == 0; i++)
            rc = tr_spawn(&s->subs[i], ctx, &subscriber_beh, NULL, 0,
                          fanout_place);
        s->msg = 1;
        if (rc == 0)
            rc = broadcaster_batch(ctx, s);
    } else if (tr_msg_type(m) == MSG_MORE) {
        rc = broadcaster_batch(ctx, s);
    } else if (tr_msg_type(m) == MSG_TOTAL &&
               tr_msg_size(m) == sizeof(struct report)) {
        struct report r;
        memcpy(&r, tr_msg_data(m), sizeof r);
        s->count += r.count;
        s->sum += r.sum;
        rc = (int)r.err;
        if (rc == 0 && ++s->answers == s->job.n2)
            return report(ctx, s->count, s->sum, 0);
    } else {
        return TR_EUNHANDLED;
    }
    return rc == 0 ? 0 : report(ctx, s->count, s->sum, rc);
}

static const tr_behavior broadcaster_beh = {.name = "broadcaster",
                                            .state_size =
                                                sizeof(struct broadcaster),
                                            .init = driver_init,
                                            .receive = broadcaster_receive,
                                            .stop = broadcaster_stop};

static int
run_fanout(struct bench *b)
{
    uint64_t m = b->size[0], k = b->size[1];
    struct report r;
    // Each subscriber gets 1 .. M, which sum to M (M + 1) / 2.
    if (run_driver(b, &broadcaster_beh, m, &r) != 0 ||
        check(&r, m * k, k * (m * (m + 1) / 2)) != 0)
        return -1;
    b->value = (double)(m * k) / b->seconds;
    return 0;
}

// ---------------------------------------------------------------------------
// remote-pingpong N, remote-counting N: pingpong and counting with pong /
// the counter in a second process (this program run with --peer URL),
// joined as two troupe nodes over tcp://127.0.0.1.

static const char bench_secret[] = "troupe-bench";

static int
node_begin(tr_system *sys, const char *name, const char *seed)
{
    const char *seeds[1] = {seed};
    tr_node_config nc = {.name = name,
                         .listen = seed == NULL ? "tcp://127.0.0.1:0" : NULL,
                         .seeds = seeds,
                         .nseeds = seed != NULL,
                         .secret = bench_secret,
                         .secret_len = sizeof bench_secret - 1};
    return tr_node_start(sys, &nc);
}

// peer_main is the second process: it serves pong and a counter until the
// first process goes away.
static int
peer_main(const char *url, unsigned loops)
{
    tr_system *sys;
    tr_config cfg = {.loops = loops};
    tr_ref pong, counter;
    int rc = tr_system_open(&sys, &cfg);
    if (rc == 0)
        rc = node_begin(sys, "bench-peer", url);
    if (rc == 0)
        rc = tr_system_spawn(&pong, sys, &pong_beh, NULL, 0, NULL);
    if (rc == 0)
        rc = tr_system_spawn(&counter, sys, &counter_beh, NULL, 0, NULL);
    if (rc == 0)
        rc = tr_register(sys, "pong", pong);
    if (rc == 0)
        rc = tr_register(sys, "counter", counter);
    if (rc == 0)
        rc = tr_node_wait_peers(sys, 1, WAIT_MS);
    tr_node_stats st;
    while (rc == 0 && tr_node_stats_get(sys, &st) == 0 && st.peers_up != 0) {
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    tr_system_close(sys, CLOSE_MS, NULL);
    return rc == 0 ? 0 : 1;
}

static int
run_remote(struct bench *b, const char *name, int (*run)(struct bench *))
{
    char url[256], loops[16];
    int rc = node_begin(b->sys, "bench-main", NULL);
    if (rc == 0)
        rc = tr_node_url(b->sys, url, sizeof url);
    if (rc != 0)
        return fail("node: %s", tr_strerror(rc));
    snprintf(loops, sizeof loops, "%u", b->loops);
    char *args[] = {"troupe-bench", "--peer", url, "--loops", loops, NULL};
    extern char **environ;
    pid_t pid;
    if (posix_spawn(&pid, "/proc/self/exe", NULL, NULL, args, environ) != 0)
        return fail("cannot start the peer process");
    int64_t end = tr_now_ns() + (int64_t)WAIT_MS * 1000000;
    while ((rc = tr_whereis(b->sys, name, &b->peer)) != 0 &&
           tr_now_ns() < end) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    int ret = rc != 0 ? fail("peer: no %s", name) : run(b);
    if (ret != 0)
        kill(pid, SIGKILL);
    // The peer leaves when this node closes; main closes it after us.
    b->child = pid;
    return ret;
}

static int
run_remote_pingpong_inner(struct bench *b)
{
    uint64_t n = b->size[0];
    struct report r;
    if (run_driver_variant(b, &ping_beh, n, REMOTE, &r) != 0 ||
        check(&r, n, n * (n - 1) / 2) != 0)
        return -1;
    b->value = (double)n / b->seconds;
    return 0;
}

static int
run_remote_pingpong(struct bench *b)
{
    return run_remote(b, "pong", run_remote_pingpong_inner);
}

static int
run_remote_counting_inner(struct bench *b)
{
    return run_counting_variant(b, REMOTE);
}

static int
run_remote_counting(struct bench *b)
{
    return run_remote(b, "counter", run_remote_counting_inner);
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
    {"counting-bounded", 1, {30000000}, "msgs/s", run_counting_bounded},
    {"counting-bounded-cross",
     1,
     {30000000},
     "msgs/s",
     run_counting_bounded_cross},
    {"fjcreate", 1, {10000000}, "actors/s", run_fjcreate},
    {"idle", 1, {1000000}, "B/actor", run_idle},
    {"threadring", 1, {30000000}, "hops/s", run_threadring},
    {"big", 2, {100000, 120}, "msgs/s", run_big},
    {"request", 1, {10000000}, "requests/s", run_request},
    {"fanout", 2, {2000, 10000}, "deliveries/s", run_fanout},
    {"restart", 1, {10000}, "restarts/s", run_restart},
    {"treestop", 1, {1000000}, "actors/s", run_treestop},
    {"remote-pingpong", 1, {300000}, "roundtrips/s", run_remote_pingpong},
    {"remote-counting", 1, {10000000}, "msgs/s", run_remote_counting},
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
    if (argc == 5 && strcmp(argv[1], "--peer") == 0)
        return peer_main(argv[2], (unsigned)atoi(argv[4]));
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
            cfg.loops = b.loops = (unsigned)v;
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
    if (b.child > 0 && waitpid(b.child, NULL, 0) < 0)
        fail("waiting for the peer process");
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
