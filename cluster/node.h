// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// node.h: the cluster layer's private types, shared by node.c (connections,
// handshake, heartbeats), remote.c (envelopes, remote refs, signals) and
// names.c (the registry).
#ifndef TR_CLUSTER_NODE_H
#define TR_CLUSTER_NODE_H

#include "../actors/actor.h"

#include <troupe/cluster.h>
#include <troupe/pack.h>

#include <nng/nng.h>

#define NODE_MAX    4096 // node indices a process can know (incarnations)
#define NONCE_BYTES 16
#define MAC_BYTES   32
#define URL_MAX     256
#define RX_START    65536 // receive buffer to start with
#define WIRE_VER    1

// Frame kinds (docs/wire.md).
enum {
    K_HELLO = 1,
    K_AUTH = 2,
    K_WELCOME = 3,
    K_BEAT = 4,
    K_MSG = 10,
    K_SIG = 11,
    K_REG = 20,
    K_UNREG = 21,
};

// Signal kinds carried by K_SIG.
enum {
    S_LINK = 1,
    S_UNLINK,
    S_EXIT,
    S_MONITOR,
    S_DEMONITOR,
    S_DOWN,
    S_STOP,
};

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
    pthread_mutex_t mu; // guards what follows
    bool dead;          // a newer incarnation replaced it
    struct conn *conn;  // while connected
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

struct name {
    char name[128];
    tr_ref ref;     // in this process's numbering
    uint16_t owner; // node index; 0: ours
};

struct node {
    tr_system *sys;
    char name[TR_NODE_NAME_MAX];
    uint64_t inc;
    char url[URL_MAX];
    unsigned char *secret;
    size_t secret_len;
    bool insecure;
    int64_t hb_ns, timeout_ns, rmin_ns, rmax_ns;
    size_t outbox, max_frame, inq_max;
    uint64_t rng;

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
    struct conn *conns; // node thread
    struct dial *dials; // mu to add, node thread to walk

    pthread_mutex_t names_mu;
    struct name *names;
    uint32_t nnames, capnames;

    struct {
        _Atomic uint64_t nodes_up, nodes_down, msgs_out, msgs_in, frames_out,
            bytes_out, bytes_in, outbox_full, dropped_in, auth_failures,
            proto_errors, heartbeat_miss;
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
int tr__remote_frame(struct node *n, struct conn *c, tr_unpack *u, int kind);
void tr__remote_peer_down(struct node *n, struct peer *p);
int tr__ref_pack(tr_pack *pk, struct node *n, struct peer *p, tr_ref r);
int tr__ref_unpack(tr_unpack *u, struct node *n, struct peer *p, tr_ref *r);

// names.c
int tr__names_frame(struct node *n, struct peer *p, tr_unpack *u, int kind);
void tr__names_peer_up(struct node *n, struct peer *p);
void tr__names_peer_down(struct node *n, struct peer *p);
void tr__names_sweep(struct node *n);
void tr__names_fini(struct node *n);

#endif // TR_CLUSTER_NODE_H
