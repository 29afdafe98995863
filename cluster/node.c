// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// node.c: a node's connections: listening, dialling with backoff, the
// authenticated handshake, framing, the two send lanes, heartbeats and
// failure detection, all on the node's own thread.
//
// Design notes (docs/design/cluster.md has the why)
// - One nng byte stream per peer, both directions, framed here as a
//   4-byte big-endian length and one MessagePack envelope. A frame longer
//   than max_frame closes the connection before anything is allocated.
// - nng callbacks do no user work and never block: the receive callback
//   cuts whole frames off its buffer and hands them to the node thread as
//   one chunk; the send callback starts the next write. The node thread
//   decodes, authenticates, and delivers to actors (as a non-loop sender),
//   so no actor loop ever decodes wire bytes.
// - Sending never blocks a loop: a sender appends its envelope to the
//   peer's data lane under a mutex and, if no write is in flight, starts
//   one. Whatever accumulates meanwhile goes out in the next write: under
//   load envelopes batch by themselves; alone, one goes at once.
// - Heartbeats and the handshake use the control lane, which is written
//   before the data lane, so a flood of data never delays them by more
//   than the write in flight. Liveness is judged by the receive callback's
//   timestamp (any byte counts), not by the node thread's progress.
// - A connection's memory is freed only by the node thread, after its
//   aios have stopped and after every event that names it (EV_FREE is
//   queued behind them).
#define _GNU_SOURCE // pthread_setname_np
#include "node.h"
#include "nngerr.h"

#include <mbedtls/md.h>

#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

enum { C_HELLO, C_AUTH, C_WELCOME, C_UP, C_CLOSED };

enum {
    EV_ACCEPT,
    EV_DIALED,
    EV_DIALFAIL,
    EV_CHUNK,
    EV_CLOSED,
    EV_FREE,
    EV_DISCONNECT,
};

void
tr__node_log(struct node *n, const char *level, const char *fmt, ...)
{
    enum tr_log_level lv = strcmp(level, "warn") == 0    ? TR_LOG_WARN
                           : strcmp(level, "error") == 0 ? TR_LOG_ERROR
                           : strcmp(level, "debug") == 0 ? TR_LOG_DEBUG
                                                         : TR_LOG_INFO;
    if (!tr_log_enabled(n->sys, lv))
        return;
    // fmt starts "event=<name> ..."; tr_log writes level= and event= itself.
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    const char *ev = line, *rest = "";
    if (strncmp(line, "event=", 6) == 0) {
        ev = line + 6;
        char *sp = strchr(line, ' ');
        if (sp != NULL) {
            *sp = '\0';
            rest = sp + 1;
        }
    }
    tr_log(n->sys, lv, ev, "node=%s%s%s", n->name, *rest ? " " : "", rest);
}

struct node *
tr__node_of(tr_system *sys)
{
    return atomic_load(&sys->transport) == &tr__node_transport
               ? sys->transport_arg
               : NULL;
}

static uint32_t
be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

static uint64_t
rnd(struct node *n)
{
    n->rng ^= n->rng << 13;
    n->rng ^= n->rng >> 7;
    n->rng ^= n->rng << 17;
    return n->rng;
}

// ---------------------------------------------------------------------------
// Events to the node thread

static void
ev_push(struct node *n, struct ev *e)
{
    e->next = NULL;
    pthread_mutex_lock(&n->mu);
    *n->evtail = e;
    n->evtail = &e->next;
    pthread_cond_signal(&n->cv);
    pthread_mutex_unlock(&n->mu);
}

static struct ev *
ev_new(int kind, struct conn *c, struct dial *d, size_t len)
{
    struct ev *e = tr__alloc(sizeof *e + len);
    if (e != NULL)
        *e = (struct ev){.kind = kind, .c = c, .d = d, .len = len};
    return e;
}

// An event that must not be lost (a close) is retried until memory comes
// back; its size is fixed and small.
static void
ev_push_sure(struct node *n, int kind, struct conn *c, struct dial *d, int err)
{
    struct ev *e;
    while ((e = ev_new(kind, c, d, 0)) == NULL)
        sched_yield();
    e->err = err;
    ev_push(n, e);
}

// ---------------------------------------------------------------------------
// Buffers and lanes

static int
buf_reserve(struct buf *b, size_t more)
{
    if (b->cap - b->len >= more)
        return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap - b->len < more)
        cap *= 2;
    unsigned char *p = tr__alloc(cap);
    if (p == NULL)
        return TR_ENOMEM;
    if (b->len != 0)
        memcpy(p, b->p, b->len);
    tr__free(b->p, b->cap);
    b->p = p;
    b->cap = cap;
    return 0;
}

static void
buf_free(struct buf *b)
{
    tr__free(b->p, b->cap);
    *b = (struct buf){0};
}

int
tr__peer_queue_locked(struct peer *p, const tr_pack *pk)
{
    if (pk->err != 0)
        return pk->err;
    if (p->dead)
        return TR_ENOACTOR;
    if (p->conn == NULL)
        return TR_ENOCONN;
    return tr__conn_queue(p->conn, false, tr_pack_data(pk), tr_pack_len(pk));
}

int
tr__peer_queue(struct peer *p, const tr_pack *pk)
{
    pthread_mutex_lock(&p->mu);
    int rc = tr__peer_queue_locked(p, pk);
    pthread_mutex_unlock(&p->mu);
    return rc;
}

bool
tr__peer_up(struct peer *p)
{
    pthread_mutex_lock(&p->mu);
    bool up = p->conn != NULL && !p->dead;
    pthread_mutex_unlock(&p->mu);
    return up;
}

static void tx_cb(void *arg);
static void rx_cb(void *arg);

// Picks what to write next, ctl first. Caller holds c->mu. True when a
// write must be started (after unlocking).
static bool
tx_pick(struct conn *c)
{
    struct buf *from = c->ctl.len != 0 ? &c->ctl : &c->data;
    if (c->closed || from->len == 0) {
        c->tx_busy = false;
        return false;
    }
    struct buf t = c->tx;
    c->tx = *from;
    *from = t;
    from->len = 0;
    c->tx_off = 0;
    c->tx_busy = true;
    return true;
}

static void
tx_start(struct conn *c)
{
    nng_iov iov = {.iov_buf = c->tx.p + c->tx_off,
                   .iov_len = c->tx.len - c->tx_off};
    nng_aio_set_iov(c->txa, 1, &iov);
    nng_stream_send(c->s, c->txa);
}

int
tr__conn_queue(struct conn *c, bool ctl, const void *env, size_t len)
{
    struct node *n = c->n;
    if (len > n->max_frame)
        return TR_EMSGSIZE;
    pthread_mutex_lock(&c->mu);
    struct buf *b = ctl ? &c->ctl : &c->data;
    int rc = 0;
    if (c->closed)
        rc = TR_ENOCONN;
    else if (!ctl && b->len + len + 4 > n->outbox && b->len != 0)
        rc = TR_EFULL;
    else
        rc = buf_reserve(b, len + 4);
    if (rc != 0) {
        pthread_mutex_unlock(&c->mu);
        if (rc == TR_EFULL)
            NODE_STAT(n, outbox_full);
        return rc;
    }
    unsigned char *p = b->p + b->len;
    p[0] = (unsigned char)(len >> 24);
    p[1] = (unsigned char)(len >> 16);
    p[2] = (unsigned char)(len >> 8);
    p[3] = (unsigned char)len;
    memcpy(p + 4, env, len);
    b->len += len + 4;
    bool start = !c->tx_busy && tx_pick(c);
    pthread_mutex_unlock(&c->mu);
    if (start)
        tx_start(c);
    return 0;
}

static void
tx_cb(void *arg)
{
    struct conn *c = arg;
    int rv = nng_aio_result(c->txa);
    pthread_mutex_lock(&c->mu);
    bool more = false;
    if (rv != 0) {
        c->closed = true;
        c->tx_busy = false;
    } else {
        size_t done = nng_aio_count(c->txa);
        atomic_fetch_add_explicit(&c->n->st.bytes_out, done,
                                  memory_order_relaxed);
        c->tx_off += done;
        if (c->tx_off < c->tx.len) {
            more = true;
        } else {
            NODE_STAT(c->n, frames_out);
            c->tx.len = 0;
            more = tx_pick(c);
        }
    }
    pthread_mutex_unlock(&c->mu);
    if (rv != 0)
        nng_stream_close(c->s); // the receive side reports the close
    else if (more)
        tx_start(c);
}

// ---------------------------------------------------------------------------
// Receiving

static void
rx_arm(struct conn *c)
{
    nng_iov iov = {.iov_buf = c->rx + c->rx_len,
                   .iov_len = c->rx_cap - c->rx_len};
    nng_aio_set_iov(c->rxa, 1, &iov);
    nng_stream_recv(c->s, c->rxa);
}

static int frames_run(struct node *n, struct conn *c, const unsigned char *p,
                      size_t len, bool fast, const char **why);

static void
rx_cb(void *arg)
{
    struct conn *c = arg;
    struct node *n = c->n;
    int rv = nng_aio_result(c->rxa);
    if (rv != 0) {
        ev_push_sure(n, EV_CLOSED, c, NULL, tr__nng_err(rv));
        return;
    }
    size_t got = nng_aio_count(c->rxa);
    c->rx_len += got;
    atomic_store_explicit(&c->heard_ns, tr__now_ns(), memory_order_relaxed);
    atomic_fetch_add_explicit(&n->st.bytes_in, got, memory_order_relaxed);
    size_t off = 0;
    int err = 0;
    while (c->rx_len - off >= 4) {
        uint32_t len = be32(c->rx + off);
        if (len == 0 || len > n->max_frame) {
            err = TR_EMSGSIZE;
            break;
        }
        if (c->rx_len - off - 4 < len)
            break;
        off += 4 + (size_t)len;
    }
    if (off != 0 && atomic_load(&c->fast) && atomic_load(&c->inq) == 0) {
        const char *why;
        err = frames_run(n, c, c->rx, off, true, &why);
        if (err == 0) {
            memmove(c->rx, c->rx + off, c->rx_len - off);
            c->rx_len -= off;
        } else if (err != TR_EPROTO) {
            err = TR_EPROTO; // one cause for the close: a bad frame
        }
    } else if (off != 0) {
        struct ev *e = ev_new(EV_CHUNK, c, NULL, off);
        if (e == NULL) {
            err = TR_ENOMEM;
        } else {
            memcpy(e->data, c->rx, off);
            memmove(c->rx, c->rx + off, c->rx_len - off);
            c->rx_len -= off;
            atomic_fetch_add(&c->inq, off);
            ev_push(n, e);
        }
    }
    // Room for the frame in progress: its whole length is known (and
    // bounded) once its prefix is in.
    size_t need = c->rx_len >= 4 ? 4 + (size_t)be32(c->rx) : 4;
    if (err == 0 && need > c->rx_cap) {
        unsigned char *p = tr__alloc(need);
        if (p == NULL) {
            err = TR_ENOMEM;
        } else {
            memcpy(p, c->rx, c->rx_len);
            tr__free(c->rx, c->rx_cap);
            c->rx = p;
            c->rx_cap = need;
        }
    }
    if (err != 0) {
        nng_stream_close(c->s);
        ev_push_sure(n, EV_CLOSED, c, NULL, err);
        return;
    }
    // Backpressure: stop reading while the node thread is behind; it
    // re-arms the receive when it catches up. TCP then slows the sender.
    pthread_mutex_lock(&c->mu);
    bool pause = atomic_load(&c->inq) > n->inq_max;
    c->rx_paused = pause;
    pthread_mutex_unlock(&c->mu);
    if (!pause)
        rx_arm(c);
}

// ---------------------------------------------------------------------------
// Connections

static struct conn *
conn_new(struct node *n, nng_stream *s, struct dial *d)
{
    struct conn *c = tr__zalloc(sizeof *c);
    if (c == NULL)
        return NULL;
    c->n = n;
    c->s = s;
    c->dial = d;
    c->rx_cap = RX_START;
    c->rx = tr__alloc(c->rx_cap);
    pthread_mutex_init(&c->mu, NULL);
    if (c->rx == NULL || nng_aio_alloc(&c->rxa, rx_cb, c) != 0 ||
        nng_aio_alloc(&c->txa, tx_cb, c) != 0) {
        if (c->rxa != NULL)
            nng_aio_free(c->rxa);
        tr__free(c->rx, c->rx_cap);
        pthread_mutex_destroy(&c->mu);
        tr__free(c, sizeof *c);
        return NULL;
    }
    atomic_store(&c->heard_ns, tr__now_ns());
    return c;
}

static void
conn_free(struct conn *c)
{
    nng_aio_free(c->rxa);
    nng_aio_free(c->txa);
    nng_stream_free(c->s);
    buf_free(&c->ctl);
    buf_free(&c->data);
    buf_free(&c->tx);
    tr__free(c->rx, c->rx_cap);
    pthread_mutex_destroy(&c->mu);
    tr__free(c, sizeof *c);
}

static void dial_retry(struct node *n, struct dial *d);
static void node_event(struct node *n, const struct peer *p, bool up,
                       int reason);

// The peer is gone: counters, the log line, the node event, and every
// layer's cleanup (names, groups, watches and requests, remote spawns).
static void
peer_down(struct node *n, struct peer *p, const char *why, int err)
{
    atomic_fetch_sub(&n->up, 1);
    NODE_STAT(n, nodes_down);
    tr__node_log(n, "warn",
                 "event=node_down peer=%s incarnation=%llu reason=%s error=%s",
                 p->name, (unsigned long long)p->inc, why, tr_errname(err));
    node_event(n, p, false, err != 0 ? err : TR_ENOCONN);
    tr__names_peer_down(n, p);
    tr__groups_peer_down(n, p);
    tr__remote_peer_down(n, p);
    tr__spawn_peer_down(n, p);
}

// Is a connection other than `c` to `p`'s incarnation still in its
// handshake? It is known by the name its HELLO gave, or, before that, by
// the URL we dialled. Node thread.
static bool
rival_pending(struct node *n, const struct conn *c, const struct peer *p)
{
    for (struct conn *k = n->conns; k != NULL; k = k->next)
        if (k != c && k->state != C_UP && k->state != C_CLOSED &&
            (k->pname[0] != '\0'
                 ? strcmp(k->pname, p->name) == 0 && k->pinc == p->inc
                 : k->dial != NULL && strcmp(k->dial->url, p->url) == 0))
            return true;
    return false;
}

// Takes the down of every held peer whose rival handshake has ended
// without bringing it back. Node thread.
static void
release_held(struct node *n)
{
    for (unsigned i = 1; i < NODE_MAX; i++) {
        struct peer *p = atomic_load(&n->peers[i]);
        if (p == NULL)
            break;
        if (p->held && p->conn == NULL && !rival_pending(n, NULL, p)) {
            p->held = false;
            peer_down(n, p, "closed", TR_ENOCONN);
        }
    }
}

// Closes `c` (node thread): the peer goes down (or is held, see struct
// peer), the dial (if any) is rescheduled, and the memory follows once the
// events naming it are handled.
static void
conn_close(struct node *n, struct conn *c, const char *why, int err)
{
    if (c->state == C_CLOSED)
        return;
    atomic_store(&c->fast, false);
    bool was_up = c->state == C_UP;
    c->state = C_CLOSED;
    nng_stream_close(c->s);
    struct peer *p = c->peer;
    if (p != NULL) {
        pthread_mutex_lock(&p->mu);
        bool mine = p->conn == c;
        if (mine)
            p->conn = NULL;
        pthread_mutex_unlock(&p->mu);
        if (mine && was_up && rival_pending(n, c, p))
            p->held = true;
        else if (mine && was_up)
            peer_down(n, p, why, err);
    } else if (err != 0 && strcmp(why, "closed") != 0) {
        tr__node_log(n, "warn", "event=conn_refused peer=%s reason=%s",
                     c->pname[0] ? c->pname : "?", why);
    }
    pthread_mutex_lock(&c->mu);
    c->closed = true;
    pthread_mutex_unlock(&c->mu);
    if (c->dial != NULL) {
        c->dial->conn = NULL;
        dial_retry(n, c->dial);
    }
    for (struct conn **pp = &n->conns; *pp != NULL; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            atomic_fetch_sub(&n->nconns, 1);
            break;
        }
    // After these return no callback runs for c; EV_FREE goes behind any
    // event they queued.
    nng_aio_stop(c->rxa);
    nng_aio_stop(c->txa);
    ev_push_sure(n, EV_FREE, c, NULL, 0);
    if (!was_up)
        release_held(n);
}

// ---------------------------------------------------------------------------
// Handshake

static void
mac(struct node *n, unsigned char out[MAC_BYTES], char role,
    const unsigned char a[NONCE_BYTES], const unsigned char b[NONCE_BYTES],
    const char *name, uint64_t inc)
{
    unsigned char in[1 + 2 * NONCE_BYTES + TR_NODE_NAME_MAX + 8];
    size_t k = 0, nl = strlen(name);
    in[k++] = (unsigned char)role;
    memcpy(in + k, a, NONCE_BYTES);
    k += NONCE_BYTES;
    memcpy(in + k, b, NONCE_BYTES);
    k += NONCE_BYTES;
    memcpy(in + k, name, nl + 1);
    k += nl + 1;
    for (int i = 7; i >= 0; i--)
        in[k++] = (unsigned char)(inc >> (8 * i));
    mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), n->secret,
                    n->secret_len, in, k, out);
}

static bool
mac_ok(struct node *n, const void *proof, size_t len, char role,
       const unsigned char a[NONCE_BYTES], const unsigned char b[NONCE_BYTES],
       const char *name, uint64_t inc)
{
    if (n->insecure)
        return true;
    if (proof == NULL || len != MAC_BYTES)
        return false;
    unsigned char want[MAC_BYTES];
    mac(n, want, role, a, b, name, inc);
    unsigned char diff = 0; // constant time
    for (unsigned i = 0; i < MAC_BYTES; i++)
        diff |= want[i] ^ ((const unsigned char *)proof)[i];
    return diff == 0;
}

static int
send_hello(struct node *n, struct conn *c, bool with_proof)
{
    unsigned char buf[512];
    tr_pack pk;
    tr_pack_init(&pk, buf, sizeof buf);
    tr_pack_array(&pk, 7);
    tr_pack_uint(&pk, K_HELLO);
    tr_pack_uint(&pk, WIRE_VER);
    tr_pack_cstr(&pk, n->name);
    tr_pack_uint(&pk, n->inc);
    tr_pack_cstr(&pk, n->url);
    tr_pack_bin(&pk, c->mine, NONCE_BYTES);
    if (with_proof && !n->insecure) {
        unsigned char m[MAC_BYTES];
        mac(n, m, 'L', c->theirs, c->mine, n->name, n->inc);
        tr_pack_bin(&pk, m, sizeof m);
    } else {
        tr_pack_nil(&pk);
    }
    int rc = pk.err;
    if (rc == 0)
        rc = tr__conn_queue(c, true, tr_pack_data(&pk), tr_pack_len(&pk));
    tr_pack_fini(&pk);
    return rc;
}

static int
send_small(struct conn *c, unsigned kind, const void *bin, size_t len)
{
    unsigned char buf[64];
    tr_pack pk;
    tr_pack_init(&pk, buf, sizeof buf);
    tr_pack_array(&pk, bin != NULL ? 2 : 1);
    tr_pack_uint(&pk, kind);
    if (bin != NULL)
        tr_pack_bin(&pk, bin, len);
    int rc = pk.err;
    if (rc == 0)
        rc = tr__conn_queue(c, true, tr_pack_data(&pk), tr_pack_len(&pk));
    tr_pack_fini(&pk);
    return rc;
}

static bool
name_ok(const char *s, size_t len)
{
    if (len == 0 || len >= TR_NODE_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (s[i] <= ' ' || s[i] > '~')
            return false;
    return true;
}

struct peer *
tr__peer_find(struct node *n, const char *name, size_t len, uint64_t inc,
              bool create)
{
    if (!name_ok(name, len))
        return NULL;
    pthread_mutex_lock(&n->mu);
    struct peer *found = NULL;
    for (unsigned i = 1; i < n->npeers && found == NULL; i++) {
        struct peer *p = atomic_load(&n->peers[i]);
        if (p->inc == inc && strlen(p->name) == len &&
            memcmp(p->name, name, len) == 0)
            found = p;
    }
    if (found == NULL && create && n->npeers < NODE_MAX) {
        found = tr__zalloc(sizeof *found);
        if (found != NULL) {
            found->idx = (uint16_t)n->npeers;
            memcpy(found->name, name, len);
            found->inc = inc;
            pthread_mutex_init(&found->mu, NULL);
            atomic_store(&n->peers[n->npeers++], found);
        }
    }
    pthread_mutex_unlock(&n->mu);
    return found;
}

// Tells the subscribers of node events; drops those that are gone.
static void
node_event(struct node *n, const struct peer *p, bool up, int reason)
{
    tr_node_event ev = {.incarnation = p->inc, .reason = reason};
    memcpy(ev.name, p->name, sizeof ev.name);
    pthread_mutex_lock(&n->mu);
    for (uint32_t i = 0; i < n->nwatchers;) {
        int rc = tr__send_any(n->sys, TR_REF_NONE, n->watchers[i],
                              up ? TR_MSG_NODEUP : TR_MSG_NODEDOWN, &ev,
                              sizeof ev, 0);
        if (rc == TR_ENOACTOR)
            n->watchers[i] = n->watchers[--n->nwatchers];
        else
            i++;
    }
    pthread_mutex_unlock(&n->mu);
}

int
tr_node_monitor(tr_system *sys, tr_ref who)
{
    struct node *n = tr__node_of(sys);
    if (n == NULL || tr_ref_is_none(who) || TR__REF_NODE(who) != 0)
        return TR_EINVAL;
    int rc = 0;
    pthread_mutex_lock(&n->mu);
    rc = tr__grow(&n->watchers, &n->capwatchers, n->nwatchers,
                  sizeof *n->watchers, 4);
    if (rc == 0)
        n->watchers[n->nwatchers++] = who;
    pthread_mutex_unlock(&n->mu);
    return rc;
}

// Marks every older incarnation of `p`'s name dead: refs to them then fail
// with TR_ENOACTOR. Node thread.
static void
bury_older(struct node *n, struct peer *p)
{
    for (unsigned i = 1; i < NODE_MAX; i++) {
        struct peer *o = atomic_load(&n->peers[i]);
        if (o == NULL)
            break;
        if (o == p || strcmp(o->name, p->name) != 0 || o->inc >= p->inc)
            continue;
        struct conn *oc = NULL;
        pthread_mutex_lock(&o->mu);
        o->dead = true;
        oc = o->conn;
        pthread_mutex_unlock(&o->mu);
        if (oc != NULL)
            conn_close(n, oc, "restarted", TR_ENOCONN);
    }
}

// Tells a new peer the other peers we are connected to, so it connects to
// them too (transitive connect: a full mesh). Node thread.
static void
send_peers(struct node *n, struct conn *c)
{
    tr_pack pk;
    tr_pack_init(&pk, NULL, 0);
    unsigned k = 0;
    for (unsigned i = 1;; i++) {
        struct peer *q = i < NODE_MAX ? atomic_load(&n->peers[i]) : NULL;
        bool up = false;
        if (q != NULL && q->url[0] != '\0' && strcmp(q->name, c->pname) != 0)
            up = tr__peer_up(q);
        if (up) {
            tr_pack_array(&pk, 3);
            tr_pack_cstr(&pk, q->name);
            tr_pack_uint(&pk, q->inc);
            tr_pack_cstr(&pk, q->url);
            k++;
        }
        if (k != 0 && (k == PEERS_MAX || q == NULL)) {
            // The entries are packed; put the envelope head in front.
            unsigned char head[16];
            tr_pack h;
            tr_pack_init(&h, head, sizeof head);
            tr_pack_array(&h, 2);
            tr_pack_uint(&h, K_PEERS);
            tr_pack_array(&h, k);
            struct buf env = {0};
            if (h.err == 0 && pk.err == 0 &&
                buf_reserve(&env, tr_pack_len(&h) + tr_pack_len(&pk)) == 0) {
                memcpy(env.p, tr_pack_data(&h), tr_pack_len(&h));
                memcpy(env.p + tr_pack_len(&h), tr_pack_data(&pk),
                       tr_pack_len(&pk));
                (void)tr__conn_queue(c, true, env.p,
                                     tr_pack_len(&h) + tr_pack_len(&pk));
            }
            buf_free(&env);
            tr_pack_fini(&h);
            tr_pack_reset(&pk);
            k = 0;
        }
        if (q == NULL)
            break;
    }
    tr_pack_fini(&pk);
}

static int dial_add(struct node *n, const char *url);

int
tr__mesh_frame(struct node *n, struct peer *p, const struct tr__frame *f)
{
    (void)p;
    for (unsigned i = 0; i < f->peers.n; i++) {
        const struct wpeer *w = &f->peers.v[i];
        if (strlen(n->name) == w->name.len &&
            memcmp(n->name, w->name.p, w->name.len) == 0)
            continue; // ourselves
        struct peer *q =
            tr__peer_find(n, w->name.p, w->name.len, w->inc, false);
        bool have = false;
        if (q != NULL) {
            pthread_mutex_lock(&q->mu);
            have = q->conn != NULL || q->dead;
            pthread_mutex_unlock(&q->mu);
        }
        char url[URL_MAX];
        memcpy(url, w->url.p, w->url.len);
        url[w->url.len] = '\0';
        pthread_mutex_lock(&n->mu);
        for (struct dial *d = n->dials; d != NULL && !have; d = d->next)
            have = strcmp(d->url, url) == 0;
        pthread_mutex_unlock(&n->mu);
        if (!have && dial_add(n, url) == 0)
            tr__node_log(n, "info", "event=mesh_dial peer=%.*s url=%s",
                         (int)w->name.len, w->name.p, url);
    }
    return 0;
}

// Of two connections between the same pair, both ends keep the one dialled
// by the node whose name sorts first.
static bool
preferred(struct node *n, struct conn *c)
{
    const char *dialer = c->dial != NULL ? n->name : c->pname;
    const char *other = c->dial != NULL ? c->pname : n->name;
    return strcmp(dialer, other) < 0;
}

// Makes `c` the connection to its peer. A listener has queued its WELCOME
// before this: once the peer entry points at c, other threads may queue
// data on it, and the dialler refuses anything but WELCOME before it.
static int
conn_up(struct node *n, struct conn *c)
{
    if (strcmp(c->pname, n->name) == 0)
        return TR_EINVAL; // ourselves, or a twin with our name
    struct peer *p =
        tr__peer_find(n, c->pname, strlen(c->pname), c->pinc, true);
    if (p == NULL)
        return TR_ELIMIT;
    bury_older(n, p);
    pthread_mutex_lock(&p->mu);
    struct conn *old = p->conn;
    bool dead = p->dead;
    pthread_mutex_unlock(&p->mu);
    if (dead)
        return TR_ENOACTOR; // an incarnation older than one we know
    if (old != NULL && !preferred(n, c))
        return TR_EBUSY;
    c->peer = p;
    c->state = C_UP;
    pthread_mutex_lock(&p->mu);
    p->conn = c;
    pthread_mutex_unlock(&p->mu);
    if (old != NULL) // replaced, not down: p->conn is no longer old
        conn_close(n, old, "replaced", 0);
    snprintf(p->url, sizeof p->url, "%s", c->purl);
    if (old == NULL && p->held) { // back before anyone saw it go
        p->held = false;
    } else if (old == NULL) {
        atomic_fetch_add(&n->up, 1);
        NODE_STAT(n, nodes_up);
        tr__node_log(n, "info", "event=node_up peer=%s incarnation=%llu url=%s",
                     p->name, (unsigned long long)p->inc, c->purl);
        node_event(n, p, true, 0);
    }
    release_held(n); // c may have been some held peer's rival
    return 0;
}

// After WELCOME, the first things a new peer hears: the other peers (so
// it connects to them), our names and our group members. Also when the
// connection replaced another (both ends dialled): what we said on the
// old one may have been cut off with it. Node thread.
static void
conn_announce(struct node *n, struct conn *c)
{
    send_peers(n, c);
    tr__names_peer_up(n, c->peer);
    tr__groups_peer_up(n, c->peer);
    atomic_store(&c->fast, true);
}

// Handles a handshake frame on a connection not yet up. Returns 0, or an
// error after which the connection is closed.
static int
handshake(struct node *n, struct conn *c, const struct tr__frame *f,
          const char **why)
{
    if (f->kind == K_HELLO && (c->state == C_HELLO || (c->state == C_WELCOME &&
                                                       c->pname[0] == '\0'))) {
        if (f->hello.ver != WIRE_VER) {
            *why = "version";
            return TR_EPROTO;
        }
        memcpy(c->pname, f->hello.name.p, f->hello.name.len);
        c->pname[f->hello.name.len] = '\0';
        memcpy(c->purl, f->hello.url.p, f->hello.url.len);
        c->purl[f->hello.url.len] = '\0';
        c->pinc = f->hello.inc;
        memcpy(c->theirs, f->hello.nonce, NONCE_BYTES);
        if (c->dial == NULL) { // we listen: answer with our proof
            c->state = C_AUTH;
            return send_hello(n, c, true);
        }
        // We dialled: check the listener's proof over our nonce.
        if (!mac_ok(n, f->hello.proof, f->hello.proof_len, 'L', c->mine,
                    c->theirs, c->pname, c->pinc)) {
            NODE_STAT(n, auth_failures);
            *why = "auth";
            return TR_EAUTH;
        }
        memcpy(c->dial->pname, c->pname, sizeof c->pname);
        unsigned char m[MAC_BYTES] = {0};
        if (!n->insecure)
            mac(n, m, 'D', c->theirs, c->mine, n->name, n->inc);
        return send_small(c, K_AUTH, m, sizeof m);
    }
    if (f->kind == K_AUTH && c->state == C_AUTH) {
        if (!mac_ok(n, f->auth.proof, f->auth.len, 'D', c->mine, c->theirs,
                    c->pname, c->pinc)) {
            NODE_STAT(n, auth_failures);
            *why = "auth";
            return TR_EAUTH;
        }
        // WELCOME goes first: once conn_up publishes the connection, our
        // actors' messages may follow at once, and must not precede it.
        int rc = send_small(c, K_WELCOME, NULL, 0);
        if (rc == 0)
            rc = conn_up(n, c);
        if (rc != 0) {
            *why = rc == TR_EBUSY ? "duplicate" : "refused";
            return rc;
        }
        conn_announce(n, c);
        return 0;
    }
    if (f->kind == K_WELCOME && c->state == C_WELCOME && c->pname[0] != '\0') {
        int rc = conn_up(n, c);
        if (rc != 0)
            *why = rc == TR_EBUSY ? "duplicate" : "refused";
        else
            conn_announce(n, c);
        return rc;
    }
    *why = "unexpected";
    return TR_EPROTO;
}

// ---------------------------------------------------------------------------
// The node thread

// Acts on one frame of a connection that is up.
static int
dispatch(struct node *n, struct conn *c, const struct tr__frame *f)
{
    switch (f->kind) {
    case K_BEAT:
        NODE_STAT(n, beats_in);
        return 0;
    case K_PEERS:
        return tr__mesh_frame(n, c->peer, f);
    case K_REG:
    case K_UNREG:
        return tr__names_frame(n, c->peer, f);
    case K_MSG:
    case K_SIG:
        return tr__remote_frame(n, c->peer, f);
    case K_JOIN:
    case K_LEAVE:
    case K_PUB:
        return tr__groups_frame(n, c->peer, f);
    case K_SPAWN:
    case K_SPAWNED:
        return tr__spawn_frame(n, c->peer, f);
    default:
        return TR_EPROTO; // a handshake frame again, or not yet known
    }
}

// Handles the whole frames in `len` bytes at `p`, stopping at the first
// error, which it returns with its reason. On the node thread, or (fast)
// on the receive callback of a connection that is up.
static int
frames_run(struct node *n, struct conn *c, const unsigned char *p, size_t len,
           bool fast, const char **why)
{
    size_t off = 0;
    int rc = 0;
    while (rc == 0 && off < len) {
        uint32_t fl = be32(p + off);
        off += 4;
        tr_unpack u;
        struct tr__frame f;
        *why = "bad_frame";
        rc = tr__frame_decode(&f, &u, p + off, fl);
        if (rc == 0 && !fast && c->state != C_UP)
            rc = handshake(n, c, &f, why);
        else if (rc == 0)
            rc = dispatch(n, c, &f);
        tr_unpack_fini(&u);
        off += fl;
        if (rc == TR_EPROTO) {
            NODE_STAT(n, proto_errors);
            tr__node_log(n, "warn", "event=bad_frame peer=%s kind=%u bytes=%u",
                         fast || c->pname[0] ? c->pname : "?", f.kind, fl);
        }
        if (!fast && c->state == C_CLOSED)
            break;
    }
    return rc;
}

static void
handle_chunk(struct node *n, struct conn *c, const unsigned char *p, size_t len)
{
    const char *why;
    int rc = frames_run(n, c, p, len, false, &why);
    if (rc != 0)
        conn_close(n, c, why, rc);
}

static void
dial_start(struct dial *d)
{
    d->busy = true;
    nng_stream_dialer_dial(d->d, d->aio);
}

static void
dial_retry(struct node *n, struct dial *d)
{
    int64_t b = d->backoff_ns ? d->backoff_ns * 2 : n->rmin_ns;
    if (b > n->rmax_ns)
        b = n->rmax_ns;
    d->backoff_ns = b;
    // Jitter: somewhere in [b/2, b].
    d->due_ns =
        tr__now_ns() + b / 2 + (int64_t)(rnd(n) % (uint64_t)(b / 2 + 1));
}

static void
dial_cb(void *arg)
{
    struct dial *d = arg;
    int rv = nng_aio_result(d->aio);
    if (rv != 0) {
        ev_push_sure(d->n, EV_DIALFAIL, NULL, d, tr__nng_err(rv));
        return;
    }
    nng_stream *s = nng_aio_get_output(d->aio, 0);
    struct conn *c = conn_new(d->n, s, d);
    if (c == NULL) {
        nng_stream_free(s);
        ev_push_sure(d->n, EV_DIALFAIL, NULL, d, TR_ENOMEM);
        return;
    }
    ev_push_sure(d->n, EV_DIALED, c, d, 0);
}

static void
accept_cb(void *arg)
{
    struct node *n = arg;
    int rv = nng_aio_result(n->acc);
    if (rv == NNG_ECLOSED || rv == NNG_ECANCELED)
        return;
    if (rv == 0) {
        nng_stream *s = nng_aio_get_output(n->acc, 0);
        struct conn *c = conn_new(n, s, NULL);
        if (c == NULL)
            nng_stream_free(s);
        else
            ev_push_sure(n, EV_ACCEPT, c, NULL, 0);
    }
    nng_stream_listener_accept(n->l, n->acc);
}

static void
conn_begin(struct node *n, struct conn *c)
{
    c->next = n->conns;
    n->conns = c;
    atomic_fetch_add(&n->nconns, 1);
    NODE_STAT(n, conns_opened);
    c->beat_at = tr__now_ns() + n->hb_ns;
    if (getrandom(c->mine, NONCE_BYTES, 0) != NONCE_BYTES)
        for (unsigned i = 0; i < NONCE_BYTES; i++)
            c->mine[i] = (unsigned char)rnd(n);
    c->state = c->dial != NULL ? C_WELCOME : C_HELLO;
    rx_arm(c);
    if (c->dial != NULL && send_hello(n, c, false) != 0)
        conn_close(n, c, "hello", TR_ENOMEM);
}

static void
handle_event(struct node *n, struct ev *e)
{
    struct conn *c = e->c;
    switch (e->kind) {
    case EV_ACCEPT:
        conn_begin(n, c);
        break;
    case EV_DIALED:
        e->d->busy = false;
        e->d->backoff_ns = 0;
        e->d->conn = c;
        conn_begin(n, c);
        break;
    case EV_DIALFAIL:
        e->d->busy = false;
        dial_retry(n, e->d);
        break;
    case EV_CHUNK:
        if (c->state != C_CLOSED)
            handle_chunk(n, c, e->data, e->len);
        // Catching up: resume a paused receive.
        atomic_fetch_sub(&c->inq, e->len);
        if (c->state != C_CLOSED) {
            pthread_mutex_lock(&c->mu);
            bool resume =
                c->rx_paused && atomic_load(&c->inq) <= n->inq_max / 2;
            if (resume)
                c->rx_paused = false;
            pthread_mutex_unlock(&c->mu);
            if (resume)
                rx_arm(c);
        }
        break;
    case EV_CLOSED:
        conn_close(n, c,
                   e->err == TR_EMSGSIZE ? "frame_too_large"
                   : e->err == TR_EPROTO ? "bad_frame"
                                         : "closed",
                   e->err);
        if (e->err == TR_EMSGSIZE)
            NODE_STAT(n, proto_errors);
        break;
    case EV_FREE:
        conn_free(c);
        break;
    case EV_DISCONNECT:
        for (struct conn *k = n->conns, *next; k != NULL; k = next) {
            next = k->next;
            if (k->state == C_UP && strlen(k->pname) == e->len &&
                memcmp(k->pname, e->data, e->len) == 0)
                conn_close(n, k, "disconnect", TR_ENOCONN);
        }
        break;
    }
}

// Is the node `d` leads to connected now (it dialled us, and that
// connection was kept)? Known by the name it gave last time, or by the URL
// it says it listens on. Node thread.
static bool
dial_waits(struct node *n, const struct dial *d)
{
    for (unsigned i = 1; i < NODE_MAX; i++) {
        struct peer *p = atomic_load(&n->peers[i]);
        if (p == NULL)
            break;
        if (p->conn != NULL && // ours to write
            (strcmp(p->name, d->pname) == 0 || strcmp(p->url, d->url) == 0))
            return true;
    }
    return false;
}

static void
tick(struct node *n, int64_t now)
{
    for (struct conn *c = n->conns, *next; c != NULL; c = next) {
        next = c->next;
        int64_t heard =
            atomic_load_explicit(&c->heard_ns, memory_order_relaxed);
        if (now - heard > n->timeout_ns) {
            if (c->state == C_UP)
                NODE_STAT(n, heartbeat_miss);
            conn_close(n, c,
                       c->state == C_UP ? "heartbeat_timeout"
                                        : "handshake_timeout",
                       TR_ETIMEDOUT);
            continue;
        }
        if (c->state == C_UP && now >= c->beat_at) {
            c->beat_at = now + n->hb_ns;
            (void)send_small(c, K_BEAT, NULL, 0);
        }
    }
    pthread_mutex_lock(&n->mu);
    struct dial *ds = n->dials;
    pthread_mutex_unlock(&n->mu);
    for (struct dial *d = ds; d != NULL; d = d->next)
        if (!d->busy && d->conn == NULL && now >= d->due_ns &&
            !dial_waits(n, d))
            dial_start(d);
    tr__spawn_tick(n, now);
}

static void *
node_main(void *arg)
{
    struct node *n = arg;
    pthread_setname_np(pthread_self(), "troupe-node");
    int64_t step = n->hb_ns / 4;
    int64_t next_tick = 0;
    pthread_mutex_lock(&n->mu);
    while (!n->quit) {
        if (n->evs == NULL) {
            int64_t now = tr__now_ns();
            if (now < next_tick) {
                int64_t wake = next_tick - now; // relative, CLOCK_REALTIME
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                int64_t ns = ts.tv_nsec + wake;
                ts.tv_sec += ns / 1000000000;
                ts.tv_nsec = ns % 1000000000;
                pthread_cond_timedwait(&n->cv, &n->mu, &ts);
                continue;
            }
        }
        struct ev *e = n->evs;
        n->evs = NULL;
        n->evtail = &n->evs;
        pthread_mutex_unlock(&n->mu);
        // Heartbeats and timeouts are checked between events too: a long
        // backlog of data must not hold them up.
        for (;;) {
            int64_t now = tr__now_ns();
            if (now >= next_tick) {
                tick(n, now);
                next_tick = now + step;
            }
            if (e == NULL)
                break;
            struct ev *next = e->next;
            handle_event(n, e);
            tr__free(e, sizeof *e + e->len);
            e = next;
        }
        pthread_mutex_lock(&n->mu);
    }
    pthread_mutex_unlock(&n->mu);
    return NULL;
}

// ---------------------------------------------------------------------------
// Start and close

static int
dial_add(struct node *n, const char *url)
{
    if (url == NULL || strlen(url) >= URL_MAX)
        return TR_EINVAL;
    struct dial *d = tr__zalloc(sizeof *d);
    if (d == NULL)
        return TR_ENOMEM;
    d->n = n;
    strcpy(d->url, url);
    int rv = nng_stream_dialer_alloc(&d->d, url);
    if (rv == 0 && strncmp(url, "tls+", 4) == 0)
        rv = n->tls_client != NULL
                 ? nng_stream_dialer_set_ptr(d->d, NNG_OPT_TLS_CONFIG,
                                             n->tls_client)
                 : NNG_EINVAL; // a tls+tcp:// URL needs the tls_ fields
    // Small frames go out at once (no Nagle: with heartbeats interleaved
    // it meets delayed ACKs and holds a reply for 40 ms). ipc:// has no
    // such option.
    if (rv == 0 && strncmp(url, "ipc", 3) != 0)
        rv = nng_stream_dialer_set_bool(d->d, NNG_OPT_TCP_NODELAY, true);
    if (rv == 0)
        rv = nng_aio_alloc(&d->aio, dial_cb, d);
    if (rv != 0) {
        if (d->d != NULL)
            nng_stream_dialer_free(d->d);
        tr__free(d, sizeof *d);
        return tr__nng_err(rv);
    }
    pthread_mutex_lock(&n->mu);
    d->next = n->dials;
    n->dials = d;
    pthread_cond_signal(&n->cv);
    pthread_mutex_unlock(&n->mu);
    return 0;
}

static void
node_close(void *arg)
{
    struct node *n = arg;
    if (n->l != NULL)
        nng_stream_listener_close(n->l);
    if (n->acc != NULL)
        nng_aio_stop(n->acc);
    for (struct dial *d = n->dials; d != NULL; d = d->next)
        nng_aio_stop(d->aio);
    pthread_mutex_lock(&n->mu);
    n->quit = true;
    pthread_cond_signal(&n->cv);
    pthread_mutex_unlock(&n->mu);
    if (n->thr_on)
        pthread_join(n->thr, NULL);
    // The thread is gone; its connections are ours now. Flush what the
    // stopping actors said (their last DOWNs and exits), for a moment,
    // then close what is left, and drain the events (which free the
    // connections and any stream accepted meanwhile).
    int64_t end = tr__now_ns() + 200 * 1000000LL;
    for (struct conn *c = n->conns; c != NULL; c = c->next) {
        for (;;) {
            pthread_mutex_lock(&c->mu);
            bool busy = c->tx_busy && !c->closed;
            pthread_mutex_unlock(&c->mu);
            if (!busy || tr__now_ns() > end)
                break;
            sched_yield();
        }
    }
    while (n->conns != NULL)
        conn_close(n, n->conns, "closed", 0);
    for (struct ev *e = n->evs; e != NULL;) {
        struct ev *next = e->next;
        if (e->kind == EV_ACCEPT || e->kind == EV_DIALED) {
            e->c->state = C_CLOSED;
            nng_stream_close(e->c->s);
            nng_aio_stop(e->c->rxa);
            nng_aio_stop(e->c->txa);
            conn_free(e->c);
        } else if (e->kind == EV_FREE) {
            conn_free(e->c);
        }
        tr__free(e, sizeof *e + e->len);
        e = next;
    }
    for (struct dial *d = n->dials, *next; d != NULL; d = next) {
        next = d->next;
        nng_aio_free(d->aio);
        nng_stream_dialer_free(d->d);
        tr__free(d, sizeof *d);
    }
    if (n->acc != NULL)
        nng_aio_free(n->acc);
    if (n->l != NULL)
        nng_stream_listener_free(n->l);
    for (unsigned i = 1; i < n->npeers; i++) {
        struct peer *p = atomic_load(&n->peers[i]);
        tr__free(p->mons.v, p->mons.cap * sizeof *p->mons.v);
        tr__free(p->links.v, p->links.cap * sizeof *p->links.v);
        pthread_mutex_destroy(&p->mu);
        tr__free(p, sizeof *p);
    }
    tr__free(n->watchers, n->capwatchers * sizeof *n->watchers);
    tr__names_fini(n);
    tr__groups_fini(n);
    tr__spawn_fini(n);
    pthread_mutex_destroy(&n->pg_mu);
    pthread_mutex_destroy(&n->spawn_mu);
    if (n->secret != NULL)
        tr__free(n->secret, n->secret_len);
    if (n->tls_client != NULL)
        nng_tls_config_free(n->tls_client);
    if (n->tls_server != NULL)
        nng_tls_config_free(n->tls_server);
    pthread_mutex_destroy(&n->mu);
    pthread_cond_destroy(&n->cv);
    pthread_mutex_destroy(&n->names_mu);
    tr__free(n, sizeof *n);
}

const struct tr__transport tr__node_transport = {
    .send = tr__remote_send,
    .signal = tr__remote_signal,
    .close = node_close,
};

// Reads a PEM file whole (at most 64 KiB) into a NUL-terminated buffer.
static char *
read_pem(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *buf = malloc(65536);
    size_t n = buf != NULL ? fread(buf, 1, 65535, f) : 0;
    fclose(f);
    if (buf != NULL)
        buf[n] = '\0';
    return buf;
}

static int
tls_cert_key(nng_tls_config *t, const char *cert, const char *key)
{
    char *c = read_pem(cert), *k = read_pem(key);
    int rv = c != NULL && k != NULL ? nng_tls_config_own_cert(t, c, k, NULL)
                                    : NNG_ENOENT;
    free(c);
    free(k);
    return rv;
}

// Mutual TLS: both ends show a certificate and require one signed by the
// configured CA.
static int
tls_setup(struct node *n, const tr_node_config *cfg)
{
    if (cfg->tls_cert_file == NULL && cfg->tls_ca_file == NULL)
        return 0;
    if (cfg->tls_cert_file == NULL || cfg->tls_key_file == NULL ||
        cfg->tls_ca_file == NULL)
        return TR_EINVAL;
    for (int server = 0; server < 2; server++) {
        nng_tls_config **t = server ? &n->tls_server : &n->tls_client;
        int rv = nng_tls_config_alloc(t, server ? NNG_TLS_MODE_SERVER
                                                : NNG_TLS_MODE_CLIENT);
        if (rv == 0)
            rv = nng_tls_config_auth_mode(*t, NNG_TLS_AUTH_MODE_REQUIRED);
        if (rv == 0)
            rv = nng_tls_config_ca_file(*t, cfg->tls_ca_file);
        if (rv == 0) {
            // nng 1.5 takes the certificate and key from one file or from
            // memory; read both files into one PEM buffer.
            rv = nng_tls_config_cert_key_file(*t, cfg->tls_cert_file, NULL);
            if (rv != 0)
                rv = tls_cert_key(*t, cfg->tls_cert_file, cfg->tls_key_file);
        }
        if (rv != 0) {
            tr__node_log(n, "error", "event=tls_config error=%s",
                         nng_strerror(rv));
            return rv == NNG_ENOMEM ? TR_ENOMEM : TR_EINVAL;
        }
    }
    return 0;
}

static int
listen_url(struct node *n, const char *url)
{
    int rv = nng_stream_listener_alloc(&n->l, url);
    if (rv == 0 && strncmp(url, "tls+", 4) == 0)
        rv = n->tls_server != NULL
                 ? nng_stream_listener_set_ptr(n->l, NNG_OPT_TLS_CONFIG,
                                               n->tls_server)
                 : NNG_EINVAL;
    if (rv == 0 && strncmp(url, "ipc", 3) != 0)
        rv = nng_stream_listener_set_bool(n->l, NNG_OPT_TCP_NODELAY, true);
    if (rv == 0)
        rv = nng_stream_listener_listen(n->l);
    if (rv == 0)
        rv = nng_aio_alloc(&n->acc, accept_cb, n);
    if (rv != 0)
        return tr__nng_err(rv);
    // With port 0, say which port we got: peers dial what HELLO says.
    snprintf(n->url, sizeof n->url, "%s", url);
    int port = 0;
    const char *colon = strrchr(url, ':');
    if ((strncmp(url, "tcp", 3) == 0 || strncmp(url, "tls+tcp", 7) == 0) &&
        colon != NULL && strcmp(colon, ":0") == 0 &&
        nng_stream_listener_get_int(n->l, NNG_OPT_TCP_BOUND_PORT, &port) == 0)
        snprintf(n->url, sizeof n->url, "%.*s:%d", (int)(colon - url), url,
                 port);
    nng_stream_listener_accept(n->l, n->acc);
    return 0;
}

int
tr_node_start(tr_system *sys, const tr_node_config *cfg)
{
    if (cfg == NULL || cfg->name == NULL ||
        !name_ok(cfg->name, strlen(cfg->name)) || sys->manual ||
        (!cfg->insecure && (cfg->secret == NULL || cfg->secret_len == 0) &&
         (cfg->listen != NULL || cfg->nseeds != 0)) ||
        (cfg->listen != NULL && strlen(cfg->listen) >= URL_MAX))
        return TR_EINVAL;
    if (atomic_load(&sys->transport) != NULL)
        return TR_EBUSY;
    struct node *n = tr__zalloc(sizeof *n);
    if (n == NULL)
        return TR_ENOMEM;
    n->sys = sys;
    strcpy(n->name, cfg->name);
    // The incarnation: the wall clock in ns, so a restart always gets a
    // larger one (peers bury the older), plus randomness against ties.
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    n->inc = ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec) &
             ~(uint64_t)0xff;
    unsigned char r8;
    if (getrandom(&r8, 1, 0) == 1)
        n->inc |= r8;
    n->rng = n->inc | 1;
    n->insecure = cfg->insecure;
    if (cfg->secret_len != 0) {
        n->secret = tr__alloc(cfg->secret_len);
        if (n->secret == NULL) {
            tr__free(n, sizeof *n);
            return TR_ENOMEM;
        }
        memcpy(n->secret, cfg->secret, cfg->secret_len);
        n->secret_len = cfg->secret_len;
    }
    n->hb_ns = (cfg->heartbeat_ms > 0 ? cfg->heartbeat_ms : 200) * 1000000;
    n->timeout_ns = (cfg->timeout_ms > 0 ? cfg->timeout_ms : 1500) * 1000000;
    n->rmin_ns =
        (cfg->reconnect_min_ms > 0 ? cfg->reconnect_min_ms : 100) * 1000000;
    n->rmax_ns =
        (cfg->reconnect_max_ms > 0 ? cfg->reconnect_max_ms : 5000) * 1000000;
    if (n->rmax_ns < n->rmin_ns)
        n->rmax_ns = n->rmin_ns;
    n->outbox = cfg->outbox_bytes ? cfg->outbox_bytes : 8u << 20;
    size_t mf = sys->max_msg + 1024;
    if (mf > (64u << 20))
        mf = 64u << 20;
    n->max_frame = cfg->max_frame ? cfg->max_frame : mf;
    n->inq_max = 4u << 20;
    n->npeers = 1; // index 0 is this process
    n->evtail = &n->evs;
    pthread_mutex_init(&n->mu, NULL);
    pthread_cond_init(&n->cv, NULL);
    pthread_mutex_init(&n->names_mu, NULL);
    pthread_mutex_init(&n->pg_mu, NULL);
    pthread_mutex_init(&n->spawn_mu, NULL);
    int rc = tls_setup(n, cfg);
    if (rc == 0 && cfg->listen != NULL)
        rc = listen_url(n, cfg->listen);
    for (unsigned i = 0; rc == 0 && i < cfg->nseeds; i++)
        rc = dial_add(n, cfg->seeds[i]);
    if (rc == 0 && pthread_create(&n->thr, NULL, node_main, n) != 0)
        rc = TR_ESYS;
    if (rc != 0) {
        node_close(n);
        return rc;
    }
    n->thr_on = true;
    rc = tr__agent_start(n);
    if (rc != 0) {
        node_close(n);
        return rc;
    }
    if (tr__transport_set(sys, &tr__node_transport, n) != 0) {
        tr_system_stop(sys, n->agent, TR_EXIT_SHUTDOWN);
        node_close(n);
        return TR_EBUSY;
    }
    tr__node_log(n, "info", "event=node_start incarnation=%llu url=%s",
                 (unsigned long long)n->inc, n->url[0] ? n->url : "-");
    return 0;
}

int
tr_node_url(tr_system *sys, char *buf, size_t size)
{
    struct node *n = tr__node_of(sys);
    if (n == NULL || n->url[0] == '\0')
        return TR_EINVAL;
    if (strlen(n->url) >= size)
        return TR_ELIMIT;
    strcpy(buf, n->url);
    return 0;
}

int
tr_node_connect(tr_system *sys, const char *url)
{
    struct node *n = tr__node_of(sys);
    return n != NULL ? dial_add(n, url) : TR_EINVAL;
}

int
tr_node_disconnect(tr_system *sys, const char *name)
{
    struct node *n = tr__node_of(sys);
    size_t len = name != NULL ? strlen(name) : 0;
    if (n == NULL || !name_ok(name, len))
        return TR_EINVAL;
    struct ev *e = ev_new(EV_DISCONNECT, NULL, NULL, len);
    if (e == NULL)
        return TR_ENOMEM;
    memcpy(e->data, name, len);
    ev_push(n, e);
    return 0;
}

int
tr_node_wait_peers(tr_system *sys, unsigned want, int64_t timeout_ms)
{
    struct node *n = tr__node_of(sys);
    if (n == NULL)
        return TR_EINVAL;
    int64_t end = tr__now_ns() + timeout_ms * 1000000;
    while (atomic_load(&n->up) < want) {
        if (tr__now_ns() > end)
            return TR_ETIMEDOUT;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    return 0;
}

int
tr_node_stats_get(tr_system *sys, tr_node_stats *out)
{
    struct node *n = tr__node_of(sys);
    if (n == NULL)
        return TR_EINVAL;
#define RD(f) atomic_load_explicit(&n->st.f, memory_order_relaxed)
    *out = (tr_node_stats){
        .peers_up = atomic_load(&n->up),
        .nodes_up = RD(nodes_up),
        .nodes_down = RD(nodes_down),
        .msgs_out = RD(msgs_out),
        .msgs_in = RD(msgs_in),
        .frames_out = RD(frames_out),
        .bytes_out = RD(bytes_out),
        .bytes_in = RD(bytes_in),
        .outbox_full = RD(outbox_full),
        .dropped_in = RD(dropped_in),
        .auth_failures = RD(auth_failures),
        .proto_errors = RD(proto_errors),
        .heartbeat_miss = RD(heartbeat_miss),
        .group_pub_out = RD(group_pub_out),
        .group_pub_in = RD(group_pub_in),
        .group_delivered = RD(group_delivered),
        .group_dropped = RD(group_dropped),
        .conns = atomic_load(&n->nconns),
        .conns_opened = RD(conns_opened),
        .beats_in = RD(beats_in),
    };
#undef RD
    return 0;
}

int
tr_ref_node(tr_system *sys, tr_ref r, char *buf, size_t size)
{
    struct node *n = tr__node_of(sys);
    unsigned idx = TR__REF_NODE(r);
    const char *name = "";
    if (idx == 0 && n != NULL)
        name = n->name;
    else if (idx != 0) {
        struct peer *p = n != NULL ? atomic_load(&n->peers[idx]) : NULL;
        if (p == NULL)
            return TR_EINVAL;
        name = p->name;
    }
    if (strlen(name) >= size)
        return TR_ELIMIT;
    strcpy(buf, name);
    return 0;
}
