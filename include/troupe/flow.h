// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// troupe/flow.h: flow-control helpers built on the public API only:
// credit-based streams and routers over a pool of workers.
#ifndef TROUPE_FLOW_H
#define TROUPE_FLOW_H

#include <troupe.h>

#ifdef __cplusplus
extern "C" {
#endif

// ---------------------------------------------------------------------------
// Credit streams: the receiver grants N messages, the sender sends at most
// that many not yet granted again (asyncio.Queue(maxsize) for actors). With
// a window of W the receiver's queue never holds more than W messages of
// the stream.

// TR_MSG_CREDIT carries a grant (uint32_t) from a stream's receiver.
#define TR_MSG_CREDIT 0xFFFE0200u

// tr_stream_out is the sender's side; plain state, keep it in yours.
typedef struct tr_stream_out {
    tr_ref to;
    uint32_t credit; // messages it may still send
} tr_stream_out;

// tr_stream_send sends one message of the stream if there is credit.
// Returns as tr_send, or TR_EFULL with nothing sent when the credit is
// used up (wait for TR_MSG_CREDIT). Thread: handler.
TR_API int tr_stream_send(tr_ctx *ctx, tr_stream_out *out, uint32_t type,
                          const void *data, size_t len);

// tr_stream_credit takes a TR_MSG_CREDIT from the stream's receiver into
// `out`; false (and nothing changed) for any other message.
// Thread: handler.
TR_API bool tr_stream_credit(tr_stream_out *out, const tr_msg *msg);

// tr_stream_in is the receiver's side.
typedef struct tr_stream_in {
    tr_ref from;
    uint32_t window;   // at most this many in flight
    uint32_t consumed; // since the last grant
} tr_stream_in;

// tr_stream_open grants the first window to `from`. Returns as tr_send.
// Thread: handler.
TR_API int tr_stream_open(tr_ctx *ctx, tr_stream_in *in, tr_ref from,
                          uint32_t window);

// tr_stream_consumed records one message handled, granting more once half
// the window has been consumed. Returns as tr_send. Thread: handler.
TR_API int tr_stream_consumed(tr_ctx *ctx, tr_stream_in *in);

// ---------------------------------------------------------------------------
// Routers: one actor in front of n workers of one behaviour, which it
// spawns as its children, restarts when they crash, and forwards user
// messages to (tr_forward: the sender, request id and deadline are kept,
// so workers reply straight to the requester).

enum tr_route {
    TR_ROUTE_ROUND_ROBIN,
    TR_ROUTE_RANDOM,
    TR_ROUTE_LEAST_LOADED, // fewest queued messages; full workers skipped
    TR_ROUTE_HASH, // consistent hashing of the payload's first key_len bytes
};

typedef struct tr_router_spec {
    enum tr_route route;
    const tr_behavior *worker;
    const void *arg; // each worker's init argument (copied)
    size_t len;
    uint32_t n;        // workers (1 .. 1024)
    uint32_t capacity; // each worker's mailbox bound (0: unbounded;
                       // least-loaded needs a bound to see depths)
    size_t key_len;    // TR_ROUTE_HASH: bytes of payload that are the key
} tr_router_spec;

// tr_router_spawn starts a router as a child of the caller. A message the
// router cannot place (every worker full, or a key shorter than key_len)
// is dropped and counted (tr_router_info.dropped). Returns 0, a worker's
// init code, TR_EINVAL or TR_ENOMEM. Thread: handler.
TR_API int tr_router_spawn(tr_ref *out, tr_ctx *ctx,
                           const tr_router_spec *spec);

// TR_ROUTER_INFO asks a router about itself; the reply (same type) is a
// tr_router_info followed by n worker refs.
#define TR_ROUTER_INFO 0xFFFE0201u

typedef struct tr_router_info {
    uint32_t n;        // workers
    uint32_t restarts; // workers restarted after crashing
    uint64_t routed;   // messages forwarded
    uint64_t dropped;  // messages it could not place
    tr_ref workers[];
} tr_router_info;

#ifdef __cplusplus
}
#endif

#endif // TROUPE_FLOW_H
