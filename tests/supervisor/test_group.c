// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// Task groups on a manual system: success, one failure cancelling the
// rest (their stop hooks run), simultaneous failures all reported, and
// the owner stopping first.
#include <troupe/group.h>

#include "tests/test.h"

#include <string.h>

enum { T_WORK = 1, O_START, O_DONE, R_STOP, R_RESULT };

struct task_arg {
    int id;
    int64_t after_ms; // finish after this long
    int reason;       // with this exit reason
};

struct rstop {
    int id;
    int reason;
    int64_t at_ms;
};

static tr_ref report;

static int
task_init(tr_ctx *ctx, const void *arg, size_t len)
{
    struct task_arg *t = tr_state(ctx);
    memcpy(t, arg, len);
    return tr_send_after(ctx, tr_self(ctx), T_WORK, NULL, 0, t->after_ms, NULL);
}

static int
task_receive(tr_ctx *ctx, const tr_msg *m)
{
    struct task_arg *t = tr_state(ctx);
    if (tr_msg_type(m) == T_WORK)
        tr_exit(ctx, t->reason);
    return 0;
}

static void
task_stop(tr_ctx *ctx, int reason)
{
    struct task_arg *t = tr_state(ctx);
    struct rstop r = {t->id, reason, tr_ctx_now_ns(ctx) / 1000000};
    tr_send(ctx, report, R_STOP, &r, sizeof r);
}

static const tr_behavior task = {
    .name = "task",
    .state_size = sizeof(struct task_arg),
    .init = task_init,
    .receive = task_receive,
    .stop = task_stop,
};

static struct task_arg targs[3];

static int
owner_receive(tr_ctx *ctx, const tr_msg *m)
{
    if (tr_msg_type(m) == O_START) {
        tr_task t[3];
        for (int i = 0; i < 3; i++)
            t[i] = (tr_task){&task, &targs[i], sizeof targs[i], {0}};
        tr_ref g;
        return tr_group_spawn(&g, ctx, t, 3, O_DONE);
    }
    if (tr_msg_type(m) == O_DONE)
        return tr_send(ctx, report, R_RESULT, tr_msg_data(m), tr_msg_size(m));
    return TR_EUNHANDLED;
}

static const tr_behavior owner = {.name = "owner", .receive = owner_receive};

struct env {
    tr_system *sys;
    tr_inbox *ib;
    tr_ref owner;
};

static struct env
run_group(int64_t a0, int r0, int64_t a1, int r1, int64_t a2, int r2)
{
    struct env e;
    tr_config cfg = {.manual = true};
    assert_int_equal(tr_system_open(&e.sys, &cfg), 0);
    assert_int_equal(tr_inbox_alloc(&e.ib, e.sys), 0);
    report = tr_inbox_ref(e.ib);
    targs[0] = (struct task_arg){0, a0, r0};
    targs[1] = (struct task_arg){1, a1, r1};
    targs[2] = (struct task_arg){2, a2, r2};
    assert_int_equal(tr_system_spawn(&e.owner, e.sys, &owner, NULL, 0, NULL),
                     0);
    tr_system_send(e.sys, e.owner, O_START, NULL, 0);
    tr_system_run(e.sys);
    return e;
}

// collect gathers the stop reports (by task id) and the result.
struct seen {
    int reason[3];
    int64_t at[3];
    int stops;
    char result[256];
    size_t result_len;
};

static struct seen
collect(struct env *e)
{
    struct seen s;
    memset(&s, 0, sizeof s);
    tr_system_run(e->sys);
    tr_msg *m;
    while (tr_inbox_recv(e->ib, &m, 0) == 0) {
        if (tr_msg_type(m) == R_STOP) {
            struct rstop r;
            memcpy(&r, tr_msg_data(m), sizeof r);
            s.reason[r.id] = r.reason;
            s.at[r.id] = r.at_ms;
            s.stops++;
        } else if (tr_msg_type(m) == R_RESULT) {
            s.result_len = tr_msg_size(m);
            memcpy(s.result, tr_msg_data(m), s.result_len);
        }
        tr_msg_free(m);
    }
    return s;
}

static void
env_close(struct env *e)
{
    tr_inbox_free(e->ib);
    test_close(e->sys);
}

static void
test_all_finish(void **state)
{
    (void)state;
    struct env e = run_group(10, 0, 20, 0, 30, 0);
    tr_system_advance(e.sys, 100);
    struct seen s = collect(&e);
    assert_int_equal(s.stops, 3);
    assert_int_equal(s.result_len, sizeof(tr_group_result));
    const tr_group_result *r = (const void *)s.result;
    assert_int_equal(r->n_tasks, 3);
    assert_int_equal(r->n_failed, 0);
    assert_int_equal(r->n_cancelled, 0);
    env_close(&e);
}

static void
test_one_failure_cancels_the_rest(void **state)
{
    (void)state;
    struct env e = run_group(100, 0, 10, -9, 100, 0);
    tr_system_advance(e.sys, 10);
    struct seen s = collect(&e);
    assert_int_equal(s.stops, 3); // every stop hook ran, at once
    assert_int_equal(s.reason[1], -9);
    assert_int_equal(s.reason[0], TR_EXIT_SHUTDOWN);
    assert_int_equal(s.reason[2], TR_EXIT_SHUTDOWN);
    assert_int_equal(s.at[0], 10);
    assert_int_equal(s.at[2], 10);
    const tr_group_result *r = (const void *)s.result;
    assert_int_equal(s.result_len, sizeof *r + sizeof(tr_group_failure));
    assert_int_equal(r->n_failed, 1);
    assert_int_equal(r->n_cancelled, 2);
    assert_int_equal(r->failures[0].index, 1);
    assert_int_equal(r->failures[0].reason, -9);
    tr_system_advance(e.sys, 1000);
    assert_int_equal(collect(&e).stops, 0);
    env_close(&e);
}

static void
test_simultaneous_failures_all_reported(void **state)
{
    (void)state;
    struct env e = run_group(10, -1, 100, 0, 10, -2);
    tr_system_advance(e.sys, 10);
    struct seen s = collect(&e);
    const tr_group_result *r = (const void *)s.result;
    assert_int_equal(r->n_failed, 2);
    assert_int_equal(r->n_cancelled, 1);
    int sum = r->failures[0].reason + r->failures[1].reason;
    assert_int_equal(sum, -3);
    env_close(&e);
}

static void
test_owner_stopping_stops_the_tasks(void **state)
{
    (void)state;
    struct env e = run_group(100, 0, 100, 0, 100, 0);
    tr_system_advance(e.sys, 5);
    tr_system_stop(e.sys, e.owner, TR_EXIT_NORMAL);
    struct seen s = collect(&e);
    assert_int_equal(s.stops, 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(s.reason[i], TR_EXIT_SHUTDOWN);
    assert_int_equal(s.result_len, 0); // nobody to tell
    env_close(&e);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_finish),
        cmocka_unit_test(test_one_failure_cancels_the_rest),
        cmocka_unit_test(test_simultaneous_failures_all_reported),
        cmocka_unit_test(test_owner_stopping_stops_the_tasks),
    };
    test_main("supervisor/group", tests, argc, argv);
}
