// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// Monitors and links: across loops, trap exit, DOWN for a dead ref,
// demonitor and unlink, and exactly one DOWN each under a crash storm.
#include "probe.h"

#include <stdlib.h>

static tr_system *
open_sys(unsigned loops)
{
    tr_system *sys;
    tr_config cfg = {.loops = loops};
    assert_int_equal(tr_system_open(&sys, &cfg), 0);
    return sys;
}

static tr_ref
probe_on(tr_system *sys, tr_inbox *ib, unsigned loop)
{
    tr_spawn_opts o = {.placement = TR_PLACE_LOOP, .loop = loop};
    return probe_spawn(sys, ib, &o);
}

// ask sends `type` with a ref payload to `p` and returns the int its
// P_ECHO reply carries.
static int
ask(tr_inbox *ib, tr_ref p, uint32_t type, tr_ref arg)
{
    assert_int_equal(tr_inbox_send(ib, p, type, &arg, sizeof arg), 0);
    tr_msg *m = test_recv(ib, P_ECHO);
    int rc = probe_int(m);
    tr_msg_free(m);
    return rc;
}

static uint64_t
monitor_via(tr_inbox *ib, tr_ref watcher, tr_ref who)
{
    assert_int_equal(tr_inbox_send(ib, watcher, P_MONITOR, &who, sizeof who),
                     0);
    tr_msg *m = test_recv(ib, P_MONITOR);
    uint64_t id;
    memcpy(&id, tr_msg_data(m), sizeof id);
    tr_msg_free(m);
    return id;
}

static tr_down
got_down(tr_inbox *ib, uint32_t type)
{
    tr_msg *m = test_recv(ib, type);
    tr_down d;
    assert_int_equal(tr_msg_size(m), sizeof d);
    memcpy(&d, tr_msg_data(m), sizeof d);
    tr_msg_free(m);
    return d;
}

static void
crash(tr_system *sys, tr_ref p, int code)
{
    assert_int_equal(tr_system_send(sys, p, P_CRASH, &code, sizeof code), 0);
}

static void
test_monitor_across_loops_gets_one_down(void **state)
{
    (void)state;
    tr_system *sys = open_sys(2);
    tr_inbox *ib;
    assert_int_equal(tr_inbox_alloc(&ib, sys), 0);
    tr_ref w = probe_on(sys, ib, 0), b = probe_on(sys, ib, 1);
    uint64_t id = monitor_via(ib, w, b);
    assert_true(id != 0);
    crash(sys, b, -7);
    assert_int_equal(probe_stopped(ib), -7);
    tr_down d = got_down(ib, P_GOT_DOWN);
    assert_true(tr_ref_eq(d.who, b));
    assert_int_equal(d.mon, id);
    assert_int_equal(d.reason, -7);
    // Only one: a marker sent now arrives next.
    assert_int_equal(tr_inbox_send(ib, w, P_ECHO, NULL, 0), 0);
    tr_msg_free(test_recv(ib, P_ECHO));
    tr_inbox_free(ib);
    test_close(sys);
}

static void
test_exit_text_reaches_monitors_and_links(void **state)
{
    (void)state;
    tr_system *sys = open_sys(2);
    tr_inbox *ib;
    assert_int_equal(tr_inbox_alloc(&ib, sys), 0);
    tr_ref a = probe_on(sys, ib, 0), b = probe_on(sys, ib, 1);
    assert_int_equal(tr_inbox_send(ib, a, P_TRAP, NULL, 0), 0);
    tr_msg_free(test_recv(ib, P_ECHO));
    assert_int_equal(ask(ib, a, P_LINK, b), 0);
    uint64_t mon;
    assert_int_equal(tr_inbox_monitor(ib, b, &mon), 0);
    int code = -21;
    assert_int_equal(tr_inbox_send(ib, b, P_EXIT_TEXT, &code, sizeof code), 0);
    assert_int_equal(probe_stopped(ib), -21);
    // The inbox's DOWN and a's forwarded exit, in either order.
    for (int i = 0; i < 2; i++) {
        tr_msg *m = NULL;
        assert_int_equal(tr_inbox_recv(ib, &m, TEST_WAIT_MS), 0);
        if (tr_msg_type(m) == TR_MSG_DOWN) {
            const tr_down *d = tr_msg_data(m);
            assert_int_equal(d->reason, -21);
            assert_string_equal(d->text, "database unreachable");
        } else {
            assert_int_equal(tr_msg_type(m), P_GOT_EXIT);
            const tr_exit_info *x = tr_msg_data(m);
            assert_int_equal(x->reason, -21);
            assert_string_equal(x->text, "database unreachable");
        }
        tr_msg_free(m);
    }
    tr_inbox_free(ib);
    test_close(sys);
}

static void
test_down_arrives_after_the_dead_actors_messages(void **state)
{
    (void)state;
    tr_system *sys = open_sys(2);
    tr_inbox *ib;
    assert_int_equal(tr_inbox_alloc(&ib, sys), 0);
    tr_ref b = probe_on(sys, ib, 1);
    uint64_t id;
    assert_int_equal(tr_inbox_monitor(ib, b, &id), 0);
    // b echoes three times, then exits; the DOWN comes after the echoes.
    for (int i = 0; i < 3; i++)
        assert_int_equal(tr_inbox_send(ib, b, P_ECHO, NULL, 0), 0);
    int normal = TR_EXIT_NORMAL;
    assert_int_equal(tr_inbox_send(ib, b, P_EXIT, &normal, sizeof normal), 0);
    for (int i = 0; i < 4; i++)
        tr_msg_free(test_recv(ib, P_ECHO));
    assert_int_equal(probe_stopped(ib), TR_EXIT_NORMAL);
    tr_down d = got_down(ib, TR_MSG_DOWN);
    assert_int_equal(d.mon, id);
    assert_int_equal(d.reason, TR_EXIT_NORMAL);
    tr_inbox_free(ib);
    test_close(sys);
}

static void
test_monitoring_a_dead_ref_gets_down_at_once(void **state)
{
    (void)state;
    tr_system *sys = open_sys(2);
    tr_inbox *ib;
    assert_int_equal(tr_inbox_alloc(&ib, sys), 0);
    tr_ref b = probe_on(sys, ib, 1), w = probe_on(sys, ib, 0);
    assert_int_equal(tr_system_stop(sys, b, TR_EXIT_NORMAL), 0);
    assert_int_equal(probe_stopped(ib), TR_EXIT_NORMAL);
    // The ref may take a moment to go stale after the stop hook; either
    // way exactly one DOWN comes.
    uint64_t id;
    assert_int_equal(tr_inbox_monitor(ib, b, &id), 0);
    tr_down d = got_down(ib, TR_MSG_DOWN);
    assert_int_equal(d.mon, id);
    assert_true(d.reason == TR_ENOACTOR || d.reason == TR_EXIT_NORMAL);
    // An actor monitoring a ref that never existed.
    tr_ref bogus = {(1ull << 24) * 4000 + 5};
    uint64_t id2 = monitor_via(ib, w, bogus);
    d = got_down(ib, P_GOT_DOWN);
    assert_int_equal(d.mon, id2);
    assert_int_equal(d.reason, TR_ENOACTOR);
    tr_inbox_free(ib);
    test_close(sys);
}

static void
test_demonitor_means_no_down(void **state)
{
    (void)state;
    tr_system *sys = open_sys(2);
    tr_inbox *ib;
    assert_int_equal(tr_inbox_alloc(&ib, sys), 0);
    tr_ref w = probe_on(sys, ib, 0), b = probe_on(sys, ib, 1);
    uint64_t id = monitor_via(ib, w, b);
    assert_int_equal(tr_inbox_send(ib, w, P_DEMONITOR, &id, sizeof id), 0);
    tr_msg *m = test_recv(ib, P_ECHO);
    assert_int_equal(probe_int(m), 0);
    tr_msg_free(m);
    assert_int_equal(tr_inbox_send(ib, w, P_DEMONITOR, &id, sizeof id), 0);
    m = test_recv(ib, P_ECHO);
    assert_int_equal(probe_int(m), TR_EINVAL); // already gone
    tr_msg_free(m);
    uint64_t mine;
    assert_int_equal(tr_inbox_monitor(ib, b, &mine), 0);
    crash(sys, b, -3);
    assert_int_equal(probe_stopped(ib), -3);
    assert_int_equal(got_down(ib, TR_MSG_DOWN).mon, mine);
    // The watcher got nothing: a marker is the next thing from it.
    assert_int_equal(tr_inbox_send(ib, w, P_ECHO, NULL, 0), 0);
    tr_msg_free(test_recv(ib, P_ECHO));
    tr_inbox_free(ib);
    test_close(sys);
}

static void
test_link_propagates_abnormal_exit_only(void **state)
{
    (void)state;
    tr_system *sys = open_sys(2);
    tr_inbox *ib;
    assert_int_equal(tr_inbox_alloc(&ib, sys), 0);
    tr_ref a = probe_on(sys, ib, 0), b = probe_on(sys, ib, 1);
    tr_ref c = probe_on(sys, ib, 1);
    assert_int_equal(ask(ib, a, P_LINK, b), 0);
    assert_int_equal(ask(ib, a, P_LINK, b), 0); // twice is once
    assert_int_equal(ask(ib, a, P_LINK, a), TR_EINVAL);
    assert_int_equal(ask(ib, c, P_LINK, a), 0);
    // A normal exit does not take the linked actor down.
    int normal = TR_EXIT_NORMAL;
    tr_ref d = probe_on(sys, ib, 0);
    assert_int_equal(ask(ib, a, P_LINK, d), 0);
    assert_int_equal(tr_inbox_send(ib, d, P_EXIT, &normal, sizeof normal), 0);
    tr_msg_free(test_recv(ib, P_ECHO));
    assert_int_equal(probe_stopped(ib), TR_EXIT_NORMAL);
    // A crash does, with the same reason, and on through a's links.
    crash(sys, b, -9);
    assert_int_equal(probe_stopped(ib), -9);
    assert_int_equal(probe_stopped(ib), -9);
    assert_int_equal(probe_stopped(ib), -9);
    tr_msg *m;
    assert_int_equal(tr_inbox_recv(ib, &m, 0), TR_ETIMEDOUT);
    tr_inbox_free(ib);
    test_close(sys);
}

static void
test_trap_exit_turns_signals_into_messages(void **state)
{
    (void)state;
    tr_system *sys = open_sys(2);
    tr_inbox *ib;
    assert_int_equal(tr_inbox_alloc(&ib, sys), 0);
    tr_ref a = probe_on(sys, ib, 0), b = probe_on(sys, ib, 1);
    assert_int_equal(tr_inbox_send(ib, a, P_TRAP, NULL, 0), 0);
    tr_msg_free(test_recv(ib, P_ECHO));
    assert_int_equal(ask(ib, a, P_LINK, b), 0);
    crash(sys, b, -5);
    assert_int_equal(probe_stopped(ib), -5);
    tr_msg *m = test_recv(ib, P_GOT_EXIT);
    tr_exit_info x;
    memcpy(&x, tr_msg_data(m), sizeof x);
    tr_msg_free(m);
    assert_true(tr_ref_eq(x.who, b));
    assert_int_equal(x.reason, -5);
    assert_string_equal(x.text, "");
    // a is still alive, and linking to a dead ref is an exit message too.
    assert_int_equal(ask(ib, a, P_LINK, b), 0);
    m = test_recv(ib, P_GOT_EXIT);
    memcpy(&x, tr_msg_data(m), sizeof x);
    tr_msg_free(m);
    assert_int_equal(x.reason, TR_ENOACTOR);
    tr_inbox_free(ib);
    test_close(sys);
}

static void
test_unlink_stops_propagation(void **state)
{
    (void)state;
    tr_system *sys = open_sys(2);
    tr_inbox *ib;
    assert_int_equal(tr_inbox_alloc(&ib, sys), 0);
    tr_ref a = probe_on(sys, ib, 0), b = probe_on(sys, ib, 1);
    assert_int_equal(ask(ib, a, P_LINK, b), 0);
    assert_int_equal(ask(ib, a, P_UNLINK, b), 0);
    assert_int_equal(ask(ib, a, P_UNLINK, b), TR_EINVAL);
    crash(sys, b, -4);
    assert_int_equal(probe_stopped(ib), -4);
    assert_int_equal(tr_inbox_send(ib, a, P_ECHO, NULL, 0), 0);
    tr_msg_free(test_recv(ib, P_ECHO)); // a lives
    // Linking to a dead ref without trapping stops the caller.
    assert_int_equal(ask(ib, a, P_LINK, b), 0);
    assert_int_equal(probe_stopped(ib), TR_ENOACTOR);
    tr_inbox_free(ib);
    test_close(sys);
}

#define STORM 10000

static void
test_crash_storm_gives_exactly_one_down_each(void **state)
{
    (void)state;
    tr_system *sys = open_sys(2);
    tr_inbox *ib;
    assert_int_equal(tr_inbox_alloc(&ib, sys), 0);
    tr_ref *r = malloc(STORM * sizeof *r);
    uint64_t *ids = malloc(STORM * sizeof *ids);
    assert_non_null(r);
    assert_non_null(ids);
    tr_spawn_opts rr = {.placement = TR_PLACE_ROUND_ROBIN};
    for (int i = 0; i < STORM; i++)
        assert_int_equal(tr_system_spawn(&r[i], sys, &probe, NULL, 0, &rr), 0);
    // Half are monitored before they crash, half race the crash.
    for (int i = 0; i < STORM / 2; i++)
        assert_int_equal(tr_inbox_monitor(ib, r[i], &ids[i]), 0);
    for (int i = 0; i < STORM; i++)
        crash(sys, r[i], -(1000 + i));
    for (int i = STORM / 2; i < STORM; i++)
        assert_int_equal(tr_inbox_monitor(ib, r[i], &ids[i]), 0);
    uint64_t first = ids[0];
    char *seen = calloc(STORM, 1);
    assert_non_null(seen);
    for (int k = 0; k < STORM; k++) {
        tr_down d = got_down(ib, TR_MSG_DOWN);
        // Ids are handed out in order here: map back to the actor.
        uint64_t i = d.mon - first;
        assert_true(i < STORM);
        assert_int_equal(seen[i], 0);
        seen[i] = 1;
        assert_true(tr_ref_eq(d.who, r[i]));
        if (i < STORM / 2)
            assert_int_equal(d.reason, -(1000 + (int)i));
        else
            assert_true(d.reason == -(1000 + (int)i) ||
                        d.reason == TR_ENOACTOR);
    }
    tr_msg *m;
    assert_int_equal(tr_inbox_recv(ib, &m, 0), TR_ETIMEDOUT);
    free(seen);
    free(ids);
    free(r);
    tr_inbox_free(ib);
    tr_stats st;
    assert_int_equal(tr_system_close(sys, TEST_WAIT_MS, &st), 0);
    assert_int_equal(st.actors_live, 0);
    assert_int_equal(st.actors_crashed, STORM);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_monitor_across_loops_gets_one_down),
        cmocka_unit_test(test_down_arrives_after_the_dead_actors_messages),
        cmocka_unit_test(test_exit_text_reaches_monitors_and_links),
        cmocka_unit_test(test_monitoring_a_dead_ref_gets_down_at_once),
        cmocka_unit_test(test_demonitor_means_no_down),
        cmocka_unit_test(test_link_propagates_abnormal_exit_only),
        cmocka_unit_test(test_trap_exit_turns_signals_into_messages),
        cmocka_unit_test(test_unlink_stops_propagation),
        cmocka_unit_test(test_crash_storm_gives_exactly_one_down_each),
    };
    test_main("actors/watch", tests, argc, argv);
}
