// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// later.c: work an actor arranged for later (struct tr__later), and the
// user timers built on it: tr_send_after, tr_send_every, tr_timer_cancel.
//
// Design notes
// - A later's timer lives on the owner's loop wheel. When it fires (on that
//   loop, between runs) the later moves to the owner's done list and the
//   owner is scheduled; the owner's next run calls later->run in its own
//   context. So a timer never runs user code outside a handler, and needs
//   no allocation to fire.
// - An actor's init runs on its spawner's thread, whose wheel is not the
//   actor's: laters armed there wait on the pending list for the actor's
//   first run.
// - A dying actor drops every live later (timers die with their owner).
#include "actor.h"

#include <string.h>

int64_t
tr__ctx_now(const tr_ctx *ctx)
{
    return tr__loop_now_ns(&ctx->sys->shards[tr__actor_loop(ctx->a)].loop);
}

static struct tr__loop *
owner_loop(struct tr__later *l)
{
    return &l->sys->shards[tr__actor_loop(l->owner)].loop;
}

static void
later_fire(struct tr__timer *t)
{
    struct tr__later *l = (struct tr__later *)t;
    struct tr__ext *e = l->owner->ext;
    l->state = TR__LATER_DONE;
    l->dnext = NULL;
    if (e->done_tail != NULL)
        e->done_tail->dnext = l;
    else
        e->done = l;
    e->done_tail = l;
    tr__actor_schedule(l->sys, l->owner);
}

void
tr__later_arm(tr_ctx *ctx, struct tr__later *l, int64_t at_ns)
{
    struct tr__ext *e = ctx->a->ext; // the caller made sure it exists
    tr__later_forget(ctx->a, l);     // re-arming: take it off its lists
    if (l->state == TR__LATER_IDLE) {
        tr__timer_init(&l->t, later_fire);
        l->owner = ctx->a;
        l->sys = ctx->sys;
        l->prev = NULL;
        l->next = e->laters;
        if (e->laters != NULL)
            e->laters->prev = l;
        e->laters = l;
    }
    l->at_ns = at_ns;
    struct tr__loop *own = owner_loop(l);
    if (tr__loop_current() == own) {
        l->state = TR__LATER_ARMED;
        tr__loop_timer_arm_at(own, &l->t, at_ns);
    } else {
        l->state = TR__LATER_PENDING;
        l->dnext = e->pending;
        e->pending = l;
    }
}

// Removes `l` from a singly linked list through dnext.
static void
dlist_remove(struct tr__later **head, struct tr__later **tail,
             struct tr__later *l)
{
    struct tr__later *prev = NULL;
    for (struct tr__later *x = *head; x != NULL; prev = x, x = x->dnext) {
        if (x != l)
            continue;
        if (prev != NULL)
            prev->dnext = l->dnext;
        else
            *head = l->dnext;
        if (tail != NULL && *tail == l)
            *tail = prev;
        return;
    }
}

void
tr__later_forget(struct tr__actor *a, struct tr__later *l)
{
    struct tr__ext *e = a->ext;
    switch (l->state) {
    case TR__LATER_ARMED:
        tr__loop_timer_cancel(owner_loop(l), &l->t);
        break;
    case TR__LATER_PENDING:
        dlist_remove(&e->pending, NULL, l);
        break;
    case TR__LATER_DONE:
        dlist_remove(&e->done, &e->done_tail, l);
        break;
    default:
        return;
    }
    if (l->prev != NULL)
        l->prev->next = l->next;
    else
        e->laters = l->next;
    if (l->next != NULL)
        l->next->prev = l->prev;
    l->state = TR__LATER_IDLE;
}

void
tr__later_run(tr_ctx *ctx)
{
    struct tr__ext *e = ctx->a->ext;
    struct tr__loop *own = tr__loop_current();
    while (e->pending != NULL) {
        struct tr__later *l = e->pending;
        e->pending = l->dnext;
        l->state = TR__LATER_ARMED;
        tr__loop_timer_arm_at(own, &l->t, l->at_ns);
    }
    // Run the laters that were done when this run began; those that fire
    // while they run wait for the next one, so a zero-period timer cannot
    // hold the loop.
    struct tr__later *tail = e->done_tail;
    while (e->done != NULL) {
        struct tr__later *l = e->done;
        bool last = l == tail;
        tr__later_forget(ctx->a, l);
        l->run(ctx, l);
        if (last || ctx->a->ext == NULL)
            break;
    }
}

void
tr__later_fini(tr_ctx *ctx)
{
    struct tr__ext *e = ctx->a->ext;
    if (e == NULL)
        return;
    while (e->laters != NULL) {
        struct tr__later *l = e->laters;
        tr__later_forget(ctx->a, l);
        l->drop(ctx->sys, l);
    }
}

// ---------------------------------------------------------------------------
// User timers

struct utimer {
    struct tr__later l; // first
    tr_ref to;
    int64_t period_ns; // 0: once
    uint32_t type;
    uint32_t len;
    unsigned char data[];
};

static void
utimer_drop(tr_system *sys, struct tr__later *l)
{
    (void)sys;
    struct utimer *u = (struct utimer *)l;
    tr__free(u, sizeof *u + u->len);
}

static void
utimer_run(tr_ctx *ctx, struct tr__later *l)
{
    struct utimer *u = (struct utimer *)l;
    int rc = tr__send_any(ctx->sys, ctx->self, u->to, u->type,
                          u->len ? u->data : NULL, u->len, 0);
    if (rc == TR_ENOACTOR)
        tr__count(ctx->sys, ctx->shard, dead);
    if (u->period_ns > 0 && rc != TR_ENOACTOR)
        tr__later_arm(ctx, l, l->at_ns + u->period_ns);
    else
        utimer_drop(ctx->sys, l);
}

static int
timer_start(tr_ctx *ctx, tr_ref to, uint32_t type, const void *data, size_t len,
            int64_t delay_ms, int64_t period_ms, uint64_t *out)
{
    if (type >= TR_MSG_SYSTEM || (len != 0 && data == NULL) || delay_ms < 0 ||
        period_ms < 0 || tr__ctx_blocking(ctx))
        return TR_EINVAL;
    if (len > ctx->sys->max_msg)
        return TR_EMSGSIZE;
    struct tr__ext *e = tr__ext_get(ctx->a);
    struct utimer *u = tr__zalloc(sizeof *u + len);
    if (e == NULL || u == NULL) {
        tr__free(u, sizeof *u + len);
        return TR_ENOMEM;
    }
    u->l.run = utimer_run;
    u->l.drop = utimer_drop;
    u->l.id = ++e->next_timer;
    u->to = to;
    u->period_ns = period_ms * 1000000;
    u->type = type;
    u->len = (uint32_t)len;
    if (len != 0)
        memcpy(u->data, data, len);
    tr__later_arm(ctx, &u->l, tr__ctx_now(ctx) + delay_ms * 1000000);
    if (out != NULL)
        *out = u->l.id;
    return 0;
}

int
tr_send_after(tr_ctx *ctx, tr_ref to, uint32_t type, const void *data,
              size_t len, int64_t delay_ms, uint64_t *timer)
{
    return timer_start(ctx, to, type, data, len, delay_ms, 0, timer);
}

int
tr_send_every(tr_ctx *ctx, tr_ref to, uint32_t type, const void *data,
              size_t len, int64_t period_ms, uint64_t *timer)
{
    if (period_ms <= 0)
        return TR_EINVAL;
    return timer_start(ctx, to, type, data, len, period_ms, period_ms, timer);
}

int
tr_timer_cancel(tr_ctx *ctx, uint64_t timer)
{
    struct tr__ext *e = ctx->a->ext;
    if (e == NULL || timer == 0)
        return TR_EINVAL;
    // The actor's own laters: usually a handful.
    for (struct tr__later *l = e->laters; l != NULL; l = l->next) {
        if (l->run == utimer_run && l->id == timer) {
            tr__later_forget(ctx->a, l);
            utimer_drop(ctx->sys, l);
            return 0;
        }
    }
    return TR_EINVAL;
}

int64_t
tr_ctx_now_ns(const tr_ctx *ctx)
{
    return tr__ctx_now(ctx);
}
