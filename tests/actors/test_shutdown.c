// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// Graceful shutdown: a stopping parent asks each child, newest first; a
// child that traps exits hears of it as TR_MSG_EXIT and may finish its
// work, within its shutdown deadline, after which it is killed; a killed
// actor's children are killed too. On a manual system, in virtual time.
#include "tests/test.h"

#include <string.h>

enum { M_DONE = 1, R_STOP };

struct kid {
    int id;
    int64_t linger_ms;   // after the shutdown request: >= 0 finish then,
                         // < 0 ignore it
    int64_t shutdown_ms; // the spawn option (0: the system's)
    bool trap;
    int nkids; // children of its own, all like it but with id * 10 + i
};

struct rstop {
    int id;
    int reason;
    int64_t at_ms;
};

static tr_ref report;

static const tr_behavior kid_beh;

static int
kid_init(tr_ctx *ctx, const void *arg, size_t len)
{
    struct kid *k = tr_state(ctx);
    if (len != sizeof *k)
        return TR_EINVAL;
    memcpy(k, arg, sizeof *k);
    if (k->trap)
        tr_trap_exit(ctx, true);
    for (int i = 0; i < k->nkids; i++) {
        struct kid c = *k;
        c.id = k->id * 10 + i;
        c.nkids = 0;
        tr_spawn_opts o = {.shutdown_ms = c.shutdown_ms};
        tr_ref r;
        int rc = tr_spawn(&r, ctx, &kid_beh, &c, sizeof c, &o);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int
kid_receive(tr_ctx *ctx, const tr_msg *m)
{
    struct kid *k = tr_state(ctx);
    if (tr_msg_type(m) == TR_MSG_EXIT) {
        if (k->linger_ms >= 0)
            return tr_send_after(ctx, tr_self(ctx), M_DONE, NULL, 0,
                                 k->linger_ms, NULL);
        return 0; // ignore it: the deadline will come
    }
    if (tr_msg_type(m) == M_DONE)
        tr_exit(ctx, TR_EXIT_NORMAL);
    return 0;
}

static void
kid_stop(tr_ctx *ctx, int reason)
{
    struct kid *k = tr_state(ctx);
    struct rstop r = {k->id, reason, tr_ctx_now_ns(ctx) / 1000000};
    tr_send(ctx, report, R_STOP, &r, sizeof r);
}

static const tr_behavior kid_beh = {
    .name = "kid",
    .state_size = sizeof(struct kid),
    .init = kid_init,
    .receive = kid_receive,
    .stop = kid_stop,
};

// A parent of the given kids that does not trap exits.
struct parent_arg {
    struct kid kids[4];
    int n;
};

static int
parent_init(tr_ctx *ctx, const void *arg, size_t len)
{
    if (len != sizeof(struct parent_arg))
        return TR_EINVAL;
    const struct parent_arg *p = arg;
    for (int i = 0; i < p->n; i++) {
        tr_spawn_opts o = {.shutdown_ms = p->kids[i].shutdown_ms};
        tr_ref r;
        int rc =
            tr_spawn(&r, ctx, &kid_beh, &p->kids[i], sizeof p->kids[i], &o);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int
parent_receive(tr_ctx *ctx, const tr_msg *m)
{
    (void)ctx, (void)m;
    return 0;
}

static void
parent_stop(tr_ctx *ctx, int reason)
{
    struct rstop r = {-1, reason, tr_ctx_now_ns(ctx) / 1000000};
    tr_send(ctx, report, R_STOP, &r, sizeof r);
}

static const tr_behavior parent_beh = {
    .name = "parent",
    .init = parent_init,
    .receive = parent_receive,
    .stop = parent_stop,
};

struct env {
    tr_system *sys;
    tr_inbox *ib;
};

static struct env
env_open(int64_t shutdown_ms)
{
    struct env e;
    tr_config cfg = {.manual = true, .shutdown_ms = shutdown_ms};
    assert_int_equal(tr_system_open(&e.sys, &cfg), 0);
    assert_int_equal(tr_inbox_alloc(&e.ib, e.sys), 0);
    report = tr_inbox_ref(e.ib);
    return e;
}

// Collects the stop reports, in order.
static int
stops(struct env *e, struct rstop *out, int max)
{
    tr_system_run(e->sys);
    int n = 0;
    tr_msg *m;
    while (n < max && tr_inbox_recv(e->ib, &m, 0) == 0) {
        assert_int_equal(tr_msg_type(m), R_STOP);
        memcpy(&out[n++], tr_msg_data(m), sizeof out[0]);
        tr_msg_free(m);
    }
    return n;
}

static void
env_close(struct env *e)
{
    tr_inbox_free(e->ib);
    test_close(e->sys);
}

static tr_ref
start_parent(struct env *e, const struct parent_arg *p)
{
    tr_ref r;
    assert_int_equal(
        tr_system_spawn(&r, e->sys, &parent_beh, p, sizeof *p, NULL), 0);
    tr_system_run(e->sys);
    return r;
}

static void
test_trapping_children_finish_in_turn_newest_first(void **state)
{
    (void)state;
    struct env e = env_open(1000);
    struct parent_arg p = {{{.id = 1, .linger_ms = 100, .trap = true},
                            {.id = 2, .linger_ms = 100, .trap = true}},
                           2};
    tr_ref r = start_parent(&e, &p);
    tr_system_stop(e.sys, r, TR_EXIT_NORMAL);
    tr_system_advance(e.sys, 1000);
    struct rstop s[8];
    assert_int_equal(stops(&e, s, 8), 3);
    assert_int_equal(s[0].id, 2); // newest first
    assert_int_equal(s[0].reason, TR_EXIT_NORMAL);
    assert_int_equal(s[0].at_ms, 100);
    assert_int_equal(s[1].id, 1); // then the next, in its turn
    assert_int_equal(s[1].at_ms, 200);
    assert_int_equal(s[2].id, -1); // the parent last
    assert_int_equal(s[2].at_ms, 200);
    env_close(&e);
}

static void
test_ignoring_child_is_killed_at_its_deadline(void **state)
{
    (void)state;
    struct env e = env_open(300);
    struct parent_arg p = {
        {{.id = 1, .linger_ms = -1, .trap = true},                    // 300
         {.id = 2, .linger_ms = -1, .trap = true, .shutdown_ms = 50}, // own
         {.id = 3, .linger_ms = -1, .trap = false}},                  // now
        3};
    tr_ref r = start_parent(&e, &p);
    tr_system_stop(e.sys, r, TR_EXIT_NORMAL);
    tr_system_advance(e.sys, 2000);
    struct rstop s[8];
    assert_int_equal(stops(&e, s, 8), 4);
    assert_int_equal(s[0].id, 3);
    assert_int_equal(s[0].reason, TR_EXIT_SHUTDOWN);
    assert_int_equal(s[0].at_ms, 0);
    assert_int_equal(s[1].id, 2);
    assert_int_equal(s[1].reason, TR_EXIT_KILLED);
    assert_int_equal(s[1].at_ms, 50);
    assert_int_equal(s[2].id, 1);
    assert_int_equal(s[2].reason, TR_EXIT_KILLED);
    assert_int_equal(s[2].at_ms, 350);
    assert_int_equal(s[3].id, -1);
    env_close(&e);
}

static void
test_killed_actor_kills_its_children(void **state)
{
    (void)state;
    struct env e = env_open(300);
    // A trapping, ignoring child with two trapping, ignoring children of
    // its own: when it is killed, they are killed at once, not asked.
    struct parent_arg p = {
        {{.id = 1, .linger_ms = -1, .trap = true, .nkids = 2}}, 1};
    tr_ref r = start_parent(&e, &p);
    tr_system_stop(e.sys, r, TR_EXIT_NORMAL);
    tr_system_advance(e.sys, 5000);
    struct rstop s[8];
    assert_int_equal(stops(&e, s, 8), 4);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(s[i].reason, TR_EXIT_KILLED);
        assert_int_equal(s[i].at_ms, 300);
    }
    assert_int_equal(s[0].id, 11); // grandchildren first, newest first
    assert_int_equal(s[1].id, 10);
    assert_int_equal(s[2].id, 1);
    assert_int_equal(s[3].id, -1);
    env_close(&e);
}

static void
test_close_asks_top_level_actors_then_kills(void **state)
{
    (void)state;
    struct env e = env_open(200);
    struct kid k = {.id = 7, .linger_ms = -1, .trap = true};
    tr_ref r;
    assert_int_equal(tr_system_spawn(&r, e.sys, &kid_beh, &k, sizeof k, NULL),
                     0);
    struct kid k2 = {.id = 8, .linger_ms = 20, .trap = true};
    assert_int_equal(tr_system_spawn(&r, e.sys, &kid_beh, &k2, sizeof k2, NULL),
                     0);
    tr_system_run(e.sys);
    tr_inbox_free(e.ib);
    // The reports go nowhere now; the close must still finish, in virtual
    // time: 20 ms for k2 to finish, then 200 ms until k is killed.
    tr_stats st;
    assert_int_equal(tr_system_close(e.sys, TEST_WAIT_MS, &st), 0);
    assert_int_equal(st.actors_live, 0);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trapping_children_finish_in_turn_newest_first),
        cmocka_unit_test(test_ignoring_child_is_killed_at_its_deadline),
        cmocka_unit_test(test_killed_actor_kills_its_children),
        cmocka_unit_test(test_close_asks_top_level_actors_then_kills),
    };
    test_main("actors/shutdown", tests, argc, argv);
}
