// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// room.c: one actor per room, on the room's home node: the node where a
// member's join first created it. It registers as "room:<name>" (so every
// node finds it), holds the members and the last CHAT_HISTORY messages,
// and is the only publisher to the room's process group "chat:<name>":
// it assigns `seq` and `ts`, and since one publisher's messages reach each
// member in publish order, every member sees one order.
//
// Every event it publishes also carries `evseq`, a counter of the room's
// events: a joining member may get some events both in its `joined` answer
// and live (it joined the group before asking), and drops the live ones at
// or below the `evseq` of its answer.
//
// The room stops when its last member leaves (or stops: it monitors each
// member), unregistering first, so the next join creates it afresh.
//
// Two first joiners on two nodes that have not heard of each other's room
// yet create it twice. The registry settles the name on one of them; the
// other finds, on its next tick (every OWNER_MS), that its name now
// names the winner, and stops without unregistering it. Its members,
// which monitor it, join again and find the winner, and their clients get
// `joined` again with the winner's history: from there one seq order.
// (Members of the winner never see the loser's events: a connection takes
// events only from the room actor it joined.)
#define _POSIX_C_SOURCE 200809L
#include "chat.h"

#include <troupe/cluster.h>
#include <troupe/pack.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OWNER_MS 1000 // how often a room checks that its name is its own

struct member {
    char nick[CHAT_NAME_MAX + 1];
    tr_ref ref;     // the member's connection actor (maybe on another node)
    uint64_t token; // its cluster-unique connection token
    uint64_t mon;   // our monitor on it
};

struct line {
    char *from, *text; // malloc'd
    size_t tlen;
    int64_t ts;
    uint64_t seq;
};

struct room {
    struct chat_server *srv;
    char name[CHAT_NAME_MAX + 1];
    char reg[sizeof CHAT_ROOM_PREFIX + CHAT_NAME_MAX];
    char group[sizeof CHAT_GROUP_PREFIX + CHAT_NAME_MAX];
    uint64_t seq, evseq;
    struct member *m;
    size_t n, cap;
    struct line h[CHAT_HISTORY]; // ring: oldest at hhead
    unsigned hhead, hn;
    bool closing;
};

static int
room_init(tr_ctx *ctx, const void *arg, size_t len)
{
    struct room *r = tr_state(ctx);
    const struct chat_room_arg *a = arg;
    if (len != sizeof *a)
        return TR_EINVAL;
    r->srv = a->srv;
    snprintf(r->name, sizeof r->name, "%s", a->name);
    snprintf(r->reg, sizeof r->reg, CHAT_ROOM_PREFIX "%s", r->name);
    snprintf(r->group, sizeof r->group, CHAT_GROUP_PREFIX "%s", r->name);
    tr_system *sys = tr_ctx_system(ctx);
    if (atomic_fetch_add(&r->srv->rooms, 1) >= r->srv->cfg.max_rooms) {
        atomic_fetch_sub(&r->srv->rooms, 1);
        return TR_ELIMIT;
    }
    // Registering is the atomic step: two joiners on this node that both
    // found no room spawn two, and the second one's init fails here. That
    // loser must not unregister: the name is the winner's (tr_unregister
    // goes by name), and a room without it gets a twin from the next join.
    int rc = tr_register(sys, r->reg, tr_self(ctx));
    if (rc != 0) {
        atomic_fetch_sub(&r->srv->rooms, 1);
        return rc;
    }
    rc = tr_pg_join(sys, CHAT_ROOMS_GROUP, tr_self(ctx));
    // A room whose creator never joins (it went away) must not linger.
    if (rc == 0)
        rc = tr_send_after(ctx, tr_self(ctx), CHAT_TICK, NULL, 0,
                           2 * r->srv->cfg.request_ms, NULL);
    if (rc != 0) {
        tr_unregister(sys, r->reg);
        atomic_fetch_sub(&r->srv->rooms, 1);
    }
    return rc;
}

static void
room_stop(tr_ctx *ctx, int reason)
{
    struct room *r = tr_state(ctx);
    (void)reason;
    for (unsigned i = 0; i < CHAT_HISTORY; i++) {
        free(r->h[i].from);
        free(r->h[i].text);
    }
    free(r->m);
    atomic_fetch_sub(&r->srv->rooms, 1);
}

static struct member *
find(struct room *r, tr_ref who)
{
    for (size_t i = 0; i < r->n; i++)
        if (tr_ref_eq(r->m[i].ref, who))
            return &r->m[i];
    return NULL;
}

// owns_name is true while the registry names this room for its name.
static bool
owns_name(tr_ctx *ctx, struct room *r)
{
    tr_ref owner;
    return tr_whereis(tr_ctx_system(ctx), r->reg, &owner) == 0 &&
           tr_ref_eq(owner, tr_self(ctx));
}

// room_close unregisters at once (so new joins create a new room), then
// stops; joins already queued get TR_EDOWN and look the room up again. A
// room whose name went to another in a conflict leaves that one's alone
// (tr_unregister goes by name).
static void
room_close(tr_ctx *ctx, struct room *r)
{
    if (r->closing)
        return;
    r->closing = true;
    if (owns_name(ctx, r))
        tr_unregister(tr_ctx_system(ctx), r->reg);
    tr_pg_leave(tr_ctx_system(ctx), CHAT_ROOMS_GROUP, tr_self(ctx));
    tr_exit(ctx, TR_EXIT_NORMAL);
}

// publish sends the payload in `p` to the room's group; `rc` is the last
// write's result (a writer's error is sticky, so the last one tells).
static void
publish(tr_ctx *ctx, struct room *r, uint32_t type, tr_pack *p, int rc)
{
    if (rc == 0)
        tr_pg_publish(tr_ctx_system(ctx), tr_self(ctx), r->group, type,
                      tr_pack_data(p), tr_pack_len(p), NULL);
}

// presence publishes [evseq, room, name, state, from|nil, token].
static void
presence(tr_ctx *ctx, struct room *r, const struct member *m, const char *state,
         const char *from)
{
    unsigned char buf[256];
    tr_pack p;
    tr_pack_init(&p, buf, sizeof buf);
    tr_pack_array(&p, 6);
    tr_pack_uint(&p, ++r->evseq);
    tr_pack_cstr(&p, r->name);
    tr_pack_cstr(&p, m->nick);
    tr_pack_cstr(&p, state);
    if (from != NULL)
        tr_pack_cstr(&p, from);
    else
        tr_pack_nil(&p);
    publish(ctx, r, CHAT_EV_PRESENCE, &p, tr_pack_uint(&p, m->token));
    tr_pack_fini(&p);
}

static void
remove_member(tr_ctx *ctx, struct room *r, struct member *m, bool demonitor)
{
    struct member gone = *m;
    if (demonitor)
        tr_demonitor(ctx, gone.mon);
    *m = r->m[--r->n];
    presence(ctx, r, &gone, "leave", NULL);
    if (r->n == 0)
        room_close(ctx, r);
}

// pack_members writes the nicknames; returns the last write's result.
static int
pack_members(tr_pack *p, const struct room *r)
{
    int rc = tr_pack_array(p, (uint32_t)r->n);
    for (size_t i = 0; i < r->n; i++)
        rc = tr_pack_cstr(p, r->m[i].nick);
    return rc;
}

static int
reply_joined(tr_ctx *ctx, const tr_msg *msg, struct room *r, uint64_t status)
{
    tr_pack p;
    tr_pack_init(&p, NULL, 0);
    tr_pack_array(&p, 4);
    tr_pack_uint(&p, status);
    tr_pack_uint(&p, r->evseq);
    pack_members(&p, r);
    int rc = tr_pack_array(&p, r->hn);
    for (unsigned i = 0; i < r->hn; i++) {
        const struct line *l = &r->h[(r->hhead + i) % CHAT_HISTORY];
        tr_pack_array(&p, 4);
        tr_pack_cstr(&p, l->from);
        tr_pack_str(&p, l->text, l->tlen);
        tr_pack_uint(&p, (uint64_t)l->ts);
        rc = tr_pack_uint(&p, l->seq);
    }
    if (rc == 0)
        rc = tr_reply(ctx, msg, CHAT_JOINED, tr_pack_data(&p), tr_pack_len(&p));
    tr_pack_fini(&p);
    return rc;
}

static void
on_join(tr_ctx *ctx, struct room *r, const tr_msg *msg)
{
    tr_unpack u;
    uint32_t k;
    const char *nick;
    size_t nlen = 0;
    uint64_t token = 0;
    tr_unpack_init(&u, tr_msg_data(msg), tr_msg_size(msg));
    tr_unpack_array(&u, &k);
    tr_unpack_str(&u, &nick, &nlen);
    tr_unpack_uint(&u, &token);
    int rc = tr_unpack_fini(&u);
    if (rc != 0 || !chat_name_ok(nick, nlen))
        return;
    if (r->closing) {
        reply_joined(ctx, msg, r, CHAT_JOIN_GONE);
        return;
    }
    tr_ref who = tr_msg_sender(msg);
    if (find(r, who) == NULL) { // joining again just answers again
        if (r->n == r->cap) {
            size_t cap = r->cap ? 2 * r->cap : 8;
            struct member *m = realloc(r->m, cap * sizeof *m);
            if (m == NULL)
                return; // the joiner's request times out
            r->m = m;
            r->cap = cap;
        }
        struct member *m = &r->m[r->n++];
        memset(m, 0, sizeof *m);
        memcpy(m->nick, nick, nlen);
        m->ref = who;
        m->token = token;
        tr_monitor(ctx, who, &m->mon);
        presence(ctx, r, m, "join", NULL);
    }
    reply_joined(ctx, msg, r, 0);
}

static void
on_say(tr_ctx *ctx, struct room *r, const tr_msg *msg)
{
    tr_unpack u;
    uint32_t k;
    uint64_t token;
    const char *text, *id = NULL;
    size_t tlen, idlen = 0;
    tr_unpack_init(&u, tr_msg_data(msg), tr_msg_size(msg));
    tr_unpack_array(&u, &k);
    tr_unpack_uint(&u, &token);
    tr_unpack_str(&u, &text, &tlen);
    if (tr_unpack_peek(&u) == TR_PACK_STR)
        tr_unpack_str(&u, &id, &idlen);
    if (tr_unpack_fini(&u) != 0)
        return;
    struct member *m = find(r, tr_msg_sender(msg));
    if (m == NULL) {
        unsigned char buf[160];
        tr_pack p;
        tr_pack_init(&p, buf, sizeof buf);
        tr_pack_array(&p, 2);
        tr_pack_cstr(&p, r->name);
        int rc = id != NULL ? tr_pack_str(&p, id, idlen) : tr_pack_nil(&p);
        if (rc == 0)
            tr_reply(ctx, msg, CHAT_NOT_IN, tr_pack_data(&p), tr_pack_len(&p));
        tr_pack_fini(&p);
        return;
    }
    // Keep it in the history ring (oldest out), then publish.
    struct line *l;
    if (r->hn < CHAT_HISTORY) {
        l = &r->h[(r->hhead + r->hn++) % CHAT_HISTORY];
    } else {
        l = &r->h[r->hhead];
        r->hhead = (r->hhead + 1) % CHAT_HISTORY;
    }
    free(l->from);
    free(l->text);
    l->from = strdup(m->nick);
    l->text = malloc(tlen ? tlen : 1);
    if (l->text != NULL)
        memcpy(l->text, text, tlen);
    l->tlen = l->text != NULL ? tlen : 0;
    l->ts = chat_wall_ms();
    l->seq = ++r->seq;
    atomic_fetch_add(&r->srv->said, 1);
    // The event as members see it is written here, once, not by each one.
    size_t jlen = 0;
    char *json =
        chat_msg_json(r->name, m->nick, text, tlen, l->ts, l->seq, &jlen);
    if (json == NULL)
        return;
    tr_pack p;
    tr_pack_init(&p, NULL, 0);
    tr_pack_array(&p, 9);
    tr_pack_uint(&p, ++r->evseq);
    tr_pack_cstr(&p, r->name);
    tr_pack_cstr(&p, m->nick);
    tr_pack_str(&p, text, tlen);
    tr_pack_uint(&p, (uint64_t)l->ts);
    tr_pack_uint(&p, l->seq);
    tr_pack_uint(&p, m->token);
    if (id != NULL)
        tr_pack_str(&p, id, idlen);
    else
        tr_pack_nil(&p);
    publish(ctx, r, CHAT_EV_MSG, &p, tr_pack_str(&p, json, jlen));
    tr_pack_fini(&p);
    free(json);
}

static void
on_rename(tr_ctx *ctx, struct room *r, const tr_msg *msg)
{
    tr_unpack u;
    uint32_t k;
    const char *old, *nick;
    size_t olen, nlen = 0;
    tr_unpack_init(&u, tr_msg_data(msg), tr_msg_size(msg));
    tr_unpack_array(&u, &k);
    tr_unpack_str(&u, &old, &olen);
    tr_unpack_str(&u, &nick, &nlen);
    struct member *m = find(r, tr_msg_sender(msg));
    if (tr_unpack_fini(&u) != 0 || m == NULL || !chat_name_ok(nick, nlen))
        return;
    char from[CHAT_NAME_MAX + 1];
    memcpy(from, m->nick, sizeof from);
    memset(m->nick, 0, sizeof m->nick);
    memcpy(m->nick, nick, nlen);
    presence(ctx, r, m, "rename", from);
}

static int
room_receive(tr_ctx *ctx, const tr_msg *msg)
{
    struct room *r = tr_state(ctx);
    switch (tr_msg_type(msg)) {
    case CHAT_JOIN:
        on_join(ctx, r, msg);
        return 0;
    case CHAT_LEAVE: {
        struct member *m = find(r, tr_msg_sender(msg));
        if (m != NULL)
            remove_member(ctx, r, m, true);
        return 0;
    }
    case CHAT_SAY:
        on_say(ctx, r, msg);
        return 0;
    case CHAT_RENAME:
        on_rename(ctx, r, msg);
        return 0;
    case CHAT_WHO: {
        tr_pack p;
        tr_pack_init(&p, NULL, 0);
        tr_pack_array(&p, 1);
        if (pack_members(&p, r) == 0)
            tr_reply(ctx, msg, CHAT_MEMBERS, tr_pack_data(&p), tr_pack_len(&p));
        tr_pack_fini(&p);
        return 0;
    }
    case CHAT_INFO: {
        unsigned char buf[96];
        tr_pack p;
        tr_pack_init(&p, buf, sizeof buf);
        tr_pack_array(&p, 2);
        tr_pack_cstr(&p, r->name);
        if (tr_pack_uint(&p, r->n) == 0)
            tr_reply(ctx, msg, CHAT_INFO_R, tr_pack_data(&p), tr_pack_len(&p));
        tr_pack_fini(&p);
        return 0;
    }
    case CHAT_TICK:
        if (r->n == 0) {
            room_close(ctx, r);
        } else if (!owns_name(ctx, r)) {
            tr_log(tr_ctx_system(ctx), TR_LOG_WARN, "chat_room_lost",
                   "room=%s members=%zu", r->name, r->n);
            room_close(ctx, r); // members join the winner
        } else {
            tr_send_after(ctx, tr_self(ctx), CHAT_TICK, NULL, 0, OWNER_MS,
                          NULL);
        }
        return 0;
    case TR_MSG_DOWN: {
        const tr_down *d = tr_msg_data(msg);
        struct member *m = find(r, d->who);
        if (m != NULL && m->mon == d->mon)
            remove_member(ctx, r, m, false);
        return 0;
    }
    case TR_MSG_CANCEL:
        return 0;
    default:
        return TR_EUNHANDLED;
    }
}

const tr_behavior chat_room_behavior = {.name = "chat.room",
                                        .state_size = sizeof(struct room),
                                        .init = room_init,
                                        .receive = room_receive,
                                        .stop = room_stop};
