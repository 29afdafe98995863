// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// Loop health and logging: the log sink and its threshold, the watchdog's
// report of a handler that holds its loop, the loop and pool metrics.
#define _POSIX_C_SOURCE 200809L
#include "base/hist.h"

#include "tests/test.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

// A sink that keeps the lines it gets (called from any thread).
struct capture {
    pthread_mutex_t mu;
    char lines[16][512];
    _Atomic int n;
};

static void
capture_fn(void *cookie, enum tr_log_level level, const char *line)
{
    struct capture *c = cookie;
    (void)level;
    pthread_mutex_lock(&c->mu);
    int i = atomic_load(&c->n);
    if (i < 16) {
        strncpy(c->lines[i], line, sizeof c->lines[i] - 1);
        atomic_store(&c->n, i + 1);
    }
    pthread_mutex_unlock(&c->mu);
}

// Returns the first captured line containing `what`, or NULL.
static const char *
capture_find(struct capture *c, const char *what)
{
    const char *found = NULL;
    pthread_mutex_lock(&c->mu);
    for (int i = 0; i < atomic_load(&c->n) && found == NULL; i++)
        if (strstr(c->lines[i], what) != NULL)
            found = c->lines[i];
    pthread_mutex_unlock(&c->mu);
    return found;
}

static struct capture cap = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void
test_log_sink_and_threshold(void **state)
{
    (void)state;
    atomic_store(&cap.n, 0);
    tr_system *sys;
    tr_config cfg = {.loops = 1,
                     .log_fn = capture_fn,
                     .log_cookie = &cap,
                     .log_level = TR_LOG_WARN};
    assert_int_equal(tr_system_open(&sys, &cfg), 0);
    assert_false(tr_log_enabled(sys, TR_LOG_INFO));
    assert_true(tr_log_enabled(sys, TR_LOG_ERROR));
    tr_log(sys, TR_LOG_INFO, "skipped", "k=%d", 1);
    tr_log(sys, TR_LOG_WARN, "custom", "k=%d name=%s", 5, "x");
    tr_log(sys, TR_LOG_ERROR, "bare", NULL);
    assert_int_equal(atomic_load(&cap.n), 2);
    assert_string_equal(cap.lines[0], "level=warn event=custom k=5 name=x");
    assert_string_equal(cap.lines[1], "level=error event=bare");
    test_close(sys);
    tr_config bad = {.log_level = TR_LOG_OFF + 1};
    assert_int_equal(tr_system_open(&sys, &bad), TR_EINVAL);
}

// A handler that sleeps 200 ms on its loop: the mistake the watchdog is for.
static _Atomic int sleeping;

static int
sleeper_receive(tr_ctx *ctx, const tr_msg *m)
{
    (void)ctx;
    (void)m;
    atomic_store(&sleeping, 1);
    struct timespec ts = {0, 200 * 1000000};
    while (nanosleep(&ts, &ts) != 0)
        ;
    return 0;
}

static const tr_behavior sleeper = {.name = "sleeper",
                                    .receive = sleeper_receive};

static void
test_watchdog_names_the_behavior_and_message(void **state)
{
    (void)state;
    atomic_store(&cap.n, 0);
    tr_system *sys;
    tr_config cfg = {.loops = 2, .log_fn = capture_fn, .log_cookie = &cap};
    assert_int_equal(tr_system_open(&sys, &cfg), 0);
    tr_ref s;
    tr_spawn_opts o = {.placement = TR_PLACE_LOOP, .loop = 1};
    assert_int_equal(tr_system_spawn(&s, sys, &sleeper, NULL, 0, &o), 0);
    assert_int_equal(tr_system_send(sys, s, 7, NULL, 0), 0);
    // Reported while it is held, then again when the loop moves on.
    TEST_WAIT_UNTIL(capture_find(&cap, "event=loop_recovered") != NULL);
    const char *stall = capture_find(&cap, "event=loop_stalled");
    assert_non_null(stall);
    assert_non_null(strstr(stall, "level=warn "));
    assert_non_null(strstr(stall, " loop=1 "));
    assert_non_null(strstr(stall, " behavior=sleeper "));
    assert_non_null(strstr(stall, " msg_type=7 "));
    const char *rec = capture_find(&cap, "event=loop_recovered");
    assert_non_null(strstr(rec, "loop=1 held_ms="));
    tr_stats st;
    tr_system_stats(sys, &st);
    assert_int_equal(st.loop_stalls, 1);
    test_close(sys);
}

static void
test_hist_buckets_and_quantiles(void **state)
{
    (void)state;
    // Every value lands in a bucket whose bounds hold it, and bucket
    // bounds increase.
    for (uint64_t v = 0; v < (1ull << 40); v = v * 3 / 2 + 1) {
        unsigned i = tr__hist_index(v);
        assert_true(v <= tr_hist_bucket_max_ns(i));
        if (i > 0 && i < TR_HIST_BUCKETS - 1)
            assert_true(v > tr_hist_bucket_max_ns(i - 1));
    }
    for (unsigned i = 1; i < TR_HIST_BUCKETS; i++)
        assert_true(tr_hist_bucket_max_ns(i) > tr_hist_bucket_max_ns(i - 1));
    static struct tr__hist h;
    tr__hist_init(&h);
    static tr_hist snap;
    tr__hist_read(&h, &snap);
    assert_int_equal(tr_hist_quantile(&snap, 0.5), 0);
    for (int64_t us = 1; us <= 1000; us++)
        tr__hist_add(&h, us * 1000);
    tr__hist_read(&h, &snap);
    assert_int_equal(snap.count, 1000);
    assert_int_equal(snap.max_ns, 1000000);
    assert_int_equal(snap.sum_ns, 500500ull * 1000);
    // Upper estimates, at most one bucket (12.5%) above the true value.
    uint64_t p50 = tr_hist_quantile(&snap, 0.5);
    uint64_t p99 = tr_hist_quantile(&snap, 0.99);
    assert_in_range(p50, 500000, 500000 * 9 / 8);
    assert_in_range(p99, 990000, 1000000);
    assert_int_equal(tr_hist_quantile(&snap, 1), 1000000);
    assert_in_range(tr_hist_quantile(&snap, 0), 1000, 1000 * 9 / 8);
}

// A counter that sums what it gets.
static int
count_receive(tr_ctx *ctx, const tr_msg *m)
{
    (void)ctx;
    (void)m;
    return 0;
}

static const tr_behavior counter = {.name = "counter",
                                    .receive = count_receive};

static void
test_loop_stats_count_and_time_turns(void **state)
{
    (void)state;
    tr_system *sys;
    tr_config cfg = {.loops = 1, .sample_every = 1};
    assert_int_equal(tr_system_open(&sys, &cfg), 0);
    static tr_loop_info li;
    assert_int_equal(tr_loop_stats(sys, 1, &li), TR_EINVAL);
    tr_ref c;
    assert_int_equal(tr_system_spawn(&c, sys, &counter, NULL, 0, NULL), 0);
    for (int i = 0; i < 100; i++)
        assert_int_equal(tr_system_send(sys, c, 1, &i, sizeof i), 0);
    TEST_WAIT_UNTIL(tr_loop_stats(sys, 0, &li) == 0 && li.msgs_handled >= 100);
    assert_int_equal(li.msgs_handled, 100);
    // A lag sample needs a post after a timed turn: send one at a time.
    int sent = 100;
    int64_t end = tr_now_ns() + (int64_t)TEST_WAIT_MS * 1000000;
    while (li.lag.count == 0 && tr_now_ns() < end) {
        assert_int_equal(tr_system_send(sys, c, 1, &sent, sizeof sent), 0);
        sent++;
        TEST_WAIT_UNTIL(tr_loop_stats(sys, 0, &li) == 0 &&
                        li.msgs_handled == (uint64_t)sent);
    }
    assert_true(li.runs >= 1);
    assert_true(li.run.count >= 1); // every turn is timed here
    assert_true(li.lag.count >= 1);
    assert_true(li.lag.max_ns < (uint64_t)TEST_WAIT_MS * 1000000);
    test_close(sys);
}

// While 100 jobs that each block for 50 ms run on the pool, an actor that
// ticks every millisecond on a loop is not held up: the loop's own lag
// histogram over that window has its p99 under 5 ms.
enum { T_TICK = 1, T_START, T_DONE };

struct ticker {
    tr_ref report;
    int done;
};

static void *
sleep_50ms(const tr_job *job, void *arg)
{
    (void)job;
    (void)arg;
    struct timespec ts = {0, 50 * 1000000};
    while (nanosleep(&ts, &ts) != 0)
        ;
    return NULL;
}

static void
job_back(tr_ctx *ctx, void *result, void *cookie)
{
    struct ticker *t = tr_state(ctx);
    (void)result;
    (void)cookie;
    if (++t->done == 100)
        tr_send(ctx, t->report, T_DONE, NULL, 0);
}

static int
ticker_receive(tr_ctx *ctx, const tr_msg *m)
{
    struct ticker *t = tr_state(ctx);
    if (tr_msg_type(m) == T_START) {
        memcpy(&t->report, tr_msg_data(m), sizeof t->report);
        int rc = tr_send_every(ctx, tr_self(ctx), T_TICK, NULL, 0, 1, NULL);
        for (int i = 0; i < 100 && rc == 0; i++)
            rc = tr_offload(ctx, sleep_50ms, NULL, 0, job_back, NULL, NULL);
        return rc;
    }
    return 0; // a tick: nothing to do but be on time
}

static const tr_behavior ticker = {.name = "ticker",
                                   .state_size = sizeof(struct ticker),
                                   .receive = ticker_receive};

static void
test_lag_stays_low_while_the_pool_blocks(void **state)
{
    (void)state;
    tr_system *sys;
    tr_config cfg = {.loops = 1, .pool_threads = 8, .sample_every = 1};
    assert_int_equal(tr_system_open(&sys, &cfg), 0);
    tr_inbox *ib;
    assert_int_equal(tr_inbox_alloc(&ib, sys), 0);
    static tr_loop_info before, after;
    static tr_hist window;
    assert_int_equal(tr_loop_stats(sys, 0, &before), 0);
    tr_ref t;
    assert_int_equal(tr_system_spawn(&t, sys, &ticker, NULL, 0, NULL), 0);
    tr_ref me = tr_inbox_ref(ib);
    assert_int_equal(tr_system_send(sys, t, T_START, &me, sizeof me), 0);
    tr_msg_free(test_recv(ib, T_DONE));
    assert_int_equal(tr_loop_stats(sys, 0, &after), 0);
    window = after.lag;
    window.count = 0;
    for (unsigned i = 0; i < TR_HIST_BUCKETS; i++) {
        window.bucket[i] -= before.lag.bucket[i];
        window.count += window.bucket[i];
    }
    uint64_t p99 = tr_hist_quantile(&window, 0.99);
    print_message("lag over %llu samples: p50 %llu ns, p99 %llu ns, "
                  "max %llu ns\n",
                  (unsigned long long)window.count,
                  (unsigned long long)tr_hist_quantile(&window, 0.5),
                  (unsigned long long)p99, (unsigned long long)window.max_ns);
    assert_true(window.count >= 20);
    assert_true(p99 < 5000000);
    tr_pool_info pi;
    assert_int_equal(tr_pool_stats(sys, &pi), 0);
    assert_int_equal(pi.jobs_run, 100);
    assert_int_equal(pi.jobs_rejected, 0);
    tr_inbox_free(ib);
    test_close(sys);
}

// Pool metrics while the pool is saturated: one thread held, one job
// queued, the next refused.
static _Atomic int gate, started;

static void *
gated(const tr_job *job, void *arg)
{
    (void)arg;
    atomic_fetch_add(&started, 1);
    int64_t end = tr_now_ns() + (int64_t)TEST_WAIT_MS * 1000000;
    while (atomic_load(&gate) && !tr_job_cancelled(job) && tr_now_ns() < end)
        sched_yield();
    return NULL;
}

static void
gated_back(tr_ctx *ctx, void *result, void *cookie)
{
    (void)ctx;
    (void)result;
    (void)cookie;
}

static int
submit_receive(tr_ctx *ctx, const tr_msg *m)
{
    tr_ref report;
    memcpy(&report, tr_msg_data(m), sizeof report);
    int rc = tr_offload(ctx, gated, NULL, 0, gated_back, NULL, NULL);
    return tr_send(ctx, report, T_DONE, &rc, sizeof rc);
}

static const tr_behavior submitter = {.name = "submitter",
                                      .receive = submit_receive};

static int
recv_rc(tr_inbox *ib)
{
    tr_msg *m = test_recv(ib, T_DONE);
    int rc;
    memcpy(&rc, tr_msg_data(m), sizeof rc);
    tr_msg_free(m);
    return rc;
}

static void
test_pool_stats_show_a_saturated_pool(void **state)
{
    (void)state;
    tr_system *sys;
    tr_config cfg = {.loops = 1, .pool_threads = 1, .pool_queue = 1};
    assert_int_equal(tr_system_open(&sys, &cfg), 0);
    tr_inbox *ib;
    assert_int_equal(tr_inbox_alloc(&ib, sys), 0);
    tr_ref s, me = tr_inbox_ref(ib);
    assert_int_equal(tr_system_spawn(&s, sys, &submitter, NULL, 0, NULL), 0);
    atomic_store(&gate, 1);
    assert_int_equal(tr_system_send(sys, s, 1, &me, sizeof me), 0);
    assert_int_equal(recv_rc(ib), 0);
    TEST_WAIT_UNTIL(atomic_load(&started) == 1);
    assert_int_equal(tr_system_send(sys, s, 1, &me, sizeof me), 0);
    assert_int_equal(recv_rc(ib), 0);
    assert_int_equal(tr_system_send(sys, s, 1, &me, sizeof me), 0);
    assert_int_equal(recv_rc(ib), TR_EBUSY);
    tr_pool_info pi;
    assert_int_equal(tr_pool_stats(sys, &pi), 0);
    assert_int_equal(pi.threads, 1);
    assert_int_equal(pi.busy, 1);
    assert_int_equal(pi.queued, 1);
    assert_int_equal(pi.queue_cap, 1);
    assert_int_equal(pi.jobs_run, 1);
    assert_int_equal(pi.jobs_rejected, 1);
    atomic_store(&gate, 0);
    tr_inbox_free(ib);
    test_close(sys);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_sink_and_threshold),
        cmocka_unit_test(test_watchdog_names_the_behavior_and_message),
        cmocka_unit_test(test_hist_buckets_and_quantiles),
        cmocka_unit_test(test_loop_stats_count_and_time_turns),
        cmocka_unit_test(test_lag_stays_low_while_the_pool_blocks),
        cmocka_unit_test(test_pool_stats_show_a_saturated_pool),
    };
    test_main("actors/health", tests, argc, argv);
}
