// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// fanout.c: tr_gather (fan-out/fan-in with bounded concurrency) and
// tr_request_retry, built on tr_request.
//
// Each helper owns a later armed at its overall deadline while requests
// are in flight. It is the hard limit (when it fires, whatever is pending
// is cancelled and reported as timed out) and it ties the helper's memory
// to the actor: if the actor stops, the later's drop frees it, and the
// requests end without callbacks.
#include "actor.h"

#include <string.h>

static int64_t
ms_until(tr_ctx *ctx, int64_t deadline_ns)
{
    int64_t left = deadline_ns - tr__ctx_now(ctx);
    return left <= 0 ? 0 : (left + 999999) / 1000000;
}

static tr_msg *
msg_copy(const tr_msg *m)
{
    struct tr_msg *c = tr__msg_alloc(m->type, m->len, false);
    if (c != NULL) {
        c->from = m->from;
        memcpy(c->data, m->data, m->len);
    }
    return c;
}

// ---------------------------------------------------------------------------
// gather

struct gslot {
    struct gather *g;
    size_t i;
};

struct gather {
    struct tr__later l; // first: the overall deadline
    tr_gather_fn done;
    void *cookie;
    size_t n, next, inflight, left, max;
    bool fail_fast, failed;
    int64_t deadline_ns;
    tr_gather_item *items; // data points into `blob`
    tr_outcome *out;
    uint64_t *reqs; // pending request per item, 0 when none
    struct gslot *slots;
    size_t blob_len;
    unsigned char *blob;
};

static void
gather_free(struct gather *g)
{
    for (size_t i = 0; i < g->n; i++)
        if (g->out[i].reply != NULL)
            tr__msg_free((struct tr_msg *)g->out[i].reply);
    tr__free(g->items, g->n * sizeof *g->items);
    tr__free(g->out, g->n * sizeof *g->out);
    tr__free(g->reqs, g->n * sizeof *g->reqs);
    tr__free(g->slots, g->n * sizeof *g->slots);
    tr__free(g->blob, g->blob_len);
    tr__free(g, sizeof *g);
}

static void
gather_drop(tr_system *sys, struct tr__later *l)
{
    (void)sys;
    gather_free((struct gather *)l);
}

static void gather_one(tr_ctx *ctx, int status, const tr_msg *reply,
                       void *cookie);

static void
gather_finish(tr_ctx *ctx, struct gather *g)
{
    tr__later_forget(ctx->a, &g->l);
    g->done(ctx, g->out, g->n, g->cookie);
    gather_free(g);
}

// Ends every item still open with `status`, cancelling its request.
static void
gather_close_all(tr_ctx *ctx, struct gather *g, int status)
{
    for (size_t i = 0; i < g->n; i++) {
        if (g->reqs[i] != 0) {
            (void)tr_request_cancel(ctx, g->reqs[i]);
            g->reqs[i] = 0;
            g->out[i].status = status;
            g->left--;
        }
    }
    for (; g->next < g->n; g->next++) {
        g->out[g->next].status = status;
        g->left--;
    }
    g->inflight = 0;
}

static void
gather_start(tr_ctx *ctx, struct gather *g)
{
    while (g->next < g->n && (g->max == 0 || g->inflight < g->max)) {
        size_t i = g->next++;
        int64_t ms = ms_until(ctx, g->deadline_ns);
        const tr_gather_item *it = &g->items[i];
        int rc = ms == 0
                     ? TR_ETIMEDOUT
                     : tr_request(ctx, &g->reqs[i], it->to, it->type, it->data,
                                  it->len, ms, gather_one, &g->slots[i]);
        if (rc != 0) {
            g->out[i].status = rc;
            g->left--;
        } else {
            g->inflight++;
        }
    }
}

static void
gather_one(tr_ctx *ctx, int status, const tr_msg *reply, void *cookie)
{
    struct gslot *s = cookie;
    struct gather *g = s->g;
    g->reqs[s->i] = 0;
    g->inflight--;
    g->left--;
    g->out[s->i].status = status;
    if (status == 0 && (g->out[s->i].reply = msg_copy(reply)) == NULL)
        g->out[s->i].status = TR_ENOMEM;
    if (g->out[s->i].status != 0 && g->fail_fast && !g->failed) {
        g->failed = true;
        gather_close_all(ctx, g, TR_ECANCELED);
    }
    gather_start(ctx, g);
    if (g->left == 0)
        gather_finish(ctx, g);
}

static void
gather_deadline(tr_ctx *ctx, struct tr__later *l)
{
    struct gather *g = (struct gather *)l;
    gather_close_all(ctx, g, TR_ETIMEDOUT);
    gather_finish(ctx, g); // the later is already off its lists
}

int
tr_gather(tr_ctx *ctx, const tr_gather_item *items, size_t n,
          const tr_gather_opts *opts, tr_gather_fn done, void *cookie)
{
    if (done == NULL || opts == NULL || opts->timeout_ms <= 0 || n == 0 ||
        items == NULL || tr__ctx_blocking(ctx))
        return TR_EINVAL;
    struct tr__ext *e = tr__ext_get(ctx->a);
    struct gather *g = tr__zalloc(sizeof *g);
    if (e == NULL || g == NULL) {
        tr__free(g, sizeof *g);
        return TR_ENOMEM;
    }
    g->n = g->left = n;
    for (size_t i = 0; i < n; i++)
        g->blob_len += items[i].len;
    g->items = tr__alloc(n * sizeof *g->items);
    g->out = tr__zalloc(n * sizeof *g->out);
    g->reqs = tr__zalloc(n * sizeof *g->reqs);
    g->slots = tr__alloc(n * sizeof *g->slots);
    g->blob = g->blob_len ? tr__alloc(g->blob_len) : NULL;
    if (g->items == NULL || g->out == NULL || g->reqs == NULL ||
        g->slots == NULL || (g->blob_len && g->blob == NULL)) {
        gather_free(g);
        return TR_ENOMEM;
    }
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        g->items[i] = items[i];
        if (items[i].len != 0) {
            memcpy(g->blob + off, items[i].data, items[i].len);
            g->items[i].data = g->blob + off;
            off += items[i].len;
        }
        g->slots[i] = (struct gslot){g, i};
    }
    g->done = done;
    g->cookie = cookie;
    g->max = opts->max_in_flight;
    g->fail_fast = opts->fail_fast;
    g->deadline_ns = tr__ctx_now(ctx) + opts->timeout_ms * 1000000;
    g->l.run = gather_deadline;
    g->l.drop = gather_drop;
    tr__later_arm(ctx, &g->l, g->deadline_ns);
    gather_start(ctx, g);
    if (g->left == 0) // every item failed at once: report on the next run
        tr__later_arm(ctx, &g->l, tr__ctx_now(ctx));
    return 0;
}

// ---------------------------------------------------------------------------
// retry

struct retry {
    struct tr__later l; // first: the backoff pause, or the deadline
    tr_reply_fn fn;
    void *cookie;
    tr_ref to;
    uint32_t type;
    size_t len;
    tr_retry p;
    int attempts;
    uint64_t req; // the attempt in flight, 0 while pausing
    int64_t deadline_ns;
    int64_t pause_ms;
    unsigned char data[];
};

static void
retry_free(struct retry *r)
{
    tr__free(r, sizeof *r + r->len);
}

static void
retry_drop(tr_system *sys, struct tr__later *l)
{
    (void)sys;
    retry_free((struct retry *)l);
}

static void
retry_end(tr_ctx *ctx, struct retry *r, int status, const tr_msg *reply)
{
    tr__later_forget(ctx->a, &r->l);
    r->fn(ctx, status, reply, r->cookie);
    retry_free(r);
}

static void retry_one(tr_ctx *ctx, int status, const tr_msg *reply,
                      void *cookie);

static int
retry_attempt(tr_ctx *ctx, struct retry *r)
{
    int64_t left = ms_until(ctx, r->deadline_ns);
    int64_t ms = r->p.attempt_timeout_ms > 0 && r->p.attempt_timeout_ms < left
                     ? r->p.attempt_timeout_ms
                     : left;
    r->attempts++;
    int rc = tr_request(ctx, &r->req, r->to, r->type, r->len ? r->data : NULL,
                        r->len, ms, retry_one, r);
    if (rc == 0) {
        tr__later_forget(ctx->a, &r->l);
        tr__later_arm(ctx, &r->l, r->deadline_ns); // the hard limit
    }
    return rc;
}

static uint64_t
rnd(tr_ctx *ctx)
{
    uint64_t *s = &ctx->sys->shards[tr__actor_loop(ctx->a)].rng;
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void
retry_one(tr_ctx *ctx, int status, const tr_msg *reply, void *cookie)
{
    struct retry *r = cookie;
    r->req = 0;
    if ((status != TR_ETIMEDOUT && status != TR_EDOWN) ||
        r->attempts >= r->p.max_attempts) {
        retry_end(ctx, r, status, reply);
        return;
    }
    // Equal jitter: half the pause fixed, half random.
    int64_t half = r->pause_ms / 2;
    int64_t pause = half + (int64_t)(rnd(ctx) % (uint64_t)(half + 1));
    int64_t at = tr__ctx_now(ctx) + pause * 1000000;
    if (at >= r->deadline_ns) {
        retry_end(ctx, r, status, NULL);
        return;
    }
    r->pause_ms *= 2;
    if (r->p.backoff_max_ms > 0 && r->pause_ms > r->p.backoff_max_ms)
        r->pause_ms = r->p.backoff_max_ms;
    tr__later_forget(ctx->a, &r->l);
    tr__later_arm(ctx, &r->l, at);
}

static void
retry_later(tr_ctx *ctx, struct tr__later *l)
{
    struct retry *r = (struct retry *)l;
    if (r->req != 0) { // the overall deadline, with an attempt in flight
        (void)tr_request_cancel(ctx, r->req);
        retry_end(ctx, r, TR_ETIMEDOUT, NULL);
        return;
    }
    int rc = retry_attempt(ctx, r);
    if (rc != 0)
        retry_end(ctx, r, rc, NULL);
}

int
tr_request_retry(tr_ctx *ctx, tr_ref to, uint32_t type, const void *data,
                 size_t len, const tr_retry *policy, tr_reply_fn fn,
                 void *cookie)
{
    if (fn == NULL || policy == NULL || policy->max_attempts <= 0 ||
        policy->timeout_ms <= 0 || policy->backoff_ms < 0 ||
        (len != 0 && data == NULL) || tr__ctx_blocking(ctx))
        return TR_EINVAL;
    struct tr__ext *e = tr__ext_get(ctx->a);
    struct retry *r = tr__zalloc(sizeof *r + len);
    if (e == NULL || r == NULL) {
        tr__free(r, sizeof *r + len);
        return TR_ENOMEM;
    }
    r->fn = fn;
    r->cookie = cookie;
    r->to = to;
    r->type = type;
    r->len = len;
    r->p = *policy;
    r->pause_ms = policy->backoff_ms;
    if (len != 0)
        memcpy(r->data, data, len);
    r->deadline_ns = tr__ctx_now(ctx) + policy->timeout_ms * 1000000;
    r->l.run = retry_later;
    r->l.drop = retry_drop;
    int rc = retry_attempt(ctx, r);
    if (rc != 0) {
        tr__later_forget(ctx->a, &r->l);
        retry_free(r);
    }
    return rc;
}
