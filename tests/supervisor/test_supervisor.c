// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// Supervisors on a manual system: strategies restart exactly the right
// children in the right order (and their stop hooks run), restart types,
// intensity and escalation, ordered start, backoff, dynamic children,
// introspection.
#include <troupe/supervisor.h>

#include "tests/test.h"

#include <stdio.h>
#include <string.h>

enum { W_CRASH = 1, W_EXIT, R_START, R_STOP };

struct warg {
    int id;
    int fail_init; // init returns this when non-zero
};

struct rep {
    int id;
    int reason; // R_STOP
    int64_t at_ms;
    tr_ref self;
};

static tr_ref report;

static int
w_init(tr_ctx *ctx, const void *arg, size_t len)
{
    struct warg *w = tr_state(ctx);
    if (len != sizeof *w)
        return TR_EINVAL;
    memcpy(w, arg, sizeof *w);
    if (w->fail_init)
        return w->fail_init;
    struct rep r = {w->id, 0, tr_ctx_now_ns(ctx) / 1000000, tr_self(ctx)};
    return tr_send(ctx, report, R_START, &r, sizeof r);
}

static int
w_receive(tr_ctx *ctx, const tr_msg *m)
{
    if (tr_msg_type(m) == W_CRASH)
        return -5;
    if (tr_msg_type(m) == W_EXIT)
        tr_exit(ctx, TR_EXIT_NORMAL);
    return 0;
}

static void
w_stop(tr_ctx *ctx, int reason)
{
    struct warg *w = tr_state(ctx);
    struct rep r = {w->id, reason, tr_ctx_now_ns(ctx) / 1000000, tr_self(ctx)};
    tr_send(ctx, report, R_STOP, &r, sizeof r);
}

static const tr_behavior worker = {
    .name = "worker",
    .state_size = sizeof(struct warg),
    .init = w_init,
    .receive = w_receive,
    .stop = w_stop,
};

static struct warg args[8];

static tr_child_spec
spec_of(int id, enum tr_restart restart)
{
    args[id] = (struct warg){id, 0};
    return (tr_child_spec){.id = "w",
                           .behavior = &worker,
                           .arg = &args[id],
                           .len = sizeof args[id],
                           .restart = restart};
}

struct env {
    tr_system *sys;
    tr_inbox *ib;
    tr_ref kid[8]; // latest ref of each worker id
};

static struct env
env_open(void)
{
    struct env e;
    memset(&e, 0, sizeof e);
    tr_config cfg = {.manual = true};
    assert_int_equal(tr_system_open(&e.sys, &cfg), 0);
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

// events runs the system, then returns the reports as a string: "+2" for
// worker 2 started, "-2" for worker 2 stopped, in order.
static const char *
events(struct env *e)
{
    static char buf[256];
    size_t n = 0;
    tr_system_run(e->sys);
    tr_msg *m;
    buf[0] = 0;
    while (tr_inbox_recv(e->ib, &m, 0) == 0) {
        struct rep r;
        if (tr_msg_type(m) == R_START || tr_msg_type(m) == R_STOP) {
            memcpy(&r, tr_msg_data(m), sizeof r);
            if (tr_msg_type(m) == R_START)
                e->kid[r.id] = r.self;
            n += (size_t)snprintf(buf + n, sizeof buf - n, "%c%d",
                                  tr_msg_type(m) == R_START ? '+' : '-', r.id);
        }
        tr_msg_free(m);
    }
    return buf;
}

static tr_ref
start(struct env *e, const tr_sup_spec *spec)
{
    tr_ref s;
    assert_int_equal(tr_sup_spawn_top(&s, e->sys, spec), 0);
    return s;
}

static void
crash(struct env *e, int id)
{
    assert_int_equal(tr_system_send(e->sys, e->kid[id], W_CRASH, NULL, 0), 0);
}

static void
test_one_for_one(void **state)
{
    (void)state;
    struct env e = env_open();
    tr_child_spec k[3] = {spec_of(1, TR_PERMANENT), spec_of(2, TR_PERMANENT),
                          spec_of(3, TR_PERMANENT)};
    tr_sup_spec s = {.strategy = TR_ONE_FOR_ONE, .children = k, .n = 3};
    start(&e, &s);
    assert_string_equal(events(&e), "+1+2+3");
    crash(&e, 2);
    assert_string_equal(events(&e), "-2+2");
    env_close(&e);
}

static void
test_one_for_all(void **state)
{
    (void)state;
    struct env e = env_open();
    tr_child_spec k[3] = {spec_of(1, TR_PERMANENT), spec_of(2, TR_PERMANENT),
                          spec_of(3, TR_PERMANENT)};
    tr_sup_spec s = {.strategy = TR_ONE_FOR_ALL, .children = k, .n = 3};
    start(&e, &s);
    assert_string_equal(events(&e), "+1+2+3");
    crash(&e, 2);
    // The others stop newest first, then all start again in order.
    assert_string_equal(events(&e), "-2-3-1+1+2+3");
    env_close(&e);
}

static void
test_rest_for_one(void **state)
{
    (void)state;
    struct env e = env_open();
    tr_child_spec k[4] = {spec_of(1, TR_PERMANENT), spec_of(2, TR_PERMANENT),
                          spec_of(3, TR_PERMANENT), spec_of(4, TR_PERMANENT)};
    tr_sup_spec s = {.strategy = TR_REST_FOR_ONE, .children = k, .n = 4};
    start(&e, &s);
    assert_string_equal(events(&e), "+1+2+3+4");
    crash(&e, 2);
    assert_string_equal(events(&e), "-2-4-3+2+3+4");
    env_close(&e);
}

static void
test_restart_types(void **state)
{
    (void)state;
    struct env e = env_open();
    tr_child_spec k[3] = {spec_of(1, TR_TRANSIENT), spec_of(2, TR_TRANSIENT),
                          spec_of(3, TR_TEMPORARY)};
    tr_sup_spec s = {.strategy = TR_ONE_FOR_ONE, .children = k, .n = 3};
    tr_ref sup = start(&e, &s);
    assert_string_equal(events(&e), "+1+2+3");
    tr_system_send(e.sys, e.kid[1], W_EXIT, NULL, 0); // normal: stays down
    assert_string_equal(events(&e), "-1");
    crash(&e, 2); // transient, abnormal: restarted
    assert_string_equal(events(&e), "-2+2");
    crash(&e, 3); // temporary: never
    assert_string_equal(events(&e), "-3");
    // Introspection.
    tr_inbox_send(e.ib, sup, TR_SUP_WHICH_CHILDREN, NULL, 0);
    tr_system_run(e.sys);
    tr_msg *m;
    assert_int_equal(tr_inbox_recv(e.ib, &m, 0), 0);
    assert_int_equal(tr_msg_type(m), TR_SUP_WHICH_CHILDREN);
    assert_int_equal(tr_msg_size(m), 3 * sizeof(tr_sup_child));
    const tr_sup_child *c = tr_msg_data(m);
    assert_int_equal(c[0].state, TR_CHILD_STOPPED);
    assert_int_equal(c[1].state, TR_CHILD_RUNNING);
    assert_int_equal(c[1].restarts, 1);
    assert_true(tr_ref_eq(c[1].ref, e.kid[2]));
    assert_int_equal(c[2].state, TR_CHILD_STOPPED);
    tr_msg_free(m);
    env_close(&e);
}

static void
test_intensity_escalates_to_the_grandparent(void **state)
{
    (void)state;
    struct env e = env_open();
    // top (intensity 1) > mid (intensity 1) > worker 1
    tr_child_spec w[1] = {spec_of(1, TR_PERMANENT)};
    tr_sup_spec mid = {.strategy = TR_ONE_FOR_ONE,
                       .intensity = 1,
                       .period_ms = 1000,
                       .children = w,
                       .n = 1};
    // A supervisor child is started by a tiny behaviour that calls
    // tr_sup_spawn in its init: here, the top supervisor's child spec
    // starts such an adapter.
    extern const tr_behavior mid_adapter;
    static const tr_sup_spec *midp;
    midp = &mid;
    tr_child_spec m[1] = {{.id = "mid",
                           .behavior = &mid_adapter,
                           .arg = &midp,
                           .len = sizeof midp,
                           .restart = TR_PERMANENT}};
    tr_sup_spec top = {.strategy = TR_ONE_FOR_ONE,
                       .intensity = 1,
                       .period_ms = 1000,
                       .children = m,
                       .n = 1};
    tr_ref t = start(&e, &top);
    uint64_t mon;
    assert_int_equal(tr_inbox_monitor(e.ib, t, &mon), 0);
    assert_string_equal(events(&e), "+1");
    crash(&e, 1); // mid restarts it: 1 of 1
    assert_string_equal(events(&e), "-1+1");
    crash(&e, 1); // mid exceeds, exits; top restarts mid: 1 of 1
    assert_string_equal(events(&e), "-1+1");
    crash(&e, 1);
    assert_string_equal(events(&e), "-1+1");
    crash(&e, 1); // mid exceeds again: top exceeds too
    tr_system_run(e.sys);
    tr_msg *msg;
    int downs = 0;
    while (tr_inbox_recv(e.ib, &msg, 0) == 0) {
        if (tr_msg_type(msg) == TR_MSG_DOWN) {
            tr_down d;
            memcpy(&d, tr_msg_data(msg), sizeof d);
            assert_int_equal(d.mon, mon);
            assert_int_equal(d.reason, TR_EINTENSITY);
            downs++;
        }
        tr_msg_free(msg);
    }
    assert_int_equal(downs, 1);
    env_close(&e);
}

// mid_adapter: an actor whose init starts a supervisor as its child and
// which stops when that supervisor stops, with its reason.
static int
adapter_init(tr_ctx *ctx, const void *arg, size_t len)
{
    const tr_sup_spec *spec;
    if (len != sizeof spec)
        return TR_EINVAL;
    memcpy(&spec, arg, sizeof spec);
    tr_ref s;
    int rc = tr_sup_spawn(&s, ctx, spec);
    return rc != 0 ? rc : tr_monitor(ctx, s, NULL);
}

static int
adapter_receive(tr_ctx *ctx, const tr_msg *m)
{
    if (tr_msg_type(m) == TR_MSG_DOWN) {
        tr_down d;
        memcpy(&d, tr_msg_data(m), sizeof d);
        tr_exit(ctx, d.reason);
    }
    return 0;
}

const tr_behavior mid_adapter = {
    .name = "mid",
    .init = adapter_init,
    .receive = adapter_receive,
};

static void
test_child_init_failure_fails_the_start(void **state)
{
    (void)state;
    struct env e = env_open();
    tr_child_spec k[3] = {spec_of(1, TR_PERMANENT), spec_of(2, TR_PERMANENT),
                          spec_of(3, TR_PERMANENT)};
    args[2].fail_init = -33;
    tr_sup_spec s = {.strategy = TR_ONE_FOR_ONE, .children = k, .n = 3};
    tr_ref sup;
    assert_int_equal(tr_sup_spawn_top(&sup, e.sys, &s), -33);
    // The one started before it was stopped again; the third never ran.
    assert_string_equal(events(&e), "+1-1");
    env_close(&e);
}

static void
test_backoff_grows_and_is_capped(void **state)
{
    (void)state;
    struct env e = env_open();
    tr_child_spec k[1] = {spec_of(1, TR_PERMANENT)};
    tr_sup_spec s = {.strategy = TR_ONE_FOR_ONE,
                     .intensity = 100,
                     .period_ms = 100000,
                     .backoff_ms = 100,
                     .backoff_max_ms = 300,
                     .children = k,
                     .n = 1};
    start(&e, &s);
    assert_string_equal(events(&e), "+1");
    int64_t pause[5];
    for (int i = 0; i < 5; i++) {
        int64_t t0 = tr_system_now_ns(e.sys) / 1000000;
        crash(&e, 1);
        assert_string_equal(events(&e), "-1");
        // Step the virtual clock a millisecond at a time until it is back.
        int64_t waited = 0;
        const char *ev = "";
        while (ev[0] == 0 && waited < 1000) {
            tr_system_advance(e.sys, 1);
            waited++;
            ev = events(&e);
        }
        assert_string_equal(ev, "+1");
        pause[i] = tr_system_now_ns(e.sys) / 1000000 - t0;
    }
    // Equal jitter: between half and all of 100, 200, 300, 300, 300.
    assert_in_range(pause[0], 50, 100);
    assert_in_range(pause[1], 100, 200);
    for (int i = 2; i < 5; i++)
        assert_in_range(pause[i], 150, 300);
    env_close(&e);
}

static void
test_simple_one_for_one(void **state)
{
    (void)state;
    struct env e = env_open();
    tr_child_spec k[1] = {spec_of(0, TR_TRANSIENT)};
    tr_sup_spec s = {.strategy = TR_SIMPLE_ONE_FOR_ONE, .children = k, .n = 1};
    tr_ref sup = start(&e, &s);
    assert_string_equal(events(&e), "");
    for (int id = 5; id <= 7; id++) {
        struct warg a = {id, 0};
        tr_inbox_send(e.ib, sup, TR_SUP_START_CHILD, &a, sizeof a);
        tr_system_run(e.sys);
        tr_msg *m;
        assert_int_equal(tr_inbox_recv(e.ib, &m, 0), 0); // R_START first
        tr_msg_free(m);
        assert_int_equal(tr_inbox_recv(e.ib, &m, 0), 0);
        assert_int_equal(tr_msg_type(m), TR_SUP_START_CHILD);
        tr_sup_started st;
        memcpy(&st, tr_msg_data(m), sizeof st);
        assert_int_equal(st.rc, 0);
        e.kid[id] = st.child;
        tr_msg_free(m);
    }
    crash(&e, 6);
    assert_string_equal(events(&e), "-6+6");
    tr_system_send(e.sys, e.kid[5], W_EXIT, NULL, 0);
    assert_string_equal(events(&e), "-5");
    // A child whose init fails is reported, not kept.
    struct warg bad = {4, -44};
    tr_inbox_send(e.ib, sup, TR_SUP_START_CHILD, &bad, sizeof bad);
    tr_system_run(e.sys);
    tr_msg *m;
    assert_int_equal(tr_inbox_recv(e.ib, &m, 0), 0);
    tr_sup_started st;
    memcpy(&st, tr_msg_data(m), sizeof st);
    assert_int_equal(st.rc, -44);
    tr_msg_free(m);
    // Closing stops the rest, newest first.
    tr_inbox_free(e.ib);
    tr_stats stats;
    assert_int_equal(tr_system_close(e.sys, TEST_WAIT_MS, &stats), 0);
    assert_int_equal(stats.actors_live, 0);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_for_one),
        cmocka_unit_test(test_one_for_all),
        cmocka_unit_test(test_rest_for_one),
        cmocka_unit_test(test_restart_types),
        cmocka_unit_test(test_intensity_escalates_to_the_grandparent),
        cmocka_unit_test(test_child_init_failure_fails_the_start),
        cmocka_unit_test(test_backoff_grows_and_is_capped),
        cmocka_unit_test(test_simple_one_for_one),
    };
    test_main("supervisor/supervisor", tests, argc, argv);
}
