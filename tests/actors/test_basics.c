// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
#include "probe.h"

static tr_system *
open_sys(unsigned loops)
{
    tr_system *sys;
    tr_config cfg = {.loops = loops};
    assert_int_equal(tr_system_open(&sys, &cfg), 0);
    assert_int_equal(tr_system_loops(sys), loops);
    return sys;
}

static void
test_echo_reply_reaches_inbox_with_sender(void **state)
{
    (void)state;
    tr_system *sys = open_sys(2);
    tr_inbox *ib;
    assert_int_equal(tr_inbox_alloc(&ib, sys), 0);
    tr_ref p = probe_spawn(sys, ib, NULL);
    const char hello[] = "hello";
    assert_int_equal(tr_inbox_send(ib, p, P_ECHO, hello, sizeof hello), 0);
    tr_msg *m = test_recv(ib, P_ECHO);
    assert_int_equal(tr_msg_size(m), sizeof hello);
    assert_memory_equal(tr_msg_data(m), hello, sizeof hello);
    assert_true(tr_ref_eq(tr_msg_sender(m), p));
    tr_msg_free(m);
    // An empty payload has no data pointer.
    assert_int_equal(tr_inbox_send(ib, p, P_ECHO, NULL, 0), 0);
    m = test_recv(ib, P_ECHO);
    assert_int_equal(tr_msg_size(m), 0);
    assert_null(tr_msg_data(m));
    tr_msg_free(m);
    tr_inbox_free(ib);
    test_close(sys);
}

static void
test_stale_and_bad_refs_fail_cleanly(void **state)
{
    (void)state;
    tr_system *sys = open_sys(2);
    tr_inbox *ib;
    assert_int_equal(tr_inbox_alloc(&ib, sys), 0);
    tr_ref p = probe_spawn(sys, ib, NULL);
    assert_int_equal(tr_system_stop(sys, p, TR_EXIT_NORMAL), 0);
    assert_int_equal(probe_stopped(ib), TR_EXIT_NORMAL);
    // The stop hook ran before the ref went stale; the actor may still be
    // finishing, so wait for the stale ref with a deadline.
    int64_t end = tr_now_ns() + (int64_t)TEST_WAIT_MS * 1000000;
    int rc;
    while ((rc = tr_system_send(sys, p, P_ECHO, NULL, 0)) == 0 &&
           tr_now_ns() < end)
        sched_yield();
    assert_int_equal(rc, TR_ENOACTOR);
    assert_int_equal(tr_system_stop(sys, p, 0), TR_ENOACTOR);
    // A new actor may reuse the slot; the old ref still fails.
    tr_ref q = probe_spawn(sys, ib, NULL);
    assert_false(tr_ref_eq(p, q));
    assert_int_equal(tr_system_send(sys, p, P_ECHO, NULL, 0), TR_ENOACTOR);
    // Refs nobody ever had.
    assert_int_equal(tr_system_send(sys, TR_REF_NONE, 1, NULL, 0), TR_ENOACTOR);
    assert_int_equal(tr_system_send(sys, (tr_ref){0xFFFFFFFFFFull}, 1, NULL, 0),
                     TR_ENOACTOR);
    assert_int_equal(tr_system_send(sys, (tr_ref){q.bits ^ 1}, 1, NULL, 0),
                     TR_ENOACTOR);
    assert_int_equal(
        tr_system_send(sys, (tr_ref){q.bits | (7ull << 48)}, 1, NULL, 0),
        TR_EREMOTE);
    // Reserved types and missing data are refused.
    assert_int_equal(tr_system_send(sys, q, TR_MSG_SYSTEM, NULL, 0), TR_EINVAL);
    assert_int_equal(tr_system_send(sys, q, 1, NULL, 4), TR_EINVAL);
    tr_inbox_free(ib);
    test_close(sys);
}

static void
test_oversize_message_is_refused(void **state)
{
    (void)state;
    tr_system *sys;
    tr_config cfg = {.loops = 1, .max_msg_size = 16};
    assert_int_equal(tr_system_open(&sys, &cfg), 0);
    tr_inbox *ib;
    assert_int_equal(tr_inbox_alloc(&ib, sys), 0);
    char buf[17] = {0};
    tr_ref me = tr_inbox_ref(ib);
    assert_int_equal(tr_system_send(sys, me, 1, buf, 17), TR_EMSGSIZE);
    assert_int_equal(tr_system_send(sys, me, 1, buf, 16), 0);
    tr_msg *m = test_recv(ib, 1);
    tr_msg_free(m);
    tr_inbox_free(ib);
    test_close(sys);
}

static int
failing_init(tr_ctx *ctx, const void *arg, size_t len)
{
    (void)ctx, (void)arg, (void)len;
    return -42;
}

static _Atomic int failing_stops;

static void
failing_stop(tr_ctx *ctx, int reason)
{
    (void)ctx, (void)reason;
    atomic_fetch_add(&failing_stops, 1);
}

static const tr_behavior failing = {
    .name = "failing",
    .init = failing_init,
    .receive = probe_receive,
    .stop = failing_stop,
};

static void
test_failed_init_fails_spawn_without_stop_hook(void **state)
{
    (void)state;
    tr_system *sys = open_sys(1);
    tr_ref r = {123};
    assert_int_equal(tr_system_spawn(&r, sys, &failing, NULL, 0, NULL), -42);
    assert_true(tr_ref_is_none(r));
    tr_stats st;
    assert_int_equal(tr_system_close(sys, TEST_WAIT_MS, &st), 0);
    assert_int_equal(st.actors_live, 0);
    assert_int_equal(st.actors_spawned, 0);
    assert_int_equal(atomic_load(&failing_stops), 0);
}

static void
test_bad_spawn_arguments(void **state)
{
    (void)state;
    tr_system *sys = open_sys(2);
    tr_ref r;
    static const tr_behavior no_receive = {.name = "x"};
    assert_int_equal(tr_system_spawn(&r, sys, NULL, NULL, 0, NULL), TR_EINVAL);
    assert_int_equal(tr_system_spawn(&r, sys, &no_receive, NULL, 0, NULL),
                     TR_EINVAL);
    tr_spawn_opts o = {.placement = TR_PLACE_LOOP, .loop = 2};
    assert_int_equal(tr_system_spawn(&r, sys, &probe, NULL, 0, &o), TR_EINVAL);
    test_close(sys);
}

static void
test_crash_stops_with_the_error_as_reason(void **state)
{
    (void)state;
    tr_system *sys = open_sys(2);
    tr_inbox *ib;
    assert_int_equal(tr_inbox_alloc(&ib, sys), 0);
    tr_ref p = probe_spawn(sys, ib, NULL);
    int code = -100;
    assert_int_equal(tr_system_send(sys, p, P_CRASH, &code, sizeof code), 0);
    assert_int_equal(probe_stopped(ib), -100);
    tr_inbox_free(ib);
    tr_stats st;
    assert_int_equal(tr_system_close(sys, TEST_WAIT_MS, &st), 0);
    assert_int_equal(st.actors_crashed, 1);
    assert_int_equal(st.actors_live, 0);
}

static void
test_exit_delivers_nothing_after_it(void **state)
{
    (void)state;
    tr_system *sys = open_sys(1);
    tr_inbox *ib;
    assert_int_equal(tr_inbox_alloc(&ib, sys), 0);
    tr_ref p = probe_spawn(sys, ib, NULL);
    int normal = TR_EXIT_NORMAL;
    assert_int_equal(tr_inbox_send(ib, p, P_EXIT, &normal, sizeof normal), 0);
    // Whether this one lands before or after the stop, it is never handled:
    // the only echo is P_EXIT's own reply.
    tr_inbox_send(ib, p, P_ECHO, NULL, 0);
    tr_msg_free(test_recv(ib, P_ECHO));
    assert_int_equal(probe_stopped(ib), TR_EXIT_NORMAL);
    tr_msg *m;
    assert_int_equal(tr_inbox_recv(ib, &m, 0), TR_ETIMEDOUT);
    tr_inbox_free(ib);
    tr_stats st;
    assert_int_equal(tr_system_close(sys, TEST_WAIT_MS, &st), 0);
    assert_int_equal(st.actors_live, 0);
    assert_int_equal(st.actors_crashed, 0);
}

static void
test_become_switches_behaviour(void **state)
{
    (void)state;
    tr_system *sys = open_sys(1);
    tr_inbox *ib;
    assert_int_equal(tr_inbox_alloc(&ib, sys), 0);
    tr_ref p = probe_spawn(sys, ib, NULL);
    assert_int_equal(tr_inbox_send(ib, p, P_WHO, NULL, 0), 0);
    assert_int_equal(tr_inbox_send(ib, p, P_BECOME, NULL, 0), 0);
    assert_int_equal(tr_inbox_send(ib, p, P_WHO, NULL, 0), 0);
    tr_msg *m = test_recv(ib, P_WHO);
    assert_int_equal(*(const char *)tr_msg_data(m), 'a');
    tr_msg_free(m);
    m = test_recv(ib, P_WHO);
    assert_int_equal(*(const char *)tr_msg_data(m), 'b');
    tr_msg_free(m);
    tr_inbox_free(ib);
    test_close(sys);
}

static void
test_unhandled_is_counted_not_fatal(void **state)
{
    (void)state;
    tr_system *sys;
    tr_config cfg = {.loops = 1, .debug = true}; // and warns once
    assert_int_equal(tr_system_open(&sys, &cfg), 0);
    tr_inbox *ib;
    assert_int_equal(tr_inbox_alloc(&ib, sys), 0);
    tr_ref p = probe_spawn(sys, ib, NULL);
    assert_int_equal(tr_inbox_send(ib, p, 9999, NULL, 0), 0);
    assert_int_equal(tr_inbox_send(ib, p, 9998, NULL, 0), 0);
    assert_int_equal(tr_inbox_send(ib, p, P_ECHO, NULL, 0), 0);
    tr_msg_free(test_recv(ib, P_ECHO));
    tr_stats st;
    tr_system_stats(sys, &st);
    assert_int_equal(st.unhandled, 2);
    tr_inbox_free(ib);
    test_close(sys);
}

static unsigned
where(tr_inbox *ib, tr_ref r)
{
    assert_int_equal(tr_inbox_send(ib, r, P_WHERE, NULL, 0), 0);
    tr_msg *m = test_recv(ib, P_WHERE);
    unsigned l;
    memcpy(&l, tr_msg_data(m), sizeof l);
    tr_msg_free(m);
    return l;
}

static tr_ref
spawn_child(tr_inbox *ib, tr_ref parent, tr_spawn_opts o, int want)
{
    assert_int_equal(tr_inbox_send(ib, parent, P_SPAWN, &o, sizeof o), 0);
    tr_msg *m = test_recv(ib, P_SPAWNED);
    struct {
        int rc;
        tr_ref child;
    } out;
    memcpy(&out, tr_msg_data(m), sizeof out);
    tr_msg_free(m);
    assert_int_equal(out.rc, want);
    return out.child;
}

static void
test_placement(void **state)
{
    (void)state;
    tr_system *sys = open_sys(3);
    tr_inbox *ib;
    assert_int_equal(tr_inbox_alloc(&ib, sys), 0);
    tr_spawn_opts on1 = {.placement = TR_PLACE_LOOP, .loop = 1};
    tr_ref p = probe_spawn(sys, ib, &on1);
    assert_int_equal(where(ib, p), 1);
    // Children default to the parent's loop.
    tr_ref c = spawn_child(ib, p, (tr_spawn_opts){0}, 0);
    assert_int_equal(where(ib, c), 1);
    c = spawn_child(ib, p,
                    (tr_spawn_opts){.placement = TR_PLACE_LOOP, .loop = 2}, 0);
    assert_int_equal(where(ib, c), 2);
    spawn_child(ib, p, (tr_spawn_opts){.placement = TR_PLACE_LOOP, .loop = 3},
                TR_EINVAL);
    // Round-robin visits every loop.
    unsigned seen = 0;
    for (int i = 0; i < 3; i++) {
        tr_spawn_opts rr = {.placement = TR_PLACE_ROUND_ROBIN};
        seen |= 1u << where(ib, probe_spawn(sys, ib, &rr));
    }
    assert_int_equal(seen, 7);
    tr_inbox_free(ib);
    test_close(sys);
}

static void
test_inbox_recv_times_out(void **state)
{
    (void)state;
    tr_system *sys = open_sys(1);
    tr_inbox *ib;
    assert_int_equal(tr_inbox_alloc(&ib, sys), 0);
    tr_msg *m = NULL;
    assert_int_equal(tr_inbox_recv(ib, &m, 0), TR_ETIMEDOUT);
    int64_t t0 = tr_now_ns();
    assert_int_equal(tr_inbox_recv(ib, &m, 50), TR_ETIMEDOUT);
    int64_t ms = (tr_now_ns() - t0) / 1000000;
    assert_in_range(ms, 50, 5000);
    assert_null(m);
    tr_inbox_free(ib);
    test_close(sys);
}

static void
test_close_refuses_while_an_inbox_lives(void **state)
{
    (void)state;
    tr_system *sys = open_sys(1);
    tr_inbox *ib;
    assert_int_equal(tr_inbox_alloc(&ib, sys), 0);
    assert_int_equal(tr_system_close(sys, 0, NULL), TR_EBUSY);
    // Unread messages are freed with the inbox, as dead letters.
    assert_int_equal(tr_system_send(sys, tr_inbox_ref(ib), 1, "x", 1), 0);
    tr_inbox_free(ib);
    tr_stats st;
    assert_int_equal(tr_system_close(sys, TEST_WAIT_MS, &st), 0);
    assert_int_equal(st.dead_letters, 1);
    assert_int_equal(st.actors_live, 0);
}

static void
test_close_times_out_on_a_stuck_handler_then_finishes(void **state)
{
    (void)state;
    tr_system *sys = open_sys(1);
    tr_inbox *ib;
    assert_int_equal(tr_inbox_alloc(&ib, sys), 0);
    tr_ref p = probe_spawn(sys, ib, NULL);
    tr_inbox_free(ib);
    static _Atomic int stuck = 1;
    _Atomic int *flag = &stuck;
    assert_int_equal(tr_system_send(sys, p, P_BLOCK, &flag, sizeof flag), 0);
    TEST_WAIT_UNTIL(atomic_load(&stuck) == 2);
    assert_int_equal(atomic_load(&stuck), 2);
    assert_int_equal(tr_system_close(sys, 50, NULL), TR_ETIMEDOUT);
    tr_ref r;
    assert_int_equal(tr_system_spawn(&r, sys, &probe, NULL, 0, NULL),
                     TR_ECLOSED);
    atomic_store(&stuck, 0);
    test_close(sys);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_echo_reply_reaches_inbox_with_sender),
        cmocka_unit_test(test_stale_and_bad_refs_fail_cleanly),
        cmocka_unit_test(test_oversize_message_is_refused),
        cmocka_unit_test(test_failed_init_fails_spawn_without_stop_hook),
        cmocka_unit_test(test_bad_spawn_arguments),
        cmocka_unit_test(test_crash_stops_with_the_error_as_reason),
        cmocka_unit_test(test_exit_delivers_nothing_after_it),
        cmocka_unit_test(test_become_switches_behaviour),
        cmocka_unit_test(test_unhandled_is_counted_not_fatal),
        cmocka_unit_test(test_placement),
        cmocka_unit_test(test_inbox_recv_times_out),
        cmocka_unit_test(test_close_refuses_while_an_inbox_lives),
        cmocka_unit_test(test_close_times_out_on_a_stuck_handler_then_finishes),
    };
    test_main("actors/basics", tests, argc, argv);
}
