// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// request.c: requests with deadlines, and the helpers built on them.
//
// Design notes
// - A pending request is an entry in the requester's table (chained hash
//   by id) and in its deadline queue (sorted by deadline; with one timeout
//   for all, a new request goes at the tail). One later per actor is armed
//   no later than the queue's head: a reply only unlinks its entry, and the
//   timer is moved only when it fires, so the common request costs no
//   timer arm or cancel at all. Entries are recycled: a request loop
//   allocates nothing.
// - A request completes exactly once, in the requester's run: by the reply
//   (a message whose req_id has TR__REQ_REPLY set), by its deadline
//   (TR_ETIMEDOUT, or an error found when it was sent, queued as due now),
//   by a DOWN from the responder (TR_EDOWN), or by a CANCEL from upstream
//   (TR_ECANCELED). When the requester stops, pending requests end without
//   a callback.
// - Fast failure: the requester monitors each responder it has requests
//   in flight to. The monitor is kept (up to TR__REQMONS responders) after
//   the last reply, so a client calling one server pays for it once.
// - The deadline travels in the request's header. A request made while
//   handling a request inherits the earlier deadline and remembers that
//   request as its parent: when the parent is cancelled (its requester timed
//   out or stopped), the child is cancelled too, and so on downstream.
// - Cancellation reaches the responder as a CANCEL signal; the runtime
//   cancels the responder's own child requests and queues TR_MSG_CANCEL so
//   a responder that deferred its reply can drop the work.
#include "actor.h"

#include <string.h>

struct tr__req {
    struct tr__req *hnext;
    struct tr__req *dprev, *dnext; // the deadline queue
    int64_t deadline_ns;
    uint64_t id;
    tr_ref to;
    tr_reply_fn fn;
    void *cookie;
    struct tr__cancel parent; // the request being handled when made
    int status;
};

// ---------------------------------------------------------------------------
// The table

static uint32_t
bucket(const struct tr__ext *e, uint64_t id)
{
    return (uint32_t)(id * 0x9E3779B97F4A7C15ull >> 32) & (e->req_buckets - 1);
}

static int
table_add(struct tr__ext *e, struct tr__req *r)
{
    if (e->nreqs >= e->req_buckets) {
        uint32_t nb = e->req_buckets ? e->req_buckets * 2 : 16;
        struct tr__req **b = tr__zalloc(nb * sizeof *b);
        if (b == NULL)
            return TR_ENOMEM;
        struct tr__req **old = e->reqs;
        uint32_t ob = e->req_buckets;
        e->reqs = b;
        e->req_buckets = nb;
        for (uint32_t i = 0; i < ob; i++) {
            for (struct tr__req *x = old[i], *n; x != NULL; x = n) {
                n = x->hnext;
                uint32_t k = bucket(e, x->id);
                x->hnext = b[k];
                b[k] = x;
            }
        }
        tr__free(old, ob * sizeof *old);
    }
    uint32_t k = bucket(e, r->id);
    r->hnext = e->reqs[k];
    e->reqs[k] = r;
    e->nreqs++;
    return 0;
}

// Removes and returns the request with `id`, or NULL.
static struct tr__req *
table_take(struct tr__ext *e, uint64_t id)
{
    if (e == NULL || e->req_buckets == 0)
        return NULL;
    for (struct tr__req **p = &e->reqs[bucket(e, id)]; *p != NULL;
         p = &(*p)->hnext) {
        struct tr__req *r = *p;
        if (r->id == id) {
            *p = r->hnext;
            e->nreqs--;
            return r;
        }
    }
    return NULL;
}

// Entries are recycled per actor: a client in a request loop then
// allocates none. At most SPARE_MAX wait.
#define SPARE_MAX 32

static struct tr__req *
req_alloc(struct tr__ext *e)
{
    struct tr__req *r = e->spare;
    if (r != NULL) {
        e->spare = r->hnext;
        e->nspare--;
        memset(r, 0, sizeof *r);
        return r;
    }
    return tr__zalloc(sizeof *r);
}

static void
req_free(struct tr__ext *e, struct tr__req *r)
{
    if (e != NULL && e->nspare < SPARE_MAX) {
        r->hnext = e->spare;
        e->spare = r;
        e->nspare++;
    } else {
        tr__free(r, sizeof *r);
    }
}

// ---------------------------------------------------------------------------
// Responder monitors

static struct tr__reqmon *
reqmon_find(struct tr__ext *e, tr_ref to)
{
    for (uint32_t i = 0; i < e->nreqmon; i++)
        if (tr_ref_eq(e->reqmon[i].to, to))
            return &e->reqmon[i];
    return NULL;
}

static struct tr__reqmon *
reqmon_find_mon(struct tr__ext *e, uint64_t mon)
{
    for (uint32_t i = 0; i < e->nreqmon; i++)
        if (e->reqmon[i].mon == mon)
            return &e->reqmon[i];
    return NULL;
}

// Makes sure we monitor `to`. A dead `to` gets its DOWN queued at once.
static void
reqmon_hold(tr_ctx *ctx, struct tr__ext *e, tr_ref to)
{
    struct tr__reqmon *m = reqmon_find(e, to);
    if (m == NULL) {
        if (e->nreqmon == TR__REQMONS) {
            // Evict an idle responder's monitor, if any.
            uint32_t i = 0;
            while (i < e->nreqmon && e->reqmon[i].pending != 0)
                i++;
            if (i == e->nreqmon)
                return; // all busy: this request relies on its deadline
            (void)tr_demonitor(ctx, e->reqmon[i].mon);
            e->reqmon[i] = e->reqmon[--e->nreqmon];
        }
        uint64_t id;
        if (tr_monitor(ctx, to, &id) != 0)
            return;
        m = &e->reqmon[e->nreqmon++];
        *m = (struct tr__reqmon){.to = to, .mon = id};
    }
    m->pending++;
}

static void
reqmon_release(struct tr__ext *e, tr_ref to)
{
    struct tr__reqmon *m = reqmon_find(e, to);
    if (m != NULL && m->pending > 0)
        m->pending--;
}

// ---------------------------------------------------------------------------
// The deadline queue

static void dq_run(tr_ctx *ctx, struct tr__later *l);

static void
dq_drop(tr_system *sys, struct tr__later *l)
{
    (void)sys, (void)l; // embedded in the ext; requests go in tr__req_fini
}

// Inserts `r` in deadline order, searching from the tail.
static void
dq_insert(tr_ctx *ctx, struct tr__ext *e, struct tr__req *r)
{
    struct tr__req *after = e->dq_tail;
    while (after != NULL && after->deadline_ns > r->deadline_ns)
        after = after->dprev;
    r->dprev = after;
    r->dnext = after != NULL ? after->dnext : e->dq_head;
    if (r->dnext != NULL)
        r->dnext->dprev = r;
    else
        e->dq_tail = r;
    if (after != NULL)
        after->dnext = r;
    else
        e->dq_head = r;
    // The timer must come no later than the head.
    if (e->dq.state == TR__LATER_IDLE || e->dq.at_ns > r->deadline_ns) {
        e->dq.run = dq_run;
        e->dq.drop = dq_drop;
        tr__later_arm(ctx, &e->dq, r->deadline_ns);
    }
}

static void
dq_remove(struct tr__ext *e, struct tr__req *r)
{
    if (r->dprev != NULL)
        r->dprev->dnext = r->dnext;
    else
        e->dq_head = r->dnext;
    if (r->dnext != NULL)
        r->dnext->dprev = r->dprev;
    else
        e->dq_tail = r->dprev;
    r->dprev = r->dnext = NULL;
}

// ---------------------------------------------------------------------------
// Completion

static void
send_cancel(tr_ctx *ctx, const struct tr__req *r)
{
    struct tr__cancel c = {ctx->self, r->id};
    (void)tr__signal_ref(ctx->sys, r->to, TR__SIG_CANCEL, &c, sizeof c);
}

// Ends `r` (already out of the table): callback, then free.
static void
finish(tr_ctx *ctx, struct tr__req *r, int status, const tr_msg *reply)
{
    struct tr__ext *e = ctx->a->ext;
    dq_remove(e, r);
    reqmon_release(e, r->to);
    if (status == TR_ETIMEDOUT || status == TR_ECANCELED)
        send_cancel(ctx, r);
    if (status == TR_ETIMEDOUT)
        tr__count(ctx->sys, ctx->shard, timeouts);
    tr_reply_fn fn = r->fn;
    void *cookie = r->cookie;
    req_free(e, r); // before the callback, which may make the next request
    fn(ctx, status, reply, cookie);
}

// The queue's timer: end what is due, then wait for the next head.
static void
dq_run(tr_ctx *ctx, struct tr__later *l)
{
    struct tr__ext *e = ctx->a->ext;
    int64_t now = tr__ctx_now(ctx);
    struct tr__req *r;
    while ((r = e->dq_head) != NULL && r->deadline_ns <= now) {
        (void)table_take(e, r->id);
        finish(ctx, r, r->status != 0 ? r->status : TR_ETIMEDOUT, NULL);
        if (ctx->a->ext == NULL)
            return;
    }
    if (e->dq_head != NULL && l->state == TR__LATER_IDLE)
        tr__later_arm(ctx, l, e->dq_head->deadline_ns);
}

// tr__req_fini ends a dying actor's requests without callbacks (each
// responder hears of it) and frees the spare entries.
void
tr__req_fini(tr_ctx *ctx)
{
    struct tr__ext *e = ctx->a->ext;
    if (e == NULL)
        return;
    struct tr__req *r;
    while ((r = e->dq_head) != NULL) {
        dq_remove(e, r);
        (void)table_take(e, r->id);
        send_cancel(ctx, r);
        tr__count(ctx->sys, ctx->shard, abandoned);
        tr__free(r, sizeof *r);
    }
    while (e->spare != NULL) {
        r = e->spare;
        e->spare = r->hnext;
        tr__free(r, sizeof *r);
    }
    e->nspare = 0;
}

void
tr__req_reply(tr_ctx *ctx, const struct tr_msg *m)
{
    struct tr__req *r = table_take(ctx->a->ext, m->req_id & ~TR__REQ_REPLY);
    if (r == NULL || !tr_ref_eq(r->to, m->from)) {
        if (r != NULL) // a reply from someone else: not ours to take
            (void)table_add(ctx->a->ext, r);
        tr__count(ctx->sys, ctx->shard, late);
        return;
    }
    finish(ctx, r, 0, m);
}

// Ends, with `status`, every request matching `m`: with m->req == 0, those
// to responder m->requester; else those made on behalf of request m (their
// parent). Callbacks may make new requests, so the matches are taken out
// of the table first.
static void
finish_matching(tr_ctx *ctx, struct tr__ext *e, const struct tr__cancel *m,
                int status)
{
    struct tr__req *hit = NULL;
    for (uint32_t b = 0; b < e->req_buckets; b++) {
        for (struct tr__req **p = &e->reqs[b]; *p != NULL;) {
            struct tr__req *r = *p;
            bool match = m->req == 0
                             ? tr_ref_eq(r->to, m->requester)
                             : r->parent.req == m->req &&
                                   tr_ref_eq(r->parent.requester, m->requester);
            if (match) {
                *p = r->hnext;
                e->nreqs--;
                r->hnext = hit;
                hit = r;
            } else {
                p = &r->hnext;
            }
        }
    }
    while (hit != NULL) {
        struct tr__req *r = hit;
        hit = r->hnext;
        finish(ctx, r, status, NULL);
    }
}

bool
tr__req_down(tr_ctx *ctx, const struct tr_msg *m)
{
    struct tr__ext *e = ctx->a->ext;
    tr_down d;
    memcpy(&d, m->data, sizeof d);
    struct tr__reqmon *rm = e != NULL ? reqmon_find_mon(e, d.mon) : NULL;
    if (rm == NULL)
        return false;
    *rm = e->reqmon[--e->nreqmon];
    struct tr__cancel any = {d.who, 0};
    finish_matching(ctx, e, &any, TR_EDOWN); // every request to it
    return true;
}

void
tr__req_cancel(tr_ctx *ctx, const struct tr__cancel *c)
{
    // Our own requests made on behalf of the cancelled one go too.
    if (ctx->a->ext != NULL)
        finish_matching(ctx, ctx->a->ext, c, TR_ECANCELED);
    if (tr__actor_phase(ctx->a) == TR__PH_RUN) {
        tr_request_info info = {c->requester, c->req};
        (void)tr__send_any(ctx->sys, c->requester, ctx->self, TR_MSG_CANCEL,
                           &info, sizeof info, 0);
    }
}

// ---------------------------------------------------------------------------
// API

int
tr_request(tr_ctx *ctx, uint64_t *req, tr_ref to, uint32_t type,
           const void *data, size_t len, int64_t timeout_ms, tr_reply_fn fn,
           void *cookie)
{
    if (fn == NULL || tr__ctx_blocking(ctx))
        return TR_EINVAL; // nothing to report anything else through
    struct tr__ext *e = tr__ext_get(ctx->a);
    struct tr__req *r = e != NULL ? req_alloc(e) : NULL;
    if (r == NULL)
        return TR_ENOMEM;
    r->id = e->next_req + 1;
    if (table_add(e, r) != 0) {
        req_free(e, r);
        return TR_ENOMEM;
    }
    e->next_req = r->id;
    r->to = to;
    r->fn = fn;
    r->cookie = cookie;
    // A deadline is never early, and at most 50 us late: computed from the
    // cheap upper bound of the clock (14 ns saved per request here).
    int64_t now =
        tr__loop_now_upper_ns(&ctx->sys->shards[tr__actor_loop(ctx->a)].loop);
    int64_t deadline = now + (timeout_ms > 0 ? timeout_ms : 0) * 1000000;
    const struct tr_msg *cur = ctx->cur;
    if (cur != NULL && tr__is_request(cur)) {
        r->parent = (struct tr__cancel){cur->from, cur->req_id};
        if (cur->deadline_ns != 0 && cur->deadline_ns < deadline)
            deadline = cur->deadline_ns; // inherit the smaller budget
    }
    if (type >= TR_MSG_SYSTEM || timeout_ms <= 0 || deadline <= now) {
        r->status =
            timeout_ms <= 0 || type >= TR_MSG_SYSTEM ? TR_EINVAL : TR_ETIMEDOUT;
        deadline = INT64_MIN; // due now: reported on the next run
    } else {
        reqmon_hold(ctx, e, to);
        int rc = tr__send_ctx(ctx, to, type, data, len, r->id, deadline);
        if (rc != 0) {
            reqmon_release(e, to);
            r->status = rc == TR_ENOACTOR ? TR_EDOWN : rc;
            deadline = INT64_MIN;
        }
    }
    r->deadline_ns = deadline;
    dq_insert(ctx, e, r);
    ctx->sent++;
    if (req != NULL)
        *req = r->id;
    return 0;
}

int
tr_request_cancel(tr_ctx *ctx, uint64_t req)
{
    struct tr__req *r = table_take(ctx->a->ext, req);
    if (r == NULL)
        return TR_EINVAL;
    dq_remove(ctx->a->ext, r);
    reqmon_release(ctx->a->ext, r->to);
    send_cancel(ctx, r);
    req_free(ctx->a->ext, r);
    return 0;
}

int64_t
tr_budget_ms(const tr_ctx *ctx)
{
    const struct tr_msg *m = ctx->cur;
    if (m == NULL || m->deadline_ns == 0)
        return -1;
    int64_t left = (m->deadline_ns - tr__ctx_now(ctx)) / 1000000;
    return left > 0 ? left : 0;
}

int64_t
tr_msg_deadline_ns(const tr_msg *m)
{
    return m->deadline_ns;
}

bool
tr_msg_is_request(const tr_msg *m)
{
    return tr__is_request(m);
}

tr_reply_token
tr_reply_later(const tr_msg *m)
{
    return (tr_reply_token){.to = m->from,
                            .req = tr_msg_is_request(m) ? m->req_id : 0,
                            .deadline_ns = m->deadline_ns};
}

int
tr_reply_to(tr_ctx *ctx, const tr_reply_token *t, uint32_t type,
            const void *data, size_t len)
{
    if (tr_ref_is_none(t->to))
        return TR_ENOACTOR;
    if (type >= TR_MSG_SYSTEM)
        return TR_EINVAL;
    ctx->sent++;
    return tr__send_ctx(ctx, t->to, type, data, len,
                        t->req ? t->req | TR__REQ_REPLY : 0, 0);
}
