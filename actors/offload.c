// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// offload.c: jobs on the blocking pool, whose results come back to the
// caller as a message (TR__MSG_JOB) handled in its own run.
//
// Design notes
// - A job is freed exactly once: by its owner after done() (the usual
//   case), by the pool thread when the owner is gone and the result message
//   cannot be sent, or when the owner is freed with the message unread.
// - A dying owner flags its jobs cancelled before it is marked dead: until
//   then no pool thread can fail to send to it, so no job it still lists
//   can have been freed.
#include "actor.h"

#include <string.h>

struct tr_job {
    struct tr__sched s; // first: the pool runs it
    tr_system *sys;
    tr_ref owner;
    tr_job_fn fn;
    size_t len;
    tr_job_done done;
    void *cookie;
    tr_job_free free_result;
    void *result;
    _Atomic bool cancelled;
    struct tr_job *prev, *next;      // the owner's list; owner loop only
    alignas(16) unsigned char arg[]; // the job's copy of the argument
};

static void
job_discard(struct tr_job *j)
{
    if (j->free_result != NULL && j->result != NULL)
        j->free_result(j->result);
    tr__free(j, sizeof *j + j->len);
}

static int
job_run(struct tr__sched *s)
{
    struct tr_job *j = tr__container_of(s, struct tr_job, s);
    j->result = j->fn(j, j->len ? j->arg : NULL);
    if (tr__send_any(j->sys, j->owner, j->owner, TR__MSG_JOB, &j, sizeof j,
                     0) != 0)
        job_discard(j); // the owner is gone
    return TR__RUN_DONE;
}

bool
tr_job_cancelled(const tr_job *job)
{
    return atomic_load_explicit(&job->cancelled, memory_order_acquire);
}

static void
list_remove(struct tr__ext *e, struct tr_job *j)
{
    if (j->prev != NULL)
        j->prev->next = j->next;
    else
        e->jobs = j->next;
    if (j->next != NULL)
        j->next->prev = j->prev;
}

int
tr_offload(tr_ctx *ctx, tr_job_fn fn, const void *arg, size_t len,
           tr_job_done done, void *cookie, tr_job_free free_result)
{
    if (fn == NULL || done == NULL || (len != 0 && arg == NULL) ||
        tr__ctx_blocking(ctx))
        return TR_EINVAL;
    struct tr__ext *e = tr__ext_get(ctx->a);
    struct tr_job *j = tr__zalloc(sizeof *j + len);
    if (e == NULL || j == NULL) {
        tr__free(j, sizeof *j + len);
        return TR_ENOMEM;
    }
    j->len = len;
    if (len != 0)
        memcpy(j->arg, arg, len);
    j->s.run = job_run;
    j->sys = ctx->sys;
    j->owner = ctx->self;
    j->fn = fn;
    j->done = done;
    j->cookie = cookie;
    j->free_result = free_result;
    atomic_init(&j->cancelled, false);
    // Listed before it is queued: the pool may finish it at once.
    j->next = e->jobs;
    if (e->jobs != NULL)
        e->jobs->prev = j;
    e->jobs = j;
    int rc = tr__pool_push(&ctx->sys->pool, &j->s);
    if (rc != 0) {
        list_remove(e, j);
        tr__free(j, sizeof *j + len);
    }
    return rc;
}

void
tr__job_done(tr_ctx *ctx, const struct tr_msg *m)
{
    struct tr_job *j;
    memcpy(&j, m->data, sizeof j);
    list_remove(ctx->a->ext, j);
    tr_job_done done = j->done;
    void *result = j->result, *cookie = j->cookie;
    tr__free(j, sizeof *j + j->len);
    done(ctx, result, cookie); // the result is done's now
}

void
tr__jobs_cancel(tr_ctx *ctx)
{
    struct tr__ext *e = ctx->a->ext;
    if (e == NULL)
        return;
    for (struct tr_job *j = e->jobs; j != NULL; j = j->next)
        atomic_store_explicit(&j->cancelled, true, memory_order_release);
    e->jobs = NULL; // freed by their pool threads or with the message
}

void
tr__job_orphan(const struct tr_msg *m)
{
    struct tr_job *j;
    memcpy(&j, m->data, sizeof j);
    job_discard(j);
}
