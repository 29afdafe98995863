// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// names.c: the cluster-wide name registry.
//
// Design notes
// - Every node keeps the whole table, so tr_whereis is a local lookup. A
//   node announces its own names (K_REG / K_UNREG) to every peer, and all
//   of them to a peer that comes up; a peer's names go when it goes down.
// - A conflict (two nodes gave one name to different actors before they
//   heard of each other) is settled the same way everywhere: the owner on
//   the node whose name sorts first keeps it. The loser is logged.
// - An owner that stops loses its names as soon as the node's agent gets
//   its DOWN (the agent monitors every owner; cluster/agent.c).
// - The table is a plain array: registries hold services, not every
//   actor. A hash map is the next step if that changes.
#include "node.h"

#include <string.h>

static int64_t
find(struct node *n, const char *name, size_t len)
{
    for (uint32_t i = 0; i < n->nnames; i++)
        if (strlen(n->names[i].name) == len &&
            memcmp(n->names[i].name, name, len) == 0)
            return i;
    return -1;
}

static const char *
owner_name(struct node *n, uint16_t owner)
{
    if (owner == 0)
        return n->name;
    struct peer *p = atomic_load(&n->peers[owner]);
    return p != NULL ? p->name : "";
}

static bool
alive(struct node *n, const struct name *e)
{
    tr_mailbox_info mi;
    return e->owner != 0 || tr_mailbox_stats(n->sys, e->ref, &mi) == 0;
}

static int
put(struct node *n, const char *name, size_t len, tr_ref ref, uint16_t owner)
{
    int64_t i = find(n, name, len);
    if (i < 0) {
        if (tr__grow(&n->names, &n->capnames, n->nnames, sizeof *n->names,
                     16) != 0)
            return TR_ENOMEM;
        i = n->nnames++;
        memcpy(n->names[i].name, name, len);
        n->names[i].name[len] = '\0';
    }
    n->names[i].ref = ref;
    n->names[i].owner = owner;
    return 0;
}

static void
del(struct node *n, int64_t i)
{
    n->names[i] = n->names[--n->nnames];
}

void
tr__announce(struct node *n, struct peer *p, unsigned kind, const char *name,
             tr_ref ref)
{
    for (unsigned i = 1; i < NODE_MAX; i++) {
        struct peer *q = p != NULL ? p : atomic_load(&n->peers[i]);
        if (q == NULL)
            break;
        unsigned char buf[256];
        tr_pack pk;
        tr_pack_init(&pk, buf, sizeof buf);
        tr_pack_array(&pk, kind == K_UNREG ? 2 : 3);
        tr_pack_uint(&pk, kind);
        tr_pack_cstr(&pk, name);
        if (kind != K_UNREG)
            tr__ref_pack(&pk, n, q, ref);
        (void)tr__peer_queue(q, &pk);
        tr_pack_fini(&pk);
        if (p != NULL)
            break;
    }
}

int
tr_register(tr_system *sys, const char *name, tr_ref who)
{
    struct node *n = tr__node_of(sys);
    size_t len = name != NULL ? strlen(name) : 0;
    if (n == NULL || len == 0 || len > KEY_MAX || TR__REF_NODE(who) != 0 ||
        tr_ref_is_none(who))
        return TR_EINVAL;
    pthread_mutex_lock(&n->names_mu);
    int64_t i = find(n, name, len);
    int rc = 0;
    if (i >= 0 && !tr_ref_eq(n->names[i].ref, who) && alive(n, &n->names[i]))
        rc = TR_EBUSY;
    else
        rc = put(n, name, len, who, 0);
    pthread_mutex_unlock(&n->names_mu);
    if (rc == 0)
        rc = tr__agent_watch(n, who); // the name goes when its owner does
    if (rc == 0)
        tr__announce(n, NULL, K_REG, name, who);
    return rc;
}

int
tr_unregister(tr_system *sys, const char *name)
{
    struct node *n = tr__node_of(sys);
    if (n == NULL || name == NULL)
        return TR_EINVAL;
    pthread_mutex_lock(&n->names_mu);
    int64_t i = find(n, name, strlen(name));
    bool ours = i >= 0 && n->names[i].owner == 0;
    if (ours)
        del(n, i);
    pthread_mutex_unlock(&n->names_mu);
    if (!ours)
        return TR_ENOACTOR;
    tr__announce(n, NULL, K_UNREG, name, TR_REF_NONE);
    return 0;
}

int
tr_whereis(tr_system *sys, const char *name, tr_ref *out)
{
    struct node *n = tr__node_of(sys);
    if (n == NULL || name == NULL)
        return TR_EINVAL;
    pthread_mutex_lock(&n->names_mu);
    int64_t i = find(n, name, strlen(name));
    if (i >= 0)
        *out = n->names[i].ref;
    pthread_mutex_unlock(&n->names_mu);
    return i >= 0 ? 0 : TR_ENOACTOR;
}

int
tr__names_frame(struct node *n, struct peer *p, const struct tr__frame *f)
{
    int kind = (int)f->kind;
    const char *name = f->name.key.p;
    size_t len = f->name.key.len;
    tr_ref ref =
        kind == K_REG ? tr__ref_resolve(n, p, &f->name.ref) : TR_REF_NONE;
    pthread_mutex_lock(&n->names_mu);
    int64_t i = find(n, name, len);
    int rc = 0;
    if (kind == K_UNREG) {
        if (i >= 0 && n->names[i].owner == p->idx)
            del(n, i);
    } else if (i < 0 || n->names[i].owner == p->idx ||
               !alive(n, &n->names[i]) ||
               strcmp(p->name, owner_name(n, n->names[i].owner)) < 0) {
        if (i >= 0 && n->names[i].owner != p->idx)
            tr__node_log(
                n, "warn", "event=name_conflict name=%.*s winner=%s loser=%s",
                (int)len, name, p->name, owner_name(n, n->names[i].owner));
        rc = put(n, name, len, ref, p->idx);
    } else {
        tr__node_log(n, "warn",
                     "event=name_conflict name=%.*s winner=%s loser=%s",
                     (int)len, name, owner_name(n, n->names[i].owner), p->name);
    }
    pthread_mutex_unlock(&n->names_mu);
    return rc == TR_ENOMEM ? 0 : rc; // out of memory: the name is missed
}

void
tr__names_peer_up(struct node *n, struct peer *p)
{
    pthread_mutex_lock(&n->names_mu);
    for (uint32_t i = 0; i < n->nnames; i++)
        if (n->names[i].owner == 0)
            tr__announce(n, p, K_REG, n->names[i].name, n->names[i].ref);
    pthread_mutex_unlock(&n->names_mu);
}

void
tr__names_peer_down(struct node *n, struct peer *p)
{
    pthread_mutex_lock(&n->names_mu);
    for (uint32_t i = 0; i < n->nnames;)
        if (n->names[i].owner == p->idx)
            del(n, i);
        else
            i++;
    pthread_mutex_unlock(&n->names_mu);
}

void
tr__names_down(struct node *n, tr_ref who)
{
    for (;;) {
        char gone[KEY_MAX + 1] = "";
        pthread_mutex_lock(&n->names_mu);
        for (uint32_t i = 0; i < n->nnames; i++)
            if (n->names[i].owner == 0 && tr_ref_eq(n->names[i].ref, who)) {
                strcpy(gone, n->names[i].name);
                del(n, i);
                break;
            }
        pthread_mutex_unlock(&n->names_mu);
        if (gone[0] == '\0')
            return;
        tr__announce(n, NULL, K_UNREG, gone, TR_REF_NONE);
    }
}

void
tr__names_fini(struct node *n)
{
    tr__free(n->names, n->capnames * sizeof *n->names);
    tr__free(n->behavs, n->capbehavs * sizeof *n->behavs);
}
