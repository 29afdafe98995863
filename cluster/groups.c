// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// groups.c: process groups across the cluster (troupe/cluster.h, tr_pg_*).
//
// Design notes
// - Every node keeps every group's whole membership (ours with node index
//   0, others' with theirs), updated by JOIN / LEAVE from each node about
//   its own actors, as the registry is. A node that comes up is sent our
//   members; one that goes down loses its members everywhere.
// - Publishing walks the member array once: a send to each local member,
//   and one K_PUB per distinct other node, which fans out there. A room of
//   N members spread over k nodes costs k-1 wire messages per publish.
// - Members that stop are removed when the agent sees their DOWN (the
//   agent monitors each actor that joins).
// - Groups live in an array searched linearly and members in per-group
//   arrays: a chat server has hundreds of rooms, not millions; a hash
//   map is the next step if that changes.
#include "node.h"

#include <string.h>

static int64_t
group_find(struct node *n, const char *name, size_t len)
{
    for (uint32_t i = 0; i < n->ngroups; i++)
        if (strlen(n->groups[i].name) == len &&
            memcmp(n->groups[i].name, name, len) == 0)
            return i;
    return -1;
}

static struct group *
group_get(struct node *n, const char *name, size_t len)
{
    int64_t i = group_find(n, name, len);
    if (i >= 0)
        return &n->groups[i];
    if (tr__grow(&n->groups, &n->capgroups, n->ngroups, sizeof *n->groups,
                 16) != 0)
        return NULL;
    struct group *g = &n->groups[n->ngroups++];
    *g = (struct group){0};
    memcpy(g->name, name, len);
    return g;
}

static void
group_drop_if_empty(struct node *n, struct group *g)
{
    if (g->n != 0)
        return;
    tr__free(g->v, g->cap * sizeof *g->v);
    *g = n->groups[--n->ngroups];
}

static int64_t
member_find(const struct group *g, tr_ref r)
{
    for (uint32_t i = 0; i < g->n; i++)
        if (tr_ref_eq(g->v[i], r))
            return i;
    return -1;
}

static int
member_add(struct group *g, tr_ref r)
{
    if (member_find(g, r) >= 0)
        return 0;
    if (tr__grow(&g->v, &g->cap, g->n, sizeof *g->v, 8) != 0)
        return TR_ENOMEM;
    g->v[g->n++] = r;
    return 1;
}

static bool
member_del(struct group *g, tr_ref r)
{
    int64_t i = member_find(g, r);
    if (i < 0)
        return false;
    g->v[i] = g->v[--g->n];
    return true;
}

static bool
key_ok(const char *s, size_t *len)
{
    *len = s != NULL ? strlen(s) : 0;
    return *len != 0 && *len <= KEY_MAX;
}

int
tr_pg_join(tr_system *sys, const char *group, tr_ref who)
{
    struct node *n = tr__node_of(sys);
    size_t len;
    if (n == NULL || !key_ok(group, &len) || TR__REF_NODE(who) != 0 ||
        tr_ref_is_none(who))
        return TR_EINVAL;
    tr_mailbox_info mi;
    if (tr_mailbox_stats(sys, who, &mi) != 0)
        return TR_ENOACTOR;
    pthread_mutex_lock(&n->pg_mu);
    struct group *g = group_get(n, group, len);
    int rc = g != NULL ? member_add(g, who) : TR_ENOMEM;
    pthread_mutex_unlock(&n->pg_mu);
    if (rc == 1) { // new: follow it, and tell the others
        rc = tr__agent_watch(n, who);
        tr__announce(n, NULL, K_JOIN, group, who);
    }
    return rc < 0 ? rc : 0;
}

int
tr_pg_leave(tr_system *sys, const char *group, tr_ref who)
{
    struct node *n = tr__node_of(sys);
    size_t len;
    if (n == NULL || !key_ok(group, &len) || TR__REF_NODE(who) != 0)
        return TR_EINVAL;
    pthread_mutex_lock(&n->pg_mu);
    int64_t i = group_find(n, group, len);
    bool was = i >= 0 && member_del(&n->groups[i], who);
    if (i >= 0)
        group_drop_if_empty(n, &n->groups[i]);
    pthread_mutex_unlock(&n->pg_mu);
    if (!was)
        return TR_ENOACTOR;
    tr__announce(n, NULL, K_LEAVE, group, who);
    return 0;
}

int
tr_pg_members(tr_system *sys, const char *group, tr_ref *out, size_t cap,
              size_t *total)
{
    struct node *n = tr__node_of(sys);
    size_t len;
    if (n == NULL || !key_ok(group, &len) || (cap != 0 && out == NULL))
        return TR_EINVAL;
    size_t k = 0;
    pthread_mutex_lock(&n->pg_mu);
    int64_t i = group_find(n, group, len);
    if (i >= 0) {
        const struct group *g = &n->groups[i];
        for (int pass = 0; pass < 2; pass++) // ours first
            for (uint32_t j = 0; j < g->n; j++)
                if ((TR__REF_NODE(g->v[j]) == 0) == (pass == 0)) {
                    if (k < cap)
                        out[k] = g->v[j];
                    k++;
                }
    }
    pthread_mutex_unlock(&n->pg_mu);
    if (total != NULL)
        *total = k;
    return 0;
}

// Delivers a group message to our own members of `g`. Caller holds pg_mu.
static size_t
fan_out_local(struct node *n, const struct group *g, tr_ref from, uint32_t type,
              const void *data, size_t len)
{
    size_t k = 0;
    for (uint32_t i = 0; i < g->n; i++) {
        if (TR__REF_NODE(g->v[i]) != 0)
            continue;
        if (tr__send_full(n->sys, from, g->v[i], type, data, len, 0, 0) == 0) {
            NODE_STAT(n, group_delivered);
            k++;
        } else {
            NODE_STAT(n, group_dropped);
        }
    }
    return k;
}

int
tr_pg_publish(tr_system *sys, tr_ref from, const char *group, uint32_t type,
              const void *data, size_t len, size_t *delivered)
{
    struct node *n = tr__node_of(sys);
    size_t glen;
    if (n == NULL || !key_ok(group, &glen) || type >= TR_MSG_SYSTEM ||
        (len != 0 && data == NULL))
        return TR_EINVAL;
    if (len > sys->max_msg)
        return TR_EMSGSIZE;
    size_t k = 0;
    int rc = 0;
    pthread_mutex_lock(&n->pg_mu);
    int64_t gi = group_find(n, group, glen);
    if (gi >= 0) {
        const struct group *g = &n->groups[gi];
        k = fan_out_local(n, g, from, type, data, len);
        // One copy per other node with members: find each distinct node
        // (members of one node are usually few nodes; quadratic in those).
        for (uint32_t i = 0; i < g->n && rc == 0; i++) {
            unsigned node = TR__REF_NODE(g->v[i]);
            bool seen = node == 0;
            for (uint32_t j = 0; j < i && !seen; j++)
                seen = TR__REF_NODE(g->v[j]) == node;
            if (seen)
                continue;
            struct peer *p = atomic_load(&n->peers[node]);
            tr_pack pk;
            unsigned char buf[256];
            tr_pack_init(&pk, buf, sizeof buf);
            tr_pack_array(&pk, 5);
            tr_pack_uint(&pk, K_PUB);
            tr_pack_str(&pk, group, glen);
            tr__ref_pack(&pk, n, p, from);
            tr_pack_uint(&pk, type);
            tr_pack_bin(&pk, data, len);
            rc = pk.err;
            if (rc == 0 && tr__peer_queue(p, &pk) == 0) {
                NODE_STAT(n, group_pub_out);
                k++;
            } else if (rc == 0) {
                NODE_STAT(n, group_dropped);
            }
            tr_pack_fini(&pk);
        }
    }
    pthread_mutex_unlock(&n->pg_mu);
    if (delivered != NULL)
        *delivered = k;
    return rc;
}

int
tr__groups_frame(struct node *n, struct peer *p, const struct tr__frame *f)
{
    if (f->kind == K_PUB) {
        NODE_STAT(n, group_pub_in);
        tr_ref from = tr__ref_resolve(n, p, &f->pub.from);
        pthread_mutex_lock(&n->pg_mu);
        int64_t gi = group_find(n, f->pub.group.p, f->pub.group.len);
        if (gi >= 0)
            fan_out_local(n, &n->groups[gi], from, f->pub.type,
                          f->pub.len ? f->pub.data : NULL, f->pub.len);
        pthread_mutex_unlock(&n->pg_mu);
        return 0;
    }
    tr_ref who = tr__ref_resolve(n, p, &f->name.ref);
    int rc = 0;
    pthread_mutex_lock(&n->pg_mu);
    if (f->kind == K_JOIN) {
        struct group *g = group_get(n, f->name.key.p, f->name.key.len);
        rc = g != NULL ? member_add(g, who) : TR_ENOMEM;
    } else {
        int64_t gi = group_find(n, f->name.key.p, f->name.key.len);
        if (gi >= 0) {
            member_del(&n->groups[gi], who);
            group_drop_if_empty(n, &n->groups[gi]);
        }
    }
    pthread_mutex_unlock(&n->pg_mu);
    return rc < 0 && rc != TR_ENOMEM ? rc : 0; // out of memory: missed
}

void
tr__groups_peer_up(struct node *n, struct peer *p)
{
    pthread_mutex_lock(&n->pg_mu);
    for (uint32_t i = 0; i < n->ngroups; i++)
        for (uint32_t j = 0; j < n->groups[i].n; j++)
            if (TR__REF_NODE(n->groups[i].v[j]) == 0)
                tr__announce(n, p, K_JOIN, n->groups[i].name,
                             n->groups[i].v[j]);
    pthread_mutex_unlock(&n->pg_mu);
}

void
tr__groups_peer_down(struct node *n, struct peer *p)
{
    pthread_mutex_lock(&n->pg_mu);
    for (uint32_t i = 0; i < n->ngroups;) {
        struct group *g = &n->groups[i];
        for (uint32_t j = 0; j < g->n;)
            if (TR__REF_NODE(g->v[j]) == p->idx)
                g->v[j] = g->v[--g->n];
            else
                j++;
        if (g->n == 0)
            group_drop_if_empty(n, g); // moves the last group here
        else
            i++;
    }
    pthread_mutex_unlock(&n->pg_mu);
}

void
tr__groups_down(struct node *n, tr_ref who)
{
    // Collect the groups first: announcing takes peer locks.
    for (;;) {
        char name[KEY_MAX + 1] = "";
        pthread_mutex_lock(&n->pg_mu);
        for (uint32_t i = 0; i < n->ngroups && name[0] == '\0'; i++)
            if (member_del(&n->groups[i], who)) {
                strcpy(name, n->groups[i].name);
                group_drop_if_empty(n, &n->groups[i]);
            }
        pthread_mutex_unlock(&n->pg_mu);
        if (name[0] == '\0')
            return;
        tr__announce(n, NULL, K_LEAVE, name, who);
    }
}

void
tr__groups_fini(struct node *n)
{
    for (uint32_t i = 0; i < n->ngroups; i++)
        tr__free(n->groups[i].v, n->groups[i].cap * sizeof(tr_ref));
    tr__free(n->groups, n->capgroups * sizeof *n->groups);
}
