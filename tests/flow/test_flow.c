// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// Credit streams (10,000,000 messages within the window) and routers
// (round-robin, random, consistent hash, least-loaded avoiding a stalled
// worker, restarts).
#include <troupe/flow.h>

#include "tests/test.h"

#include <string.h>

enum { C_START = 1, C_ITEM, R_DONE, W_WHO, W_PAUSE, W_CRASH, R_WHO };

#define WINDOW 64
#define ITEMS  10000000u

// --- credit stream --------------------------------------------------------
struct consumer {
    tr_stream_in in;
    uint32_t next, bad;
    tr_ref report;
};

struct producer {
    tr_stream_out out;
    uint32_t sent, refused;
};

static int
consumer_receive(tr_ctx *ctx, const tr_msg *m)
{
    struct consumer *c = tr_state(ctx);
    if (tr_msg_type(m) == C_START) {
        tr_ref p;
        memcpy(&p, tr_msg_data(m), sizeof p);
        memcpy(&c->report, (const char *)tr_msg_data(m) + sizeof p,
               sizeof c->report);
        return tr_stream_open(ctx, &c->in, p, WINDOW);
    }
    if (tr_msg_type(m) != C_ITEM)
        return TR_EUNHANDLED;
    uint32_t v;
    memcpy(&v, tr_msg_data(m), sizeof v);
    if (v != c->next++)
        c->bad++;
    if (c->next == ITEMS)
        return tr_send(ctx, c->report, R_DONE, &c->bad, sizeof c->bad);
    return tr_stream_consumed(ctx, &c->in);
}

static const tr_behavior consumer = {
    .name = "consumer",
    .state_size = sizeof(struct consumer),
    .receive = consumer_receive,
};

static int
producer_receive(tr_ctx *ctx, const tr_msg *m)
{
    struct producer *p = tr_state(ctx);
    if (p->out.to.bits == 0)
        p->out.to = tr_msg_sender(m);
    if (!tr_stream_credit(&p->out, m))
        return TR_EUNHANDLED;
    while (p->sent < ITEMS) {
        int rc = tr_stream_send(ctx, &p->out, C_ITEM, &p->sent, sizeof p->sent);
        if (rc == TR_EFULL && p->out.credit == 0)
            return 0; // wait for the next grant
        if (rc != 0) {
            p->refused++; // the consumer's bounded mailbox said no
            return rc;
        }
        p->sent++;
    }
    return 0;
}

static const tr_behavior producer = {
    .name = "producer",
    .state_size = sizeof(struct producer),
    .receive = producer_receive,
};

static void
test_credit_stream_stays_within_the_window(void **state)
{
    (void)state;
    tr_system *sys;
    tr_config cfg = {.manual = true};
    assert_int_equal(tr_system_open(&sys, &cfg), 0);
    tr_inbox *ib;
    assert_int_equal(tr_inbox_alloc(&ib, sys), 0);
    // The consumer's mailbox holds at most the window: one message more
    // in flight and a send would fail (the producer would crash).
    tr_spawn_opts bound = {.capacity = WINDOW};
    tr_ref c, p;
    assert_int_equal(tr_system_spawn(&c, sys, &consumer, NULL, 0, &bound), 0);
    assert_int_equal(tr_system_spawn(&p, sys, &producer, NULL, 0, NULL), 0);
    tr_ref start[2] = {p, tr_inbox_ref(ib)};
    assert_int_equal(tr_system_send(sys, c, C_START, start, sizeof start), 0);
    tr_system_run(sys);
    tr_msg *m;
    assert_int_equal(tr_inbox_recv(ib, &m, 0), 0);
    assert_int_equal(tr_msg_type(m), R_DONE);
    assert_int_equal(*(const uint32_t *)tr_msg_data(m), 0); // all in order
    tr_msg_free(m);
    tr_stats st;
    tr_system_stats(sys, &st);
    assert_int_equal(st.msgs_refused, 0);
    assert_int_equal(st.actors_crashed, 0);
    tr_inbox_free(ib);
    test_close(sys);
}

// --- routers ----------------------------------------------------------------
// A paused worker puts every W_WHO back at the end of its own queue: it
// stays busy with a backlog that never drains, without holding its loop.
struct wstate {
    bool paused;
};

static int
worker_receive(tr_ctx *ctx, const tr_msg *m)
{
    struct wstate *w = tr_state(ctx);
    switch (tr_msg_type(m)) {
    case W_WHO: {
        if (w->paused)
            return tr_forward(ctx, tr_self(ctx), m);
        tr_ref me = tr_self(ctx);
        return tr_reply(ctx, m, R_WHO, &me, sizeof me);
    }
    case W_PAUSE:
        w->paused = !w->paused;
        return 0;
    case W_CRASH:
        return -3;
    default:
        return TR_EUNHANDLED;
    }
}

static const tr_behavior worker = {.name = "worker",
                                   .state_size = sizeof(struct wstate),
                                   .receive = worker_receive};

// An owner that spawns the router (routers are children of an actor).
static tr_router_spec router_spec;
static tr_ref router_ref;

static int
owner_init(tr_ctx *ctx, const void *arg, size_t len)
{
    (void)arg, (void)len;
    return tr_router_spawn(&router_ref, ctx, &router_spec);
}

static int
owner_receive(tr_ctx *ctx, const tr_msg *m)
{
    (void)ctx, (void)m;
    return 0;
}

static const tr_behavior owner = {
    .name = "owner", .init = owner_init, .receive = owner_receive};

static tr_router_info *
info(tr_inbox *ib, tr_ref router, tr_msg **keep)
{
    assert_int_equal(tr_inbox_send(ib, router, TR_ROUTER_INFO, NULL, 0), 0);
    *keep = test_recv(ib, TR_ROUTER_INFO);
    return (tr_router_info *)(void *)tr_msg_data(*keep);
}

// Sends n W_WHO through the router with keys, and counts replies per
// worker.
static void
route(tr_inbox *ib, const tr_router_info *ri, uint32_t n, uint32_t *hits,
      bool one_key)
{
    for (uint32_t i = 0; i < n; i++) {
        uint64_t key = one_key ? 42 : i;
        assert_int_equal(tr_inbox_send(ib, router_ref, W_WHO, &key, sizeof key),
                         0);
    }
    for (uint32_t i = 0; i < n; i++) {
        tr_msg *m = test_recv(ib, R_WHO);
        tr_ref who;
        memcpy(&who, tr_msg_data(m), sizeof who);
        tr_msg_free(m);
        for (uint32_t k = 0; k < ri->n; k++)
            if (tr_ref_eq(who, ri->workers[k]))
                hits[k]++;
    }
}

static tr_system *
router_open(tr_inbox **ib, enum tr_route r, uint32_t capacity)
{
    tr_system *sys;
    tr_config cfg = {.loops = 2};
    assert_int_equal(tr_system_open(&sys, &cfg), 0);
    assert_int_equal(tr_inbox_alloc(ib, sys), 0);
    router_spec = (tr_router_spec){.route = r,
                                   .worker = &worker,
                                   .n = 3,
                                   .capacity = capacity,
                                   .key_len = sizeof(uint64_t)};
    tr_ref o;
    assert_int_equal(tr_system_spawn(&o, sys, &owner, NULL, 0, NULL), 0);
    return sys;
}

static void
test_round_robin_random_and_hash(void **state)
{
    (void)state;
    for (enum tr_route r = TR_ROUTE_ROUND_ROBIN; r <= TR_ROUTE_HASH; r++) {
        if (r == TR_ROUTE_LEAST_LOADED)
            continue;
        tr_inbox *ib;
        tr_system *sys = router_open(&ib, r, 0);
        tr_msg *keep;
        tr_router_info *ri = info(ib, router_ref, &keep);
        assert_int_equal(ri->n, 3);
        uint32_t hits[3] = {0};
        route(ib, ri, 300, hits, false);
        if (r == TR_ROUTE_ROUND_ROBIN) {
            for (int k = 0; k < 3; k++)
                assert_int_equal(hits[k], 100);
        } else {
            for (int k = 0; k < 3; k++) // spread: each gets a fair share
                assert_in_range(hits[k], 50, 150);
        }
        if (r == TR_ROUTE_HASH) { // one key, one worker
            uint32_t one[3] = {0};
            route(ib, ri, 30, one, true);
            assert_true(one[0] == 30 || one[1] == 30 || one[2] == 30);
        }
        tr_msg_free(keep);
        tr_inbox_free(ib);
        test_close(sys);
    }
}

static void
test_least_loaded_avoids_a_stalled_worker_and_restarts(void **state)
{
    (void)state;
    tr_inbox *ib;
    tr_system *sys = router_open(&ib, TR_ROUTE_LEAST_LOADED, 8);
    tr_msg *keep;
    tr_router_info *ri = info(ib, router_ref, &keep);
    // Pause worker 0 with a backlog: it is busy and never drains.
    tr_ref stalled = ri->workers[0];
    assert_int_equal(tr_system_send(sys, stalled, W_PAUSE, NULL, 0), 0);
    uint64_t key = 0;
    for (int i = 0; i < 3; i++)
        assert_int_equal(tr_inbox_send(ib, stalled, W_WHO, &key, sizeof key),
                         0);
    // One at a time, as a steady client would: each goes to a worker with
    // the shortest queue, never to the stalled one.
    uint32_t hits[3] = {0};
    for (int i = 0; i < 60; i++)
        route(ib, ri, 1, hits, false);
    assert_int_equal(hits[0], 0);
    assert_int_equal(hits[1] + hits[2], 60);
    assert_true(hits[1] > 0 && hits[2] > 0); // ties go round the pool
    assert_int_equal(tr_system_send(sys, stalled, W_PAUSE, NULL, 0), 0);
    for (int i = 0; i < 3; i++) // the stalled worker's own replies
        tr_msg_free(test_recv(ib, R_WHO));
    tr_msg_free(keep);
    // A crashed worker is replaced.
    ri = info(ib, router_ref, &keep);
    assert_int_equal(tr_system_send(sys, ri->workers[1], W_CRASH, NULL, 0), 0);
    tr_msg_free(keep);
    int64_t end = tr_now_ns() + (int64_t)TEST_WAIT_MS * 1000000;
    do {
        ri = info(ib, router_ref, &keep);
        bool done = ri->restarts == 1;
        tr_msg_free(keep);
        if (done)
            break;
    } while (tr_now_ns() < end && !sched_yield());
    ri = info(ib, router_ref, &keep);
    assert_int_equal(ri->restarts, 1);
    tr_msg_free(keep);
    tr_inbox_free(ib);
    test_close(sys);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_credit_stream_stays_within_the_window),
        cmocka_unit_test(test_round_robin_random_and_hash),
        cmocka_unit_test(
            test_least_loaded_avoids_a_stalled_worker_and_restarts),
    };
    test_main("flow/flow", tests, argc, argv);
}
