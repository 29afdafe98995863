// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// api.c: a shard's front door, a child of its courier. Its mailbox is
// bounded (cfg.api_queue, TR_OVERFLOW_REFUSE): when it is full the edge's
// send gets TR_EFULL and the client gets 503 at once, so a flood waits in
// no queue of ours. It applies the per-user (or per-topic) rate limit,
// answering 429 with Retry-After, and passes the rest to the courier.
// It registers itself as "notify.api.<shard>", so the edge finds the new
// one after a restart.
#include "limiter.h"
#include "notify.h"

#include <troupe/cluster.h>
#include <troupe/pack.h>

#include <stdio.h>
#include <string.h>

struct api {
    struct notify_shard_arg a;
    notify_limiter *lim;
};

static void
busy(struct api *api, uint64_t token)
{
    static const char body[] = "{\"error\":\"shard unavailable\"}";
    api->a.port.respond(api->a.port.cookie, token, 503, 1, body,
                        sizeof body - 1);
}

static int
api_init(tr_ctx *ctx, const void *arg, size_t len)
{
    struct api *api = tr_state(ctx);
    if (len != sizeof api->a)
        return TR_EINVAL;
    memcpy(&api->a, arg, sizeof api->a);
    const notify_config *cfg = &api->a.cfg;
    if (cfg->rate > 0 && notify_limiter_alloc(&api->lim, cfg->rate, cfg->burst,
                                              cfg->limiter_keys) != 0)
        return TR_ENOMEM;
    char name[32];
    notify_api_name(name, sizeof name, api->a.shard);
    int rc = tr_register(tr_ctx_system(ctx), name, tr_self(ctx));
    if (rc != 0)
        notify_limiter_free(api->lim);
    return rc;
}

static int
on_submit(tr_ctx *ctx, struct api *api, const tr_msg *m)
{
    struct notify_submission s;
    if (notify_submission_unpack(&s, tr_msg_data(m), tr_msg_size(m),
                                 api->a.cfg.ttl_max_ms) != 0)
        return 0; // not from our edge
    char key[NOTIFY_NAME_MAX + 2];
    key[0] = s.kind ? 't' : 'u';
    key[1] = ':';
    memcpy(key + 2, s.name, s.name_len);
    int64_t retry_ms = 0;
    if (api->lim != NULL &&
        !notify_limiter_take(api->lim, key, s.name_len + 2, tr_ctx_now_ns(ctx),
                             &retry_ms)) {
        atomic_fetch_add_explicit(&api->a.ctr->limited, 1,
                                  memory_order_relaxed);
        char body[128];
        int n = snprintf(body, sizeof body,
                         "{\"error\":\"rate limit: %g per second per %s\","
                         "\"retry_after_ms\":%lld}",
                         api->a.cfg.rate, s.kind ? "topic" : "user",
                         (long long)retry_ms);
        api->a.port.respond(api->a.port.cookie, s.token, 429,
                            (int)((retry_ms + 999) / 1000), body, (size_t)n);
        return 0;
    }
    if (tr_send(ctx, tr_parent(ctx), NOTIFY_SUBMIT, tr_msg_data(m),
                tr_msg_size(m)) != 0)
        busy(api, s.token);
    return 0;
}

static int
api_receive(tr_ctx *ctx, const tr_msg *m)
{
    struct api *api = tr_state(ctx);
    switch (tr_msg_type(m)) {
    case NOTIFY_SUBMIT:
        return on_submit(ctx, api, m);
    case NOTIFY_GET:
        if (tr_send(ctx, tr_parent(ctx), NOTIFY_GET, tr_msg_data(m),
                    tr_msg_size(m)) != 0) {
            tr_unpack u;
            uint32_t n;
            uint64_t token = 0;
            tr_unpack_init(&u, tr_msg_data(m), tr_msg_size(m));
            tr_unpack_array(&u, &n);
            tr_unpack_uint(&u, &token);
            if (tr_unpack_fini(&u) == 0)
                busy(api, token);
        }
        return 0;
    default:
        return TR_EUNHANDLED;
    }
}

static void
api_stop(tr_ctx *ctx, int reason)
{
    struct api *api = tr_state(ctx);
    (void)reason;
    notify_limiter_free(api->lim); // the name goes with us (the node agent)
}

const tr_behavior notify_api = {.name = "api",
                                .state_size = sizeof(struct api),
                                .init = api_init,
                                .receive = api_receive,
                                .stop = api_stop};
