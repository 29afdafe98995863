// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// tr_actors_top and per-actor counters: mailbox depth of unbounded and
// bounded mailboxes, messages handled, busy time, from another thread.
#include "tests/test.h"

#include <pthread.h>
#include <string.h>

enum { MSG_HOLD = 1, MSG_WORK };

// A gate a handler waits on, so the test can fill its mailbox while it is
// held: the held actor takes nothing until the test opens the gate.
static _Atomic int held;
static _Atomic int open_gate;

static int
gated_receive(tr_ctx *ctx, const tr_msg *m)
{
    (void)ctx;
    switch (tr_msg_type(m)) {
    case MSG_HOLD:
        atomic_store(&held, 1);
        TEST_WAIT_UNTIL(atomic_load(&open_gate));
        return 0;
    case MSG_WORK:
        return 0;
    default:
        return TR_EUNHANDLED;
    }
}

static const tr_behavior gated = {.name = "gated", .receive = gated_receive};

static int
idle_receive(tr_ctx *ctx, const tr_msg *m)
{
    (void)ctx;
    (void)m;
    return 0;
}

static const tr_behavior idle = {.name = "idle", .receive = idle_receive};

// Holds `who`, queues `n` MSG_WORK behind the hold, and returns with the
// gate still shut.
static void
hold_and_fill(tr_system *sys, tr_ref who, int n)
{
    atomic_store(&held, 0);
    atomic_store(&open_gate, 0);
    assert_int_equal(tr_system_send(sys, who, MSG_HOLD, NULL, 0), 0);
    TEST_WAIT_UNTIL(atomic_load(&held));
    assert_true(atomic_load(&held));
    for (int i = 0; i < n; i++)
        assert_int_equal(tr_system_send(sys, who, MSG_WORK, NULL, 0), 0);
}

// The first entry of a top list of one, ranked by messages handled: the
// only actor there, in these tests that use it.
static tr_actor_info
only(tr_system *sys)
{
    tr_actor_info top[1];
    size_t n = 0;
    assert_int_equal(tr_actors_top(sys, TR_TOP_HANDLED, top, 1, &n), 0);
    assert_int_equal(n, 1);
    return top[0];
}

// Opens the gate and waits until the held actor has booked every message
// (its last turn has ended): `handled` reaches `want`.
static void
release_and_drain(tr_system *sys, uint64_t want)
{
    atomic_store(&open_gate, 1);
    TEST_WAIT_UNTIL(only(sys).handled == want);
    assert_int_equal(only(sys).handled, want);
}

static void
test_top_by_depth_unbounded(void **state)
{
    (void)state;
    tr_system *sys;
    // Every turn timed, so busy time is there to see; no watchdog, since
    // the gate holds a loop on purpose.
    tr_config cfg = {
        .actor_stats = true, .loops = 2, .sample_every = 1, .watchdog_ms = -1};
    assert_int_equal(tr_system_open(&sys, &cfg), 0);
    tr_ref g, others[3];
    assert_int_equal(tr_system_spawn(&g, sys, &gated, NULL, 0, NULL), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(tr_system_spawn(&others[i], sys, &idle, NULL, 0, NULL),
                         0);
    hold_and_fill(sys, g, 100);
    for (int i = 0; i < 3; i++) // a little depth elsewhere: i messages
        for (int k = 0; k < i; k++)
            assert_int_equal(tr_system_send(sys, others[i], 9, NULL, 0), 0);

    tr_actor_info top[8];
    size_t n = 0;
    assert_int_equal(tr_actors_top(sys, TR_TOP_QUEUED, top, 8, &n), 0);
    assert_int_equal(n, 4);
    assert_true(tr_ref_eq(top[0].ref, g));
    assert_string_equal(top[0].name, "gated");
    // A turn books what it took when it ends: the hold being handled
    // still counts as queued, and not yet as handled.
    assert_int_equal(top[0].queued, 101);
    assert_int_equal(top[0].capacity, 0);
    assert_int_equal(top[0].handled, 0);
    for (size_t i = 1; i < n; i++) {
        assert_string_equal(top[i].name, "idle");
        assert_true(top[i].queued <= top[i - 1].queued);
    }
    tr_mailbox_info mi;
    assert_int_equal(tr_mailbox_stats(sys, g, &mi), 0);
    assert_int_equal(mi.queued, 101);

    // cap smaller than the actor count keeps the largest.
    assert_int_equal(tr_actors_top(sys, TR_TOP_QUEUED, top, 1, &n), 0);
    assert_int_equal(n, 1);
    assert_true(tr_ref_eq(top[0].ref, g));

    release_and_drain(sys, 101); // the hold and 100 work
    assert_true(tr_ref_eq(only(sys).ref, g));
    assert_int_equal(only(sys).queued, 0);
    // The held turn was timed and lasted as long as the test held it.
    assert_int_equal(tr_actors_top(sys, TR_TOP_BUSY, top, 8, &n), 0);
    assert_true(tr_ref_eq(top[0].ref, g));
    assert_true(top[0].busy_ns > 0);
    test_close(sys);
}

static void
test_top_bounded_and_args(void **state)
{
    (void)state;
    tr_system *sys;
    tr_config cfg = {.actor_stats = true, .loops = 1, .watchdog_ms = -1};
    assert_int_equal(tr_system_open(&sys, &cfg), 0);
    tr_ref g;
    tr_spawn_opts o = {.capacity = 50};
    assert_int_equal(tr_system_spawn(&g, sys, &gated, NULL, 0, &o), 0);
    hold_and_fill(sys, g, 50);
    assert_int_equal(tr_system_send(sys, g, MSG_WORK, NULL, 0), TR_EFULL);
    tr_actor_info top[2];
    size_t n = 0;
    assert_int_equal(tr_actors_top(sys, TR_TOP_QUEUED, top, 2, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(top[0].queued, 51); // the hold is not booked yet
    assert_int_equal(top[0].capacity, 50);
    assert_int_equal(top[0].loop, 0);

    assert_int_equal(tr_actors_top(sys, TR_TOP_QUEUED, NULL, 0, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(tr_actors_top(sys, TR_TOP_QUEUED, NULL, 1, &n), TR_EINVAL);
    assert_int_equal(tr_actors_top(sys, (enum tr_top_by)7, top, 2, &n),
                     TR_EINVAL);
    release_and_drain(sys, 51);
    assert_int_equal(only(sys).queued, 0);
    test_close(sys);
}

// Scanning while actors come and go never reads a freed record (the
// sanitizers watch this) and never lists an inbox.
static void
test_top_while_spawning(void **state)
{
    (void)state;
    tr_system *sys;
    tr_config cfg = {.actor_stats = true, .loops = 2};
    assert_int_equal(tr_system_open(&sys, &cfg), 0);
    tr_inbox *ib;
    assert_int_equal(tr_inbox_alloc(&ib, sys), 0);
    tr_actor_info top[16];
    for (int round = 0; round < 200; round++) {
        tr_ref r;
        assert_int_equal(tr_system_spawn(&r, sys, &idle, NULL, 0, NULL), 0);
        assert_int_equal(tr_system_send(sys, r, 1, NULL, 0), 0);
        size_t n = 0;
        assert_int_equal(tr_actors_top(sys, TR_TOP_HANDLED, top, 16, &n), 0);
        for (size_t i = 0; i < n; i++)
            assert_non_null(top[i].name);
        assert_int_equal(tr_system_stop(sys, r, TR_EXIT_NORMAL), 0);
    }
    tr_inbox_free(ib);
    test_close(sys);
}

// Children that exit on their own, as a chat connection does when its
// client goes: tr_exit from a handler, on both loops, while another
// thread scans. Every name read must be one of the behaviours'.
static int
quitter_receive(tr_ctx *ctx, const tr_msg *m)
{
    if (tr_msg_type(m) == 1)
        tr_exit(ctx, TR_EXIT_NORMAL);
    return 0;
}

static const tr_behavior quitter = {
    .name = "quitter", .state_size = 24, .receive = quitter_receive};

// Sends to every quitter of a round from a loop, twice, racing their
// exits: the fast paths' references against the actors' deaths.
struct spam {
    const tr_ref *to;
    unsigned n;
};

static int
spammer_receive(tr_ctx *ctx, const tr_msg *m)
{
    struct spam s;
    if (tr_msg_size(m) != sizeof s)
        return TR_EUNHANDLED;
    memcpy(&s, tr_msg_data(m), sizeof s);
    for (int pass = 0; pass < 2; pass++)
        for (unsigned i = 0; i < s.n; i++)
            (void)tr_send(ctx, s.to[i], 2, &i, sizeof i);
    return 0;
}

static const tr_behavior spammer = {.name = "idle", .receive = spammer_receive};

struct scanner {
    tr_system *sys;
    _Atomic bool stop;
    _Atomic unsigned long scans, bad;
};

static void *
scan(void *arg)
{
    struct scanner *sc = arg;
    tr_actor_info top[64];
    while (!atomic_load(&sc->stop)) {
        for (int by = TR_TOP_QUEUED; by <= TR_TOP_HANDLED; by++) {
            size_t n = 0;
            if (tr_actors_top(sc->sys, (enum tr_top_by)by, top, 64, &n) != 0)
                atomic_fetch_add(&sc->bad, 1);
            for (size_t i = 0; i < n; i++)
                if (top[i].name == NULL ||
                    (strcmp(top[i].name, "quitter") != 0 &&
                     strcmp(top[i].name, "idle") != 0))
                    atomic_fetch_add(&sc->bad, 1);
        }
        atomic_fetch_add(&sc->scans, 1);
    }
    return NULL;
}

static void
test_top_while_many_exit(void **state)
{
    (void)state;
    tr_system *sys;
    tr_config cfg = {.actor_stats = true, .loops = 2};
    assert_int_equal(tr_system_open(&sys, &cfg), 0);
    struct scanner sc = {.sys = sys};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, scan, &sc), 0);
    enum { ROUNDS = 20, PER_ROUND = 1000 };
    // One array per round: the spammers may still read a round's refs
    // while the next round runs.
    static tr_ref refs[ROUNDS][PER_ROUND];
    tr_spawn_opts rr = {.placement = TR_PLACE_ROUND_ROBIN};
    tr_ref sp[2];
    for (unsigned l = 0; l < 2; l++) {
        tr_spawn_opts on = {.placement = TR_PLACE_LOOP, .loop = l};
        assert_int_equal(tr_system_spawn(&sp[l], sys, &spammer, NULL, 0, &on),
                         0);
    }
    for (int round = 0; round < ROUNDS; round++) {
        tr_ref *r = refs[round];
        for (int i = 0; i < PER_ROUND; i++)
            assert_int_equal(
                tr_system_spawn(&r[i], sys, &quitter, NULL, 0, &rr), 0);
        unsigned long seen = atomic_load(&sc.scans);
        struct spam s = {r, PER_ROUND};
        for (unsigned l = 0; l < 2; l++)
            assert_int_equal(tr_system_send(sys, sp[l], 1, &s, sizeof s), 0);
        for (int i = 0; i < PER_ROUND; i++)
            assert_int_equal(tr_system_send(sys, r[i], 1, NULL, 0), 0);
        // Every one gone (sends to it fail), with scans across the exits.
        TEST_WAIT_UNTIL(tr_system_send(sys, r[PER_ROUND - 1], 1, NULL, 0) ==
                        TR_ENOACTOR);
        TEST_WAIT_UNTIL(atomic_load(&sc.scans) > seen + 1);
    }
    atomic_store(&sc.stop, true);
    pthread_join(th, NULL);
    assert_int_equal(atomic_load(&sc.bad), 0);
    test_close(sys);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_top_by_depth_unbounded),
        cmocka_unit_test(test_top_bounded_and_args),
        cmocka_unit_test(test_top_while_spawning),
        cmocka_unit_test(test_top_while_many_exit),
    };
    test_main("actors/top", tests, argc, argv);
}
