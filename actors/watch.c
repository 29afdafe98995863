// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// watch.c: monitors and links.
//
// Design notes
// - Each side keeps its own half in its tr__ext, owned by its loop: the
//   monitored actor a list of {watcher, id}, the watcher a list of its own
//   {target, id}; linked actors each a list of the other. Changes to the
//   other side travel as signals (MONITOR, DEMONITOR, LINK, UNLINK).
// - DOWN travels on the watcher's user lane, pushed by the dying actor's
//   loop after every message that actor sent, so it never overtakes them.
//   The watcher delivers a DOWN only if the monitor is still in its list
//   and removes it then: exactly once, and never after tr_demonitor.
// - An exit signal travels on the signal lane. The receiver acts on it
//   only while the link is still in its list (so nothing acts after
//   tr_unlink), then either stops, ignores it (reason normal, not
//   trapping) or, trapping, queues TR_MSG_EXIT behind what it already has.
// - A MONITOR or LINK that reaches an actor after it died is found when the
//   actor is freed and answered with TR_ENOACTOR (tr__watch_orphan); one
//   sent to a ref that is already gone is answered by the sender at once.
#include "actor.h"

#include <string.h>

int
tr__wset_add(struct tr__wset *s, tr_ref who, uint64_t id)
{
    if (tr__grow(&s->v, &s->cap, s->n, sizeof *s->v, 4) != 0)
        return TR_ENOMEM;
    s->v[s->n++] = (struct tr__watch){who, id};
    return 0;
}

// Returns the index of the entry with `id` (or, with id 0, naming `who`),
// or -1.
static int64_t
wset_find(const struct tr__wset *s, tr_ref who, uint64_t id)
{
    for (uint32_t i = 0; i < s->n; i++)
        if (id != 0 ? s->v[i].id == id : tr_ref_eq(s->v[i].who, who))
            return i;
    return -1;
}

static void
wset_del(struct tr__wset *s, int64_t i)
{
    s->v[i] = s->v[--s->n];
}

static void
wset_free(struct tr__wset *s)
{
    tr__free(s->v, s->cap * sizeof *s->v);
}

static struct tr__ext *
ext_get(struct tr__actor *a)
{
    if (a->ext == NULL)
        a->ext = tr__zalloc(sizeof(struct tr__ext));
    return a->ext;
}

static uint64_t
next_mon_id(tr_system *sys)
{
    return atomic_fetch_add_explicit(&sys->mon_ids, 1, memory_order_relaxed) +
           1;
}

// Queues a DOWN for monitor `id` on `who` (which stopped with `reason`) to
// `watcher`. Thread: any.
static void
send_down_text(tr_system *sys, tr_ref watcher, tr_ref who, uint64_t id,
               int reason, const char *text)
{
    tr_down d = {.who = who, .mon = id, .reason = reason};
    memcpy(d.text, text, sizeof d.text);
    (void)tr__send_any(sys, who, watcher, TR_MSG_DOWN, &d, sizeof d, 0);
}

static void
send_down(tr_system *sys, tr_ref watcher, tr_ref who, uint64_t id, int reason)
{
    static const char none[TR_EXIT_TEXT];
    send_down_text(sys, watcher, who, id, reason, none);
}

static void
send_exit_text(tr_system *sys, tr_ref to, tr_ref who, int reason,
               const char *text)
{
    tr_exit_info x = {.who = who, .reason = reason};
    memcpy(x.text, text, sizeof x.text);
    (void)tr__signal_ref(sys, to, TR__SIG_EXIT, &x, sizeof x);
}

static void
send_exit(tr_system *sys, tr_ref to, tr_ref who, int reason)
{
    static const char none[TR_EXIT_TEXT];
    send_exit_text(sys, to, who, reason, none);
}

int
tr_monitor(tr_ctx *ctx, tr_ref who, uint64_t *mon)
{
    struct tr__ext *e = ext_get(ctx->a);
    if (e == NULL)
        return TR_ENOMEM;
    uint64_t id = next_mon_id(ctx->sys);
    int rc = tr__wset_add(&e->mons, who, id);
    if (rc != 0)
        return rc;
    struct tr__watch w = {ctx->self, id};
    rc = tr__signal_ref(ctx->sys, who, TR__SIG_MONITOR, &w, sizeof w);
    if (rc == TR_ENOACTOR || rc == TR_EINVAL) {
        send_down(ctx->sys, ctx->self, who, id, TR_ENOACTOR);
    } else if (rc != 0) {
        wset_del(&e->mons, (int64_t)e->mons.n - 1);
        return rc;
    }
    if (mon != NULL)
        *mon = id;
    return 0;
}

int
tr_demonitor(tr_ctx *ctx, uint64_t mon)
{
    struct tr__ext *e = ctx->a->ext;
    int64_t i =
        e != NULL && mon != 0 ? wset_find(&e->mons, TR_REF_NONE, mon) : -1;
    if (i < 0)
        return TR_EINVAL;
    tr_ref target = e->mons.v[i].who;
    wset_del(&e->mons, i);
    (void)tr__signal_ref(ctx->sys, target, TR__SIG_DEMONITOR, &mon, sizeof mon);
    return 0;
}

int
tr_link(tr_ctx *ctx, tr_ref who)
{
    if (tr_ref_eq(who, ctx->self) || tr_ref_is_none(who))
        return TR_EINVAL;
    struct tr__ext *e = ext_get(ctx->a);
    if (e == NULL)
        return TR_ENOMEM;
    if (wset_find(&e->links, who, 0) >= 0)
        return 0;
    int rc = tr__wset_add(&e->links, who, 0);
    if (rc != 0)
        return rc;
    rc = tr__signal_ref(ctx->sys, who, TR__SIG_LINK, &ctx->self,
                        sizeof ctx->self);
    if (rc == TR_ENOACTOR || rc == TR_EINVAL) {
        send_exit(ctx->sys, ctx->self, who, TR_ENOACTOR);
    } else if (rc != 0) {
        wset_del(&e->links, (int64_t)e->links.n - 1);
        return rc;
    }
    return 0;
}

int
tr_unlink(tr_ctx *ctx, tr_ref who)
{
    struct tr__ext *e = ctx->a->ext;
    int64_t i = e != NULL ? wset_find(&e->links, who, 0) : -1;
    if (i < 0)
        return TR_EINVAL;
    wset_del(&e->links, i);
    (void)tr__signal_ref(ctx->sys, who, TR__SIG_UNLINK, &ctx->self,
                         sizeof ctx->self);
    return 0;
}

void
tr_trap_exit(tr_ctx *ctx, bool on)
{
    if (on)
        atomic_fetch_or_explicit(&ctx->a->word, TR__A_TRAP,
                                 memory_order_relaxed);
    else
        atomic_fetch_and_explicit(&ctx->a->word, ~TR__A_TRAP,
                                  memory_order_relaxed);
}

void
tr__watch_signal(tr_ctx *ctx, struct tr_msg *m)
{
    struct tr__actor *a = ctx->a;
    struct tr__ext *e = ext_get(a);
    switch (m->type) {
    case TR__SIG_MONITOR: {
        struct tr__watch w;
        memcpy(&w, m->data, sizeof w);
        if (e == NULL || tr__wset_add(&e->watchers, w.who, w.id) != 0)
            send_down(ctx->sys, w.who, ctx->self, w.id, TR_ENOMEM);
        break;
    }
    case TR__SIG_DEMONITOR: {
        uint64_t id;
        memcpy(&id, m->data, sizeof id);
        int64_t i = e != NULL ? wset_find(&e->watchers, TR_REF_NONE, id) : -1;
        if (i >= 0)
            wset_del(&e->watchers, i);
        break;
    }
    case TR__SIG_LINK: {
        tr_ref from;
        memcpy(&from, m->data, sizeof from);
        if (e == NULL || (wset_find(&e->links, from, 0) < 0 &&
                          tr__wset_add(&e->links, from, 0) != 0))
            send_exit(ctx->sys, from, ctx->self, TR_ENOMEM);
        break;
    }
    case TR__SIG_UNLINK: {
        tr_ref from;
        memcpy(&from, m->data, sizeof from);
        int64_t i = e != NULL ? wset_find(&e->links, from, 0) : -1;
        if (i >= 0)
            wset_del(&e->links, i);
        break;
    }
    case TR__SIG_EXIT: {
        tr_exit_info x;
        memcpy(&x, m->data, sizeof x);
        int64_t i = e != NULL ? wset_find(&e->links, x.who, 0) : -1;
        if (i < 0)
            break; // unlinked meanwhile
        wset_del(&e->links, i);
        if (atomic_load_explicit(&a->word, memory_order_relaxed) & TR__A_TRAP)
            (void)tr__send_any(ctx->sys, x.who, ctx->self, TR_MSG_EXIT, &x,
                               sizeof x, 0);
        else if (x.reason != TR_EXIT_NORMAL)
            tr__begin_stop(ctx, x.reason);
        break;
    }
    default:
        break;
    }
}

bool
tr__watch_accept(tr_ctx *ctx, const struct tr_msg *m)
{
    struct tr__ext *e = ctx->a->ext;
    tr_down d;
    if (m->len != sizeof d || e == NULL)
        return false;
    memcpy(&d, m->data, sizeof d);
    int64_t i = wset_find(&e->mons, TR_REF_NONE, d.mon);
    if (i < 0)
        return false;
    wset_del(&e->mons, i);
    return true;
}

void
tr__watch_fini(tr_ctx *ctx, int reason)
{
    struct tr__ext *e = ctx->a->ext;
    if (e == NULL)
        return;
    for (uint32_t i = 0; i < e->watchers.n; i++)
        send_down_text(ctx->sys, e->watchers.v[i].who, ctx->self,
                       e->watchers.v[i].id, reason, e->exit_text);
    for (uint32_t i = 0; i < e->links.n; i++)
        send_exit_text(ctx->sys, e->links.v[i].who, ctx->self, reason,
                       e->exit_text);
    for (uint32_t i = 0; i < e->mons.n; i++)
        (void)tr__signal_ref(ctx->sys, e->mons.v[i].who, TR__SIG_DEMONITOR,
                             &e->mons.v[i].id, sizeof e->mons.v[i].id);
    wset_free(&e->watchers);
    wset_free(&e->links);
    wset_free(&e->mons);
    wset_free(&e->writable);
    tr__free(e->reqs, e->req_buckets * sizeof *e->reqs); // emptied before
    tr__free(e, sizeof *e);
    ctx->a->ext = NULL;
}

void
tr__watch_orphan(tr_system *sys, tr_ref dead, struct tr_msg *m)
{
    if (m->type == TR__SIG_MONITOR) {
        struct tr__watch w;
        memcpy(&w, m->data, sizeof w);
        send_down(sys, w.who, dead, w.id, TR_ENOACTOR);
    } else if (m->type == TR__SIG_LINK) {
        tr_ref from;
        memcpy(&from, m->data, sizeof from);
        send_exit(sys, from, dead, TR_ENOACTOR);
    }
}
