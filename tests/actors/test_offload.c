// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// Offloaded jobs on the blocking pool: results come back in the caller's
// context, a full pool says TR_EBUSY at once, and a job whose owner stops
// sees the cancellation and has its result freed, never delivered.
#include "tests/test.h"

#include <stdlib.h>
#include <string.h>

enum { O_GO = 1, O_RESULT, O_RC };

// A job that blocks until *gate is 0 (or its owner is gone), then returns
// a heap copy of its input plus one.
struct gate_job {
    _Atomic int *gate;
    _Atomic int *saw_cancel;
    int input;
};

static _Atomic int freed_results, started;

static void *
gated(const tr_job *job, void *arg)
{
    struct gate_job *g = arg;
    atomic_fetch_add(&started, 1);
    int64_t end = tr_now_ns() + (int64_t)TEST_WAIT_MS * 1000000;
    while (g->gate != NULL && atomic_load(g->gate) != 0 && tr_now_ns() < end) {
        if (tr_job_cancelled(job)) {
            atomic_store(g->saw_cancel, 1);
            break;
        }
        sched_yield();
    }
    int *out = malloc(sizeof *out);
    *out = g->input + 1;
    return out;
}

static void
free_result(void *r)
{
    atomic_fetch_add(&freed_results, 1);
    free(r);
}

struct owner {
    tr_ref report;
};

static void
on_done(tr_ctx *ctx, void *result, void *cookie)
{
    struct owner *o = tr_state(ctx);
    (void)cookie;
    int v = *(int *)result;
    free(result);
    tr_send(ctx, o->report, O_RESULT, &v, sizeof v);
}

static int
owner_receive(tr_ctx *ctx, const tr_msg *m)
{
    struct owner *o = tr_state(ctx);
    if (tr_msg_type(m) != O_GO)
        return TR_EUNHANDLED;
    struct {
        tr_ref report;
        struct gate_job job;
        int n;
    } go;
    memcpy(&go, tr_msg_data(m), sizeof go);
    o->report = go.report;
    for (int i = 0; i < go.n; i++) {
        struct gate_job j = go.job; // copied into the job
        j.input += i;
        int rc =
            tr_offload(ctx, gated, &j, sizeof j, on_done, NULL, free_result);
        tr_send(ctx, o->report, O_RC, &rc, sizeof rc);
    }
    return 0;
}

static const tr_behavior owner = {
    .name = "owner",
    .state_size = sizeof(struct owner),
    .receive = owner_receive,
};

static void
go(tr_system *sys, tr_ref o, tr_inbox *ib, _Atomic int *gate, _Atomic int *saw,
   int input, int n)
{
    struct {
        tr_ref report;
        struct gate_job job;
        int n;
    } g = {tr_inbox_ref(ib), {gate, saw, input}, n};
    assert_int_equal(tr_system_send(sys, o, O_GO, &g, sizeof g), 0);
}

static int
next_int(tr_inbox *ib, uint32_t type)
{
    tr_msg *m = test_recv(ib, type);
    int v;
    memcpy(&v, tr_msg_data(m), sizeof v);
    tr_msg_free(m);
    return v;
}

static void
test_result_comes_back_and_full_pool_is_busy(void **state)
{
    (void)state;
    tr_system *sys;
    tr_config cfg = {.loops = 2, .pool_threads = 1, .pool_queue = 1};
    assert_int_equal(tr_system_open(&sys, &cfg), 0);
    tr_inbox *ib;
    assert_int_equal(tr_inbox_alloc(&ib, sys), 0);
    tr_ref o;
    assert_int_equal(tr_system_spawn(&o, sys, &owner, NULL, 0, NULL), 0);
    static _Atomic int gate, saw;
    atomic_store(&gate, 1);
    atomic_store(&started, 0);
    // One running (held at the gate) ...
    go(sys, o, ib, &gate, &saw, 10, 1);
    assert_int_equal(next_int(ib, O_RC), 0);
    int64_t end = tr_now_ns() + (int64_t)TEST_WAIT_MS * 1000000;
    while (atomic_load(&started) == 0 && tr_now_ns() < end)
        sched_yield();
    // ... then one queued, and the next refused at once.
    go(sys, o, ib, &gate, &saw, 20, 2);
    assert_int_equal(next_int(ib, O_RC), 0);
    assert_int_equal(next_int(ib, O_RC), TR_EBUSY);
    int expect = 2;
    atomic_store(&gate, 0);
    int sum = 0;
    for (int i = 0; i < expect; i++)
        sum += next_int(ib, O_RESULT);
    assert_int_equal(sum, 11 + 21); // 10 + 1 and 20 + 1
    tr_inbox_free(ib);
    test_close(sys);
}

static void
test_owner_stopping_cancels_and_frees_the_result(void **state)
{
    (void)state;
    atomic_store(&freed_results, 0);
    tr_system *sys;
    tr_config cfg = {.loops = 2, .pool_threads = 2};
    assert_int_equal(tr_system_open(&sys, &cfg), 0);
    tr_inbox *ib;
    assert_int_equal(tr_inbox_alloc(&ib, sys), 0);
    tr_ref o;
    assert_int_equal(tr_system_spawn(&o, sys, &owner, NULL, 0, NULL), 0);
    static _Atomic int gate, saw;
    atomic_store(&gate, 1);
    atomic_store(&saw, 0);
    go(sys, o, ib, &gate, &saw, 0, 1);
    assert_int_equal(next_int(ib, O_RC), 0);
    assert_int_equal(tr_system_stop(sys, o, TR_EXIT_NORMAL), 0);
    // The job sees the cancellation, its result is freed, never delivered.
    TEST_WAIT_UNTIL(atomic_load(&freed_results) != 0);
    assert_int_equal(atomic_load(&saw), 1);
    assert_int_equal(atomic_load(&freed_results), 1);
    tr_msg *m;
    assert_int_equal(tr_inbox_recv(ib, &m, 0), TR_ETIMEDOUT);
    tr_inbox_free(ib);
    test_close(sys);
}

// A handler that holds its loop (the mistake the pool exists for).
static _Atomic int hogging;

static int
hog_receive(tr_ctx *ctx, const tr_msg *m)
{
    (void)m;
    atomic_store(&hogging, 1);
    int64_t end = tr_ctx_now_ns(ctx) + 150 * 1000000;
    while (tr_ctx_now_ns(ctx) < end)
        ;
    return 0;
}

static const tr_behavior hog = {.name = "hog", .receive = hog_receive};

static void
test_watchdog_reports_a_held_loop_once(void **state)
{
    (void)state;
    tr_system *sys;
    tr_config cfg = {.loops = 2, .watchdog_ms = 30};
    assert_int_equal(tr_system_open(&sys, &cfg), 0);
    tr_inbox *ib;
    assert_int_equal(tr_inbox_alloc(&ib, sys), 0);
    tr_ref h;
    assert_int_equal(tr_system_spawn(&h, sys, &hog, NULL, 0, NULL), 0);
    uint64_t mon;
    assert_int_equal(tr_inbox_monitor(ib, h, &mon), 0);
    assert_int_equal(tr_system_send(sys, h, 7, NULL, 0), 0);
    TEST_WAIT_UNTIL(atomic_load(&hogging) != 0);
    // The stop request waits for the hold to end; its DOWN says the
    // handler has returned.
    assert_int_equal(tr_system_stop(sys, h, TR_EXIT_NORMAL), 0);
    tr_msg_free(test_recv(ib, TR_MSG_DOWN));
    tr_stats st;
    int64_t end = tr_now_ns() + (int64_t)TEST_WAIT_MS * 1000000;
    do {
        tr_system_stats(sys, &st);
    } while (st.loop_stalls == 0 && tr_now_ns() < end && !sched_yield());
    assert_int_equal(st.loop_stalls, 1); // once for the whole 150 ms
    tr_inbox_free(ib);
    test_close(sys);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_result_comes_back_and_full_pool_is_busy),
        cmocka_unit_test(test_owner_stopping_cancels_and_frees_the_result),
        cmocka_unit_test(test_watchdog_reports_a_held_loop_once),
    };
    test_main("actors/offload", tests, argc, argv);
}
