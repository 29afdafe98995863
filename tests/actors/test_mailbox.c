// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// Bounded mailboxes: TR_EFULL at exactly the capacity, the drop policies
// (sent = delivered + dropped), signals and DOWN getting through a full
// mailbox, waiting senders, and racing producers (for TSan); senders on
// other threads, on another loop and on the sink's own loop (whose sends
// take their own path).
#include "tests/test.h"

#include <pthread.h>
#include <string.h>

enum {
    S_BLOCK = 1,
    S_ITEM,
    S_REPORT,
    R_REPORT,
    R_STOP,
    P_GO,
    R_PRODUCED,
    B_GO,
    R_BURST
};

struct sink {
    uint32_t count, first, last;
    tr_ref report;
};

struct sink_report {
    uint32_t count, first, last;
};

static int
sink_init(tr_ctx *ctx, const void *arg, size_t len)
{
    struct sink *s = tr_state(ctx);
    memcpy(&s->report, arg, len);
    return 0;
}

static int
sink_receive(tr_ctx *ctx, const tr_msg *m)
{
    struct sink *s = tr_state(ctx);
    switch (tr_msg_type(m)) {
    case S_BLOCK: {
        _Atomic int *flag;
        memcpy(&flag, tr_msg_data(m), sizeof flag);
        atomic_store(flag, 2);
        int64_t end = tr_now_ns() + (int64_t)TEST_WAIT_MS * 1000000;
        while (atomic_load(flag) != 0 && tr_now_ns() < end)
            ;
        return 0;
    }
    case S_ITEM: {
        uint32_t seq;
        memcpy(&seq, tr_msg_data(m), sizeof seq);
        if (s->count++ == 0)
            s->first = seq;
        s->last = seq;
        return 0;
    }
    case S_REPORT: {
        struct sink_report r = {s->count, s->first, s->last};
        return tr_send(ctx, s->report, R_REPORT, &r, sizeof r);
    }
    default:
        return TR_EUNHANDLED;
    }
}

static void
sink_stop(tr_ctx *ctx, int reason)
{
    struct sink *s = tr_state(ctx);
    tr_send(ctx, s->report, R_STOP, &reason, sizeof reason);
}

static const tr_behavior sink = {
    .name = "sink",
    .state_size = sizeof(struct sink),
    .init = sink_init,
    .receive = sink_receive,
    .stop = sink_stop,
};

struct env {
    tr_system *sys;
    tr_inbox *ib;
    tr_ref sink;
    _Atomic int flag;
};

static void
env_open(struct env *e, uint32_t cap, enum tr_overflow policy, int64_t wait_ms)
{
    tr_config cfg = {.loops = 2};
    assert_int_equal(tr_system_open(&e->sys, &cfg), 0);
    assert_int_equal(tr_inbox_alloc(&e->ib, e->sys), 0);
    tr_ref rep = tr_inbox_ref(e->ib);
    // The sink on loop 0: producers on loop 1 send across loops, on loop
    // 0 from its own loop.
    tr_spawn_opts o = {.placement = TR_PLACE_LOOP,
                       .loop = 0,
                       .capacity = cap,
                       .overflow = policy,
                       .wait_ms = wait_ms};
    assert_int_equal(
        tr_system_spawn(&e->sink, e->sys, &sink, &rep, sizeof rep, &o), 0);
}

// block makes the sink sit in a handler until unblock().
static void
block(struct env *e)
{
    atomic_store(&e->flag, 1);
    _Atomic int *p = &e->flag;
    assert_int_equal(tr_system_send(e->sys, e->sink, S_BLOCK, &p, sizeof p), 0);
    TEST_WAIT_UNTIL(atomic_load(&e->flag) == 2);
    assert_int_equal(atomic_load(&e->flag), 2);
}

static void
unblock(struct env *e)
{
    atomic_store(&e->flag, 0);
}

static int
send_items(struct env *e, uint32_t from, uint32_t n, int *refused)
{
    int ok = 0;
    *refused = 0;
    for (uint32_t i = from; i < from + n; i++) {
        int rc = tr_system_send(e->sys, e->sink, S_ITEM, &i, sizeof i);
        if (rc == 0)
            ok++;
        else if (rc == TR_EFULL)
            (*refused)++;
    }
    return ok;
}

static struct sink_report
report(struct env *e)
{
    // The report request is itself a user message, subject to the policy:
    // send it once the mailbox has drained.
    int64_t end = tr_now_ns() + (int64_t)TEST_WAIT_MS * 1000000;
    tr_mailbox_info mi;
    while (tr_mailbox_stats(e->sys, e->sink, &mi) == 0 && mi.queued != 0 &&
           tr_now_ns() < end)
        sched_yield();
    assert_int_equal(mi.queued, 0);
    assert_int_equal(tr_system_send(e->sys, e->sink, S_REPORT, NULL, 0), 0);
    tr_msg *m = test_recv(e->ib, R_REPORT);
    struct sink_report r;
    memcpy(&r, tr_msg_data(m), sizeof r);
    tr_msg_free(m);
    return r;
}

static void
env_close(struct env *e)
{
    tr_inbox_free(e->ib);
    test_close(e->sys);
}

static void
test_refuse_at_exactly_the_capacity(void **state)
{
    (void)state;
    struct env e;
    env_open(&e, 100, TR_OVERFLOW_REFUSE, 0);
    block(&e);
    int refused;
    assert_int_equal(send_items(&e, 0, 250, &refused), 100);
    assert_int_equal(refused, 150);
    tr_mailbox_info mi;
    assert_int_equal(tr_mailbox_stats(e.sys, e.sink, &mi), 0);
    assert_int_equal(mi.capacity, 100);
    assert_int_equal(mi.queued, 100);
    assert_int_equal(mi.refused, 150);
    unblock(&e);
    struct sink_report r = report(&e);
    assert_int_equal(r.count, 100);
    assert_int_equal(r.first, 0);
    assert_int_equal(r.last, 99);
    tr_stats st;
    tr_system_stats(e.sys, &st);
    assert_int_equal(st.msgs_refused, 150);
    env_close(&e);
}

static void
test_drop_newest_keeps_the_first(void **state)
{
    (void)state;
    struct env e;
    env_open(&e, 100, TR_OVERFLOW_DROP_NEWEST, 0);
    block(&e);
    int refused;
    assert_int_equal(send_items(&e, 0, 250, &refused), 250);
    unblock(&e);
    struct sink_report r = report(&e);
    assert_int_equal(r.count, 100);
    assert_int_equal(r.first, 0);
    assert_int_equal(r.last, 99);
    tr_mailbox_info mi;
    assert_int_equal(tr_mailbox_stats(e.sys, e.sink, &mi), 0);
    assert_int_equal(mi.dropped, 150); // sent = delivered + dropped
    env_close(&e);
}

static void
test_drop_oldest_keeps_the_last(void **state)
{
    (void)state;
    struct env e;
    env_open(&e, 100, TR_OVERFLOW_DROP_OLDEST, 0);
    block(&e);
    int refused;
    assert_int_equal(send_items(&e, 0, 250, &refused), 250);
    unblock(&e);
    struct sink_report r = report(&e);
    assert_int_equal(r.count, 100);
    assert_int_equal(r.first, 150);
    assert_int_equal(r.last, 249);
    tr_mailbox_info mi;
    assert_int_equal(tr_mailbox_stats(e.sys, e.sink, &mi), 0);
    assert_int_equal(mi.dropped, 150);
    env_close(&e);
}

static void
test_signals_and_down_pass_a_full_mailbox(void **state)
{
    (void)state;
    struct env e;
    env_open(&e, 10, TR_OVERFLOW_REFUSE, 0);
    block(&e);
    int refused;
    assert_int_equal(send_items(&e, 0, 20, &refused), 10);
    uint64_t mon;
    assert_int_equal(tr_inbox_monitor(e.ib, e.sink, &mon), 0);
    assert_int_equal(tr_system_stop(e.sys, e.sink, TR_EXIT_NORMAL), 0);
    unblock(&e);
    tr_msg *m = test_recv(e.ib, R_STOP);
    tr_msg_free(m);
    m = test_recv(e.ib, TR_MSG_DOWN);
    tr_msg_free(m);
    env_close(&e);
}

static void
test_waiting_sender(void **state)
{
    (void)state;
    struct env e;
    env_open(&e, 10, TR_OVERFLOW_WAIT, 10000);
    int refused;
    // The sink keeps up: every send gets in, waiting when it must.
    assert_int_equal(send_items(&e, 0, 5000, &refused), 5000);
    assert_int_equal(refused, 0);
    struct sink_report r = report(&e);
    assert_int_equal(r.count, 5000);
    env_close(&e);

    // A stuck sink: the wait ends at wait_ms with TR_EFULL.
    env_open(&e, 10, TR_OVERFLOW_WAIT, 50);
    block(&e);
    assert_int_equal(send_items(&e, 0, 10, &refused), 10);
    uint32_t x = 10;
    int64_t t0 = tr_now_ns();
    assert_int_equal(tr_system_send(e.sys, e.sink, S_ITEM, &x, sizeof x),
                     TR_EFULL);
    assert_in_range((tr_now_ns() - t0) / 1000000, 50, 5000);
    unblock(&e);
    env_close(&e);
}

struct producer {
    struct env *e;
    uint32_t base, n, accepted;
};

static void *
produce(void *arg)
{
    struct producer *p = arg;
    for (uint32_t i = 0; i < p->n;) {
        uint32_t v = p->base + i;
        int rc = tr_system_send(p->e->sys, p->e->sink, S_ITEM, &v, sizeof v);
        if (rc == 0) {
            p->accepted++;
            i++;
        } else {
            sched_yield(); // full: let the sink catch up
        }
    }
    return NULL;
}

static void
test_racing_producers_lose_nothing(void **state)
{
    (void)state;
    struct env e;
    env_open(&e, 64, TR_OVERFLOW_REFUSE, 0);
    enum { P = 4, N = 20000 };
    pthread_t th[P];
    struct producer p[P];
    for (int i = 0; i < P; i++) {
        p[i] = (struct producer){&e, (uint32_t)i * N, N, 0};
        assert_int_equal(pthread_create(&th[i], NULL, produce, &p[i]), 0);
    }
    for (int i = 0; i < P; i++)
        pthread_join(th[i], NULL);
    struct sink_report r = report(&e);
    assert_int_equal(r.count, P * N);
    tr_mailbox_info mi;
    assert_int_equal(tr_mailbox_stats(e.sys, e.sink, &mi), 0);
    assert_true(mi.queued <= 64);
    env_close(&e);
}

// A producer that pauses on TR_EFULL and resumes on TR_MSG_WRITABLE.
struct prod {
    tr_ref sink, report;
    uint32_t next, n, pauses;
};

static int
prod_run(tr_ctx *ctx, struct prod *p)
{
    while (p->next < p->n) {
        int rc = tr_send(ctx, p->sink, S_ITEM, &p->next, sizeof p->next);
        if (rc == TR_EFULL) {
            p->pauses++;
            return tr_notify_writable(ctx, p->sink); // and wait for it
        }
        if (rc != 0)
            return rc;
        p->next++;
    }
    return tr_send(ctx, p->report, R_PRODUCED, &p->pauses, sizeof p->pauses);
}

static int
prod_receive(tr_ctx *ctx, const tr_msg *m)
{
    struct prod *p = tr_state(ctx);
    if (tr_msg_type(m) == P_GO)
        memcpy(p, tr_msg_data(m), sizeof *p);
    else if (tr_msg_type(m) != TR_MSG_WRITABLE)
        return TR_EUNHANDLED;
    return prod_run(ctx, p);
}

static const tr_behavior producer = {
    .name = "producer",
    .state_size = sizeof(struct prod),
    .receive = prod_receive,
};

// produce_start spawns a producer on `loop` and tells it to send n items
// to the sink.
static void
produce_start(struct env *e, unsigned loop, uint32_t n)
{
    tr_spawn_opts o = {.placement = TR_PLACE_LOOP, .loop = loop};
    tr_ref pr;
    assert_int_equal(tr_system_spawn(&pr, e->sys, &producer, NULL, 0, &o), 0);
    struct prod go = {e->sink, tr_inbox_ref(e->ib), 0, n, 0};
    assert_int_equal(tr_system_send(e->sys, pr, P_GO, &go, sizeof go), 0);
}

// produce_end waits for the producer to finish and checks that the sink
// got all n items in order, one refusal per pause; returns the pauses.
static uint32_t
produce_end(struct env *e, uint32_t n)
{
    tr_msg *m = test_recv(e->ib, R_PRODUCED);
    uint32_t pauses;
    memcpy(&pauses, tr_msg_data(m), sizeof pauses);
    tr_msg_free(m);
    struct sink_report r = report(e);
    assert_int_equal(r.count, n); // every message, none lost
    assert_int_equal(r.first, 0);
    assert_int_equal(r.last, n - 1);
    tr_mailbox_info mi;
    assert_int_equal(tr_mailbox_stats(e->sys, e->sink, &mi), 0);
    assert_int_equal(mi.refused, pauses); // one refusal per pause
    return pauses;
}

static void
test_producer_pauses_and_resumes_on_writable(void **state)
{
    (void)state;
    struct env e;
    env_open(&e, 64, TR_OVERFLOW_REFUSE, 0);
    block(&e); // the sink starts stuck: the producer must pause
    produce_start(&e, 1, 100000);
    int64_t end = tr_now_ns() + (int64_t)TEST_WAIT_MS * 1000000;
    tr_mailbox_info mi;
    while (tr_mailbox_stats(e.sys, e.sink, &mi) == 0 && mi.refused == 0 &&
           tr_now_ns() < end)
        sched_yield();
    unblock(&e);
    assert_true(produce_end(&e, 100000) >= 1);
    env_close(&e);
}

// The producer on the sink's own loop: it fills the mailbox in one turn,
// pauses, and the sink runs between its turns.
static void
test_same_loop_producer_pauses_and_resumes(void **state)
{
    (void)state;
    struct env e;
    env_open(&e, 64, TR_OVERFLOW_REFUSE, 0);
    produce_start(&e, 0, 100000);
    uint32_t pauses = produce_end(&e, 100000);
    // The sink cannot run during the producer's turn: every pause comes
    // after exactly a full mailbox, and the sink frees at least half.
    assert_true(pauses >= 100000 / 64);
    assert_true(pauses <= 100000 / 32 + 1);
    env_close(&e);
}

// A burst: N sends in one turn, counting what tr_send answered.
struct burst {
    tr_ref sink, report;
    uint32_t n, ok, full;
};

static int
burst_receive(tr_ctx *ctx, const tr_msg *m)
{
    struct burst b;
    if (tr_msg_type(m) != B_GO)
        return TR_EUNHANDLED;
    memcpy(&b, tr_msg_data(m), sizeof b);
    for (uint32_t i = 0; i < b.n; i++) {
        int rc = tr_send(ctx, b.sink, S_ITEM, &i, sizeof i);
        b.ok += rc == 0;
        b.full += rc == TR_EFULL;
    }
    return tr_send(ctx, b.report, R_BURST, &b, sizeof b);
}

static const tr_behavior burster = {.name = "burst", .receive = burst_receive};

// burst_on runs a burst of n from the given loop; returns its counts.
static struct burst
burst_on(struct env *e, unsigned loop, uint32_t n)
{
    tr_spawn_opts o = {.placement = TR_PLACE_LOOP, .loop = loop};
    tr_ref b;
    assert_int_equal(tr_system_spawn(&b, e->sys, &burster, NULL, 0, &o), 0);
    struct burst go = {e->sink, tr_inbox_ref(e->ib), n, 0, 0};
    assert_int_equal(tr_system_send(e->sys, b, B_GO, &go, sizeof go), 0);
    tr_msg *m = test_recv(e->ib, R_BURST);
    struct burst out;
    memcpy(&out, tr_msg_data(m), sizeof out);
    tr_msg_free(m);
    return out;
}

// From the sink's own loop the sink cannot run during the burst, so each
// policy's outcome is exact.
static void
test_same_loop_burst_policies(void **state)
{
    (void)state;
    struct env e;
    env_open(&e, 8, TR_OVERFLOW_REFUSE, 0);
    struct burst b = burst_on(&e, 0, 20);
    assert_int_equal(b.ok, 8);
    assert_int_equal(b.full, 12);
    struct sink_report r = report(&e);
    assert_int_equal(r.count, 8);
    assert_int_equal(r.last, 7);
    env_close(&e);

    env_open(&e, 8, TR_OVERFLOW_DROP_NEWEST, 0);
    b = burst_on(&e, 0, 20);
    assert_int_equal(b.ok, 20); // a dropped message is not an error
    r = report(&e);
    assert_int_equal(r.count, 8);
    assert_int_equal(r.first, 0);
    assert_int_equal(r.last, 7);
    tr_mailbox_info mi;
    assert_int_equal(tr_mailbox_stats(e.sys, e.sink, &mi), 0);
    assert_int_equal(mi.dropped, 12);
    env_close(&e);

    env_open(&e, 8, TR_OVERFLOW_DROP_OLDEST, 0);
    b = burst_on(&e, 0, 20);
    assert_int_equal(b.ok, 20);
    r = report(&e);
    assert_int_equal(r.count, 8);
    assert_int_equal(r.first, 12);
    assert_int_equal(r.last, 19);
    assert_int_equal(tr_mailbox_stats(e.sys, e.sink, &mi), 0);
    assert_int_equal(mi.dropped, 12);
    env_close(&e);
}

static void
test_overload_alarm_with_hysteresis(void **state)
{
    (void)state;
    struct env e;
    tr_config cfg = {.loops = 2};
    assert_int_equal(tr_system_open(&e.sys, &cfg), 0);
    assert_int_equal(tr_inbox_alloc(&e.ib, e.sys), 0);
    tr_ref rep = tr_inbox_ref(e.ib);
    // Unbounded, with watermarks: the alarm needs no capacity.
    tr_spawn_opts o = {
        .high_watermark = 50, .low_watermark = 10, .alarm_to = rep};
    assert_int_equal(
        tr_system_spawn(&e.sink, e.sys, &sink, &rep, sizeof rep, &o), 0);
    block(&e);
    int refused;
    assert_int_equal(send_items(&e, 0, 200, &refused), 200); // not bounded
    tr_msg *m = test_recv(e.ib, TR_MSG_OVERLOAD);
    tr_overload ov;
    memcpy(&ov, tr_msg_data(m), sizeof ov);
    tr_msg_free(m);
    assert_int_equal(ov.raised, 1);
    assert_int_equal(ov.queued, 50);
    assert_true(tr_ref_eq(ov.who, e.sink));
    unblock(&e);
    m = test_recv(e.ib, TR_MSG_OVERLOAD); // cleared once back to 10
    memcpy(&ov, tr_msg_data(m), sizeof ov);
    tr_msg_free(m);
    assert_int_equal(ov.raised, 0);
    assert_true(ov.queued <= 10);
    struct sink_report r = report(&e);
    assert_int_equal(r.count, 200);
    assert_int_equal(tr_inbox_recv(e.ib, &m, 0), TR_ETIMEDOUT); // no more
    tr_stats st;
    tr_system_stats(e.sys, &st);
    assert_int_equal(st.mailbox_alarms, 1);
    env_close(&e);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refuse_at_exactly_the_capacity),
        cmocka_unit_test(test_drop_newest_keeps_the_first),
        cmocka_unit_test(test_drop_oldest_keeps_the_last),
        cmocka_unit_test(test_signals_and_down_pass_a_full_mailbox),
        cmocka_unit_test(test_waiting_sender),
        cmocka_unit_test(test_racing_producers_lose_nothing),
        cmocka_unit_test(test_producer_pauses_and_resumes_on_writable),
        cmocka_unit_test(test_same_loop_producer_pauses_and_resumes),
        cmocka_unit_test(test_same_loop_burst_policies),
        cmocka_unit_test(test_overload_alarm_with_hysteresis),
    };
    test_main("actors/mailbox", tests, argc, argv);
}
