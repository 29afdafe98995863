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
// - The table is an array (tr__names_peer_up walks it in order to
//   announce our names), with two hash indexes over it so nothing scans
//   it per operation: by name for register, whereis, unregister and every
//   REG/UNREG a peer sends; by ref for the DOWN of an owner. Chat
//   registers every connection's nickname, so the table holds one entry
//   per client (1,000,000 is the sizing), and a scan per operation made
//   connecting N clients cost N^2 string compares.
// - Each index is a chain per bucket, doubly linked through the entries'
//   indices, so an entry leaves both chains in O(1) even when one actor
//   holds thousands of names. Buckets: a power of two, at least the
//   number of entries (rebuilt, doubled, when an insert would pass it).
// - Deleting moves the last entry into the hole (as before the indexes:
//   the array's order, and so every walk of it, is what it was); the
//   links that led to the last entry are pointed at its new index.
// - The name hash is FNV-1a, unseeded: names come from this process and
//   from peers that proved the cluster secret, not from strangers.
#include "node.h"

#include <string.h>

static uint32_t
hash_key(const char *name, size_t len)
{
    uint32_t h = 2166136261u; // FNV-1a
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)name[i]) * 16777619u;
    return h;
}

static uint32_t
hash_ref(tr_ref r)
{
    return (uint32_t)((r.bits * UINT64_C(0x9E3779B97F4A7C15)) >> 32);
}

static uint32_t *
bucket(struct node *n, int w, uint32_t hash)
{
    return &n->heads[w][hash & (n->nbuckets - 1)];
}

// link_to is the link that leads to entry i in index w: its bucket's head
// or its predecessor's next.
static uint32_t *
link_to(struct node *n, int w, uint32_t i)
{
    uint32_t p = n->names[i].prev[w];
    return p == NAME_NIL ? bucket(n, w, n->names[i].hash[w])
                         : &n->names[p].next[w];
}

static void
index_add(struct node *n, int w, uint32_t i)
{
    struct name *e = &n->names[i];
    uint32_t *b = bucket(n, w, e->hash[w]);
    e->next[w] = *b;
    e->prev[w] = NAME_NIL;
    if (*b != NAME_NIL)
        n->names[*b].prev[w] = i;
    *b = i;
}

static void
index_remove(struct node *n, int w, uint32_t i)
{
    struct name *e = &n->names[i];
    *link_to(n, w, i) = e->next[w];
    if (e->next[w] != NAME_NIL)
        n->names[e->next[w]].prev[w] = e->prev[w];
}

// index_move points the links to entry `from` at index `to`, where the
// caller is about to copy it.
static void
index_move(struct node *n, int w, uint32_t from, uint32_t to)
{
    struct name *e = &n->names[from];
    *link_to(n, w, from) = to;
    if (e->next[w] != NAME_NIL)
        n->names[e->next[w]].prev[w] = to;
}

// rehash makes room for one more entry: buckets at least nnames + 1.
static int
rehash(struct node *n)
{
    if (n->nnames < n->nbuckets)
        return 0;
    uint32_t nb = n->nbuckets != 0 ? n->nbuckets * 2 : 64;
    uint32_t *v[NAME_INDEXES];
    for (int w = 0; w < NAME_INDEXES; w++) {
        v[w] = tr__alloc((size_t)nb * sizeof *v[w]);
        if (v[w] == NULL) {
            while (w-- > 0)
                tr__free(v[w], (size_t)nb * sizeof *v[w]);
            return TR_ENOMEM;
        }
    }
    for (int w = 0; w < NAME_INDEXES; w++) {
        tr__free(n->heads[w], (size_t)n->nbuckets * sizeof *v[w]);
        n->heads[w] = v[w];
        memset(v[w], 0xff, (size_t)nb * sizeof *v[w]); // NAME_NIL
    }
    n->nbuckets = nb;
    for (uint32_t i = 0; i < n->nnames; i++)
        for (int w = 0; w < NAME_INDEXES; w++)
            index_add(n, w, i);
    return 0;
}

static int64_t
find(struct node *n, const char *name, size_t len)
{
    if (n->nbuckets == 0 || len > KEY_MAX)
        return -1;
    uint32_t h = hash_key(name, len);
    for (uint32_t i = *bucket(n, NAME_BY_KEY, h); i != NAME_NIL;
         i = n->names[i].next[NAME_BY_KEY])
        if (n->names[i].hash[NAME_BY_KEY] == h &&
            memcmp(n->names[i].name, name, len) == 0 &&
            n->names[i].name[len] == '\0')
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
        if (rehash(n) != 0 || tr__grow(&n->names, &n->capnames, n->nnames,
                                       sizeof *n->names, 16) != 0)
            return TR_ENOMEM;
        i = n->nnames++;
        struct name *e = &n->names[i];
        memcpy(e->name, name, len);
        e->name[len] = '\0';
        e->hash[NAME_BY_KEY] = hash_key(name, len);
        index_add(n, NAME_BY_KEY, (uint32_t)i);
    } else {
        index_remove(n, NAME_BY_REF, (uint32_t)i); // its ref may change
    }
    struct name *e = &n->names[i];
    e->ref = ref;
    e->owner = owner;
    e->hash[NAME_BY_REF] = hash_ref(ref);
    index_add(n, NAME_BY_REF, (uint32_t)i);
    return 0;
}

// del removes entry i; the last entry takes its place.
static void
del(struct node *n, int64_t i)
{
    uint32_t last = n->nnames - 1;
    for (int w = 0; w < NAME_INDEXES; w++) {
        index_remove(n, w, (uint32_t)i);
        if (i != last)
            index_move(n, w, last, (uint32_t)i);
    }
    n->names[i] = n->names[last];
    n->nnames--;
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
        // Of its names, the first in the table, as a scan would find it:
        // the UNREGs go out in the order they always did.
        uint32_t first = NAME_NIL;
        uint32_t i = n->nbuckets != 0 ? *bucket(n, NAME_BY_REF, hash_ref(who))
                                      : NAME_NIL;
        for (; i != NAME_NIL; i = n->names[i].next[NAME_BY_REF])
            if (i < first && n->names[i].owner == 0 &&
                tr_ref_eq(n->names[i].ref, who))
                first = i;
        if (first != NAME_NIL) {
            strcpy(gone, n->names[first].name);
            del(n, first);
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
    for (int w = 0; w < NAME_INDEXES; w++)
        tr__free(n->heads[w], (size_t)n->nbuckets * sizeof *n->heads[w]);
    tr__free(n->behavs, n->capbehavs * sizeof *n->behavs);
}
