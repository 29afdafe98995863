// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// router.c: a router over a pool of workers, on the public API only. The
// workers are the router's children; it monitors them and starts a new one
// in the same place when one crashes.
#include <troupe/flow.h>

#include <stdlib.h>
#include <string.h>

struct worker {
    tr_ref ref;
    uint64_t mon;
};

struct router {
    tr_router_spec spec; // spec.arg points at `arg`
    void *arg;
    struct worker *w;
    uint32_t next; // round-robin position
    uint32_t restarts;
    uint64_t routed, dropped, rng;
};

struct router_arg {
    const tr_router_spec *spec;
};

static int
worker_start(tr_ctx *ctx, struct router *r, uint32_t i)
{
    tr_spawn_opts o = {.capacity = r->spec.capacity};
    int rc =
        tr_spawn(&r->w[i].ref, ctx, r->spec.worker, r->arg, r->spec.len, &o);
    return rc != 0 ? rc : tr_monitor(ctx, r->w[i].ref, &r->w[i].mon);
}

static void
router_free(struct router *r)
{
    free(r->arg);
    free(r->w);
}

static int
router_init(tr_ctx *ctx, const void *arg, size_t len)
{
    struct router *r = tr_state(ctx);
    struct router_arg a;
    if (len != sizeof a)
        return TR_EINVAL;
    memcpy(&a, arg, sizeof a);
    r->spec = *a.spec;
    r->rng = tr_self(ctx).bits * 0x9E3779B97F4A7C15ull | 1;
    r->w = calloc(r->spec.n, sizeof *r->w);
    r->arg = r->spec.len ? malloc(r->spec.len) : NULL;
    int rc = r->w == NULL || (r->spec.len && r->arg == NULL) ? TR_ENOMEM : 0;
    if (rc == 0 && r->spec.len)
        memcpy(r->arg, a.spec->arg, r->spec.len);
    for (uint32_t i = 0; rc == 0 && i < r->spec.n; i++)
        rc = worker_start(ctx, r, i);
    if (rc != 0)
        router_free(r); // no stop hook after a failed init
    return rc;
}

static void
router_stop(tr_ctx *ctx, int reason)
{
    (void)reason;
    router_free(tr_state(ctx));
}

// 64-bit FNV-1a, then jump consistent hash (Lamping & Veach): moving from
// n to n+1 buckets moves only 1/(n+1) of the keys.
static uint32_t
hash_bucket(const unsigned char *key, size_t len, uint32_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ key[i]) * 0x100000001b3ull;
    int64_t b = -1, j = 0;
    while (j < n) {
        b = j;
        h = h * 2862933555777941757ull + 1;
        j = (int64_t)((double)(b + 1) *
                      ((double)(1ll << 31) / (double)((h >> 33) + 1)));
    }
    return (uint32_t)b;
}

// Picks a worker for `m`, or returns n when none can take it.
static uint32_t
pick(tr_system *sys, struct router *r, const tr_msg *m)
{
    uint32_t n = r->spec.n;
    switch (r->spec.route) {
    case TR_ROUTE_ROUND_ROBIN:
        return r->next++ % n;
    case TR_ROUTE_RANDOM:
        r->rng ^= r->rng << 13;
        r->rng ^= r->rng >> 7;
        r->rng ^= r->rng << 17;
        return (uint32_t)(r->rng % n);
    case TR_ROUTE_HASH:
        if (tr_msg_size(m) < r->spec.key_len)
            return n;
        return hash_bucket(tr_msg_data(m), r->spec.key_len, n);
    case TR_ROUTE_LEAST_LOADED: {
        uint32_t best = n, best_q = UINT32_MAX;
        for (uint32_t k = 0; k < n; k++) {
            uint32_t i = (r->next + k) % n; // ties go round the pool
            tr_mailbox_info mi;
            if (tr_mailbox_stats(sys, r->w[i].ref, &mi) != 0)
                continue;
            if (mi.capacity != 0 && mi.queued >= mi.capacity)
                continue; // full: skip
            if (mi.queued < best_q) {
                best = i;
                best_q = mi.queued;
            }
        }
        r->next++;
        return best;
    }
    }
    return n;
}

static int
router_info(tr_ctx *ctx, struct router *r, const tr_msg *m)
{
    size_t size = sizeof(tr_router_info) + r->spec.n * sizeof(tr_ref);
    tr_router_info *info = malloc(size);
    if (info == NULL)
        return 0;
    info->n = r->spec.n;
    info->restarts = r->restarts;
    info->routed = r->routed;
    info->dropped = r->dropped;
    for (uint32_t i = 0; i < r->spec.n; i++)
        info->workers[i] = r->w[i].ref;
    int rc = tr_reply(ctx, m, TR_ROUTER_INFO, info, size);
    free(info);
    return rc;
}

static int
router_receive(tr_ctx *ctx, const tr_msg *m)
{
    struct router *r = tr_state(ctx);
    uint32_t type = tr_msg_type(m);
    if (type == TR_MSG_DOWN) {
        tr_down d;
        memcpy(&d, tr_msg_data(m), sizeof d);
        for (uint32_t i = 0; i < r->spec.n; i++) {
            if (r->w[i].mon == d.mon) {
                r->restarts++;
                return worker_start(ctx, r, i); // fails: the router fails
            }
        }
        return 0;
    }
    if (type == TR_ROUTER_INFO)
        return router_info(ctx, r, m);
    if (type >= TR_MSG_SYSTEM)
        return TR_EUNHANDLED;
    uint32_t i = pick(tr_ctx_system(ctx), r, m);
    if (i < r->spec.n && tr_forward(ctx, r->w[i].ref, m) == 0)
        r->routed++;
    else
        r->dropped++;
    return 0;
}

static const tr_behavior router_behavior = {
    .name = "router",
    .state_size = sizeof(struct router),
    .init = router_init,
    .receive = router_receive,
    .stop = router_stop,
};

int
tr_router_spawn(tr_ref *out, tr_ctx *ctx, const tr_router_spec *spec)
{
    if (spec == NULL || spec->worker == NULL || spec->n == 0 ||
        spec->n > 1024 || spec->route > TR_ROUTE_HASH ||
        (spec->len != 0 && spec->arg == NULL) ||
        (spec->route == TR_ROUTE_HASH && spec->key_len == 0))
        return TR_EINVAL;
    struct router_arg a = {spec};
    return tr_spawn(out, ctx, &router_behavior, &a, sizeof a, NULL);
}
