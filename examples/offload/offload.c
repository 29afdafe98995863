// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// offload: blocking work kept off the loops. I/O-style actors tick every
// 5 ms on both loops while a dispatcher hands out CPU-heavy jobs (about
// 20 ms of hashing each, to tr_offload) and slow queries (a 50 ms sleep
// each, to a blocking actor, as a synchronous database driver would). Every
// half second main prints each loop's scheduling lag from the runtime's own
// histograms, and the pool's state.
//
// With --on-loop the same work runs inside the dispatcher's handler, on
// its loop: that loop's lag jumps to the length of the work, its tickers
// fall behind, and the watchdog names the handler that holds it.
//
//   offload [--on-loop] [seconds]   (default 3)
#define _POSIX_C_SOURCE 200809L
#include <troupe.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { MSG_TICK = 1, MSG_WORK, MSG_QUERY, MSG_SUBMIT };

#define TICK_MS   5
#define SUBMIT_MS 25
#define CPU_MS    20
#define QUERY_MS  50

static void
sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

// CPU-heavy work: hash for about `ms` milliseconds.
static uint64_t
burn(int64_t ms)
{
    uint64_t h = 1469598103934665603ull;
    int64_t end = tr_now_ns() + ms * 1000000;
    while (tr_now_ns() < end)
        for (int i = 0; i < 1000; i++)
            h = (h ^ (uint64_t)i) * 1099511628211ull;
    return h;
}

// --- ticker: an I/O-style actor that must stay on time -------------------
struct ticker {
    uint64_t ticks;
};

static int
ticker_init(tr_ctx *ctx, const void *arg, size_t len)
{
    (void)arg;
    (void)len;
    return tr_send_every(ctx, tr_self(ctx), MSG_TICK, NULL, 0, TICK_MS, NULL);
}

static int
ticker_receive(tr_ctx *ctx, const tr_msg *m)
{
    struct ticker *t = tr_state(ctx);
    (void)m;
    t->ticks++; // a real one would poll a socket, flush a buffer, ...
    return 0;
}

static const tr_behavior ticker = {.name = "ticker",
                                   .state_size = sizeof(struct ticker),
                                   .init = ticker_init,
                                   .receive = ticker_receive};

// --- db: a blocking actor with a synchronous "driver" ---------------------
static int
db_receive(tr_ctx *ctx, const tr_msg *m)
{
    (void)ctx;
    (void)m;
    sleep_ms(QUERY_MS); // the driver blocks; only this thread waits
    return 0;
}

static const tr_behavior db = {.name = "db", .receive = db_receive};

// --- dispatcher: hands out work every SUBMIT_MS ---------------------------
struct dispatcher {
    tr_ref db;
    bool on_loop;
    uint64_t jobs, busy, queries, refused;
};

static void *
cpu_job(const tr_job *job, void *arg)
{
    (void)job;
    (void)arg;
    (void)burn(CPU_MS);
    return NULL;
}

static void
cpu_done(tr_ctx *ctx, void *result, void *cookie)
{
    (void)ctx;
    (void)result;
    (void)cookie;
}

static int
dispatcher_init(tr_ctx *ctx, const void *arg, size_t len)
{
    struct dispatcher *d = tr_state(ctx);
    (void)len;
    d->on_loop = *(const bool *)arg;
    tr_spawn_opts blocking = {.blocking = true, .capacity = 4};
    int rc = tr_spawn(&d->db, ctx, &db, NULL, 0, &blocking);
    if (rc == 0)
        rc = tr_send_every(ctx, tr_self(ctx), MSG_SUBMIT, NULL, 0, SUBMIT_MS,
                           NULL);
    return rc;
}

static int
dispatcher_receive(tr_ctx *ctx, const tr_msg *m)
{
    struct dispatcher *d = tr_state(ctx);
    if (tr_msg_type(m) != MSG_SUBMIT)
        return TR_EUNHANDLED;
    if (d->on_loop) { // the mistake: blocking work in a loop handler
        (void)burn(CPU_MS);
        sleep_ms(QUERY_MS);
        d->jobs++;
        d->queries++;
        return 0;
    }
    int rc = tr_offload(ctx, cpu_job, NULL, 0, cpu_done, NULL, NULL);
    if (rc == TR_EBUSY)
        d->busy++;
    else if (rc == 0)
        d->jobs++;
    rc = tr_send(ctx, d->db, MSG_QUERY, NULL, 0);
    if (rc == TR_EBUSY) // the db is saturated: shed the query
        d->refused++;
    else if (rc == 0)
        d->queries++;
    return 0;
}

static const tr_behavior dispatcher = {.name = "dispatcher",
                                       .state_size = sizeof(struct dispatcher),
                                       .init = dispatcher_init,
                                       .receive = dispatcher_receive};

// --- main: run, and print lag from the loops' histograms ------------------

// The histogram of what was recorded between two snapshots.
static void
hist_since(tr_hist *out, const tr_hist *now, const tr_hist *then)
{
    *out = *now;
    out->count = 0;
    for (unsigned i = 0; i < TR_HIST_BUCKETS; i++) {
        out->bucket[i] = now->bucket[i] - then->bucket[i];
        out->count += out->bucket[i];
    }
    // max_ns stays the all-time maximum: the snapshot keeps no window.
}

static void
print_us(const char *key, uint64_t ns)
{
    if (ns >= 1000000)
        printf(" %s=%.1fms", key, (double)ns / 1e6);
    else
        printf(" %s=%.0fus", key, (double)ns / 1e3);
}

int
main(int argc, char **argv)
{
    bool on_loop = false;
    int seconds = 3;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--on-loop") == 0)
            on_loop = true;
        else
            seconds = atoi(argv[i]) > 0 ? atoi(argv[i]) : seconds;
    }
    tr_system *sys;
    tr_config cfg = {.loops = 2,
                     .pool_threads = 2,
                     .pool_queue = 4,
                     .blocking_threads = 1,
                     .sample_every = 4};
    int rc = tr_system_open(&sys, &cfg);
    if (rc != 0) {
        fprintf(stderr, "offload: %s\n", tr_strerror(rc));
        return 1;
    }
    printf("offload: work %s; tickers every %d ms on both loops\n",
           on_loop ? "ON THE LOOP (--on-loop)" : "on the pool", TICK_MS);
    tr_ref r;
    for (unsigned i = 0; i < 4 && rc == 0; i++) {
        tr_spawn_opts at = {.placement = TR_PLACE_LOOP, .loop = i % 2};
        rc = tr_system_spawn(&r, sys, &ticker, NULL, 0, &at);
    }
    tr_spawn_opts at0 = {.placement = TR_PLACE_LOOP, .loop = 0};
    if (rc == 0)
        rc = tr_system_spawn(&r, sys, &dispatcher, &on_loop, sizeof on_loop,
                             &at0);
    if (rc != 0) {
        fprintf(stderr, "offload: spawn: %s\n", tr_strerror(rc));
        return 1;
    }
    static tr_loop_info prev[2], cur[2];
    for (unsigned i = 0; i < 2; i++)
        tr_loop_stats(sys, i, &prev[i]);
    uint64_t worst_p99 = 0;
    for (int step = 1; step <= seconds * 2; step++) {
        sleep_ms(500);
        printf("t=%.1fs", step / 2.0);
        for (unsigned i = 0; i < 2; i++) {
            tr_hist lag;
            tr_loop_stats(sys, i, &cur[i]);
            hist_since(&lag, &cur[i].lag, &prev[i].lag);
            uint64_t p99 = tr_hist_quantile(&lag, 0.99);
            if (p99 > worst_p99)
                worst_p99 = p99;
            printf(" | loop%u", i);
            print_us("lag_p50", tr_hist_quantile(&lag, 0.5));
            print_us("p99", p99);
            printf(" turns=%llu",
                   (unsigned long long)(cur[i].runs - prev[i].runs));
            prev[i] = cur[i];
        }
        tr_pool_info pi;
        tr_pool_stats(sys, &pi);
        printf(" | pool busy=%u/%u queued=%u rejected=%llu db_busy=%u "
               "db_refused=%llu\n",
               pi.busy, pi.threads, pi.queued,
               (unsigned long long)pi.jobs_rejected, pi.actors_busy,
               (unsigned long long)pi.actors_refused);
        fflush(stdout);
    }
    tr_stats st;
    rc = tr_system_close(sys, 5000, &st);
    printf("offload: worst lag p99 %.1f ms, watchdog stalls %llu, "
           "timers fired %llu, leaked %llu\n",
           (double)worst_p99 / 1e6, (unsigned long long)st.loop_stalls,
           (unsigned long long)st.timers_fired,
           (unsigned long long)st.actors_live);
    return rc == 0 && st.actors_live == 0 ? 0 : 1;
}
