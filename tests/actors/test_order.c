// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// Ordering and fairness: per sender->receiver FIFO across loops and from
// outside threads, and a flooding actor that cannot starve its neighbour.
#include "tests/test.h"

#include <pthread.h>
#include <string.h>

enum { M_GO = 1, M_SEQ, M_DONE, M_PING, M_PONG, M_FLOOD };

#define SENDERS    6
#define PER_SENDER 20000

struct seq_msg {
    uint32_t sender;
    uint32_t seq;
};

// The receiver checks each sender's sequence and reports when it has all.
struct receiver_arg {
    tr_ref report;
    uint32_t expect;
};

struct receiver {
    struct receiver_arg arg;
    uint32_t next[SENDERS + 4];
    uint32_t got, bad;
};

static int
receiver_init(tr_ctx *ctx, const void *arg, size_t len)
{
    struct receiver *r = tr_state(ctx);
    if (len != sizeof r->arg)
        return TR_EINVAL;
    memcpy(&r->arg, arg, sizeof r->arg);
    return 0;
}

static int
receiver_receive(tr_ctx *ctx, const tr_msg *m)
{
    struct receiver *r = tr_state(ctx);
    if (tr_msg_type(m) != M_SEQ)
        return TR_EUNHANDLED;
    struct seq_msg s;
    memcpy(&s, tr_msg_data(m), sizeof s);
    if (s.sender >= SENDERS + 4 || s.seq != r->next[s.sender])
        r->bad++;
    else
        r->next[s.sender]++;
    if (++r->got == r->arg.expect)
        return tr_send(ctx, r->arg.report, M_DONE, &r->bad, sizeof r->bad);
    return 0;
}

static const tr_behavior receiver = {
    .name = "receiver",
    .state_size = sizeof(struct receiver),
    .init = receiver_init,
    .receive = receiver_receive,
};

struct go {
    tr_ref to;
    uint32_t id;
};

// A sender sends PER_SENDER numbered messages, a slice per turn.
struct sender {
    struct go go;
    uint32_t sent;
};

static int
sender_receive(tr_ctx *ctx, const tr_msg *m)
{
    struct sender *s = tr_state(ctx);
    if (tr_msg_type(m) == M_GO)
        memcpy(&s->go, tr_msg_data(m), sizeof s->go);
    for (int i = 0; i < 500 && s->sent < PER_SENDER; i++, s->sent++) {
        struct seq_msg q = {s->go.id, s->sent};
        int rc = tr_send(ctx, s->go.to, M_SEQ, &q, sizeof q);
        if (rc != 0)
            return rc;
    }
    if (s->sent < PER_SENDER)
        return tr_send(ctx, tr_self(ctx), M_FLOOD, NULL, 0);
    return 0;
}

static const tr_behavior sender = {
    .name = "sender",
    .state_size = sizeof(struct sender),
    .receive = sender_receive,
};

struct thread_sender {
    tr_system *sys;
    tr_ref to;
    uint32_t id;
    int failures;
};

static void *
thread_send(void *arg)
{
    struct thread_sender *t = arg;
    for (uint32_t i = 0; i < PER_SENDER; i++) {
        struct seq_msg q = {t->id, i};
        if (tr_system_send(t->sys, t->to, M_SEQ, &q, sizeof q) != 0)
            t->failures++;
    }
    return NULL;
}

static void
test_per_pair_fifo_across_loops_and_threads(void **state)
{
    (void)state;
    tr_system *sys;
    tr_config cfg = {.loops = 3};
    assert_int_equal(tr_system_open(&sys, &cfg), 0);
    tr_inbox *ib;
    assert_int_equal(tr_inbox_alloc(&ib, sys), 0);
    enum { THREADS = 2 };
    struct receiver_arg arg = {tr_inbox_ref(ib),
                               (SENDERS + THREADS) * PER_SENDER};
    tr_spawn_opts on0 = {.placement = TR_PLACE_LOOP, .loop = 0};
    tr_ref recv;
    assert_int_equal(
        tr_system_spawn(&recv, sys, &receiver, &arg, sizeof arg, &on0), 0);
    for (uint32_t i = 0; i < SENDERS; i++) {
        // Senders on every loop, the receiver's own included.
        tr_spawn_opts o = {.placement = TR_PLACE_LOOP, .loop = i % 3};
        tr_ref s;
        assert_int_equal(tr_system_spawn(&s, sys, &sender, NULL, 0, &o), 0);
        struct go go = {recv, i};
        assert_int_equal(tr_system_send(sys, s, M_GO, &go, sizeof go), 0);
    }
    pthread_t th[THREADS];
    struct thread_sender ts[THREADS];
    for (uint32_t i = 0; i < THREADS; i++) {
        ts[i] = (struct thread_sender){sys, recv, SENDERS + i, 0};
        assert_int_equal(pthread_create(&th[i], NULL, thread_send, &ts[i]), 0);
    }
    for (uint32_t i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(ts[i].failures, 0);
    }
    tr_msg *m = test_recv(ib, M_DONE);
    uint32_t bad;
    memcpy(&bad, tr_msg_data(m), sizeof bad);
    assert_int_equal(bad, 0);
    tr_msg_free(m);
    tr_inbox_free(ib);
    tr_stats st;
    assert_int_equal(tr_system_close(sys, TEST_WAIT_MS, &st), 0);
    assert_int_equal(st.actors_live, 0);
    assert_int_equal(st.dead_letters, 0);
}

// The flooder always has a message for itself; without a per-turn budget
// the ticker on the same loop would never run.
static int
flooder_receive(tr_ctx *ctx, const tr_msg *m)
{
    (void)m;
    return tr_send(ctx, tr_self(ctx), M_FLOOD, NULL, 0);
}

static const tr_behavior flooder = {
    .name = "flooder",
    .receive = flooder_receive,
};

static int
ticker_receive(tr_ctx *ctx, const tr_msg *m)
{
    if (tr_msg_type(m) != M_PING)
        return TR_EUNHANDLED;
    return tr_reply(ctx, m, M_PONG, NULL, 0);
}

static const tr_behavior ticker = {
    .name = "ticker",
    .receive = ticker_receive,
};

static void
test_flooding_actor_does_not_starve_its_neighbour(void **state)
{
    (void)state;
    tr_system *sys;
    tr_config cfg = {.loops = 1, .budget = 16};
    assert_int_equal(tr_system_open(&sys, &cfg), 0);
    tr_inbox *ib;
    assert_int_equal(tr_inbox_alloc(&ib, sys), 0);
    tr_ref f, t;
    assert_int_equal(tr_system_spawn(&f, sys, &flooder, NULL, 0, NULL), 0);
    assert_int_equal(tr_system_spawn(&t, sys, &ticker, NULL, 0, NULL), 0);
    assert_int_equal(tr_system_send(sys, f, M_FLOOD, NULL, 0), 0);
    for (int i = 0; i < 100; i++) {
        assert_int_equal(tr_inbox_send(ib, t, M_PING, NULL, 0), 0);
        tr_msg_free(test_recv(ib, M_PONG));
    }
    tr_stats st;
    tr_system_stats(sys, &st);
    assert_true(st.msgs_sent > 200); // the flooder really was flooding
    tr_inbox_free(ib);
    test_close(sys);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_per_pair_fifo_across_loops_and_threads),
        cmocka_unit_test(test_flooding_actor_does_not_starve_its_neighbour),
    };
    test_main("actors/order", tests, argc, argv);
}
