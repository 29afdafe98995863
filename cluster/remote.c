// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// remote.c: messages and signals to and from actors of other nodes: the
// transport that actors/ calls for a ref with a node index, the envelopes
// (docs/wire.md), ref translation, and what a lost peer means for the
// monitors and links that crossed to it.
//
// Design notes
// - A ref's node field is an index into this process's peer table, one
//   entry per (name, incarnation). On the wire a ref is relative to the
//   two ends: a plain integer names the sender's actor, one with bit 48
//   set names the receiver's, and [name, incarnation, id] names a third
//   node's. So refs never depend on how either end numbers its peers.
// - Each side keeps its own half of a remote monitor or link in the actor,
//   exactly as for local ones (watch.c); the peer entry also records the
//   monitors and links that cross to that peer, so that losing the peer
//   can fire them locally with TR_ENOCONN: nothing waits for a DOWN that
//   can no longer come.
// - Signals travel in the data lane, in order with messages: a DOWN never
//   overtakes the messages its actor sent before it died (the guarantee
//   local DOWNs give). The outbox bound bounds how long they can wait.
#include "node.h"

#include <string.h>

#define MASK48 ((UINT64_C(1) << 48) - 1)
#define HERE48 (UINT64_C(1) << 48) // "the receiver's actor"

static struct peer *
peer_of(struct node *n, tr_ref r)
{
    unsigned idx = TR__REF_NODE(r);
    return idx < NODE_MAX ? atomic_load(&n->peers[idx]) : NULL;
}

int
tr__ref_pack(tr_pack *pk, struct node *n, struct peer *p, tr_ref r)
{
    if (tr_ref_is_none(r))
        return tr_pack_nil(pk);
    unsigned idx = TR__REF_NODE(r);
    if (idx == 0)
        return tr_pack_uint(pk, r.bits & MASK48);
    if (idx == p->idx)
        return tr_pack_uint(pk, (r.bits & MASK48) | HERE48);
    struct peer *o = peer_of(n, r);
    if (o == NULL)
        return tr_pack_nil(pk);
    tr_pack_array(pk, 3);
    tr_pack_cstr(pk, o->name);
    tr_pack_uint(pk, o->inc);
    return tr_pack_uint(pk, r.bits & MASK48);
}

tr_ref
tr__ref_resolve(struct node *n, struct peer *p, const struct wref *w)
{
    switch (w->kind) {
    case WREF_SENDER:
        return (tr_ref){(uint64_t)p->idx << 48 | w->id};
    case WREF_RECEIVER:
        return (tr_ref){w->id};
    case WREF_THIRD: {
        if (strlen(n->name) == w->name_len &&
            memcmp(n->name, w->name, w->name_len) == 0 && w->inc == n->inc)
            return (tr_ref){w->id};
        struct peer *o = tr__peer_find(n, w->name, w->name_len, w->inc, true);
        return o != NULL ? (tr_ref){(uint64_t)o->idx << 48 | w->id}
                         : TR_REF_NONE;
    }
    default:
        return TR_REF_NONE;
    }
}

// ---------------------------------------------------------------------------
// Watch lists (peer mu)

static int
wl_add(struct wlist *l, tr_ref local, tr_ref remote, uint64_t id)
{
    if (tr__grow(&l->v, &l->cap, l->n, sizeof *l->v, 8) != 0)
        return TR_ENOMEM;
    l->v[l->n++] = (struct watch){local, remote, id};
    return 0;
}

// Removes the entry with `id`, or (id 0) the pair local/remote.
static void
wl_del(struct wlist *l, tr_ref local, tr_ref remote, uint64_t id)
{
    for (uint32_t i = 0; i < l->n; i++) {
        struct watch *w = &l->v[i];
        if (id != 0
                ? w->id == id
                : tr_ref_eq(w->local, local) && tr_ref_eq(w->remote, remote)) {
            *w = l->v[--l->n];
            return;
        }
    }
}

// ---------------------------------------------------------------------------
// Sending

// Queues the envelope in `pk` to `p`, counted; the _locked form for a
// caller that holds p->mu.
static int
queue_locked(struct node *n, struct peer *p, tr_pack *pk)
{
    int rc = tr__peer_queue_locked(p, pk);
    if (rc == 0)
        NODE_STAT(n, msgs_out);
    return rc;
}

static int
queue(struct node *n, struct peer *p, tr_pack *pk)
{
    int rc = tr__peer_queue(p, pk);
    if (rc == 0)
        NODE_STAT(n, msgs_out);
    return rc;
}

static void
pack_sig(tr_pack *pk, struct node *n, struct peer *p, unsigned sig, tr_ref to,
         tr_ref who, uint64_t id, int reason, const char *text)
{
    tr_pack_array(pk, 7);
    tr_pack_uint(pk, K_SIG);
    tr_pack_uint(pk, sig);
    tr__ref_pack(pk, n, p, to);
    tr__ref_pack(pk, n, p, who);
    tr_pack_uint(pk, id);
    tr_pack_int(pk, reason);
    size_t tl = 0;
    while (text != NULL && tl < TR_EXIT_TEXT - 1 && text[tl] != '\0')
        tl++;
    tr_pack_str(pk, text, tl);
}

int
tr__remote_send(void *arg, tr_ref from, tr_ref to, uint32_t type,
                const void *data, size_t len, uint64_t req_id,
                int64_t deadline_ns)
{
    struct node *n = arg;
    struct peer *p = peer_of(n, to);
    if (p == NULL)
        return TR_ENOACTOR;
    unsigned char buf[256];
    tr_pack pk;
    tr_pack_init(&pk, buf, sizeof buf);
    if (type == TR_MSG_DOWN) { // an actor of ours died; the watcher is there
        tr_down d;
        if (len != sizeof d) {
            tr_pack_fini(&pk);
            return TR_EINVAL;
        }
        memcpy(&d, data, sizeof d);
        pack_sig(&pk, n, p, S_DOWN, to, d.who, d.mon, d.reason, d.text);
    } else if (type >= TR_MSG_SYSTEM) {
        tr_pack_fini(&pk);
        return TR_EINVAL; // nothing else of the runtime's crosses nodes
    } else {
        int64_t left = 0;
        if (deadline_ns != 0) {
            left = deadline_ns - tr__now_ns();
            if (left < 1)
                left = 1; // due now: the receiver sees it expired
        }
        tr_pack_array(&pk, 7);
        tr_pack_uint(&pk, K_MSG);
        tr_pack_uint(&pk, type);
        tr__ref_pack(&pk, n, p, from);
        tr__ref_pack(&pk, n, p, to);
        tr_pack_uint(&pk, req_id);
        tr_pack_int(&pk, left);
        tr_pack_bin(&pk, data, len);
    }
    int rc = queue(n, p, &pk);
    tr_pack_fini(&pk);
    return rc;
}

static void
local_down(struct node *n, tr_ref watcher, tr_ref target, uint64_t id,
           int reason)
{
    tr_down d = {.who = target, .mon = id, .reason = reason};
    (void)tr__send_any(n->sys, target, watcher, TR_MSG_DOWN, &d, sizeof d, 0);
}

static void
local_exit(struct node *n, tr_ref to, tr_ref who, int reason, const char *text,
           size_t tl)
{
    tr_exit_info x = {.who = who, .reason = reason};
    if (text != NULL)
        memcpy(x.text, text, tl < TR_EXIT_TEXT ? tl : TR_EXIT_TEXT - 1);
    (void)tr__signal_ref(n->sys, to, TR__SIG_EXIT, &x, sizeof x);
}

int
tr__remote_signal(void *arg, tr_ref to, uint32_t type, const void *data,
                  size_t len)
{
    struct node *n = arg;
    struct peer *p = peer_of(n, to);
    (void)len; // each signal's payload has its fixed type
    if (p == NULL)
        return TR_ENOACTOR;
    unsigned char buf[256];
    tr_pack pk;
    tr_pack_init(&pk, buf, sizeof buf);
    int rc = 0;
    pthread_mutex_lock(&p->mu);
    switch (type) {
    case TR__SIG_MONITOR: {
        struct tr__watch w;
        memcpy(&w, data, sizeof w);
        pack_sig(&pk, n, p, S_MONITOR, to, w.who, w.id, 0, NULL);
        rc = queue_locked(n, p, &pk);
        if (rc == 0)
            rc = wl_add(&p->mons, w.who, to, w.id);
        if (rc == TR_ENOCONN || rc == TR_EFULL || rc == TR_ENOMEM) {
            // Not watched: DOWN now, as for a node that is unreachable.
            pthread_mutex_unlock(&p->mu);
            local_down(n, w.who, to, w.id, TR_ENOCONN);
            tr_pack_fini(&pk);
            return 0;
        }
        break;
    }
    case TR__SIG_DEMONITOR: {
        uint64_t id;
        memcpy(&id, data, sizeof id);
        wl_del(&p->mons, TR_REF_NONE, TR_REF_NONE, id);
        pack_sig(&pk, n, p, S_DEMONITOR, to, TR_REF_NONE, id, 0, NULL);
        (void)queue_locked(n, p, &pk);
        break;
    }
    case TR__SIG_LINK: {
        tr_ref from;
        memcpy(&from, data, sizeof from);
        pack_sig(&pk, n, p, S_LINK, to, from, 0, 0, NULL);
        rc = queue_locked(n, p, &pk);
        if (rc == 0)
            rc = wl_add(&p->links, from, to, 0);
        if (rc == TR_ENOCONN || rc == TR_EFULL || rc == TR_ENOMEM) {
            pthread_mutex_unlock(&p->mu);
            local_exit(n, from, to, TR_ENOCONN, NULL, 0);
            tr_pack_fini(&pk);
            return 0;
        }
        break;
    }
    case TR__SIG_UNLINK: {
        tr_ref from;
        memcpy(&from, data, sizeof from);
        wl_del(&p->links, from, to, 0);
        pack_sig(&pk, n, p, S_UNLINK, to, from, 0, 0, NULL);
        (void)queue_locked(n, p, &pk);
        break;
    }
    case TR__SIG_EXIT: {
        tr_exit_info x;
        memcpy(&x, data, sizeof x);
        wl_del(&p->links, x.who, to, 0);
        pack_sig(&pk, n, p, S_EXIT, to, x.who, 0, x.reason, x.text);
        rc = queue_locked(n, p, &pk);
        break;
    }
    case TR__SIG_STOP: {
        int reason;
        memcpy(&reason, data, sizeof reason);
        pack_sig(&pk, n, p, S_STOP, to, TR_REF_NONE, 0, reason, NULL);
        rc = queue_locked(n, p, &pk);
        break;
    }
    default:
        rc = TR_EREMOTE; // not supported across nodes
        break;
    }
    pthread_mutex_unlock(&p->mu);
    tr_pack_fini(&pk);
    return rc;
}

// ---------------------------------------------------------------------------
// Receiving (node thread)

static void
dropped(struct node *n)
{
    NODE_STAT(n, dropped_in);
}

// Answers a signal for an actor we do not have.
static void
answer_gone(struct node *n, struct peer *p, unsigned sig, tr_ref to, tr_ref who,
            uint64_t id)
{
    unsigned char buf[128];
    tr_pack pk;
    tr_pack_init(&pk, buf, sizeof buf);
    if (sig == S_MONITOR)
        pack_sig(&pk, n, p, S_DOWN, who, to, id, TR_ENOACTOR, NULL);
    else
        pack_sig(&pk, n, p, S_EXIT, who, to, 0, TR_ENOACTOR, NULL);
    (void)queue(n, p, &pk);
    tr_pack_fini(&pk);
}

static int
msg_frame(struct node *n, struct peer *p, const struct tr__frame *f)
{
    NODE_STAT(n, msgs_in);
    tr_ref from = tr__ref_resolve(n, p, &f->msg.from);
    tr_ref to = tr__ref_resolve(n, p, &f->msg.to);
    int64_t deadline = f->msg.left != 0 ? tr__now_ns() + f->msg.left : 0;
    if (f->msg.to.kind != WREF_RECEIVER ||
        tr__send_full(n->sys, from, to, f->msg.type,
                      f->msg.len ? f->msg.data : NULL, f->msg.len,
                      f->msg.req_id, deadline) != 0)
        dropped(n);
    return 0;
}

static int
sig_frame(struct node *n, struct peer *p, const struct tr__frame *f)
{
    NODE_STAT(n, msgs_in);
    if (f->sig.to.kind != WREF_RECEIVER) {
        dropped(n);
        return 0;
    }
    tr_ref to = tr__ref_resolve(n, p, &f->sig.to);
    tr_ref who = tr__ref_resolve(n, p, &f->sig.who);
    uint64_t id = f->sig.id;
    int reason = f->sig.reason;
    tr_system *sys = n->sys;
    int rc = 0;
    switch (f->sig.sig) {
    case S_MONITOR: {
        struct tr__watch w = {who, id};
        rc = tr__signal_ref(sys, to, TR__SIG_MONITOR, &w, sizeof w);
        break;
    }
    case S_DEMONITOR:
        (void)tr__signal_ref(sys, to, TR__SIG_DEMONITOR, &id, sizeof id);
        break;
    case S_LINK:
        pthread_mutex_lock(&p->mu);
        rc = wl_add(&p->links, to, who, 0);
        pthread_mutex_unlock(&p->mu);
        if (rc == 0)
            rc = tr__signal_ref(sys, to, TR__SIG_LINK, &who, sizeof who);
        break;
    case S_UNLINK:
        pthread_mutex_lock(&p->mu);
        wl_del(&p->links, to, who, 0);
        pthread_mutex_unlock(&p->mu);
        (void)tr__signal_ref(sys, to, TR__SIG_UNLINK, &who, sizeof who);
        break;
    case S_EXIT:
        pthread_mutex_lock(&p->mu);
        wl_del(&p->links, to, who, 0);
        pthread_mutex_unlock(&p->mu);
        local_exit(n, to, who, reason, f->sig.text.p, f->sig.text.len);
        break;
    case S_DOWN: {
        pthread_mutex_lock(&p->mu);
        wl_del(&p->mons, TR_REF_NONE, TR_REF_NONE, id);
        pthread_mutex_unlock(&p->mu);
        tr_down d = {.who = who, .mon = id, .reason = reason};
        memcpy(d.text, f->sig.text.p, f->sig.text.len);
        if (tr__send_any(sys, who, to, TR_MSG_DOWN, &d, sizeof d, 0) != 0)
            dropped(n);
        break;
    }
    case S_STOP:
        if (tr__signal_ref(sys, to, TR__SIG_STOP, &reason, sizeof reason) != 0)
            dropped(n);
        break;
    default:
        return TR_EPROTO;
    }
    if (rc == TR_ENOACTOR || rc == TR_EINVAL) {
        if (f->sig.sig == S_LINK) {
            pthread_mutex_lock(&p->mu);
            wl_del(&p->links, to, who, 0);
            pthread_mutex_unlock(&p->mu);
        }
        answer_gone(n, p, f->sig.sig, to, who, id);
    }
    return 0;
}

int
tr__remote_frame(struct node *n, struct peer *p, const struct tr__frame *f)
{
    return f->kind == K_MSG ? msg_frame(n, p, f) : sig_frame(n, p, f);
}

void
tr__remote_peer_down(struct node *n, struct peer *p)
{
    pthread_mutex_lock(&p->mu);
    struct wlist mons = p->mons, links = p->links;
    p->mons = (struct wlist){0};
    p->links = (struct wlist){0};
    pthread_mutex_unlock(&p->mu);
    for (uint32_t i = 0; i < mons.n; i++)
        local_down(n, mons.v[i].local, mons.v[i].remote, mons.v[i].id,
                   TR_ENOCONN);
    for (uint32_t i = 0; i < links.n; i++)
        local_exit(n, links.v[i].local, links.v[i].remote, TR_ENOCONN, NULL, 0);
    tr__free(mons.v, mons.cap * sizeof *mons.v);
    tr__free(links.v, links.cap * sizeof *links.v);
}
