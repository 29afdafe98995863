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
    // (port 0 picks one; see tr_node_url), tls+tcp://host:port (see the
    // tls_ fields), ipc:///path. NULL: this node only dials out.
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
    // TLS for tls+tcp:// URLs (listening and dialling), mutual: this
    // node shows tls_cert_file (PEM, with its key in tls_key_file) and
    // accepts only peers whose certificate tls_ca_file's CA signed. The
    // cluster secret is still checked on top (nng 1.5 cannot show the
    // peer's certificate, so a node's identity comes from its HELLO).
    const char *tls_cert_file;
    const char *tls_key_file;
    const char *tls_ca_file;
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

// TR_MSG_NODEUP / TR_MSG_NODEDOWN tell a subscriber (tr_node_monitor)
// that a peer connected or went down; the payload is a tr_node_event.
#define TR_MSG_NODEUP   (TR_MSG_SYSTEM + 0x201)
#define TR_MSG_NODEDOWN (TR_MSG_SYSTEM + 0x202)

typedef struct tr_node_event {
    char name[TR_NODE_NAME_MAX];
    uint64_t incarnation;
    int32_t reason; // NODEDOWN: TR_ETIMEDOUT (silent), TR_ENOCONN, ...
} tr_node_event;

// tr_node_monitor subscribes `who` (an actor or inbox of this process) to
// node up/down events (Erlang's monitor_node for every node). A
// subscriber that stops is dropped at the next event. Returns 0,
// TR_EINVAL or TR_ENOMEM. Thread: any.
TR_API int tr_node_monitor(tr_system *sys, tr_ref who);

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
    uint64_t outbox_full;     // sends refused with TR_EFULL
    uint64_t dropped_in;      // received for a gone or full actor
    uint64_t auth_failures;   // peers refused: wrong secret
    uint64_t proto_errors;    // peers disconnected for bad frames
    uint64_t heartbeat_miss;  // peers declared down by timeout
    uint64_t group_pub_out;   // tr_pg_publish copies sent to other nodes
    uint64_t group_pub_in;    // group messages received from other nodes
    uint64_t group_delivered; // group messages put in local mailboxes
    uint64_t group_dropped;   // missed by a gone or full member
    uint64_t conns;           // connections open now, handshaking or up
    uint64_t conns_opened;    // connections begun so far, dialled or accepted
    uint64_t beats_in;        // heartbeats received
} tr_node_stats;

// tr_node_stats fills *out. Returns 0 or TR_EINVAL (not a node).
// Thread: any.
TR_API int tr_node_stats_get(tr_system *sys, tr_node_stats *out);

// tr_node_peer describes one peer for tr_node_peers.
typedef struct tr_node_peer {
    char name[TR_NODE_NAME_MAX];
    uint64_t incarnation;
    bool up; // connected and authenticated now
    // outbox_bytes is what is queued to it and not yet written: both
    // lanes (control and data, framing included) and the rest of the
    // write in flight. 0 while it is down. tr_node_config.outbox_bytes
    // bounds the data lane.
    size_t outbox_bytes;
} tr_node_peer;

// tr_node_peers writes up to `cap` of the peers this node knows (those
// connected now and those it has seen, but not incarnations a restart
// replaced) to `out`, in the order it met them, and their total to *n.
// Each peer is read under its own locks, briefly. Returns 0 or TR_EINVAL
// (not a node). Ownership: `out` and `n` are borrowed. Thread: any.
TR_API int tr_node_peers(tr_system *sys, tr_node_peer *out, size_t cap,
                         size_t *n);

// tr_ref_node writes the name of the node `r` lives on ("" for this
// process's own actors when it is not a node). Returns 0, TR_EINVAL
// (unknown node index) or TR_ELIMIT. Thread: any.
TR_API int tr_ref_node(tr_system *sys, tr_ref r, char *buf, size_t size);

// ---------------------------------------------------------------------------
// Names: a registry shared by the cluster. A name maps to one actor; every
// node keeps a copy, so tr_whereis answers locally. A name vanishes when
// its owner stops (the node monitors it) or its node goes down.
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

// ---------------------------------------------------------------------------
// Process groups (Erlang's pg): named sets of actors across the cluster,
// for pub/sub fan-out (chat rooms, notification topics). Every node keeps
// the whole membership; an actor leaves its groups when it stops (the node
// monitors it) or its node goes down. Publishing sends one copy to each
// member on this node and one copy per other node that has members, which
// that node fans out to its own: N members on k nodes cost k-1 wire
// messages, not N. A publisher's messages to one group reach each member
// in publish order.

// tr_pg_join adds `who`, an actor of this process, to `group` (1-127
// bytes). Joining twice is the same as once. Returns 0, TR_EINVAL (bad
// name, remote `who`, not a node), TR_ENOACTOR or TR_ENOMEM. Thread: any.
TR_API int tr_pg_join(tr_system *sys, const char *group, tr_ref who);

// tr_pg_leave removes `who` from `group`. Returns 0, TR_EINVAL or
// TR_ENOACTOR (not a member). Thread: any.
TR_API int tr_pg_leave(tr_system *sys, const char *group, tr_ref who);

// tr_pg_members writes up to `cap` members of `group` (this node's first)
// to `out` and their total to *n. Returns 0 or TR_EINVAL. Thread: any.
TR_API int tr_pg_members(tr_system *sys, const char *group, tr_ref *out,
                         size_t cap, size_t *n);

// tr_pg_publish sends a message of `type` with a copy of `data` to every
// member of `group`, as if sent by `from` (TR_REF_NONE, or the calling
// actor: tr_self). *delivered (if not NULL) gets the number of local
// members reached plus the number of nodes the message went to. A member
// whose mailbox is full misses the message (counted in
// tr_node_stats.group_dropped); publishing never waits for it.
// Returns 0, TR_EINVAL, TR_EMSGSIZE or TR_ENOMEM. Thread: any.
TR_API int tr_pg_publish(tr_system *sys, tr_ref from, const char *group,
                         uint32_t type, const void *data, size_t len,
                         size_t *delivered);

// ---------------------------------------------------------------------------
// Remote spawn

// tr_node_behavior lets other nodes spawn `b` on this node by `name`
// (1-127 bytes). `b` must stay valid while the system lives.
// Returns 0, TR_EBUSY (name taken), TR_EINVAL or TR_ENOMEM. Thread: any.
TR_API int tr_node_behavior(tr_system *sys, const char *name,
                            const tr_behavior *b);

// TR_MSG_SPAWNED answers tr_node_spawn; the payload is a tr_spawned.
#define TR_MSG_SPAWNED (TR_MSG_SYSTEM + 0x200)

typedef struct tr_spawned {
    uint64_t req; // the caller's id for the spawn
    int32_t rc;   // 0, the behaviour's init code, TR_ENOACTOR (no such
                  // behaviour there), TR_ENOCONN (no such node now),
                  // TR_EDOWN (the node went down first) or TR_ETIMEDOUT
    tr_ref child; // the new actor, when rc is 0
} tr_spawned;

// tr_node_spawn spawns the behaviour registered as `behavior` on the node
// called `node`, with `len` bytes of `arg` for its init. The new actor is
// a child of that node's agent, which supervises remotely spawned actors
// (they stop when that node stops; monitor or link one to follow it). The
// outcome arrives at `reply_to` (an actor or an inbox) as exactly one
// TR_MSG_SPAWNED carrying `req`, within `timeout_ms`.
// Returns 0 (the message will come), TR_EINVAL or TR_ENOMEM. Thread: any.
TR_API int tr_node_spawn(tr_system *sys, tr_ref reply_to, uint64_t req,
                         const char *node, const char *behavior,
                         const void *arg, size_t len, int64_t timeout_ms);

#ifdef __cplusplus
}
#endif

#endif // TROUPE_CLUSTER_H
