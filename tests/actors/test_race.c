// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// Racing sends and stops, meant for ThreadSanitizer: threads and actors
// send to refs while another thread stops those actors and spawns new
// ones. Every send must return 0 or TR_ENOACTOR, and every message that a
// send accepted must be either handled or counted as a dead letter.
#include "tests/test.h"

#include <pthread.h>
#include <string.h>

#define ACTORS 16
#define ROUNDS 3000 // stops (and respawns) made by the stopper

static _Atomic uint64_t refs[ACTORS];
static _Atomic uint64_t accepted, handled, refused_other;
static _Atomic bool done;

static void
note_send(int rc)
{
    if (rc == 0)
        atomic_fetch_add(&accepted, 1);
    else if (rc != TR_ENOACTOR)
        atomic_fetch_add(&refused_other, 1);
}

// A hopper forwards each message to a random peer until its hop count
// runs out.
static int
hopper_receive(tr_ctx *ctx, const tr_msg *m)
{
    atomic_fetch_add(&handled, 1);
    uint32_t hops;
    memcpy(&hops, tr_msg_data(m), sizeof hops);
    if (hops == 0)
        return 0;
    hops--;
    unsigned i = (unsigned)(tr_now_ns() / 7) % ACTORS;
    tr_ref to = {atomic_load(&refs[i])};
    note_send(tr_send(ctx, to, 1, &hops, sizeof hops));
    return 0;
}

static const tr_behavior hopper = {
    .name = "hopper",
    .receive = hopper_receive,
};

static void *
sender_thread(void *arg)
{
    tr_system *sys = arg;
    unsigned i = 0;
    // Bounded, so a slow sanitizer build does not pile up millions.
    while (!atomic_load(&done) && i < 200000) {
        tr_ref to = {atomic_load(&refs[i++ % ACTORS])};
        uint32_t hops = 4;
        note_send(tr_system_send(sys, to, 1, &hops, sizeof hops));
    }
    return NULL;
}

static void
test_sends_race_stops_without_loss(void **state)
{
    (void)state;
    tr_system *sys;
    tr_config cfg = {.loops = 2};
    assert_int_equal(tr_system_open(&sys, &cfg), 0);
    for (int i = 0; i < ACTORS; i++) {
        tr_ref r;
        assert_int_equal(tr_system_spawn(&r, sys, &hopper, NULL, 0, NULL), 0);
        atomic_store(&refs[i], r.bits);
    }
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, sender_thread, sys), 0);
    int stop_failures = 0;
    for (int round = 0; round < ROUNDS; round++) {
        unsigned i = (unsigned)round % ACTORS;
        tr_ref old = {atomic_load(&refs[i])}, r;
        if (tr_system_stop(sys, old, TR_EXIT_NORMAL) != 0)
            stop_failures++;
        assert_int_equal(tr_system_spawn(&r, sys, &hopper, NULL, 0, NULL), 0);
        atomic_store(&refs[i], r.bits);
        if (round % 64 == 0)
            sched_yield(); // let senders and loops interleave
    }
    // On a loaded machine the rounds can end before a sender has run.
    TEST_WAIT_UNTIL(atomic_load(&accepted) > 0);
    atomic_store(&done, true);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    tr_stats st;
    assert_int_equal(tr_system_close(sys, TEST_WAIT_MS, &st), 0);
    assert_int_equal(st.actors_live, 0);
    assert_int_equal(stop_failures, 0); // each ref was stopped once only
    assert_int_equal(atomic_load(&refused_other), 0);
    assert_true(atomic_load(&accepted) > 0);
    // Nothing lost: every accepted message was handled or a dead letter.
    assert_int_equal(atomic_load(&accepted),
                     atomic_load(&handled) + st.dead_letters);
    assert_int_equal(st.msgs_sent, atomic_load(&accepted));
    print_message("accepted %llu, handled %llu, dead letters %llu\n",
                  (unsigned long long)atomic_load(&accepted),
                  (unsigned long long)atomic_load(&handled),
                  (unsigned long long)st.dead_letters);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sends_race_stops_without_loss),
    };
    test_main("actors/race", tests, argc, argv);
}
