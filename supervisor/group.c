// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// group.c: task groups, written against the public API only. The group
// is an actor that owns the tasks (they are its children) and monitors
// them; the first failure makes it stop the rest.
#include <troupe/group.h>

#include <stdlib.h>
#include <string.h>

struct task_state {
    tr_ref ref;
    uint64_t mon;
    bool done;
    bool cancelled;
};

struct group {
    tr_ref owner;
    uint32_t done_type;
    size_t n, left;
    bool cancelling;
    struct task_state *t;
    tr_group_failure *fail;
    uint32_t nfail, ncancel;
};

struct group_arg {
    const tr_task *tasks;
    size_t n;
    uint32_t done_type;
};

static void
group_free(struct group *g)
{
    free(g->t);
    free(g->fail);
}

static int
group_init(tr_ctx *ctx, const void *arg, size_t len)
{
    struct group *g = tr_state(ctx);
    struct group_arg a;
    if (len != sizeof a)
        return TR_EINVAL;
    memcpy(&a, arg, sizeof a);
    g->owner = tr_parent(ctx);
    g->done_type = a.done_type;
    g->n = g->left = a.n;
    g->t = calloc(a.n, sizeof *g->t);
    g->fail = calloc(a.n, sizeof *g->fail);
    int rc = g->t == NULL || g->fail == NULL ? TR_ENOMEM : 0;
    for (size_t i = 0; rc == 0 && i < a.n; i++) {
        const tr_task *k = &a.tasks[i];
        rc = tr_spawn(&g->t[i].ref, ctx, k->behavior, k->arg, k->len, &k->opts);
        if (rc == 0)
            rc = tr_monitor(ctx, g->t[i].ref, &g->t[i].mon);
    }
    if (rc != 0)
        group_free(g); // no stop hook after a failed init
    return rc;
}

static void
group_stop(tr_ctx *ctx, int reason)
{
    (void)reason;
    group_free(tr_state(ctx));
}

static int
group_finish(tr_ctx *ctx, struct group *g)
{
    size_t size = sizeof(tr_group_result) + g->nfail * sizeof *g->fail;
    tr_group_result *r = malloc(size);
    int rc = TR_ENOMEM;
    if (r != NULL) {
        r->n_tasks = (uint32_t)g->n;
        r->n_failed = g->nfail;
        r->n_cancelled = g->ncancel;
        memcpy(r->failures, g->fail, g->nfail * sizeof *g->fail);
        rc = tr_send(ctx, g->owner, g->done_type, r, size);
        free(r);
    }
    tr_exit(ctx, TR_EXIT_NORMAL);
    return rc == TR_ENOACTOR ? 0 : rc;
}

static int
group_receive(tr_ctx *ctx, const tr_msg *m)
{
    struct group *g = tr_state(ctx);
    if (tr_msg_type(m) != TR_MSG_DOWN)
        return TR_EUNHANDLED;
    tr_down d;
    memcpy(&d, tr_msg_data(m), sizeof d);
    size_t i = 0;
    while (i < g->n && g->t[i].mon != d.mon)
        i++;
    if (i == g->n || g->t[i].done)
        return 0;
    g->t[i].done = true;
    g->left--;
    bool failed = d.reason < 0 || d.reason == TR_EXIT_KILLED;
    if (g->t[i].cancelled && !failed) {
        g->ncancel++;
    } else if (failed) {
        g->fail[g->nfail++] = (tr_group_failure){(uint32_t)i, d.reason};
        if (!g->cancelling) {
            g->cancelling = true;
            for (size_t j = g->n; j-- > 0;) { // newest first
                if (!g->t[j].done) {
                    g->t[j].cancelled = true;
                    tr_stop(ctx, g->t[j].ref, TR_EXIT_SHUTDOWN);
                }
            }
        }
    }
    return g->left == 0 ? group_finish(ctx, g) : 0;
}

static const tr_behavior group_behavior = {
    .name = "task-group",
    .state_size = sizeof(struct group),
    .init = group_init,
    .receive = group_receive,
    .stop = group_stop,
};

int
tr_group_spawn(tr_ref *out, tr_ctx *ctx, const tr_task *tasks, size_t n,
               uint32_t done_type)
{
    if (tasks == NULL || n == 0 || n > UINT32_MAX || done_type >= TR_MSG_SYSTEM)
        return TR_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (tasks[i].behavior == NULL)
            return TR_EINVAL;
    struct group_arg a = {tasks, n, done_type};
    return tr_spawn(out, ctx, &group_behavior, &a, sizeof a, NULL);
}
