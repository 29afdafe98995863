// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// bot.c: an in-memory transport (chat_pipe) and the demo's bots. A bot is
// an actor that talks to an ordinary connection actor through a pipe, as a
// browser would through a WebSocket: it sends the same JSON requests and
// gets the same events, so the bots are real users of the rooms (browser
// users see them, and they see browser users). The first bot prints the
// lobby's traffic, so the terminal shows what is going on.
#define _POSIX_C_SOURCE 200809L
#include "chat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define PIPE_HOST "chat.local" // the Host header a pipe reports

struct chat_pipe {
    tr_system *sys;
    tr_ref conn, peer;
    bool stuck;
    unsigned stuck_n; // messages a stuck pipe holds, the first one in flight
    bool has_origin;
    char origin[128];
};

struct chat_pipe *
chat_pipe_alloc(tr_ref peer, bool stuck, const char *origin)
{
    struct chat_pipe *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    p->peer = peer;
    p->stuck = stuck;
    if (origin != NULL) {
        p->has_origin = true;
        snprintf(p->origin, sizeof p->origin, "%s", origin);
    }
    return p;
}

static void
pipe_bind(void *io, tr_system *sys, tr_ref conn)
{
    struct chat_pipe *p = io;
    p->sys = sys;
    p->conn = conn;
}

static void
pipe_recv(void *io)
{
    (void)io; // the other end sends CHAT_IO_RECV itself
}

// A pipe writes at once, unless it is stuck: then its first message is in
// flight forever and the others wait behind it.
static int
pipe_send(void *io, const char *text, size_t len)
{
    struct chat_pipe *p = io;
    if (!p->stuck) { // a reader that is gone is told by the pipe's close
        tr_system_send(p->sys, p->peer, CHAT_BOT_OUT, text, len);
        return 1;
    }
    if (p->stuck_n++ == 0)
        tr_system_send(p->sys, p->peer, CHAT_BOT_OUT, text, len);
    return (int)p->stuck_n;
}

static void
pipe_drop(void *io)
{
    struct chat_pipe *p = io;
    if (p->stuck_n > 1)
        p->stuck_n = 1;
}

static void
pipe_flush(void *io)
{
    struct chat_pipe *p = io;
    if (p->stuck_n == 0)
        tr_system_send(p->sys, p->conn, CHAT_IO_SENT, NULL, 0);
}

static bool
pipe_header(void *io, const char *name, char *buf, size_t size)
{
    struct chat_pipe *p = io;
    if (strcmp(name, "Origin") == 0 && p->has_origin) {
        snprintf(buf, size, "%s", p->origin);
        return true;
    }
    if (strcmp(name, "Host") == 0) {
        snprintf(buf, size, PIPE_HOST);
        return true;
    }
    return false;
}

// A pipe has no frames: a ping and a close reach the other end as the
// events {"ev":"ping"} and {"ev":"close","code":...,"reason":...}. A
// close is answered at once, as a client would (a stuck reader never
// answers).
static void
pipe_event(struct chat_pipe *p, chat_json *j)
{
    size_t len = 0;
    char *s = chat_json_dump(j, &len);
    if (s != NULL)
        tr_system_send(p->sys, p->peer, CHAT_BOT_OUT, s, len);
    free(s);
}

static void
pipe_ping(void *io)
{
    pipe_event(io, chat_ev_ping());
}

static void
pipe_shut(void *io, unsigned code, const char *reason)
{
    struct chat_pipe *p = io;
    pipe_event(p, chat_ev_close((int)code, reason));
    if (!p->stuck)
        tr_system_send(p->sys, p->conn, CHAT_IO_CLOSED, NULL, 0);
}

static void
pipe_close(void *io)
{
    struct chat_pipe *p = io;
    if (p->sys != NULL) // tell the other end, as a closed socket would
        tr_system_send(p->sys, p->peer, CHAT_IO_CLOSED, NULL, 0);
    free(p);
}

const struct chat_io_ops chat_pipe_ops = {.bind = pipe_bind,
                                          .recv = pipe_recv,
                                          .send = pipe_send,
                                          .drop = pipe_drop,
                                          .flush = pipe_flush,
                                          .header = pipe_header,
                                          .ping = pipe_ping,
                                          .shut = pipe_shut,
                                          .close = pipe_close};

// --- bots -----------------------------------------------------------------

static const char *const bot_names[] = {"ada-bot", "grace-bot", "linus-bot",
                                        "barbara-bot"};

static const char *const bot_lines[] = {
    "hello, lobby!",
    "every room here is one actor, and it numbers the messages",
    "open the page in two tabs and say something",
    "a flood gets rate_limited, then the door",
    "nicknames are unique across the whole cluster",
    "the All rooms button asks every node for its rooms",
    "I am an actor talking to an actor through an in-memory pipe",
    "the last 50 messages come back when you join",
};

struct bot {
    struct chat_server *srv;
    unsigned idx, said;
    tr_ref conn;
};

// bot_send sends the JSON request `j` (consumed) to the bot's connection,
// as a client's frame.
static void
bot_send(tr_ctx *ctx, struct bot *b, json_t *j)
{
    char *s = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    if (s != NULL)
        tr_send(ctx, b->conn, CHAT_IO_RECV, s, strlen(s));
    free(s);
    json_decref(j);
}

static int
bot_init(tr_ctx *ctx, const void *arg, size_t len)
{
    struct bot *b = tr_state(ctx);
    if (len != sizeof *b)
        return TR_EINVAL;
    memcpy(b, arg, sizeof *b);
    struct chat_pipe *p = chat_pipe_alloc(tr_self(ctx), false, NULL);
    if (p == NULL)
        return TR_ENOMEM;
    int rc = chat_conn_spawn(b->srv, &chat_pipe_ops, p, &b->conn);
    if (rc != 0)
        return rc;
    bot_send(
        ctx, b,
        json_pack("{s:s,s:s}", "op", "nick", "name", bot_names[b->idx % 4]));
    bot_send(ctx, b, json_pack("{s:s,s:s}", "op", "join", "room", "lobby"));
    return tr_send_every(ctx, tr_self(ctx), CHAT_BOT_STEP, NULL, 0,
                         3000 + 1100 * (int64_t)b->idx, NULL);
}

static int
bot_receive(tr_ctx *ctx, const tr_msg *m)
{
    struct bot *b = tr_state(ctx);
    switch (tr_msg_type(m)) {
    case CHAT_BOT_STEP: {
        const char *line = bot_lines[(b->said * 2 + b->idx) %
                                     (sizeof bot_lines / sizeof *bot_lines)];
        b->said++;
        bot_send(ctx, b,
                 json_pack("{s:s,s:s,s:s}", "op", "say", "room", "lobby",
                           "text", line));
        return 0;
    }
    case CHAT_BOT_OUT: {
        if (b->idx != 0) // one bot shows the lobby; the others keep quiet
            return 0;
        json_error_t err;
        json_t *j = json_loadb(tr_msg_data(m), tr_msg_size(m), 0, &err);
        const char *ev = json_string_value(json_object_get(j, "ev"));
        if (ev != NULL && strcmp(ev, "msg") == 0)
            printf("lobby  #%-4lld %-12s %s\n",
                   (long long)json_integer_value(json_object_get(j, "seq")),
                   json_string_value(json_object_get(j, "from")),
                   json_string_value(json_object_get(j, "text")));
        else if (ev != NULL && strcmp(ev, "presence") == 0)
            printf("lobby  ---   %s %s%s%s\n",
                   json_string_value(json_object_get(j, "name")),
                   json_string_value(json_object_get(j, "state")),
                   json_object_get(j, "from") ? " from " : "",
                   json_object_get(j, "from")
                       ? json_string_value(json_object_get(j, "from"))
                       : "");
        fflush(stdout);
        json_decref(j);
        return 0;
    }
    case CHAT_IO_CLOSED:
        return 0;
    default:
        return TR_EUNHANDLED;
    }
}

static const tr_behavior bot_behavior = {.name = "chat.bot",
                                         .state_size = sizeof(struct bot),
                                         .init = bot_init,
                                         .receive = bot_receive};

int
chat_bots_start(struct chat_server *srv, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        struct bot b = {.srv = srv, .idx = i};
        tr_ref r;
        int rc =
            tr_system_spawn(&r, srv->sys, &bot_behavior, &b, sizeof b, NULL);
        if (rc != 0)
            return rc;
    }
    return 0;
}
