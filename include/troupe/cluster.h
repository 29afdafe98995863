// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// troupe/cluster.h: several processes as one actor system.
//
// tr_node_start makes a running system a *node*: it listens on a URL,
// joins the nodes given as seeds, and from then on a tr_ref may name an
// actor in another node. tr_send, tr_request (the deadline travels with
// the message), tr_reply, tr_monitor, tr_link and tr_stop work on such refs
// as on local ones:
// - Per sender->receiver pair, messages arrive in send order; delivery is
//   at most once. A node's messages to one peer are batched.
// - Peers authenticate each other with the cluster secret (HMAC-SHA256
//   challenge-response) before any other traffic; a wrong secret is
//   refused and logged.
// - Heartbeats run on the node's own thread, not on the loops: a loop
//   stalled by a slow handler does not make its node look dead, and a
//   frozen process (SIGSTOP) does, within the configured timeout.
// - When a peer is lost, every monitor on its actors fires with reason
//   TR_ENOCONN, every link to them delivers an exit with TR_ENOCONN, and
//   pending requests to them end at once with TR_EDOWN.
// - A node that restarts comes back with a new incarnation: refs to its
//   previous incarnation fail with TR_ENOACTOR, and never reach the new
//   process's actors.
// - A send to a peer whose outbox is full returns TR_EFULL at once; a
//   send to a node not connected now returns TR_ENOCONN. A message that
//   reaches a node whose target is gone or full is dropped and counted
//   (tr_node_stats), as a local dead letter would be.
// The wire format is specified in docs/wire.md.
#ifndef TROUPE_CLUSTER_H
#define TROUPE_CLUSTER_H

#include <troupe.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TR_NODE_NAME_MAX 64 // bytes of a node name, NUL included

// tr_node_config describes a node. Zero-initialise it and set what you
// need; name and secret (or insecure) are required.
typedef struct tr_node_config {
    // name is unique in the cluster (1-63 bytes, printable ASCII).
    const char *name;
    // listen is the URL peers reach this node at: tcp://host:port
    // (port 0 picks one; see tr_node_url), ipc:///path. NULL: this node
    // only dials out.
    const char *listen;
    // seeds are URLs of nodes to join; the node keeps redialling them
    // (with backoff) until it is closed.
    const char *const *seeds;
    unsigned nseeds;
    // secret is the cluster secret every node shares. Required unless
    // insecure is set (then peers are not authenticated: tests only).
    const void *secret;
    size_t secret_len;
    bool insecure;
    // heartbeat_ms is how often an idle connection says it is alive; a
    // peer not heard from for timeout_ms is down. 0: 200 and 1500.
    int64_t heartbeat_ms;
    int64_t timeout_ms;
    // outbox_bytes bounds the bytes queued to one peer and not yet
    // written; past it sends return TR_EFULL. 0: 8 MiB.
    size_t outbox_bytes;
    // max_frame bounds one frame on the wire (a message's payload plus
    // about 100 bytes of envelope); a peer sending more is disconnected.
    // 0: the system's max_msg_size plus 1 KiB, at most 64 MiB.
    size_t max_frame;
    // reconnect_min_ms / reconnect_max_ms bound the redial backoff
    // (doubling, with jitter). 0: 100 and 5000.
    int64_t reconnect_min_ms;
    int64_t reconnect_max_ms;
} tr_node_config;

// tr_node_start makes `sys` a node. It returns once the node listens (if
// it has a URL); connections to seeds are made in the background (see
// tr_node_wait_peers). The node stops when the system closes.
// Returns 0, TR_EINVAL (bad config, manual system), TR_EBUSY (already a
// node), TR_ENOMEM or TR_ESYS (cannot listen: the URL is taken, say).
// Ownership: `cfg` and what it points to are copied. Thread: any, once.
TR_API int tr_node_start(tr_system *sys, const tr_node_config *cfg);

// tr_node_url writes the URL this node listens at (with the port chosen,
// if it asked for port 0) into buf. Returns 0, TR_EINVAL (not a node or
// not listening) or TR_ELIMIT (buf too small). Thread: any.
TR_API int tr_node_url(tr_system *sys, char *buf, size_t size);

// tr_node_connect dials `url` in the background, as a seed. Returns 0,
// TR_EINVAL or TR_ENOMEM. Thread: any.
TR_API int tr_node_connect(tr_system *sys, const char *url);

// tr_node_disconnect drops the connection to the node called `name`, as
// if the network had failed (Erlang's disconnect_node): both ends see the
// node go down, with everything that implies; a node that dialled the
// other redials it. Returns 0, TR_EINVAL or TR_ENOMEM. Thread: any.
TR_API int tr_node_disconnect(tr_system *sys, const char *name);

// tr_node_wait_peers waits until at least `n` peers are connected, or
// `timeout_ms` passed (TR_ETIMEDOUT). Thread: any but a loop.
TR_API int tr_node_wait_peers(tr_system *sys, unsigned n, int64_t timeout_ms);

// tr_node_stats counts a node's traffic. Counters only grow.
typedef struct tr_node_stats {
    uint64_t peers_up;   // connected and authenticated now
    uint64_t nodes_up;   // peer-up events so far
    uint64_t nodes_down; // peer-down events so far
    uint64_t msgs_out;   // envelopes queued to peers
    uint64_t msgs_in;    // envelopes received and decoded
    uint64_t frames_out; // writes (each a batch of envelopes)
    uint64_t bytes_out;
    uint64_t bytes_in;
    uint64_t outbox_full;    // sends refused with TR_EFULL
    uint64_t dropped_in;     // received for a gone or full actor
    uint64_t auth_failures;  // peers refused: wrong secret
    uint64_t proto_errors;   // peers disconnected for bad frames
    uint64_t heartbeat_miss; // peers declared down by timeout
} tr_node_stats;

// tr_node_stats fills *out. Returns 0 or TR_EINVAL (not a node).
// Thread: any.
TR_API int tr_node_stats_get(tr_system *sys, tr_node_stats *out);

// tr_ref_node writes the name of the node `r` lives on ("" for this
// process's own actors when it is not a node). Returns 0, TR_EINVAL
// (unknown node index) or TR_ELIMIT. Thread: any.
TR_API int tr_ref_node(tr_system *sys, tr_ref r, char *buf, size_t size);

// ---------------------------------------------------------------------------
// Names: a registry shared by the cluster. A name maps to one actor; every
// node keeps a copy, so tr_whereis answers locally. A name vanishes when
// its owner stops (within one heartbeat interval) or its node goes down.
// Two nodes registering one name at once: the owner on the node whose name
// sorts first keeps it, on every node; the other registration is dropped
// and logged.

// tr_register names `who`, an actor of this process. Returns 0, TR_EBUSY
// (the name is held by another live actor), TR_EINVAL (bad name: 1-127
// bytes; remote `who`; not a node) or TR_ENOMEM. Names live in the node
// registry is not kept without one: TR_EINVAL then). Thread: any.
TR_API int tr_register(tr_system *sys, const char *name, tr_ref who);

// tr_unregister removes a name this process registered. Returns 0 or
// TR_ENOACTOR (no such name here). Thread: any.
TR_API int tr_unregister(tr_system *sys, const char *name);

// tr_whereis looks a name up. Returns 0 with *out set, or TR_ENOACTOR.
// Thread: any.
TR_API int tr_whereis(tr_system *sys, const char *name, tr_ref *out);

#ifdef __cplusplus
}
#endif

#endif // TROUPE_CLUSTER_H
