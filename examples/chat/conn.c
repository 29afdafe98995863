// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// conn.c: one actor per client connection. It owns the transport (ws.c's
// WebSocket, or an in-memory pipe), checks every frame (rate limit, size,
// UTF-8, JSON), acts on requests, and turns room events into JSON.
//
// Design notes:
// - Frames are counted by the rate limit when they arrive. Requests are
//   then handled one at a time, in order: a request that waits for a room
//   (join, who, rooms) marks the actor busy, and later frames wait in
//   `pending` (bounded: the rate limit keeps it short) until it is done.
// - Everything the client is sent goes through the outbox: the transport's
//   queue of JSON texts (it starts each next write itself, see chat.h).
//   It holds at most outbox_max events; one more closes the client as a
//   slow consumer. Rooms publish into the actor's mailbox and never wait:
//   the outbox is where a slow reader's backlog stops.
// - Joining: the actor joins the room's process group first, then asks the
//   room. Events that arrive before the answer are kept, and those the
//   answer already covers (evseq at or below its evseq) are dropped, so the
//   client sees the history, then every later message once, in seq order.
// - A server-initiated close stops taking input, flushes the outbox (at
//   most FLUSH_MS), then has the transport send the close (code and
//   reason) and waits at most LINGER_MS for the client's answer; then the
//   actor stops and its stop hook ends the connection.
#define _POSIX_C_SOURCE 200809L
#include "chat.h"

#include <troupe/cluster.h>
#include <troupe/pack.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PENDING_MAX   256  // accepted frames waiting behind a request
#define JOIN_ATTEMPTS 6    // lookups of a room that keeps vanishing
#define FLUSH_MS      1000 // how long a close waits for the outbox
#define LINGER_MS     1000 // then how long for the client's answer
#define RETRY_MS      20   // a room rejoin waiting for a busy actor

enum slot_state { SLOT_FREE = 0, SLOT_JOINING, SLOT_JOINED };

struct held {    // a room event that came while joining
    tr_ref from; // the room actor that published it
    uint32_t type;
    size_t len;
    unsigned char data[];
};

struct slot { // one room the client is in (or joining)
    char name[CHAT_NAME_MAX + 1];
    enum slot_state state;
    tr_ref room;
    uint64_t mon;   // our monitor on the room actor (0: none)
    uint64_t evseq; // events up to this were in the joined answer
    struct held **held;
    size_t nheld, capheld;
};

struct frame {
    size_t len;
    char data[];
};

enum op_kind { OP_NONE = 0, OP_JOIN, OP_REJOIN, OP_WHO, OP_ROOMS };

struct conn {
    struct chat_server *srv;
    const struct chat_io_ops *ops;
    void *io;
    uint64_t token;
    char nick[CHAT_NAME_MAX + 1];
    struct slot *slots;
    size_t nslots; // slots in use are [0, nslots); free ones are reused
    unsigned joined;
    bool flushed; // closing: the transport's queue is empty
    // input
    struct chat_rate rate;
    struct frame **pend;
    size_t phead, pn;
    int64_t last_rx_ns, last_ping_ns;
    // the request being waited for
    enum op_kind op;
    char op_room[CHAT_NAME_MAX + 1];
    char op_id[CHAT_ID_MAX + 1];
    bool op_has_id;
    unsigned attempts;
    // closing
    int closing; // 0, or the close code being flushed
    bool io_closed, stopped, lingering;
    const char *close_reason;
};

// --- outbox ---------------------------------------------------------------

static void conn_close(tr_ctx *ctx, struct conn *c, int code,
                       const char *reason);

// finish_if_flushed sends the close once a closing connection's last
// event is written, and gives the client LINGER_MS to answer it
// (CHAT_IO_CLOSED) before the connection ends anyway.
static void
finish_if_flushed(tr_ctx *ctx, struct conn *c)
{
    if (c->closing && c->flushed && !c->stopped && !c->lingering) {
        c->lingering = true;
        c->ops->shut(c->io, (unsigned)c->closing, c->close_reason);
        tr_send_after(ctx, tr_self(ctx), CHAT_CLOSE_NOW, NULL, 0, LINGER_MS,
                      NULL);
    }
}

// push queues `len` bytes of `s` (borrowed) for the client. Past
// outbox_max the client is a slow consumer: its backlog is dropped and it
// is closed.
static void
push(tr_ctx *ctx, struct conn *c, const char *s, size_t len)
{
    if (s == NULL || c->io_closed || c->closing)
        return;
    int n = c->ops->send(c->io, s, len);
    if (n < 0) {
        c->io_closed = true;
        if (!c->stopped) {
            c->stopped = true;
            tr_exit(ctx, TR_EXIT_NORMAL);
        }
        return;
    }
    if ((unsigned)n > c->srv->cfg.outbox_max) {
        c->ops->drop(c->io);
        atomic_fetch_add(&c->srv->slow_closed, 1);
        conn_close(ctx, c, 1008, "slow consumer");
        return;
    }
    atomic_fetch_add(&c->srv->events_out, 1);
}

static void
emit(tr_ctx *ctx, struct conn *c, chat_json *j)
{
    size_t len = 0;
    char *s = chat_json_dump(j, &len);
    push(ctx, c, s, len);
    free(s);
}

static void
emit_error(tr_ctx *ctx, struct conn *c, const char *code, const char *op,
           const char *id, const char *detail)
{
    emit(ctx, c, chat_ev_error(code, op, id, detail));
}

// conn_close starts a server-initiated close: no more input, at most
// FLUSH_MS for the outbox, the close, then the actor stops (its stop hook
// ends the connection; rooms see it leave through their monitors).
static void
conn_close(tr_ctx *ctx, struct conn *c, int code, const char *reason)
{
    if (c->closing)
        return;
    c->closing = code;
    c->close_reason = reason;
    if (c->ops->pause != NULL)
        c->ops->pause(c->io);
    if (c->srv->cfg.verbose)
        printf("chat: close %s code=%d reason=\"%s\"\n", c->nick, code, reason);
    tr_send_after(ctx, tr_self(ctx), CHAT_CLOSE_NOW, NULL, 0, FLUSH_MS, NULL);
    if (!c->io_closed)
        c->ops->flush(c->io); // CHAT_IO_SENT: then linger
}

// --- rooms ----------------------------------------------------------------

static struct slot *
slot_find(struct conn *c, const char *name)
{
    for (size_t i = 0; i < c->nslots; i++)
        if (c->slots[i].state != SLOT_FREE &&
            strcmp(c->slots[i].name, name) == 0)
            return &c->slots[i];
    return NULL;
}

static struct slot *
slot_new(struct conn *c, const char *name)
{
    struct slot *s = NULL;
    for (size_t i = 0; i < c->nslots && s == NULL; i++)
        if (c->slots[i].state == SLOT_FREE)
            s = &c->slots[i];
    if (s == NULL) {
        if (c->nslots == c->srv->cfg.rooms_per_conn)
            return NULL;
        if (c->slots == NULL) {
            c->slots = calloc(c->srv->cfg.rooms_per_conn, sizeof *s);
            if (c->slots == NULL)
                return NULL;
        }
        s = &c->slots[c->nslots++];
    }
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", name);
    s->state = SLOT_JOINING;
    c->joined++;
    return s;
}

static void
slot_drop_held(struct slot *s)
{
    for (size_t i = 0; i < s->nheld; i++)
        free(s->held[i]);
    free(s->held);
    s->held = NULL;
    s->nheld = s->capheld = 0;
}

static void
slot_free(tr_ctx *ctx, struct conn *c, struct slot *s)
{
    char group[sizeof CHAT_GROUP_PREFIX + CHAT_NAME_MAX];
    snprintf(group, sizeof group, CHAT_GROUP_PREFIX "%s", s->name);
    tr_pg_leave(tr_ctx_system(ctx), group, tr_self(ctx));
    if (s->mon != 0)
        tr_demonitor(ctx, s->mon);
    slot_drop_held(s);
    s->state = SLOT_FREE;
    c->joined--;
}

// room_ev is what a connection reads of a room event; the strings point
// into the event's payload.
struct room_ev {
    uint64_t evseq, token;
    const char *room, *json; // json: CHAT_EV_MSG as others see it
    size_t rlen, jlen;
};

// room_ev_read reads CHAT_EV_MSG [evseq, room, from, text, ts, seq, token,
// id|nil, json] or CHAT_EV_PRESENCE [evseq, room, name, state, from|nil,
// token]. Returns 0 or TR_EPROTO.
static int
room_ev_read(struct room_ev *e, uint32_t type, const void *data, size_t len)
{
    tr_unpack u;
    uint32_t n;
    *e = (struct room_ev){0};
    tr_unpack_init(&u, data, len);
    tr_unpack_array(&u, &n);
    tr_unpack_uint(&u, &e->evseq);
    tr_unpack_str(&u, &e->room, &e->rlen);
    for (unsigned i = 0; i < (type == CHAT_EV_MSG ? 4u : 3u); i++)
        tr_unpack_skip(&u);
    tr_unpack_uint(&u, &e->token);
    if (type == CHAT_EV_MSG) {
        tr_unpack_skip(&u);
        tr_unpack_str(&u, &e->json, &e->jlen);
    }
    int rc = tr_unpack_fini(&u);
    return rc == 0 && e->rlen > CHAT_NAME_MAX ? TR_EPROTO : rc;
}

// deliver hands one room event to the client, unless the joined answer
// already covered it or it is about the client itself. A message is sent
// as the room wrote it, but for the sender's echo, which carries its id.
static void
deliver(tr_ctx *ctx, struct conn *c, struct slot *s, uint32_t type,
        const void *data, size_t len, const struct room_ev *e)
{
    if (e->evseq <= s->evseq)
        return;
    if (type != CHAT_EV_MSG) {
        if (e->token != c->token)
            emit(ctx, c, chat_ev_presence(data, len));
    } else if (e->token == c->token) {
        emit(ctx, c, chat_ev_msg(data, len, true));
    } else {
        push(ctx, c, e->json, e->jlen);
    }
}

// on_room_event handles CHAT_EV_MSG and CHAT_EV_PRESENCE from a room's
// group.
static void
on_room_event(tr_ctx *ctx, struct conn *c, const tr_msg *m)
{
    struct room_ev e;
    if (c->closing ||
        room_ev_read(&e, tr_msg_type(m), tr_msg_data(m), tr_msg_size(m)) != 0)
        return;
    char name[CHAT_NAME_MAX + 1];
    memcpy(name, e.room, e.rlen);
    name[e.rlen] = 0;
    struct slot *s = slot_find(c, name);
    if (s == NULL)
        return;
    if (s->state == SLOT_JOINED) {
        // Only the room actor we joined: a twin of it (created on another
        // node at the same moment, until it finds it lost the name)
        // publishes to the same group.
        if (tr_ref_eq(tr_msg_sender(m), s->room))
            deliver(ctx, c, s, tr_msg_type(m), tr_msg_data(m), tr_msg_size(m),
                    &e);
        return;
    }
    // Joining: keep it until the answer says what it covered. The outbox
    // bound applies to these too.
    if (s->nheld >= c->srv->cfg.outbox_max) {
        atomic_fetch_add(&c->srv->slow_closed, 1);
        conn_close(ctx, c, 1008, "slow consumer");
        return;
    }
    if (s->nheld == s->capheld) {
        size_t cap = s->capheld ? 2 * s->capheld : 8;
        struct held **h = realloc(s->held, cap * sizeof *h);
        if (h == NULL)
            return;
        s->held = h;
        s->capheld = cap;
    }
    struct held *h = malloc(sizeof *h + tr_msg_size(m));
    if (h == NULL)
        return;
    h->from = tr_msg_sender(m);
    h->type = tr_msg_type(m);
    h->len = tr_msg_size(m);
    memcpy(h->data, tr_msg_data(m), h->len);
    s->held[s->nheld++] = h;
}

// --- requests that wait for a room ---------------------------------------

static void next_frames(tr_ctx *ctx, struct conn *c);

static void
op_done(tr_ctx *ctx, struct conn *c)
{
    c->op = OP_NONE;
    next_frames(ctx, c);
}

static void join_try(tr_ctx *ctx, struct conn *c, struct slot *s);

static void
join_failed(tr_ctx *ctx, struct conn *c, struct slot *s, const char *code,
            const char *detail)
{
    bool rejoin = c->op == OP_REJOIN;
    slot_free(ctx, c, s);
    if (rejoin) // the client thought it was in: tell it it is not
        emit(ctx, c, chat_ev_left(c->op_room));
    else
        emit_error(ctx, c, code, "join", NULL, detail);
    op_done(ctx, c);
}

static void
on_joined(tr_ctx *ctx, int status, const tr_msg *reply, void *cookie)
{
    struct conn *c = tr_state(ctx);
    (void)cookie;
    struct slot *s = slot_find(c, c->op_room);
    if (s == NULL || c->closing) {
        op_done(ctx, c);
        return;
    }
    uint64_t st = 0, evseq = 0;
    if (status == 0) {
        tr_unpack u;
        uint32_t n;
        tr_unpack_init(&u, tr_msg_data(reply), tr_msg_size(reply));
        tr_unpack_array(&u, &n);
        tr_unpack_uint(&u, &st);
        tr_unpack_uint(&u, &evseq);
        if (tr_unpack_fini(&u) != 0)
            status = TR_EPROTO;
    }
    if (status == TR_EDOWN || (status == 0 && st == CHAT_JOIN_GONE)) {
        // The room closed under us: look it up (or create it) again.
        if (++c->attempts < JOIN_ATTEMPTS) {
            join_try(ctx, c, s);
            return;
        }
        join_failed(ctx, c, s, "overloaded", "the room keeps closing");
        return;
    }
    if (status != 0) {
        join_failed(ctx, c, s, "overloaded", "the room did not answer");
        return;
    }
    chat_json *j =
        chat_ev_joined(s->name, tr_msg_data(reply), tr_msg_size(reply));
    if (j == NULL) {
        join_failed(ctx, c, s, "overloaded", "bad answer from the room");
        return;
    }
    s->room = tr_msg_sender(reply);
    if (s->mon == 0)
        tr_monitor(ctx, s->room, &s->mon);
    s->evseq = evseq;
    s->state = SLOT_JOINED;
    emit(ctx, c, j);
    for (size_t i = 0; i < s->nheld && !c->closing; i++) {
        const struct held *h = s->held[i];
        struct room_ev e;
        if (tr_ref_eq(h->from, s->room) &&
            room_ev_read(&e, h->type, h->data, h->len) == 0)
            deliver(ctx, c, s, h->type, h->data, h->len, &e);
    }
    slot_drop_held(s);
    op_done(ctx, c);
}

static void
join_try(tr_ctx *ctx, struct conn *c, struct slot *s)
{
    tr_system *sys = tr_ctx_system(ctx);
    char reg[sizeof CHAT_ROOM_PREFIX + CHAT_NAME_MAX];
    char group[sizeof CHAT_GROUP_PREFIX + CHAT_NAME_MAX];
    snprintf(reg, sizeof reg, CHAT_ROOM_PREFIX "%s", s->name);
    snprintf(group, sizeof group, CHAT_GROUP_PREFIX "%s", s->name);
    tr_ref room = TR_REF_NONE;
    int rc = TR_EBUSY;
    // Find the room, or create it here (its home is then this node). A
    // spawn that loses the race to register gets TR_EBUSY: look again.
    for (int i = 0; i < 3 && rc == TR_EBUSY; i++) {
        if (tr_whereis(sys, reg, &room) == 0) {
            rc = 0;
            break;
        }
        struct chat_room_arg a = {.srv = c->srv};
        snprintf(a.name, sizeof a.name, "%s", s->name);
        tr_spawn_opts o = {.placement = TR_PLACE_ROUND_ROBIN};
        rc = tr_system_spawn(&room, sys, &chat_room_behavior, &a, sizeof a, &o);
    }
    if (rc != 0) {
        join_failed(ctx, c, s, "overloaded",
                    rc == TR_ELIMIT ? "room limit reached on this node"
                                    : "cannot create the room");
        return;
    }
    // Join the group before asking, so no event after the answer is lost.
    if (tr_pg_join(sys, group, tr_self(ctx)) != 0) {
        join_failed(ctx, c, s, "overloaded", "cannot join the room's group");
        return;
    }
    unsigned char buf[96];
    tr_pack p;
    tr_pack_init(&p, buf, sizeof buf);
    tr_pack_array(&p, 2);
    tr_pack_cstr(&p, c->nick);
    rc = tr_pack_uint(&p, c->token);
    if (rc == 0)
        rc = tr_request(ctx, NULL, room, CHAT_JOIN, tr_pack_data(&p),
                        tr_pack_len(&p), c->srv->cfg.request_ms, on_joined,
                        NULL);
    tr_pack_fini(&p);
    if (rc != 0)
        join_failed(ctx, c, s, "overloaded", tr_strerror(rc));
}

static void
on_who(tr_ctx *ctx, int status, const tr_msg *reply, void *cookie)
{
    struct conn *c = tr_state(ctx);
    (void)cookie;
    chat_json *j = NULL;
    if (status == 0 && tr_msg_type(reply) == CHAT_MEMBERS)
        j = chat_ev_who(c->op_room, tr_msg_data(reply), tr_msg_size(reply));
    if (j == NULL) // the room closed meanwhile: it has no members
        j = chat_ev_who(c->op_room, NULL, 0);
    emit(ctx, c, j);
    op_done(ctx, c);
}

static void
do_who(tr_ctx *ctx, struct conn *c, const char *room)
{
    struct slot *s = slot_find(c, room);
    tr_ref to;
    char reg[sizeof CHAT_ROOM_PREFIX + CHAT_NAME_MAX];
    snprintf(reg, sizeof reg, CHAT_ROOM_PREFIX "%s", room);
    if (s != NULL && s->state == SLOT_JOINED)
        to = s->room;
    else if (tr_whereis(tr_ctx_system(ctx), reg, &to) != 0) {
        emit(ctx, c, chat_ev_who(room, NULL, 0));
        return;
    }
    snprintf(c->op_room, sizeof c->op_room, "%s", room);
    c->op = OP_WHO;
    if (tr_request(ctx, NULL, to, CHAT_WHO, NULL, 0, c->srv->cfg.request_ms,
                   on_who, NULL) != 0)
        on_who(ctx, TR_ENOMEM, NULL, NULL);
}

struct room_count {
    char name[CHAT_NAME_MAX + 1];
    unsigned n;
};

static int
room_count_cmp(const void *a, const void *b)
{
    return strcmp(((const struct room_count *)a)->name,
                  ((const struct room_count *)b)->name);
}

static void
on_rooms(tr_ctx *ctx, const tr_outcome *o, size_t n, void *cookie)
{
    struct conn *c = tr_state(ctx);
    (void)cookie;
    struct room_count *rc = calloc(n ? n : 1, sizeof *rc);
    size_t k = 0;
    for (size_t i = 0; rc != NULL && i < n; i++) {
        if (o[i].status != 0 || tr_msg_type(o[i].reply) != CHAT_INFO_R)
            continue; // closed meanwhile, or its node is slow: left out
        tr_unpack u;
        uint32_t a;
        const char *name;
        size_t len = 0;
        uint64_t count = 0;
        tr_unpack_init(&u, tr_msg_data(o[i].reply), tr_msg_size(o[i].reply));
        tr_unpack_array(&u, &a);
        tr_unpack_str(&u, &name, &len);
        tr_unpack_uint(&u, &count);
        if (tr_unpack_fini(&u) != 0 || len > CHAT_NAME_MAX || count == 0)
            continue;
        memcpy(rc[k].name, name, len);
        rc[k].name[len] = 0;
        rc[k++].n = (unsigned)count;
    }
    if (k > 1)
        qsort(rc, k, sizeof *rc, room_count_cmp);
    // A room briefly homed on two nodes (see README.md) is listed once.
    const char **names = calloc(k ? k : 1, sizeof *names);
    unsigned *counts = calloc(k ? k : 1, sizeof *counts);
    size_t m = 0;
    for (size_t i = 0; names != NULL && counts != NULL && i < k; i++) {
        if (m > 0 && strcmp(names[m - 1], rc[i].name) == 0) {
            counts[m - 1] += rc[i].n;
            continue;
        }
        names[m] = rc[i].name;
        counts[m++] = rc[i].n;
    }
    emit(ctx, c, chat_ev_rooms(names, counts, m));
    free(names);
    free(counts);
    free(rc);
    op_done(ctx, c);
}

static void
do_rooms(tr_ctx *ctx, struct conn *c)
{
    tr_system *sys = tr_ctx_system(ctx);
    size_t n = 0, cap = 64;
    tr_ref *refs = NULL;
    for (;;) {
        tr_ref *r = realloc(refs, cap * sizeof *r);
        if (r == NULL)
            break;
        refs = r;
        if (tr_pg_members(sys, CHAT_ROOMS_GROUP, refs, cap, &n) != 0)
            n = 0;
        if (n <= cap)
            break;
        cap = n;
    }
    tr_gather_item *items = n ? calloc(n, sizeof *items) : NULL;
    for (size_t i = 0; items != NULL && i < n; i++)
        items[i] = (tr_gather_item){.to = refs[i], .type = CHAT_INFO};
    tr_gather_opts go = {.timeout_ms = c->srv->cfg.request_ms};
    c->op = OP_ROOMS;
    if (items == NULL || tr_gather(ctx, items, n, &go, on_rooms, NULL) != 0)
        on_rooms(ctx, NULL, 0, NULL);
    free(items);
    free(refs);
}

// --- requests answered at once --------------------------------------------

static void
do_nick(tr_ctx *ctx, struct conn *c, const struct chat_req *r)
{
    tr_system *sys = tr_ctx_system(ctx);
    if (strcmp(r->name, c->nick) == 0) {
        emit(ctx, c, chat_ev_nick(c->nick));
        return;
    }
    char reg[sizeof CHAT_NICK_PREFIX + CHAT_NAME_MAX];
    snprintf(reg, sizeof reg, CHAT_NICK_PREFIX "%s", r->name);
    int rc = tr_register(sys, reg, tr_self(ctx));
    if (rc == TR_EBUSY) {
        emit_error(ctx, c, "name_taken", "nick", r->id, "that name is taken");
        return;
    } else if (rc != 0) {
        emit_error(ctx, c, "overloaded", "nick", r->id, tr_strerror(rc));
        return;
    }
    char old[CHAT_NAME_MAX + 1];
    memcpy(old, c->nick, sizeof old);
    snprintf(reg, sizeof reg, CHAT_NICK_PREFIX "%s", old);
    tr_unregister(sys, reg);
    snprintf(c->nick, sizeof c->nick, "%s", r->name);
    emit(ctx, c, chat_ev_nick(c->nick));
    unsigned char buf[96];
    tr_pack p;
    tr_pack_init(&p, buf, sizeof buf);
    tr_pack_array(&p, 2);
    tr_pack_cstr(&p, old);
    if (tr_pack_cstr(&p, c->nick) == 0)
        for (size_t i = 0; i < c->nslots; i++)
            if (c->slots[i].state == SLOT_JOINED)
                tr_send(ctx, c->slots[i].room, CHAT_RENAME, tr_pack_data(&p),
                        tr_pack_len(&p));
    tr_pack_fini(&p);
    if (c->srv->cfg.verbose)
        printf("chat: nick %s -> %s\n", old, c->nick);
}

static void
do_join(tr_ctx *ctx, struct conn *c, const struct chat_req *r)
{
    struct slot *s = slot_find(c, r->room);
    if (s == NULL) {
        if (c->joined >= c->srv->cfg.rooms_per_conn ||
            (s = slot_new(c, r->room)) == NULL) {
            emit_error(ctx, c, "overloaded", "join", r->id,
                       "rooms per client limit reached");
            return;
        }
    }
    snprintf(c->op_room, sizeof c->op_room, "%s", r->room);
    c->op = OP_JOIN;
    c->attempts = 0;
    join_try(ctx, c, s);
}

static void
do_leave(tr_ctx *ctx, struct conn *c, const struct chat_req *r)
{
    struct slot *s = slot_find(c, r->room);
    if (s == NULL || s->state != SLOT_JOINED) {
        emit_error(ctx, c, "not_in_room", "leave", r->id, "not in that room");
        return;
    }
    unsigned char buf[16];
    tr_pack p;
    tr_pack_init(&p, buf, sizeof buf);
    tr_pack_array(&p, 1);
    if (tr_pack_uint(&p, c->token) == 0)
        tr_send(ctx, s->room, CHAT_LEAVE, tr_pack_data(&p), tr_pack_len(&p));
    tr_pack_fini(&p);
    slot_free(ctx, c, s);
    emit(ctx, c, chat_ev_left(r->room));
}

static void
do_say(tr_ctx *ctx, struct conn *c, const struct chat_req *r)
{
    struct slot *s = slot_find(c, r->room);
    if (s == NULL || s->state != SLOT_JOINED) {
        emit_error(ctx, c, "not_in_room", "say", r->id, "not in that room");
        return;
    }
    tr_pack p;
    unsigned char buf[512];
    tr_pack_init(&p, buf, sizeof buf);
    tr_pack_array(&p, 3);
    tr_pack_uint(&p, c->token);
    tr_pack_str(&p, r->text, r->text_len);
    int rc = r->id != NULL ? tr_pack_cstr(&p, r->id) : tr_pack_nil(&p);
    if (rc == 0)
        rc = tr_send(ctx, s->room, CHAT_SAY, tr_pack_data(&p), tr_pack_len(&p));
    tr_pack_fini(&p);
    if (rc != 0) // a full link to the room's node, or the room is gone
        emit_error(ctx, c, "overloaded", "say", r->id, tr_strerror(rc));
}

static void
handle(tr_ctx *ctx, struct conn *c, const char *buf, size_t len)
{
    struct chat_req r;
    const char *detail = NULL;
    switch (chat_parse(&r, buf, len, &detail)) {
    case CHAT_OP_BAD:
        emit_error(ctx, c, "bad_request", r.op, r.id, detail);
        break;
    case CHAT_OP_NICK:
        do_nick(ctx, c, &r);
        break;
    case CHAT_OP_JOIN:
        do_join(ctx, c, &r);
        break;
    case CHAT_OP_LEAVE:
        do_leave(ctx, c, &r);
        break;
    case CHAT_OP_SAY:
        do_say(ctx, c, &r);
        break;
    case CHAT_OP_ROOMS:
        do_rooms(ctx, c);
        break;
    case CHAT_OP_WHO:
        do_who(ctx, c, r.room);
        break;
    }
    chat_req_fini(&r);
}

static void
next_frames(tr_ctx *ctx, struct conn *c)
{
    while (c->op == OP_NONE && c->pn > 0 && !c->closing) {
        struct frame *f = c->pend[c->phead];
        c->phead = (c->phead + 1) % PENDING_MAX;
        c->pn--;
        handle(ctx, c, f->data, f->len);
        free(f);
    }
}

// on_recv takes one client message: rate limit, size, UTF-8, then the
// request (now, or after the one being waited for).
static void
on_recv(tr_ctx *ctx, struct conn *c, const tr_msg *m)
{
    if (c->closing)
        return;
    const char *buf = tr_msg_data(m);
    size_t len = tr_msg_size(m);
    int64_t now = tr_ctx_now_ns(ctx);
    atomic_fetch_add(&c->srv->frames_in, 1);
    c->last_rx_ns = now;
    enum chat_rate_verdict v = chat_rate_take(&c->rate, now);
    if (v != CHAT_RATE_OK) {
        struct chat_req r;
        chat_peek(&r, buf, len <= CHAT_FRAME_MAX ? len : 0);
        emit_error(ctx, c, "rate_limited", r.op, r.id,
                   "too many messages: the limit is 20/s, burst 40");
        chat_req_fini(&r);
        if (v == CHAT_RATE_FLOOD) {
            atomic_fetch_add(&c->srv->flood_closed, 1);
            conn_close(ctx, c, 1008, "rate limit: flood");
        }
        return;
    }
    if (len > CHAT_FRAME_MAX) {
        emit_error(ctx, c, "too_large", NULL, NULL,
                   "a message may have at most 4096 bytes");
        conn_close(ctx, c, 1009, "message too large");
        return;
    }
    if (!chat_utf8_ok(buf, len, NULL)) {
        emit_error(ctx, c, "bad_utf8", NULL, NULL, "invalid UTF-8");
        conn_close(ctx, c, 1007, "invalid UTF-8");
        return;
    }
    if (c->op == OP_NONE && c->pn == 0) {
        handle(ctx, c, buf, len);
        return;
    }
    if (c->pn == PENDING_MAX) {
        conn_close(ctx, c, 1008, "too many requests waiting");
        return;
    }
    if (c->pend == NULL &&
        (c->pend = calloc(PENDING_MAX, sizeof *c->pend)) == NULL)
        return;
    struct frame *f = malloc(sizeof *f + len);
    if (f == NULL)
        return;
    f->len = len;
    memcpy(f->data, buf, len);
    c->pend[(c->phead + c->pn++) % PENDING_MAX] = f;
}

// --- the actor ------------------------------------------------------------

bool
chat_origin_ok(const struct chat_config *cfg, const char *origin,
               const char *host)
{
    char want[300];
    if (origin == NULL)
        return true;
    if (cfg->origins != NULL) {
        for (unsigned i = 0; i < cfg->norigins; i++)
            if (strcmp(origin, cfg->origins[i]) == 0)
                return true;
        return false;
    }
    if (host == NULL)
        return false;
    snprintf(want, sizeof want, "http://%s", host);
    return strcmp(origin, want) == 0;
}

// origin_ok applies the Origin rule to the transport's headers, for a
// transport that has them (ws.c applies it itself, with 403, and has no
// header op).
static bool
origin_ok(struct conn *c)
{
    char origin[256], host[256];
    bool has_origin = c->ops->header != NULL &&
                      c->ops->header(c->io, "Origin", origin, sizeof origin);
    bool has_host = c->ops->header != NULL &&
                    c->ops->header(c->io, "Host", host, sizeof host);
    return chat_origin_ok(&c->srv->cfg, has_origin ? origin : NULL,
                          has_host ? host : NULL);
}

static int
conn_init(tr_ctx *ctx, const void *arg, size_t len)
{
    struct conn *c = tr_state(ctx);
    const struct chat_conn_arg *a = arg;
    if (len != sizeof *a)
        return TR_EINVAL;
    tr_system *sys = tr_ctx_system(ctx);
    c->srv = a->srv;
    c->ops = a->ops;
    c->io = a->io;
    const struct chat_config *cfg = &c->srv->cfg;
    int64_t now = tr_ctx_now_ns(ctx);
    c->token =
        c->srv->salt << 32 | (uint32_t)atomic_fetch_add(&c->srv->serial, 1);
    chat_rate_init(&c->rate, cfg->rate_per_s, cfg->rate_burst, now);
    c->last_rx_ns = c->last_ping_ns = now;
    int64_t tick =
        (cfg->ping_ms < cfg->idle_ms ? cfg->ping_ms : cfg->idle_ms) / 6;
    int rc = tr_send_every(ctx, tr_self(ctx), CHAT_TICK, NULL, 0,
                           tick > 10 ? tick : 10, NULL);
    if (rc != 0)
        return rc;
    c->ops->bind(c->io, sys, tr_self(ctx));
    if (a->reject) {
        snprintf(c->nick, sizeof c->nick, "-");
        emit_error(ctx, c, "overloaded", NULL, NULL,
                   "the server is at its connection limit");
        conn_close(ctx, c, 1013, "connection limit");
        return 0;
    }
    if (!origin_ok(c)) {
        snprintf(c->nick, sizeof c->nick, "-");
        emit_error(ctx, c, "bad_request", NULL, NULL, "origin not allowed");
        conn_close(ctx, c, 1008, "origin not allowed");
        return 0;
    }
    // A guest name, unique in the cluster like any nickname. The node's
    // tag keeps nodes from all counting guest-1, guest-2, ... and losing
    // each clash in the registry (a name_conflict each) as they connect;
    // EBUSY still covers a client that took a guest name as its nickname.
    char reg[sizeof CHAT_NICK_PREFIX + CHAT_NAME_MAX];
    rc = TR_EBUSY;
    for (int i = 0; i < 1000 && rc == TR_EBUSY; i++) {
        snprintf(c->nick, sizeof c->nick, "guest-%s-%u", c->srv->guest_tag,
                 atomic_fetch_add(&c->srv->guests, 1) % 1000000 + 1);
        snprintf(reg, sizeof reg, CHAT_NICK_PREFIX "%s", c->nick);
        rc = tr_register(sys, reg, tr_self(ctx));
    }
    if (rc != 0) {
        c->nick[0] = 0;
        emit_error(ctx, c, "overloaded", NULL, NULL, tr_strerror(rc));
        conn_close(ctx, c, 1011, "no guest name");
        return 0;
    }
    emit(ctx, c, chat_ev_welcome(c->nick, cfg->node));
    c->ops->recv(c->io);
    if (cfg->verbose)
        printf("chat: open %s (connections=%u)\n", c->nick,
               atomic_load(&c->srv->conns));
    return 0;
}

static void
conn_stop(tr_ctx *ctx, int reason)
{
    struct conn *c = tr_state(ctx);
    tr_system *sys = tr_ctx_system(ctx);
    (void)reason;
    if (c->nick[0] != 0 && strcmp(c->nick, "-") != 0) {
        char reg[sizeof CHAT_NICK_PREFIX + CHAT_NAME_MAX];
        snprintf(reg, sizeof reg, CHAT_NICK_PREFIX "%s", c->nick);
        tr_unregister(sys, reg); // free the name for a reconnect now
    }
    c->ops->close(c->io); // after: whoever sees the close finds it free
    for (size_t i = 0; i < c->nslots; i++) {
        struct slot *s = &c->slots[i];
        if (s->state != SLOT_FREE) {
            char group[sizeof CHAT_GROUP_PREFIX + CHAT_NAME_MAX];
            snprintf(group, sizeof group, CHAT_GROUP_PREFIX "%s", s->name);
            tr_pg_leave(sys, group, tr_self(ctx));
        }
        slot_drop_held(s);
    }
    free(c->slots);
    for (size_t i = 0; i < c->pn; i++)
        free(c->pend[(c->phead + i) % PENDING_MAX]);
    free(c->pend);
    if (c->srv->cfg.verbose && !c->closing && c->nick[0] != 0)
        printf("chat: gone %s\n", c->nick);
    atomic_fetch_sub(&c->srv->conns, 1);
}

static int
conn_receive(tr_ctx *ctx, const tr_msg *m)
{
    struct conn *c = tr_state(ctx);
    switch (tr_msg_type(m)) {
    case CHAT_IO_RECV:
        on_recv(ctx, c, m);
        return 0;
    case CHAT_IO_SENT:
        c->flushed = true;
        finish_if_flushed(ctx, c);
        return 0;
    case CHAT_IO_ALIVE:
        c->last_rx_ns = tr_ctx_now_ns(ctx);
        return 0;
    case CHAT_IO_REFUSE: {
        unsigned code = 0;
        if (tr_msg_size(m) == sizeof code)
            memcpy(&code, tr_msg_data(m), sizeof code);
        if (code == 1009)
            emit_error(ctx, c, "too_large", NULL, NULL,
                       "a message may have at most 4096 bytes");
        conn_close(ctx, c, (int)code,
                   code == 1009   ? "message too large"
                   : code == 1003 ? "binary frames are not accepted"
                   : code == 1007 ? "invalid UTF-8"
                                  : "protocol error");
        return 0;
    }
    case CHAT_IO_CLOSED:
    case CHAT_CLOSE_NOW:
        if (c->srv->cfg.verbose && c->closing)
            printf("chat: %s %s before its last events\n", c->nick,
                   tr_msg_type(m) == CHAT_IO_CLOSED ? "went away"
                                                    : "did not read");
        c->io_closed = c->io_closed || tr_msg_type(m) == CHAT_IO_CLOSED;
        if (!c->stopped) {
            c->stopped = true;
            tr_exit(ctx, TR_EXIT_NORMAL);
        }
        return 0;
    case CHAT_EV_MSG:
    case CHAT_EV_PRESENCE:
        on_room_event(ctx, c, m);
        return 0;
    case CHAT_NOT_IN: {
        tr_unpack u;
        uint32_t n;
        const char *room, *id = NULL;
        size_t rlen, idlen = 0;
        char idbuf[CHAT_ID_MAX + 1] = "";
        tr_unpack_init(&u, tr_msg_data(m), tr_msg_size(m));
        tr_unpack_array(&u, &n);
        tr_unpack_str(&u, &room, &rlen);
        if (tr_unpack_peek(&u) == TR_PACK_STR)
            tr_unpack_str(&u, &id, &idlen);
        if (tr_unpack_fini(&u) == 0 && idlen <= CHAT_ID_MAX) {
            if (id != NULL)
                memcpy(idbuf, id, idlen);
            emit_error(ctx, c, "not_in_room", "say", id ? idbuf : NULL,
                       "not in that room");
        }
        return 0;
    }
    case CHAT_TICK: {
        if (c->closing)
            return 0;
        int64_t now = tr_ctx_now_ns(ctx);
        if (now - c->last_rx_ns >= c->srv->cfg.idle_ms * 1000000) {
            conn_close(ctx, c, 1001, "idle");
        } else if (now - c->last_ping_ns >= c->srv->cfg.ping_ms * 1000000) {
            c->last_ping_ns = now;
            c->ops->ping(c->io);
        }
        return 0;
    }
    case TR_MSG_DOWN: { // a room we are in stopped: its node is gone
        const tr_down *d = tr_msg_data(m);
        for (size_t i = 0; i < c->nslots; i++) {
            struct slot *s = &c->slots[i];
            if (s->state == SLOT_FREE || s->mon != d->mon)
                continue;
            s->mon = 0;
            if (s->state == SLOT_JOINED && !c->closing) {
                s->state = SLOT_JOINING; // hold events; rejoin when free
                tr_send(ctx, tr_self(ctx), CHAT_RETRY, s->name,
                        strlen(s->name));
            }
        }
        return 0;
    }
    case CHAT_RETRY: {
        char name[CHAT_NAME_MAX + 1];
        size_t len = tr_msg_size(m);
        if (len > CHAT_NAME_MAX || c->closing)
            return 0;
        memcpy(name, tr_msg_data(m), len);
        name[len] = 0;
        struct slot *s = slot_find(c, name);
        if (s == NULL || s->state != SLOT_JOINING)
            return 0;
        if (c->op != OP_NONE) {
            tr_send_after(ctx, tr_self(ctx), CHAT_RETRY, name, len, RETRY_MS,
                          NULL);
            return 0;
        }
        snprintf(c->op_room, sizeof c->op_room, "%s", name);
        c->op = OP_REJOIN;
        c->attempts = 0;
        join_try(ctx, c, s);
        return 0;
    }
    case TR_MSG_CANCEL:
        return 0;
    default:
        return TR_EUNHANDLED;
    }
}

const tr_behavior chat_conn_behavior = {.name = "chat.conn",
                                        .state_size = sizeof(struct conn),
                                        .init = conn_init,
                                        .receive = conn_receive,
                                        .stop = conn_stop};

int
chat_conn_spawn(struct chat_server *srv, const struct chat_io_ops *ops,
                void *io, tr_ref *out)
{
    unsigned n = atomic_fetch_add(&srv->conns, 1);
    struct chat_conn_arg a = {
        .srv = srv, .ops = ops, .io = io, .reject = n >= srv->cfg.max_conns};
    tr_spawn_opts o = {.placement = TR_PLACE_ROUND_ROBIN};
    tr_ref ref;
    int rc =
        tr_system_spawn(&ref, srv->sys, &chat_conn_behavior, &a, sizeof a, &o);
    if (rc != 0) {
        atomic_fetch_sub(&srv->conns, 1);
        ops->close(io);
    } else if (out != NULL) {
        *out = ref;
    }
    return rc;
}

void
chat_server_init(struct chat_server *s, tr_system *sys,
                 const struct chat_config *cfg)
{
    memset(s, 0, sizeof *s);
    s->sys = sys;
    if (cfg != NULL)
        s->cfg = *cfg;
    chat_config_defaults(&s->cfg);
    atomic_init(&s->serial, 1);
    s->salt = (uint64_t)chat_wall_ms() ^ (uint64_t)tr_now_ns();
    s->salt = (s->salt * 0x9E3779B97F4A7C15ull) >> 32;
    const char *node = s->cfg.node;
    size_t len = strlen(node);
    if (len <= CHAT_GUEST_TAG_MAX && chat_name_ok(node, len))
        memcpy(s->guest_tag, node, len + 1);
    else
        snprintf(s->guest_tag, sizeof s->guest_tag, "%08x",
                 (unsigned)(s->salt & 0xffffffffu));
}
