// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// Timers, requests with deadlines, cancellation, deadline inheritance,
// gather, bounded concurrency and retry. All but the last tests run on a
// manual system (tr_config.manual): one loop driven by the test on a
// virtual clock, so they are instant and the same every time.
#include "tests/test.h"

#include <stdlib.h>
#include <string.h>

enum {
    // to the client
    C_REQ = 1, // struct creq: make a request
    C_TIMER,   // struct ctimer: arm a timer to self
    C_CANCEL,  // uint64_t: cancel that timer
    C_GATHER,  // struct cgather
    C_RETRY,   // struct cretry
    C_TICK,    // a timer's message: reported as R_TICK
    // to the server
    S_ECHO,    // request: reply int + 1
    S_SILENT,  // request: keep the token, never reply (S_LATE replies)
    S_LATE,    // reply now to the kept token
    S_CRASH,   // request: crash
    S_FWD,     // request: forward to tr_ref payload with a 5 s timeout
    S_BUDGET,  // request: reply with tr_budget_ms
    S_FLAKY,   // request: ignore the first two, reply to the third
    S_HOLD,    // request: keep the token; reply to all on S_RELEASE
    S_RELEASE, // reply to every held token
    // reports to the test's inbox
    R_DONE,    // struct rdone
    R_TICK,    // int64_t virtual ms
    R_CANCEL,  // tr_request_info, the server got TR_MSG_CANCEL
    R_GATHER,  // int statuses[n]
    R_SEEN,    // int64_t virtual ms at which the server saw a request
    R_MAXHELD, // int: most tokens the server held at once
};

struct creq {
    tr_ref to;
    uint32_t type;
    int64_t timeout_ms;
    int32_t arg;
    tr_ref fwd;
};

struct rdone {
    int status;
    int32_t value;
    int64_t at_ms;
};

static tr_ref report; // the test's inbox; set before any actor runs

static int64_t
now_ms(tr_ctx *ctx)
{
    return tr_ctx_now_ns(ctx) / 1000000;
}

static void
on_reply(tr_ctx *ctx, int status, const tr_msg *reply, void *cookie)
{
    (void)cookie;
    struct rdone d = {.status = status, .at_ms = now_ms(ctx)};
    if (reply != NULL && tr_msg_size(reply) == sizeof d.value)
        memcpy(&d.value, tr_msg_data(reply), sizeof d.value);
    tr_send(ctx, report, R_DONE, &d, sizeof d);
}

// --- the server ----------------------------------------------------------
struct server {
    tr_reply_token held[64];
    int nheld, maxheld, flaky;
};

static void
fwd_done(tr_ctx *ctx, int status, const tr_msg *reply, void *cookie)
{
    tr_reply_token *t = cookie;
    on_reply(ctx, status, reply, NULL);
    if (status == 0)
        tr_reply_to(ctx, t, S_ECHO, tr_msg_data(reply), tr_msg_size(reply));
    tr_msg_free(NULL);
    free(t);
}

static int
server_receive(tr_ctx *ctx, const tr_msg *m)
{
    struct server *s = tr_state(ctx);
    int32_t v = 0;
    if (tr_msg_size(m) >= sizeof v)
        memcpy(&v, tr_msg_data(m), sizeof v);
    switch (tr_msg_type(m)) {
    case S_ECHO:
        v++;
        return tr_reply(ctx, m, S_ECHO, &v, sizeof v);
    case S_SILENT:
        s->held[0] = tr_reply_later(m);
        return 0;
    case S_LATE:
        return tr_reply_to(ctx, &s->held[0], S_ECHO, &v, sizeof v);
    case S_CRASH:
        return -77;
    case S_FWD: {
        tr_ref to;
        memcpy(&to, (const char *)tr_msg_data(m) + sizeof v, sizeof to);
        tr_reply_token *t = malloc(sizeof *t);
        *t = tr_reply_later(m);
        return tr_request(ctx, NULL, to, v != 0 ? (uint32_t)v : S_BUDGET, NULL,
                          0, 5000, fwd_done, t);
    }
    case S_BUDGET: {
        int32_t b = (int32_t)tr_budget_ms(ctx);
        return tr_reply(ctx, m, S_ECHO, &b, sizeof b);
    }
    case S_FLAKY: {
        int64_t at = now_ms(ctx);
        tr_send(ctx, report, R_SEEN, &at, sizeof at);
        if (++s->flaky < 3)
            return 0;
        return tr_reply(ctx, m, S_ECHO, &v, sizeof v);
    }
    case S_HOLD:
        s->held[s->nheld++] = tr_reply_later(m);
        if (s->nheld > s->maxheld)
            s->maxheld = s->nheld;
        return 0;
    case S_RELEASE:
        for (int i = 0; i < s->nheld; i++)
            tr_reply_to(ctx, &s->held[i], S_ECHO, &i, sizeof i);
        s->nheld = 0;
        return tr_send(ctx, report, R_MAXHELD, &s->maxheld, sizeof s->maxheld);
    case TR_MSG_CANCEL:
        return tr_send(ctx, report, R_CANCEL, tr_msg_data(m), tr_msg_size(m));
    default:
        return TR_EUNHANDLED;
    }
}

static const tr_behavior server = {
    .name = "server",
    .state_size = sizeof(struct server),
    .receive = server_receive,
};

// --- the client ----------------------------------------------------------
struct ctimer {
    int64_t delay_ms;
    int64_t period_ms; // 0: once
};

struct cgather {
    tr_ref to[3];
    uint32_t type[3];
    size_t n;
    size_t max_in_flight;
    bool fail_fast;
    int64_t timeout_ms;
};

struct cretry {
    tr_ref to;
    tr_retry policy;
};

static void
on_gather(tr_ctx *ctx, const tr_outcome *o, size_t n, void *cookie)
{
    (void)cookie;
    int st[32];
    for (size_t i = 0; i < n && i < 32; i++)
        st[i] = o[i].status;
    tr_send(ctx, report, R_GATHER, st, (n < 32 ? n : 32) * sizeof st[0]);
}

static int
client_init(tr_ctx *ctx, const void *arg, size_t len)
{
    // A timer armed in init (on the spawner's thread) works too.
    if (len == sizeof(int64_t))
        return tr_send_after(ctx, tr_self(ctx), C_TICK, NULL, 0,
                             *(const int64_t *)arg, NULL);
    return 0;
}

static int
client_receive(tr_ctx *ctx, const tr_msg *m)
{
    const void *p = tr_msg_data(m);
    switch (tr_msg_type(m)) {
    case C_REQ: {
        struct creq r;
        memcpy(&r, p, sizeof r);
        char buf[sizeof r.arg + sizeof r.fwd];
        memcpy(buf, &r.arg, sizeof r.arg);
        memcpy(buf + sizeof r.arg, &r.fwd, sizeof r.fwd);
        return tr_request(ctx, NULL, r.to, r.type, buf, sizeof buf,
                          r.timeout_ms, on_reply, NULL);
    }
    case C_TIMER: {
        struct ctimer t;
        memcpy(&t, p, sizeof t);
        uint64_t id;
        int rc = t.period_ms ? tr_send_every(ctx, tr_self(ctx), C_TICK, NULL, 0,
                                             t.period_ms, &id)
                             : tr_send_after(ctx, tr_self(ctx), C_TICK, NULL, 0,
                                             t.delay_ms, &id);
        return rc != 0 ? rc : tr_reply(ctx, m, C_TIMER, &id, sizeof id);
    }
    case C_CANCEL: {
        uint64_t id;
        memcpy(&id, p, sizeof id);
        int rc = tr_timer_cancel(ctx, id);
        return tr_reply(ctx, m, C_CANCEL, &rc, sizeof rc);
    }
    case C_TICK: {
        int64_t at = now_ms(ctx);
        return tr_send(ctx, report, R_TICK, &at, sizeof at);
    }
    case C_GATHER: {
        struct cgather g;
        memcpy(&g, p, sizeof g);
        tr_gather_item items[16];
        int32_t arg = 7;
        for (size_t i = 0; i < g.n; i++)
            items[i] =
                (tr_gather_item){g.to[i % 3], g.type[i % 3], &arg, sizeof arg};
        tr_gather_opts o = {g.timeout_ms, g.max_in_flight, g.fail_fast};
        return tr_gather(ctx, items, g.n, &o, on_gather, NULL);
    }
    case C_RETRY: {
        struct cretry r;
        memcpy(&r, p, sizeof r);
        int32_t arg = 1;
        return tr_request_retry(ctx, r.to, S_FLAKY, &arg, sizeof arg, &r.policy,
                                on_reply, NULL);
    }
    default:
        return TR_EUNHANDLED;
    }
}

static const tr_behavior client = {
    .name = "client",
    .init = client_init,
    .receive = client_receive,
};

// --- harness -------------------------------------------------------------
struct env {
    tr_system *sys;
    tr_inbox *ib;
};

static struct env
env_open(void)
{
    struct env e;
    tr_config cfg = {.manual = true};
    assert_int_equal(tr_system_open(&e.sys, &cfg), 0);
    assert_int_equal(tr_system_now_ns(e.sys), 0);
    assert_int_equal(tr_inbox_alloc(&e.ib, e.sys), 0);
    report = tr_inbox_ref(e.ib);
    return e;
}

static void
env_close(struct env *e)
{
    tr_inbox_free(e->ib);
    test_close(e->sys);
}

static tr_ref
spawn(struct env *e, const tr_behavior *b)
{
    tr_ref r;
    assert_int_equal(tr_system_spawn(&r, e->sys, b, NULL, 0, NULL), 0);
    return r;
}

// next returns the next report, which must be of `type`, after running.
static tr_msg *
next(struct env *e, uint32_t type)
{
    tr_system_run(e->sys);
    tr_msg *m = NULL;
    assert_int_equal(tr_inbox_recv(e->ib, &m, 0), 0);
    assert_int_equal(tr_msg_type(m), type);
    return m;
}

static void
nothing(struct env *e)
{
    tr_system_run(e->sys);
    tr_msg *m = NULL;
    int rc = tr_inbox_recv(e->ib, &m, 0);
    if (rc == 0)
        fail_msg("unexpected report of type %u", tr_msg_type(m));
}

static struct rdone
done(struct env *e)
{
    tr_msg *m = next(e, R_DONE);
    struct rdone d;
    memcpy(&d, tr_msg_data(m), sizeof d);
    tr_msg_free(m);
    return d;
}

// drain runs, then counts the reports waiting, by type, and keeps the
// R_DONE statuses in order.
struct seen {
    int count[32];
    int status[16];
    int ndone;
};

static struct seen
drain(struct env *e)
{
    struct seen s = {{0}, {0}, 0};
    tr_system_run(e->sys);
    tr_msg *m;
    while (tr_inbox_recv(e->ib, &m, 0) == 0) {
        uint32_t t = tr_msg_type(m);
        if (t < 32)
            s.count[t]++;
        if (t == R_DONE && s.ndone < 16) {
            struct rdone d;
            memcpy(&d, tr_msg_data(m), sizeof d);
            s.status[s.ndone++] = d.status;
        }
        tr_msg_free(m);
    }
    return s;
}

static int64_t
i64(tr_msg *m)
{
    int64_t v;
    memcpy(&v, tr_msg_data(m), sizeof v);
    tr_msg_free(m);
    return v;
}

static void
request(struct env *e, tr_ref c, tr_ref to, uint32_t type, int64_t timeout)
{
    struct creq r = {to, type, timeout, 41, TR_REF_NONE};
    assert_int_equal(tr_system_send(e->sys, c, C_REQ, &r, sizeof r), 0);
}

static uint64_t
timer(struct env *e, tr_ref c, int64_t delay, int64_t period)
{
    struct ctimer t = {delay, period};
    tr_inbox_send(e->ib, c, C_TIMER, &t, sizeof t);
    tr_msg *m = next(e, C_TIMER);
    return (uint64_t)i64(m);
}

// --- timers --------------------------------------------------------------
static void
test_timer_fires_at_its_time_not_before(void **state)
{
    (void)state;
    struct env e = env_open();
    tr_ref c = spawn(&e, &client);
    timer(&e, c, 100, 0);
    tr_system_advance(e.sys, 99);
    nothing(&e);
    tr_system_advance(e.sys, 1);
    assert_int_equal(i64(next(&e, R_TICK)), 100);
    tr_system_advance(e.sys, 1000);
    nothing(&e);
    env_close(&e);
}

static void
test_periodic_timer_and_cancel(void **state)
{
    (void)state;
    struct env e = env_open();
    tr_ref c = spawn(&e, &client);
    uint64_t id = timer(&e, c, 0, 10);
    tr_system_advance(e.sys, 55);
    for (int i = 1; i <= 5; i++)
        assert_int_equal(i64(next(&e, R_TICK)), 10 * i);
    nothing(&e);
    tr_inbox_send(e.ib, c, C_CANCEL, &id, sizeof id);
    tr_msg *m = next(&e, C_CANCEL);
    assert_int_equal(*(const int *)tr_msg_data(m), 0);
    tr_msg_free(m);
    tr_system_advance(e.sys, 100);
    nothing(&e);
    // Cancelling again, or a fired one-shot, is TR_EINVAL.
    tr_inbox_send(e.ib, c, C_CANCEL, &id, sizeof id);
    m = next(&e, C_CANCEL);
    assert_int_equal(*(const int *)tr_msg_data(m), TR_EINVAL);
    tr_msg_free(m);
    env_close(&e);
}

static void
test_timers_die_with_their_owner_and_init_timers_work(void **state)
{
    (void)state;
    struct env e = env_open();
    int64_t delay = 30;
    tr_ref c;
    assert_int_equal(
        tr_system_spawn(&c, e.sys, &client, &delay, sizeof delay, NULL), 0);
    tr_system_advance(e.sys, 30);
    assert_int_equal(i64(next(&e, R_TICK)), 30);
    timer(&e, c, 50, 0);
    timer(&e, c, 0, 5);
    tr_system_stop(e.sys, c, TR_EXIT_NORMAL);
    tr_system_run(e.sys);
    tr_msg *m;
    while (tr_inbox_recv(e.ib, &m, 0) == 0) // ticks before the stop
        tr_msg_free(m);
    tr_system_advance(e.sys, 1000);
    nothing(&e);
    tr_stats st;
    tr_system_stats(e.sys, &st);
    assert_int_equal(st.actors_live, 1); // just the inbox
    env_close(&e);
}

// --- requests ------------------------------------------------------------
static void
test_request_reply(void **state)
{
    (void)state;
    struct env e = env_open();
    tr_ref c = spawn(&e, &client), s = spawn(&e, &server);
    request(&e, c, s, S_ECHO, 1000);
    struct rdone d = done(&e);
    assert_int_equal(d.status, 0);
    assert_int_equal(d.value, 42);
    tr_system_advance(e.sys, 5000); // the cancelled deadline stays quiet
    nothing(&e);
    env_close(&e);
}

static void
test_request_timeout_once_then_late_reply_counted(void **state)
{
    (void)state;
    struct env e = env_open();
    tr_ref c = spawn(&e, &client), s = spawn(&e, &server);
    request(&e, c, s, S_SILENT, 250);
    tr_system_advance(e.sys, 249);
    nothing(&e);
    tr_system_advance(e.sys, 1);
    struct rdone d = done(&e);
    assert_int_equal(d.status, TR_ETIMEDOUT);
    assert_int_equal(d.at_ms, 250);
    // The responder heard that the request was abandoned.
    tr_msg *m = next(&e, R_CANCEL);
    tr_request_info info;
    memcpy(&info, tr_msg_data(m), sizeof info);
    tr_msg_free(m);
    assert_true(tr_ref_eq(info.requester, c));
    // A reply now is dropped and counted, and no second callback runs.
    tr_system_send(e.sys, s, S_LATE, NULL, 0);
    nothing(&e);
    tr_stats st;
    tr_system_stats(e.sys, &st);
    assert_int_equal(st.late_replies, 1);
    env_close(&e);
}

static void
test_responder_death_fails_at_once(void **state)
{
    (void)state;
    struct env e = env_open();
    tr_ref c = spawn(&e, &client), s = spawn(&e, &server);
    request(&e, c, s, S_CRASH, 10000);
    struct rdone d = done(&e); // no time passes
    assert_int_equal(d.status, TR_EDOWN);
    assert_int_equal(d.at_ms, 0);
    // A responder that is already gone, or never was.
    request(&e, c, s, S_ECHO, 10000);
    assert_int_equal(done(&e).status, TR_EDOWN);
    request(&e, c, (tr_ref){(5ull << 24) | 3}, S_ECHO, 10000);
    assert_int_equal(done(&e).status, TR_EDOWN);
    tr_system_advance(e.sys, 20000);
    nothing(&e);
    env_close(&e);
}

static void
test_requester_death_means_no_callback_and_responder_told(void **state)
{
    (void)state;
    struct env e = env_open();
    tr_ref c = spawn(&e, &client), s = spawn(&e, &server);
    request(&e, c, s, S_SILENT, 1000);
    tr_system_run(e.sys);
    tr_system_stop(e.sys, c, TR_EXIT_NORMAL);
    tr_msg *m = next(&e, R_CANCEL);
    tr_msg_free(m);
    tr_system_advance(e.sys, 5000);
    nothing(&e);
    tr_stats st;
    tr_system_stats(e.sys, &st);
    assert_int_equal(st.requests_abandoned, 1);
    env_close(&e);
}

static void
test_deadline_inherited_along_a_chain_and_cancel_passed_on(void **state)
{
    (void)state;
    struct env e = env_open();
    tr_ref a = spawn(&e, &client), b = spawn(&e, &server),
           c = spawn(&e, &server);
    // a -> b with 1 s; b forwards to c asking 5 s; c reports its budget.
    struct creq r = {b, S_FWD, 1000, 0, c};
    tr_system_send(e.sys, a, C_REQ, &r, sizeof r);
    tr_system_advance(e.sys, 300);
    struct rdone d = done(&e); // b's callback: c's reply
    assert_int_equal(d.status, 0);
    assert_int_equal(d.value, 1000); // inherited, not 5000
    d = done(&e);                    // a's callback: b's reply
    assert_int_equal(d.value, 1000);

    // Cancellation passes downstream: with c2 silent, a stops while its
    // request to b is pending; b's own request to c2, made for it, is
    // cancelled (b's callback gets TR_ECANCELED) and c2 hears of it. Both
    // deadlines are still far off, so nothing times out. a gets no
    // callback.
    tr_ref c2 = spawn(&e, &server);
    struct creq r2 = {b, S_FWD, 1000, S_SILENT, c2};
    tr_system_send(e.sys, a, C_REQ, &r2, sizeof r2);
    tr_system_advance(e.sys, 100);
    nothing(&e);
    tr_system_stop(e.sys, a, TR_EXIT_NORMAL);
    struct seen got = drain(&e);
    assert_int_equal(got.count[R_DONE], 1);
    assert_int_equal(got.status[0], TR_ECANCELED);
    assert_int_equal(got.count[R_CANCEL], 2); // b and c2 both told
    tr_system_advance(e.sys, 10000);
    nothing(&e);
    env_close(&e);
}

static void
test_gather_mixed_outcomes_in_order(void **state)
{
    (void)state;
    struct env e = env_open();
    tr_ref c = spawn(&e, &client), s1 = spawn(&e, &server),
           s2 = spawn(&e, &server), s3 = spawn(&e, &server);
    struct cgather g = {{s1, s2, s3}, {S_ECHO, S_CRASH, S_SILENT}, 3, 0, false,
                        500};
    tr_system_send(e.sys, c, C_GATHER, &g, sizeof g);
    tr_system_run(e.sys);
    tr_system_advance(e.sys, 499);
    nothing(&e);
    tr_system_advance(e.sys, 1);
    tr_msg *m = next(&e, R_GATHER);
    const int *st = tr_msg_data(m);
    assert_int_equal(tr_msg_size(m), 3 * sizeof(int));
    assert_int_equal(st[0], 0);
    assert_int_equal(st[1], TR_EDOWN);
    assert_int_equal(st[2], TR_ETIMEDOUT);
    tr_msg_free(m);
    tr_msg_free(next(&e, R_CANCEL)); // s3 told
    env_close(&e);
}

static void
test_gather_fail_fast_cancels_the_rest(void **state)
{
    (void)state;
    struct env e = env_open();
    tr_ref c = spawn(&e, &client), s1 = spawn(&e, &server),
           s2 = spawn(&e, &server), s3 = spawn(&e, &server);
    struct cgather g = {{s1, s2, s3}, {S_SILENT, S_CRASH, S_SILENT}, 3, 0, true,
                        500};
    tr_system_send(e.sys, c, C_GATHER, &g, sizeof g);
    tr_msg *m = next(&e, R_GATHER); // at once: no time passed
    const int *st = tr_msg_data(m);
    assert_int_equal(st[0], TR_ECANCELED);
    assert_int_equal(st[1], TR_EDOWN);
    assert_int_equal(st[2], TR_ECANCELED);
    tr_msg_free(m);
    tr_msg_free(next(&e, R_CANCEL));
    tr_msg_free(next(&e, R_CANCEL));
    tr_system_advance(e.sys, 1000);
    nothing(&e);
    env_close(&e);
}

static void
test_bounded_concurrency(void **state)
{
    (void)state;
    struct env e = env_open();
    tr_ref c = spawn(&e, &client), s = spawn(&e, &server);
    struct cgather g = {{s, s, s}, {S_HOLD, S_HOLD, S_HOLD}, 12, 3, false,
                        10000};
    tr_system_send(e.sys, c, C_GATHER, &g, sizeof g);
    for (int round = 0; round < 4; round++) {
        tr_system_run(e.sys);
        tr_system_send(e.sys, s, S_RELEASE, NULL, 0);
        tr_msg *m = next(&e, R_MAXHELD);
        assert_int_equal(*(const int *)tr_msg_data(m), 3);
        tr_msg_free(m);
    }
    tr_msg *m = next(&e, R_GATHER);
    for (int i = 0; i < 12; i++)
        assert_int_equal(((const int *)tr_msg_data(m))[i], 0);
    tr_msg_free(m);
    env_close(&e);
}

static void
test_retry_backs_off_and_succeeds(void **state)
{
    (void)state;
    struct env e = env_open();
    tr_ref c = spawn(&e, &client), s = spawn(&e, &server);
    struct cretry r = {s,
                       {.max_attempts = 5,
                        .timeout_ms = 10000,
                        .attempt_timeout_ms = 100,
                        .backoff_ms = 200,
                        .backoff_max_ms = 300}};
    tr_system_send(e.sys, c, C_RETRY, &r, sizeof r);
    tr_system_advance(e.sys, 2000);
    int64_t seen[3];
    int n = 0, cancels = 0;
    struct rdone d = {.status = 1};
    tr_msg *m;
    while (tr_inbox_recv(e.ib, &m, 0) == 0) {
        if (tr_msg_type(m) == R_SEEN && n < 3)
            memcpy(&seen[n++], tr_msg_data(m), sizeof seen[0]);
        else if (tr_msg_type(m) == R_CANCEL)
            cancels++;
        else if (tr_msg_type(m) == R_DONE)
            memcpy(&d, tr_msg_data(m), sizeof d);
        tr_msg_free(m);
    }
    assert_int_equal(n, 3);
    assert_int_equal(cancels, 2); // each timed-out attempt was cancelled
    assert_int_equal(d.status, 0);
    // Attempt 1 at 0, times out at 100, pauses 100..200 (half of 200 +
    // jitter); attempt 2 times out 100 later and pauses 150..300 (400
    // capped at 300).
    assert_int_equal(seen[0], 0);
    assert_in_range(seen[1] - seen[0], 200, 300);
    assert_in_range(seen[2] - seen[1], 250, 400);
    env_close(&e);
}

static void
test_retry_stops_at_the_budget(void **state)
{
    (void)state;
    struct env e = env_open();
    tr_ref c = spawn(&e, &client), s = spawn(&e, &server);
    struct cretry r = {s,
                       {.max_attempts = 100,
                        .timeout_ms = 1000,
                        .attempt_timeout_ms = 0,
                        .backoff_ms = 10}};
    // A server that never answers: S_FLAKY replies only on the 3rd call,
    // and the first attempt takes the whole budget.
    tr_system_send(e.sys, c, C_RETRY, &r, sizeof r);
    tr_system_advance(e.sys, 5000);
    struct seen got = drain(&e);
    assert_int_equal(got.count[R_SEEN], 1);
    assert_int_equal(got.count[R_DONE], 1);
    assert_int_equal(got.status[0], TR_ETIMEDOUT);
    env_close(&e);
}

// --- real time -----------------------------------------------------------
static void
test_call_from_outside(void **state)
{
    (void)state;
    tr_system *sys;
    tr_config cfg = {.loops = 2};
    assert_int_equal(tr_system_open(&sys, &cfg), 0);
    tr_ref s;
    assert_int_equal(tr_system_spawn(&s, sys, &server, NULL, 0, NULL), 0);
    int32_t v = 9;
    tr_msg *m = NULL;
    assert_int_equal(tr_call(sys, s, S_ECHO, &v, sizeof v, 5000, &m), 0);
    assert_int_equal(*(const int32_t *)tr_msg_data(m), 10);
    tr_msg_free(m);
    int64_t t0 = tr_now_ns();
    assert_int_equal(tr_call(sys, s, S_SILENT, &v, sizeof v, 100, &m),
                     TR_ETIMEDOUT);
    assert_in_range((tr_now_ns() - t0) / 1000000, 100, 5000);
    assert_null(m);
    assert_int_equal(tr_call(sys, s, S_CRASH, &v, sizeof v, 5000, &m),
                     TR_EDOWN);
    assert_int_equal(tr_call(sys, s, S_ECHO, &v, sizeof v, 5000, &m), TR_EDOWN);
    test_close(sys);
}

static tr_msg *
recv_type(tr_inbox *ib, uint32_t type)
{
    tr_msg *m = test_recv(ib, type);
    return m;
}

static struct rdone
recv_done(tr_inbox *ib)
{
    tr_msg *m = recv_type(ib, R_DONE);
    struct rdone d;
    memcpy(&d, tr_msg_data(m), sizeof d);
    tr_msg_free(m);
    return d;
}

static void
test_requests_across_loops_in_real_time(void **state)
{
    (void)state;
    tr_system *sys;
    tr_config cfg = {.loops = 2};
    assert_int_equal(tr_system_open(&sys, &cfg), 0);
    tr_inbox *ib;
    assert_int_equal(tr_inbox_alloc(&ib, sys), 0);
    report = tr_inbox_ref(ib);
    tr_spawn_opts on0 = {.placement = TR_PLACE_LOOP, .loop = 0};
    tr_spawn_opts on1 = {.placement = TR_PLACE_LOOP, .loop = 1};
    tr_ref c, s;
    assert_int_equal(tr_system_spawn(&c, sys, &client, NULL, 0, &on0), 0);
    assert_int_equal(tr_system_spawn(&s, sys, &server, NULL, 0, &on1), 0);

    // Reply.
    struct creq r = {s, S_ECHO, 5000, 41, TR_REF_NONE};
    tr_system_send(sys, c, C_REQ, &r, sizeof r);
    struct rdone d = recv_done(ib);
    assert_int_equal(d.status, 0);
    assert_int_equal(d.value, 42);

    // Timeout: never before the deadline, and the responder is told.
    r.type = S_SILENT;
    r.timeout_ms = 50;
    int64_t t0 = tr_now_ns();
    tr_system_send(sys, c, C_REQ, &r, sizeof r);
    // The client's R_DONE and the server's R_CANCEL come in either order.
    bool got_done = false, got_cancel = false;
    for (int i = 0; i < 2; i++) {
        tr_msg *m = NULL;
        assert_int_equal(tr_inbox_recv(ib, &m, TEST_WAIT_MS), 0);
        if (tr_msg_type(m) == R_DONE) {
            int64_t ms = (tr_now_ns() - t0) / 1000000;
            memcpy(&d, tr_msg_data(m), sizeof d);
            assert_int_equal(d.status, TR_ETIMEDOUT);
            assert_in_range(ms, 50, 5000);
            got_done = true;
        } else {
            assert_int_equal(tr_msg_type(m), R_CANCEL);
            got_cancel = true;
        }
        tr_msg_free(m);
    }
    assert_true(got_done && got_cancel);

    // A timer on the real clock never fires early either.
    struct ctimer tm = {30, 0};
    t0 = tr_now_ns();
    tr_inbox_send(ib, c, C_TIMER, &tm, sizeof tm);
    tr_msg_free(recv_type(ib, C_TIMER));
    tr_msg_free(recv_type(ib, R_TICK));
    assert_in_range((tr_now_ns() - t0) / 1000000, 30, 5000);

    // Responder death: long before the 10 s deadline.
    r.type = S_CRASH;
    r.timeout_ms = 10000;
    t0 = tr_now_ns();
    tr_system_send(sys, c, C_REQ, &r, sizeof r);
    d = recv_done(ib);
    assert_int_equal(d.status, TR_EDOWN);
    assert_true((tr_now_ns() - t0) / 1000000 < 5000);

    // Requester death: no callback; a new server hears of it.
    assert_int_equal(tr_system_spawn(&s, sys, &server, NULL, 0, &on1), 0);
    r.to = s;
    r.type = S_FLAKY; // reports R_SEEN, does not answer a first request
    tr_system_send(sys, c, C_REQ, &r, sizeof r);
    tr_msg_free(recv_type(ib, R_SEEN)); // the request is pending now
    tr_system_stop(sys, c, TR_EXIT_NORMAL);
    tr_msg_free(recv_type(ib, R_CANCEL));
    tr_msg *m;
    assert_int_equal(tr_inbox_recv(ib, &m, 100), TR_ETIMEDOUT);

    tr_inbox_free(ib);
    tr_stats st;
    assert_int_equal(tr_system_close(sys, TEST_WAIT_MS, &st), 0);
    assert_int_equal(st.actors_live, 0);
    assert_true(st.timers_fired >= 2);
    assert_true(st.timer_late_max_ns >= 0);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timer_fires_at_its_time_not_before),
        cmocka_unit_test(test_periodic_timer_and_cancel),
        cmocka_unit_test(test_timers_die_with_their_owner_and_init_timers_work),
        cmocka_unit_test(test_request_reply),
        cmocka_unit_test(test_request_timeout_once_then_late_reply_counted),
        cmocka_unit_test(test_responder_death_fails_at_once),
        cmocka_unit_test(
            test_requester_death_means_no_callback_and_responder_told),
        cmocka_unit_test(
            test_deadline_inherited_along_a_chain_and_cancel_passed_on),
        cmocka_unit_test(test_gather_mixed_outcomes_in_order),
        cmocka_unit_test(test_gather_fail_fast_cancels_the_rest),
        cmocka_unit_test(test_bounded_concurrency),
        cmocka_unit_test(test_retry_backs_off_and_succeeds),
        cmocka_unit_test(test_retry_stops_at_the_budget),
        cmocka_unit_test(test_call_from_outside),
        cmocka_unit_test(test_requests_across_loops_in_real_time),
    };
    test_main("actors/time", tests, argc, argv);
}
