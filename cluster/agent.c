// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// agent.c: the node's agent, an ordinary actor ("troupe.node") started by
// tr_node_start, and remote spawn.
//
// Design notes
// - The agent monitors every actor that joins a group or takes a name,
//   and on its DOWN removes it everywhere: membership follows actors'
//   lives through the runtime's own monitors, with no hook in the stop
//   path of actors/.
// - Remotely spawned actors are the agent's children: they have an owner
//   (no orphans) and stop when their node stops, before the connections
//   close, so their monitors and links across nodes still fire.
// - A spawn this node asks for is pending here with a deadline; it ends
//   exactly once: with the answer, TR_EDOWN when the peer goes down, or
//   TR_ETIMEDOUT (checked on the node thread's tick).
#include "node.h"

#include <string.h>

enum { AG_WATCH = 1, AG_SPAWN };

struct ag_spawn {
    uint16_t peer;
    uint64_t id;
    const tr_behavior *b;
    // the init argument follows
};

struct agent {
    struct node *n;
};

static int
agent_init(tr_ctx *ctx, const void *arg, size_t len)
{
    struct agent *a = tr_state(ctx);
    if (len != sizeof a->n)
        return TR_EINVAL;
    memcpy(&a->n, arg, sizeof a->n);
    return 0;
}

// Answers a spawn request of `p` (from any thread).
static void
spawned_reply(struct node *n, struct peer *p, uint64_t id, int rc, tr_ref child)
{
    unsigned char buf[64];
    tr_pack pk;
    tr_pack_init(&pk, buf, sizeof buf);
    tr_pack_array(&pk, 4);
    tr_pack_uint(&pk, K_SPAWNED);
    tr_pack_uint(&pk, id);
    tr_pack_int(&pk, rc);
    tr__ref_pack(&pk, n, p, child);
    (void)tr__peer_queue(p, &pk);
    tr_pack_fini(&pk);
}

static int
agent_receive(tr_ctx *ctx, const tr_msg *m)
{
    struct agent *a = tr_state(ctx);
    switch (tr_msg_type(m)) {
    case AG_WATCH: {
        tr_ref who;
        memcpy(&who, tr_msg_data(m), sizeof who);
        (void)tr_monitor(ctx, who, NULL); // a gone actor: DOWN at once
        return 0;
    }
    case TR_MSG_DOWN: {
        tr_down d;
        memcpy(&d, tr_msg_data(m), sizeof d);
        tr__groups_down(a->n, d.who);
        tr__names_down(a->n, d.who);
        return 0;
    }
    case AG_SPAWN: {
        struct ag_spawn s;
        memcpy(&s, tr_msg_data(m), sizeof s);
        const unsigned char *arg =
            (const unsigned char *)tr_msg_data(m) + sizeof s;
        size_t len = tr_msg_size(m) - sizeof s;
        tr_ref child = TR_REF_NONE;
        int rc = tr_spawn(&child, ctx, s.b, len ? arg : NULL, len, NULL);
        struct peer *p = atomic_load(&a->n->peers[s.peer]);
        spawned_reply(a->n, p, s.id, rc, child);
        return 0;
    }
    default:
        return TR_EUNHANDLED;
    }
}

static const tr_behavior agent_beh = {
    .name = "troupe.node",
    .state_size = sizeof(struct agent),
    .init = agent_init,
    .receive = agent_receive,
};

int
tr__agent_start(struct node *n)
{
    return tr_system_spawn(&n->agent, n->sys, &agent_beh, &n, sizeof n, NULL);
}

int
tr__agent_watch(struct node *n, tr_ref who)
{
    return tr_system_send(n->sys, n->agent, AG_WATCH, &who, sizeof who);
}

// ---------------------------------------------------------------------------
// Remote spawn

int
tr_node_behavior(tr_system *sys, const char *name, const tr_behavior *b)
{
    struct node *n = tr__node_of(sys);
    size_t len = name != NULL ? strlen(name) : 0;
    if (n == NULL || b == NULL || b->receive == NULL || len == 0 ||
        len > KEY_MAX)
        return TR_EINVAL;
    int rc = 0;
    pthread_mutex_lock(&n->names_mu);
    for (uint32_t i = 0; i < n->nbehavs && rc == 0; i++)
        if (strcmp(n->behavs[i].name, name) == 0)
            rc = TR_EBUSY;
    if (rc == 0)
        rc = tr__grow(&n->behavs, &n->capbehavs, n->nbehavs, sizeof *n->behavs,
                      8);
    if (rc == 0) {
        struct behav *e = &n->behavs[n->nbehavs++];
        memcpy(e->name, name, len + 1);
        e->b = b;
    }
    pthread_mutex_unlock(&n->names_mu);
    return rc;
}

static void
spawn_done(struct node *n, const struct pspawn *s, int rc, tr_ref child)
{
    tr_spawned r = {.req = s->req, .rc = rc, .child = child};
    (void)tr__send_any(n->sys, TR_REF_NONE, s->reply_to, TR_MSG_SPAWNED, &r,
                       sizeof r, 0);
}

// Takes the pending spawn `id` (or, with id 0, the first matching `peer`,
// or due by `now`) out of the table into *out. True if found.
static bool
spawn_take(struct node *n, uint64_t id, int peer, int64_t now,
           struct pspawn *out)
{
    bool found = false;
    pthread_mutex_lock(&n->spawn_mu);
    for (uint32_t i = 0; i < n->nspawns && !found; i++) {
        struct pspawn *s = &n->spawns[i];
        if (id != 0     ? s->id == id
            : peer >= 0 ? s->peer == peer
                        : now >= s->deadline) {
            *out = *s;
            *s = n->spawns[--n->nspawns];
            found = true;
        }
    }
    pthread_mutex_unlock(&n->spawn_mu);
    return found;
}

int
tr_node_spawn(tr_system *sys, tr_ref reply_to, uint64_t req, const char *node,
              const char *behavior, const void *arg, size_t len,
              int64_t timeout_ms)
{
    struct node *n = tr__node_of(sys);
    size_t bl = behavior != NULL ? strlen(behavior) : 0;
    if (n == NULL || node == NULL || bl == 0 || bl > KEY_MAX ||
        timeout_ms <= 0 || (len != 0 && arg == NULL) ||
        tr_ref_is_none(reply_to))
        return TR_EINVAL;
    if (len > sys->max_msg)
        return TR_EMSGSIZE;
    // The newest incarnation of that name that is connected.
    struct peer *p = NULL;
    for (unsigned i = 1; i < NODE_MAX; i++) {
        struct peer *q = atomic_load(&n->peers[i]);
        if (q == NULL)
            break;
        if (strcmp(q->name, node) != 0)
            continue;
        if (tr__peer_up(q))
            p = q;
    }
    struct pspawn s = {.req = req,
                       .reply_to = reply_to,
                       .deadline = tr__now_ns() + timeout_ms * 1000000};
    if (p == NULL) {
        spawn_done(n, &s, TR_ENOCONN, TR_REF_NONE);
        return 0;
    }
    s.peer = p->idx;
    pthread_mutex_lock(&n->spawn_mu);
    s.id = ++n->spawn_ids;
    int rc =
        tr__grow(&n->spawns, &n->capspawns, n->nspawns, sizeof *n->spawns, 8);
    if (rc == 0)
        n->spawns[n->nspawns++] = s;
    pthread_mutex_unlock(&n->spawn_mu);
    if (rc != 0)
        return rc;
    tr_pack pk;
    tr_pack_init(&pk, NULL, 0);
    tr_pack_array(&pk, 6);
    tr_pack_uint(&pk, K_SPAWN);
    tr_pack_uint(&pk, s.id);
    tr_pack_str(&pk, behavior, bl);
    tr_pack_nil(&pk);
    tr_pack_str(&pk, "", 0);
    tr_pack_bin(&pk, arg, len);
    rc = tr__peer_queue(p, &pk);
    if (rc == TR_ENOACTOR) // replaced since we chose it: not connected
        rc = TR_ENOCONN;
    tr_pack_fini(&pk);
    struct pspawn mine;
    if (rc != 0 && spawn_take(n, s.id, -1, 0, &mine))
        spawn_done(n, &mine, rc, TR_REF_NONE);
    return 0;
}

int
tr__spawn_frame(struct node *n, struct peer *p, const struct tr__frame *f)
{
    if (f->kind == K_SPAWNED) {
        struct pspawn s;
        if (spawn_take(n, f->spawned.req, -1, 0, &s) && s.peer == p->idx)
            spawn_done(n, &s, f->spawned.rc,
                       f->spawned.rc == 0
                           ? tr__ref_resolve(n, p, &f->spawned.ref)
                           : TR_REF_NONE);
        return 0;
    }
    const tr_behavior *b = NULL;
    pthread_mutex_lock(&n->names_mu);
    for (uint32_t i = 0; i < n->nbehavs && b == NULL; i++)
        if (strlen(n->behavs[i].name) == f->spawn.behavior.len &&
            memcmp(n->behavs[i].name, f->spawn.behavior.p,
                   f->spawn.behavior.len) == 0)
            b = n->behavs[i].b;
    pthread_mutex_unlock(&n->names_mu);
    if (b == NULL) {
        spawned_reply(n, p, f->spawn.req, TR_ENOACTOR, TR_REF_NONE);
        return 0;
    }
    struct ag_spawn s = {.peer = p->idx, .id = f->spawn.req, .b = b};
    size_t len = sizeof s + f->spawn.len;
    unsigned char *m = tr__alloc(len);
    int rc = TR_ENOMEM;
    if (m != NULL) {
        memcpy(m, &s, sizeof s);
        if (f->spawn.len != 0)
            memcpy(m + sizeof s, f->spawn.arg, f->spawn.len);
        rc = tr_system_send(n->sys, n->agent, AG_SPAWN, m, len);
        tr__free(m, len);
    }
    if (rc != 0)
        spawned_reply(n, p, f->spawn.req, rc, TR_REF_NONE);
    return 0;
}

void
tr__spawn_peer_down(struct node *n, struct peer *p)
{
    struct pspawn s;
    while (spawn_take(n, 0, p->idx, 0, &s))
        spawn_done(n, &s, TR_EDOWN, TR_REF_NONE);
}

void
tr__spawn_tick(struct node *n, int64_t now)
{
    struct pspawn s;
    while (spawn_take(n, 0, -1, now, &s))
        spawn_done(n, &s, TR_ETIMEDOUT, TR_REF_NONE);
}

void
tr__spawn_fini(struct node *n)
{
    tr__free(n->spawns, n->capspawns * sizeof *n->spawns);
}
