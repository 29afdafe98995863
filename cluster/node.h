// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// node.h: the cluster layer's private types, shared by node.c (connections,
// handshake, heartbeats), remote.c (envelopes, remote refs, signals) and
// names.c (the registry).
#ifndef TR_CLUSTER_NODE_H
#define TR_CLUSTER_NODE_H

#include "../actors/actor.h"

#include "frame.h"

#include <troupe/cluster.h>
#include <troupe/pack.h>

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>

#define NODE_MAX 4096  // node indices a process can know (incarnations)
#define RX_START 65536 // receive buffer to start with

struct buf {
    unsigned char *p;
    size_t len, cap;
};

struct node;
struct dial;

// A connection: one nng stream to one peer, both directions.
struct conn {
    struct node *n;
    nng_stream *s;
    nng_aio *rxa, *txa;
    struct dial *dial; // the URL it was dialled for; NULL when accepted
    struct conn *next; // node thread's list
    // Node thread only.
    int state;
    unsigned char mine[NONCE_BYTES], theirs[NONCE_BYTES];
    char pname[TR_NODE_NAME_MAX];
    uint64_t pinc;
    char purl[URL_MAX];
    struct peer *peer;
    int64_t beat_at; // next heartbeat due
    // Receive side: the rx callback, and the node thread once it stopped.
    unsigned char *rx;
    size_t rx_len, rx_cap;
    _Atomic int64_t heard_ns; // last byte received
    _Atomic size_t inq;       // bytes handed to the node thread, unread
    // Up, and frames may be handled on the receive callback itself when
    // the node thread has none of this connection's pending (so order
    // holds): one thread hand-off less per message.
    _Atomic bool fast;
    // Send side and pause state: mu.
    pthread_mutex_t mu;
    struct buf ctl, data, tx; // lanes, and the bytes being written
    size_t tx_off;
    bool tx_busy, closed, rx_paused;
};

struct watch {
    tr_ref local, remote;
    uint64_t id;
};

struct wlist {
    struct watch *v;
    uint32_t n, cap;
};

// A peer: one incarnation of a named node, with index `idx` in refs.
struct peer {
    uint16_t idx;
    char name[TR_NODE_NAME_MAX];
    uint64_t inc;
    char url[URL_MAX];  // where it listens, as its HELLO said; node thread
    pthread_mutex_t mu; // guards what follows
    bool dead;          // a newer incarnation replaced it
    struct conn *conn;  // while connected
    // held (node thread): its connection closed while another one to it
    // was still in its handshake (both ends dialled, and the other end
    // kept that one). Its down waits for that handshake: if it comes up,
    // the peer never went down.
    bool held;
    struct wlist mons;  // our watchers' monitors on its actors
    struct wlist links; // links between ours (local) and its (remote)
};

struct dial {
    struct dial *next;
    struct node *n;
    char url[URL_MAX];
    nng_stream_dialer *d;
    nng_aio *aio;
    int64_t backoff_ns, due_ns;
    bool busy;         // a dial is in flight
    struct conn *conn; // the connection it made, while it lives
    // pname is the node this URL led to last time ("": not known yet).
    // While that node is connected through another connection (it dialled
    // us, and its connection was kept) the dial waits.
    char pname[TR_NODE_NAME_MAX];
};

struct ev {
    struct ev *next;
    int kind;
    int err;
    struct conn *c;
    struct dial *d;
    size_t len;
    unsigned char data[];
};

// A registry entry, in node.names. Two hash indexes run through the
// entries (names.c): [NAME_BY_KEY] by name, [NAME_BY_REF] by ref. Each is
// a doubly-linked chain per bucket, in entry indices (NAME_NIL: none).
enum { NAME_BY_KEY, NAME_BY_REF, NAME_INDEXES };
#define NAME_NIL UINT32_MAX

struct name {
    char name[128];
    tr_ref ref;                  // in this process's numbering
    uint16_t owner;              // node index; 0: ours
    uint32_t hash[NAME_INDEXES]; // of the name, of the ref
    uint32_t next[NAME_INDEXES], prev[NAME_INDEXES]; // prev NIL: first
};

// A process group: its members, this process's numbering (node index 0
// for ours).
struct group {
    char name[KEY_MAX + 1];
    tr_ref *v;
    uint32_t n, cap;
};

struct behav {
    char name[KEY_MAX + 1];
    const tr_behavior *b;
};

// A spawn this node asked another for.
struct pspawn {
    uint64_t id;  // on the wire
    uint64_t req; // the caller's
    tr_ref reply_to;
    uint16_t peer;
    int64_t deadline;
};

struct node {
    tr_system *sys;
    tr_ref agent; // cluster/agent.c
    char name[TR_NODE_NAME_MAX];
    uint64_t inc;
    char url[URL_MAX];
    unsigned char *secret;
    size_t secret_len;
    bool insecure;
    int64_t hb_ns, timeout_ns, rmin_ns, rmax_ns;
    size_t outbox, max_frame, inq_max;
    uint64_t rng;

    nng_tls_config *tls_client, *tls_server; // NULL: no TLS
    nng_stream_listener *l;
    nng_aio *acc;
    pthread_t thr;
    bool thr_on;

    pthread_mutex_t mu; // events, quit, peer table additions, dials
    pthread_cond_t cv;
    struct ev *evs, **evtail;
    bool quit;
    struct peer *_Atomic peers[NODE_MAX];
    unsigned npeers; // next index; mu
    _Atomic unsigned up;
    _Atomic unsigned nconns; // connections open, in any state
    struct conn *conns;      // node thread
    struct dial *dials;      // mu to add, node thread to walk
    tr_ref *watchers;        // tr_node_monitor; mu
    uint32_t nwatchers, capwatchers;

    pthread_mutex_t names_mu; // names and behavs
    struct name *names;
    uint32_t nnames, capnames;
    uint32_t *heads[NAME_INDEXES]; // first entry per bucket, or NAME_NIL
    uint32_t nbuckets;             // a power of two, >= nnames; or 0
    struct behav *behavs;
    uint32_t nbehavs, capbehavs;

    pthread_mutex_t pg_mu; // groups
    struct group *groups;
    uint32_t ngroups, capgroups;

    pthread_mutex_t spawn_mu; // spawns
    struct pspawn *spawns;
    uint32_t nspawns, capspawns;
    uint64_t spawn_ids;

    struct {
        _Atomic uint64_t nodes_up, nodes_down, msgs_out, msgs_in, frames_out,
            bytes_out, bytes_in, outbox_full, dropped_in, auth_failures,
            proto_errors, heartbeat_miss, group_pub_out, group_pub_in,
            group_delivered, group_dropped, conns_opened, beats_in;
    } st;
};

#define NODE_STAT(n, f) \
    atomic_fetch_add_explicit(&(n)->st.f, 1, memory_order_relaxed)

// node.c
struct node *tr__node_of(tr_system *sys);
// tr__conn_queue appends one frame (`len` bytes of envelope, prefixed here)
// to a lane of `c`. Returns 0, TR_EFULL (data lane over the bound) or
// TR_ENOCONN (closing). Thread: any; callers hold the peer's mu or are the
// node thread.
int tr__conn_queue(struct conn *c, bool ctl, const void *env, size_t len);
// tr__peer_queue puts the envelope in `pk` on `p`'s data lane: the first
// error of `pk`, TR_ENOACTOR (an incarnation since replaced), TR_ENOCONN
// (not connected now), or tr__conn_queue's. The _locked form is for
// callers that hold p->mu. tr__peer_up is true while `p` is connected.
// Thread: any.
int tr__peer_queue_locked(struct peer *p, const tr_pack *pk);
int tr__peer_queue(struct peer *p, const tr_pack *pk);
bool tr__peer_up(struct peer *p);
void tr__node_log(struct node *n, const char *level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
struct peer *tr__peer_find(struct node *n, const char *name, size_t len,
                           uint64_t inc, bool create);

extern const struct tr__transport tr__node_transport;

// remote.c: the transport's send and signal (see actors/actor.h).
int tr__remote_send(void *arg, tr_ref from, tr_ref to, uint32_t type,
                    const void *data, size_t len, uint64_t req_id,
                    int64_t deadline_ns);
int tr__remote_signal(void *arg, tr_ref to, uint32_t type, const void *data,
                      size_t len);
int tr__remote_frame(struct node *n, struct peer *p, const struct tr__frame *f);
void tr__remote_peer_down(struct node *n, struct peer *p);
int tr__ref_pack(tr_pack *pk, struct node *n, struct peer *p, tr_ref r);
// tr__ref_resolve turns a ref from `p`'s frame into this process's
// numbering (TR_REF_NONE for a node index it cannot allocate).
tr_ref tr__ref_resolve(struct node *n, struct peer *p, const struct wref *w);

// node.c: transitive connect.
int tr__mesh_frame(struct node *n, struct peer *p, const struct tr__frame *f);

// names.c
int tr__names_frame(struct node *n, struct peer *p, const struct tr__frame *f);
void tr__names_peer_up(struct node *n, struct peer *p);
void tr__names_peer_down(struct node *n, struct peer *p);
void tr__names_down(struct node *n, tr_ref who);
void tr__names_fini(struct node *n);
// tr__announce sends one registry or group update about our own actor
// `ref` to `p`, or with p NULL to every peer that is up.
void tr__announce(struct node *n, struct peer *p, unsigned kind,
                  const char *key, tr_ref ref);

// groups.c
int tr__groups_frame(struct node *n, struct peer *p, const struct tr__frame *f);
void tr__groups_peer_up(struct node *n, struct peer *p);
void tr__groups_peer_down(struct node *n, struct peer *p);
void tr__groups_down(struct node *n, tr_ref who);
void tr__groups_fini(struct node *n);

// agent.c: the node's agent actor (watches members and name owners, hosts
// remotely spawned actors) and remote spawn.
int tr__agent_start(struct node *n);
int tr__agent_watch(struct node *n, tr_ref who);
int tr__spawn_frame(struct node *n, struct peer *p, const struct tr__frame *f);
void tr__spawn_peer_down(struct node *n, struct peer *p);
void tr__spawn_tick(struct node *n, int64_t now);
void tr__spawn_fini(struct node *n);

#endif // TR_CLUSTER_NODE_H
