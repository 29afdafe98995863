// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// gateway.c: a simulated slow external push service, as a blocking actor
// (tr_spawn_opts.blocking): it runs on its own thread and may wait, as a
// synchronous client of a real push service would.
//
// Each gateway actor is one connection with up to `streams` requests in
// progress (HTTP/2 streams). A request (NOTIFY_PUSH, sent with tr_request)
// takes a latency drawn from [latency_min, latency_max]; then it is
// answered NOTIFY_PUSH_OK, or, for `fail_rate` of them, NOTIFY_PUSH_ERR
// (transient "503 service unavailable", or for `permanent_rate` of the
// failures, permanent "410 device token unregistered").
//
// The handler keeps the connection busy while anything is in progress:
// it waits for the next request or the next due answer with tr_receive,
// which a stop wakes at once. The request's deadline travels with it: a
// request that arrives with no budget left is skipped, and one whose
// requester gave up (TR_MSG_CANCEL: it timed out) is dropped from the
// connection, freeing its stream.
#include "notify.h"

#include <troupe/pack.h>

#include <string.h>

#define STREAMS_MAX 64

struct gw_stream {
    tr_reply_token to;
    int64_t due_ns;
    int outcome; // 0 ok, 1 transient failure, 2 permanent failure
};

struct gateway {
    struct notify_gateway_arg a;
    uint64_t rng;
    uint32_t n;
    struct gw_stream s[STREAMS_MAX];
};

static int
gateway_init(tr_ctx *ctx, const void *arg, size_t len)
{
    struct gateway *g = tr_state(ctx);
    if (len != sizeof g->a)
        return TR_EINVAL;
    memcpy(&g->a, arg, sizeof g->a);
    if (g->a.streams == 0 || g->a.streams > STREAMS_MAX)
        return TR_EINVAL;
    g->rng = g->a.seed | 1;
    return 0;
}

static double
uniform(struct gateway *g)
{
    return (double)(notify_rng(&g->rng) >> 11) / (double)(1ull << 53);
}

static void
answer(tr_ctx *ctx, const tr_reply_token *to, int outcome)
{
    if (outcome == 0) {
        (void)tr_reply_to(ctx, to, NOTIFY_PUSH_OK, NULL, 0);
        return;
    }
    unsigned char buf[64];
    tr_pack p;
    tr_pack_init(&p, buf, sizeof buf);
    tr_pack_array(&p, 2);
    tr_pack_bool(&p, outcome == 2);
    tr_pack_cstr(&p, outcome == 2   ? "410 device token unregistered"
                     : outcome == 1 ? "503 service unavailable"
                                    : "429 too many streams");
    if (p.err == 0) // a reply that cannot be sent: the requester times out
        (void)tr_reply_to(ctx, to, NOTIFY_PUSH_ERR, tr_pack_data(&p),
                          tr_pack_len(&p));
    tr_pack_fini(&p);
}

// take starts work on one message: a request, or a cancel of one.
static void
take(tr_ctx *ctx, struct gateway *g, const tr_msg *m)
{
    int64_t now = tr_ctx_now_ns(ctx);
    if (tr_msg_type(m) == TR_MSG_CANCEL &&
        tr_msg_size(m) == sizeof(tr_request_info)) {
        tr_request_info info;
        memcpy(&info, tr_msg_data(m), sizeof info);
        for (uint32_t i = 0; i < g->n; i++)
            if (tr_ref_eq(g->s[i].to.to, info.requester) &&
                g->s[i].to.req == info.req) {
                g->s[i] = g->s[--g->n]; // the requester gave up on it
                break;
            }
        return;
    }
    if (tr_msg_type(m) != NOTIFY_PUSH)
        return;
    tr_reply_token to = tr_reply_later(m);
    int64_t deadline = tr_msg_deadline_ns(m);
    if (deadline != 0 && deadline <= now)
        return; // no budget left: nobody waits for the answer
    if (g->n == g->a.streams) {
        answer(ctx, &to, 3); // a real service refuses extra streams too
        return;
    }
    int64_t span = g->a.latency_max_ms - g->a.latency_min_ms;
    int64_t ms =
        g->a.latency_min_ms +
        (span > 0 ? (int64_t)(notify_rng(&g->rng) % (uint64_t)(span + 1)) : 0);
    int outcome = 0;
    if (uniform(g) < g->a.fail_rate)
        outcome = uniform(g) < g->a.permanent_rate ? 2 : 1;
    g->s[g->n++] = (struct gw_stream){to, now + ms * 1000000, outcome};
}

static int
gateway_receive(tr_ctx *ctx, const tr_msg *m)
{
    struct gateway *g = tr_state(ctx);
    take(ctx, g, m);
    while (g->n > 0) {
        int64_t now = tr_ctx_now_ns(ctx);
        int64_t next = INT64_MAX;
        for (uint32_t i = 0; i < g->n;) {
            if (g->s[i].due_ns <= now) {
                answer(ctx, &g->s[i].to, g->s[i].outcome);
                g->s[i] = g->s[--g->n];
                continue;
            }
            if (g->s[i].due_ns < next)
                next = g->s[i].due_ns;
            i++;
        }
        if (g->n == 0)
            break;
        const tr_msg *more;
        int rc = tr_receive(ctx, &more, (next - now + 999999) / 1000000);
        if (rc == TR_ECLOSED)
            return 0; // stopping: requesters see TR_EDOWN
        if (rc == 0)
            take(ctx, g, more);
    }
    return 0;
}

const tr_behavior notify_gateway = {.name = "gateway",
                                    .state_size = sizeof(struct gateway),
                                    .init = gateway_init,
                                    .receive = gateway_receive};
