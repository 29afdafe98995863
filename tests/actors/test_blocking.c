// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// Blocking actors: handlers that may block run off the loops, wait for
// messages with tr_receive, refuse sends when saturated (TR_EBUSY), and
// stop with their supervisor or a linked actor even while waiting.
#define _POSIX_C_SOURCE 200809L
#include "tests/test.h"

#include <troupe/supervisor.h>

#include <string.h>
#include <time.h>

enum { B_START = 1, B_PING, B_PONG, B_CRASH, B_GO, B_RESULT };

static _Atomic int started, closed, stopped, handled;

static void
reset(void)
{
    atomic_store(&started, 0);
    atomic_store(&closed, 0);
    atomic_store(&stopped, 0);
    atomic_store(&handled, 0);
}

static void
sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

// parker: on B_START (sent to itself by init) it loops in tr_receive until
// told to stop: B_PING gets B_PONG with the same payload, B_CRASH crashes.
static int
parker_init(tr_ctx *ctx, const void *arg, size_t len)
{
    (void)arg;
    (void)len;
    return tr_send(ctx, tr_self(ctx), B_START, NULL, 0);
}

static int
parker_receive(tr_ctx *ctx, const tr_msg *m)
{
    if (tr_msg_type(m) != B_START)
        return TR_EUNHANDLED;
    atomic_fetch_add(&started, 1);
    for (;;) {
        const tr_msg *in;
        int rc = tr_receive(ctx, &in, -1);
        if (rc == TR_ECLOSED) {
            atomic_fetch_add(&closed, 1);
            return 0;
        }
        if (rc != 0)
            return rc;
        if (tr_msg_type(in) == B_CRASH)
            return -5;
        if (tr_msg_type(in) == B_PING) {
            sleep_ms(5); // blocking is allowed here
            rc = tr_reply(ctx, in, B_PONG, tr_msg_data(in), tr_msg_size(in));
            if (rc != 0)
                return rc;
        }
    }
}

static void
parker_stop(tr_ctx *ctx, int reason)
{
    (void)ctx;
    (void)reason;
    atomic_fetch_add(&stopped, 1);
}

static const tr_behavior parker = {.name = "parker",
                                   .init = parker_init,
                                   .receive = parker_receive,
                                   .stop = parker_stop};

static const tr_spawn_opts blocking = {.blocking = true};

static int
echo_receive(tr_ctx *ctx, const tr_msg *m)
{
    return tr_reply(ctx, m, tr_msg_type(m), tr_msg_data(m), tr_msg_size(m));
}

static const tr_behavior echo = {.name = "echo", .receive = echo_receive};

static void
test_parked_actor_answers_and_the_loop_runs_on(void **state)
{
    (void)state;
    reset();
    tr_system *sys;
    tr_config cfg = {.loops = 1, .blocking_threads = 1};
    assert_int_equal(tr_system_open(&sys, &cfg), 0);
    tr_ref p, e;
    assert_int_equal(tr_system_spawn(&p, sys, &parker, NULL, 0, &blocking), 0);
    assert_int_equal(tr_system_spawn(&e, sys, &echo, NULL, 0, NULL), 0);
    TEST_WAIT_UNTIL(atomic_load(&started) == 1);
    // The only loop is free while the parker waits on its own thread.
    tr_msg *r;
    int v = 7;
    assert_int_equal(tr_call(sys, e, 9, &v, sizeof v, TEST_WAIT_MS, &r), 0);
    tr_msg_free(r);
    // A request to the parker wakes it; its reply carries the payload.
    for (v = 0; v < 5; v++) {
        assert_int_equal(
            tr_call(sys, p, B_PING, &v, sizeof v, TEST_WAIT_MS, &r), 0);
        assert_int_equal(tr_msg_type(r), B_PONG);
        assert_memory_equal(tr_msg_data(r), &v, sizeof v);
        tr_msg_free(r);
    }
    tr_pool_info pi;
    assert_int_equal(tr_pool_stats(sys, &pi), 0);
    assert_int_equal(pi.actor_threads, 1);
    assert_int_equal(pi.actors_busy, 1); // the parker holds its thread
    test_close(sys);
    // Closing asked it to stop: tr_receive said so, the stop hook ran.
    assert_int_equal(atomic_load(&closed), 1);
    assert_int_equal(atomic_load(&stopped), 1);
}

// What a blocking actor may not do, and tr_receive outside one.
struct probe_result {
    int receive_rc, after_rc, every_rc, spawn_rc, timeout_rc;
    int64_t waited_ns;
};

static struct probe_result probe;

static void *
nothing(const tr_job *job, void *arg)
{
    (void)job;
    return arg;
}

static void
nothing_done(tr_ctx *ctx, void *result, void *cookie)
{
    (void)ctx;
    (void)result;
    (void)cookie;
}

static int
limits_receive(tr_ctx *ctx, const tr_msg *m)
{
    const tr_msg *in;
    probe.after_rc = tr_send_after(ctx, tr_self(ctx), 1, NULL, 0, 1, NULL);
    probe.every_rc = tr_send_every(ctx, tr_self(ctx), 1, NULL, 0, 1, NULL);
    tr_ref child;
    probe.spawn_rc = tr_spawn(&child, ctx, &echo, NULL, 0, NULL);
    int off = tr_offload(ctx, nothing, NULL, 0, nothing_done, NULL, NULL);
    int64_t t0 = tr_ctx_now_ns(ctx);
    probe.timeout_rc = tr_receive(ctx, &in, 30);
    probe.waited_ns = tr_ctx_now_ns(ctx) - t0;
    int rc = off == TR_EINVAL ? 0 : -1;
    return tr_reply(ctx, m, B_RESULT, &rc, sizeof rc);
}

static const tr_behavior limits = {.name = "limits", .receive = limits_receive};

static int
loop_receive(tr_ctx *ctx, const tr_msg *m)
{
    const tr_msg *in;
    int rc = tr_receive(ctx, &in, 0);
    return tr_reply(ctx, m, B_RESULT, &rc, sizeof rc);
}

static const tr_behavior on_loop = {.name = "on_loop", .receive = loop_receive};

static void
test_limits_and_receive_timeout(void **state)
{
    (void)state;
    tr_system *sys;
    tr_config cfg = {.loops = 1};
    assert_int_equal(tr_system_open(&sys, &cfg), 0);
    tr_ref b, l;
    assert_int_equal(tr_system_spawn(&b, sys, &limits, NULL, 0, &blocking), 0);
    assert_int_equal(tr_system_spawn(&l, sys, &on_loop, NULL, 0, NULL), 0);
    tr_msg *r;
    assert_int_equal(tr_call(sys, b, 1, NULL, 0, TEST_WAIT_MS, &r), 0);
    assert_int_equal(*(const int *)tr_msg_data(r), 0); // offload: EINVAL
    tr_msg_free(r);
    assert_int_equal(probe.after_rc, TR_EINVAL);
    assert_int_equal(probe.every_rc, TR_EINVAL);
    assert_int_equal(probe.spawn_rc, TR_EINVAL);
    assert_int_equal(probe.timeout_rc, TR_ETIMEDOUT);
    assert_true(probe.waited_ns >= 30 * 1000000);
    assert_int_equal(tr_call(sys, l, 1, NULL, 0, TEST_WAIT_MS, &r), 0);
    assert_int_equal(*(const int *)tr_msg_data(r), TR_EINVAL);
    tr_msg_free(r);
    test_close(sys);
    // A manual system has no threads for them.
    tr_config man = {.manual = true};
    assert_int_equal(tr_system_open(&sys, &man), 0);
    assert_int_equal(tr_system_spawn(&b, sys, &limits, NULL, 0, &blocking),
                     TR_EINVAL);
    test_close(sys);
}

// A saturated blocking actor refuses at once with TR_EBUSY.
static _Atomic int gate, in_handler;

static int
slow_receive(tr_ctx *ctx, const tr_msg *m)
{
    (void)ctx;
    (void)m;
    atomic_store(&in_handler, 1);
    int64_t end = tr_now_ns() + (int64_t)TEST_WAIT_MS * 1000000;
    while (atomic_load(&gate) && tr_now_ns() < end)
        sleep_ms(1); // a synchronous driver, say
    atomic_fetch_add(&handled, 1);
    return 0;
}

static const tr_behavior slow = {.name = "slow", .receive = slow_receive};

static void
test_saturated_blocking_actor_is_busy(void **state)
{
    (void)state;
    reset();
    tr_system *sys;
    tr_config cfg = {.loops = 1};
    assert_int_equal(tr_system_open(&sys, &cfg), 0);
    tr_ref s;
    tr_spawn_opts o = {.blocking = true, .capacity = 2};
    assert_int_equal(tr_system_spawn(&s, sys, &slow, NULL, 0, &o), 0);
    atomic_store(&gate, 1);
    assert_int_equal(tr_system_send(sys, s, 1, NULL, 0), 0);
    TEST_WAIT_UNTIL(atomic_load(&in_handler) == 1);
    assert_int_equal(tr_system_send(sys, s, 1, NULL, 0), 0);
    assert_int_equal(tr_system_send(sys, s, 1, NULL, 0), 0);
    assert_int_equal(tr_system_send(sys, s, 1, NULL, 0), TR_EBUSY);
    tr_mailbox_info mi;
    assert_int_equal(tr_mailbox_stats(sys, s, &mi), 0);
    assert_int_equal(mi.capacity, 2);
    assert_int_equal(mi.queued, 2);
    tr_pool_info pi;
    assert_int_equal(tr_pool_stats(sys, &pi), 0);
    assert_int_equal(pi.actors_refused, 1);
    assert_int_equal(pi.actors_busy, 1);
    atomic_store(&gate, 0);
    TEST_WAIT_UNTIL(atomic_load(&handled) == 3);
    assert_int_equal(atomic_load(&handled), 3);
    tr_stats st;
    assert_int_equal(tr_system_close(sys, TEST_WAIT_MS, &st), 0);
    assert_int_equal(st.actors_live, 0);
    assert_int_equal(st.msgs_refused, 1);
}

// Blocking actors under a supervisor: restarted when they crash, stopped
// (while waiting in tr_receive) when the supervisor stops.
static void
test_blocking_children_stop_with_their_supervisor(void **state)
{
    (void)state;
    reset();
    tr_system *sys;
    tr_config cfg = {.loops = 2, .blocking_threads = 4};
    assert_int_equal(tr_system_open(&sys, &cfg), 0);
    tr_inbox *ib;
    assert_int_equal(tr_inbox_alloc(&ib, sys), 0);
    tr_child_spec kids[3];
    for (int i = 0; i < 3; i++)
        kids[i] = (tr_child_spec){.id = "parker",
                                  .behavior = &parker,
                                  .restart = TR_PERMANENT,
                                  .opts = {.blocking = true}};
    tr_sup_spec spec = {.strategy = TR_ONE_FOR_ONE, .children = kids, .n = 3};
    tr_ref sup;
    assert_int_equal(tr_sup_spawn_top(&sup, sys, &spec), 0);
    TEST_WAIT_UNTIL(atomic_load(&started) == 3);
    assert_int_equal(atomic_load(&started), 3);
    // Crash one: the supervisor starts a new one, which parks too.
    tr_msg *r;
    assert_int_equal(
        tr_call(sys, sup, TR_SUP_WHICH_CHILDREN, NULL, 0, TEST_WAIT_MS, &r), 0);
    tr_sup_child first;
    memcpy(&first, tr_msg_data(r), sizeof first);
    tr_msg_free(r);
    assert_int_equal(tr_system_send(sys, first.ref, B_CRASH, NULL, 0), 0);
    TEST_WAIT_UNTIL(atomic_load(&started) == 4);
    assert_int_equal(atomic_load(&started), 4);
    assert_int_equal(atomic_load(&stopped), 1);
    // Stop the supervisor: every child is woken in tr_receive and stops
    // before it does.
    uint64_t mon;
    assert_int_equal(tr_inbox_monitor(ib, sup, &mon), 0);
    assert_int_equal(tr_system_stop(sys, sup, TR_EXIT_NORMAL), 0);
    tr_msg_free(test_recv(ib, TR_MSG_DOWN));
    assert_int_equal(atomic_load(&closed), 3);
    assert_int_equal(atomic_load(&stopped), 4);
    tr_inbox_free(ib);
    test_close(sys);
}

// A loop actor linked to a blocking actor takes it down when it crashes,
// though the blocking actor is waiting in tr_receive.
static int
linker_receive(tr_ctx *ctx, const tr_msg *m)
{
    if (tr_msg_type(m) == B_GO) {
        tr_ref who;
        memcpy(&who, tr_msg_data(m), sizeof who);
        int rc = tr_link(ctx, who);
        return rc != 0 ? rc : tr_reply(ctx, m, B_RESULT, NULL, 0);
    }
    return -7; // anything else: crash
}

static const tr_behavior linker = {.name = "linker", .receive = linker_receive};

static void
test_linked_blocking_actor_stops_with_its_link(void **state)
{
    (void)state;
    reset();
    tr_system *sys;
    tr_config cfg = {.loops = 1};
    assert_int_equal(tr_system_open(&sys, &cfg), 0);
    tr_inbox *ib;
    assert_int_equal(tr_inbox_alloc(&ib, sys), 0);
    tr_ref p, l;
    assert_int_equal(tr_system_spawn(&p, sys, &parker, NULL, 0, &blocking), 0);
    assert_int_equal(tr_system_spawn(&l, sys, &linker, NULL, 0, NULL), 0);
    TEST_WAIT_UNTIL(atomic_load(&started) == 1);
    tr_msg *r;
    assert_int_equal(tr_call(sys, l, B_GO, &p, sizeof p, TEST_WAIT_MS, &r), 0);
    tr_msg_free(r);
    uint64_t mon;
    assert_int_equal(tr_inbox_monitor(ib, p, &mon), 0);
    assert_int_equal(tr_system_send(sys, l, B_CRASH, NULL, 0), 0);
    tr_msg *m = test_recv(ib, TR_MSG_DOWN);
    tr_down d;
    memcpy(&d, tr_msg_data(m), sizeof d);
    tr_msg_free(m);
    assert_true(tr_ref_eq(d.who, p));
    assert_int_equal(d.reason, -7);
    assert_int_equal(atomic_load(&closed), 1);
    assert_int_equal(atomic_load(&stopped), 1);
    tr_inbox_free(ib);
    test_close(sys);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parked_actor_answers_and_the_loop_runs_on),
        cmocka_unit_test(test_limits_and_receive_timeout),
        cmocka_unit_test(test_saturated_blocking_actor_is_busy),
        cmocka_unit_test(test_blocking_children_stop_with_their_supervisor),
        cmocka_unit_test(test_linked_blocking_actor_stops_with_its_link),
    };
    test_main("actors/blocking", tests, argc, argv);
}
