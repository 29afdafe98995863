// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// peers.c: tr_node_peers, the peer table as a metrics view. Kept apart
// from node.c, which owns the table: this file only reads it, under the
// locks node.c documents (a peer's mu guards its conn, taken before the
// connection's mu, as senders do).
#include "node.h"

#include <string.h>

// Bytes queued to `c` and not yet written. Caller holds the peer's mu,
// so c stays allocated (conn_close clears peer->conn under it first).
static size_t
conn_backlog(struct conn *c)
{
    pthread_mutex_lock(&c->mu);
    size_t bytes = c->ctl.len + c->data.len;
    if (c->tx_busy && c->tx.len > c->tx_off)
        bytes += c->tx.len - c->tx_off;
    pthread_mutex_unlock(&c->mu);
    return bytes;
}

int
tr_node_peers(tr_system *sys, tr_node_peer *out, size_t cap, size_t *n)
{
    struct node *nd = tr__node_of(sys);
    if (nd == NULL || n == NULL || (cap != 0 && out == NULL))
        return TR_EINVAL;
    pthread_mutex_lock(&nd->mu);
    unsigned npeers = nd->npeers;
    pthread_mutex_unlock(&nd->mu);
    size_t k = 0;
    for (unsigned i = 1; i < npeers; i++) {
        struct peer *p = atomic_load(&nd->peers[i]);
        if (p == NULL)
            continue;
        tr_node_peer v = {.incarnation = p->inc};
        memcpy(v.name, p->name, sizeof v.name); // constant once published
        pthread_mutex_lock(&p->mu);
        bool dead = p->dead;
        if (p->conn != NULL) {
            v.up = true;
            v.outbox_bytes = conn_backlog(p->conn);
        }
        pthread_mutex_unlock(&p->mu);
        if (dead)
            continue;
        if (k < cap)
            out[k] = v;
        k++;
    }
    *n = k;
    return 0;
}
