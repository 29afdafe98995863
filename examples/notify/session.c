// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// session.c: one WebSocket, one actor. It joins the process groups of its
// user ("u:<user>") and topics ("t:<topic>"); the courier publishes each
// notification to a group, and the session writes it to its socket as one
// text frame. The page may send {"subscribe":"<topic>"} or
// {"unsubscribe":"<topic>"}.
//
// Design notes
// - nng completes the socket's reads and writes on its own threads; the
//   callbacks only turn a completion into a message to the session
//   (NOTIFY_WS_RECV with the bytes, NOTIFY_WS_SENT), so all of the
//   session's state belongs to its handler. A completion that finds the
//   mailbox full, or an error, stops the session (a stop is a signal:
//   never refused): a client that cannot keep up is disconnected.
// - One write at a time; frames waiting for it sit in a ring of RING
//   frames. A full ring drops its oldest frame (counted in the status as
//   nothing, in the session as `dropped`): a live view wants what is new.
// - One read at a time, posted again when the handler has seen the last.
// - The stop hook closes the stream and waits for both aios to finish
//   (their callbacks never block), so nothing touches freed memory.
#include "notify.h"

#include <troupe/cluster.h>

#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <nng/nng.h>

#define RING      16
#define RX_SIZE   512
#define TOPICS    16
#define GROUP_MAX (NOTIFY_NAME_MAX + 3)

// ws_io is what the aio callbacks see: allocated once, freed by the stop
// hook after both aios have stopped.
struct ws_io {
    tr_system *sys;
    tr_ref self;
    nng_stream *s;
    nng_aio *rx, *tx;
    char rxbuf[RX_SIZE];
};

struct frame {
    char *data;
    size_t len;
};

struct session {
    struct ws_io *io;
    _Atomic unsigned *sessions;
    struct frame ring[RING];
    unsigned head, n;
    bool sending;
    uint64_t dropped;
    uint32_t ngroups;
    char groups[TOPICS][GROUP_MAX];
};

static void
rx_done(void *arg)
{
    struct ws_io *io = arg;
    if (nng_aio_result(io->rx) != 0 ||
        tr_system_send(io->sys, io->self, NOTIFY_WS_RECV, io->rxbuf,
                       nng_aio_count(io->rx)) != 0)
        (void)tr_system_stop(io->sys, io->self, TR_EXIT_NORMAL);
}

static void
tx_done(void *arg)
{
    struct ws_io *io = arg;
    if (nng_aio_result(io->tx) != 0 ||
        tr_system_send(io->sys, io->self, NOTIFY_WS_SENT, NULL, 0) != 0)
        (void)tr_system_stop(io->sys, io->self, TR_EXIT_NORMAL);
}

static void
post_recv(struct ws_io *io)
{
    nng_iov iov = {.iov_buf = io->rxbuf, .iov_len = sizeof io->rxbuf};
    nng_aio_set_iov(io->rx, 1, &iov);
    nng_stream_recv(io->s, io->rx);
}

static void
send_next(struct session *ss)
{
    if (ss->sending || ss->n == 0)
        return;
    struct frame *f = &ss->ring[ss->head];
    nng_iov iov = {.iov_buf = f->data, .iov_len = f->len};
    nng_aio_set_iov(ss->io->tx, 1, &iov);
    ss->sending = true;
    nng_stream_send(ss->io->s, ss->io->tx);
}

static int
join(tr_ctx *ctx, struct session *ss, const char *group)
{
    for (uint32_t i = 0; i < ss->ngroups; i++)
        if (strcmp(ss->groups[i], group) == 0)
            return 0;
    if (ss->ngroups == TOPICS || strlen(group) >= GROUP_MAX)
        return TR_ELIMIT;
    int rc = tr_pg_join(tr_ctx_system(ctx), group, tr_self(ctx));
    if (rc == 0)
        strcpy(ss->groups[ss->ngroups++], group);
    return rc;
}

static void
leave(tr_ctx *ctx, struct session *ss, const char *group)
{
    for (uint32_t i = 0; i < ss->ngroups; i++)
        if (strcmp(ss->groups[i], group) == 0) {
            (void)tr_pg_leave(tr_ctx_system(ctx), group, tr_self(ctx));
            memcpy(ss->groups[i], ss->groups[--ss->ngroups], GROUP_MAX);
            return;
        }
}

static int
session_init(tr_ctx *ctx, const void *arg, size_t len)
{
    struct session *ss = tr_state(ctx);
    struct notify_session_arg a;
    if (len != sizeof a)
        return TR_EINVAL;
    memcpy(&a, arg, sizeof a);
    struct ws_io *io = calloc(1, sizeof *io);
    if (io == NULL)
        return TR_ENOMEM;
    io->sys = tr_ctx_system(ctx);
    io->self = tr_self(ctx);
    io->s = a.stream;
    if (nng_aio_alloc(&io->rx, rx_done, io) != 0 ||
        nng_aio_alloc(&io->tx, tx_done, io) != 0) {
        nng_aio_free(io->rx);
        free(io);
        return TR_ENOMEM;
    }
    ss->io = io;
    ss->sessions = a.sessions;
    int rc = 0;
    for (uint32_t i = 0; i < a.ngroups && rc == 0; i++)
        rc = join(ctx, ss, a.groups[i]);
    if (rc != 0) {
        // The caller still owns the stream when init fails.
        for (uint32_t i = 0; i < ss->ngroups; i++)
            (void)tr_pg_leave(io->sys, ss->groups[i], io->self);
        nng_aio_free(io->rx);
        nng_aio_free(io->tx);
        free(io);
        return rc;
    }
    post_recv(io);
    // A first frame names the groups joined: the client knows from it that
    // notifications will reach it from now on.
    json_t *groups = json_array();
    for (uint32_t i = 0; groups != NULL && i < ss->ngroups; i++)
        json_array_append_new(groups, json_string(ss->groups[i]));
    json_t *hello = json_pack("{s:o}", "hello", groups);
    char *text = hello != NULL ? json_dumps(hello, JSON_COMPACT) : NULL;
    json_decref(hello);
    if (text != NULL) {
        size_t n = strlen(text);
        char *f = realloc(text, n + 2);
        if (f != NULL) {
            memcpy(f + n, "\n", 2);
            ss->ring[0] = (struct frame){f, n + 1};
            ss->n = 1;
            send_next(ss);
        } else {
            free(text);
        }
    }
    return 0;
}

// on_recv handles what the page sent: {"subscribe":"t"} or
// {"unsubscribe":"t"}; anything else is ignored.
static void
on_recv(tr_ctx *ctx, struct session *ss, const tr_msg *m)
{
    json_t *j = json_loadb(tr_msg_data(m), tr_msg_size(m), 0, NULL);
    const char *topic;
    char group[GROUP_MAX];
    if (json_unpack(j, "{s:s}", "subscribe", &topic) == 0 &&
        notify_name_ok(topic, strlen(topic))) {
        strcpy(group, "t:");
        strcat(group, topic);
        (void)join(ctx, ss, group);
    } else if (json_unpack(j, "{s:s}", "unsubscribe", &topic) == 0 &&
               notify_name_ok(topic, strlen(topic))) {
        strcpy(group, "t:");
        strcat(group, topic);
        leave(ctx, ss, group);
    }
    json_decref(j);
    post_recv(ss->io);
}

static int
session_receive(tr_ctx *ctx, const tr_msg *m)
{
    struct session *ss = tr_state(ctx);
    switch (tr_msg_type(m)) {
    case NOTIFY_EVENT: {
        char *copy = malloc(tr_msg_size(m));
        if (copy == NULL)
            return 0;
        memcpy(copy, tr_msg_data(m), tr_msg_size(m));
        if (ss->n == RING) { // drop the oldest waiting (not the one sending)
            unsigned old = (ss->head + (ss->sending ? 1 : 0)) % RING;
            free(ss->ring[old].data);
            for (unsigned i = old; i != (ss->head + ss->n - 1) % RING;
                 i = (i + 1) % RING)
                ss->ring[i] = ss->ring[(i + 1) % RING];
            ss->n--;
            ss->dropped++;
        }
        ss->ring[(ss->head + ss->n) % RING] =
            (struct frame){copy, tr_msg_size(m)};
        ss->n++;
        send_next(ss);
        return 0;
    }
    case NOTIFY_WS_SENT:
        free(ss->ring[ss->head].data);
        ss->ring[ss->head].data = NULL;
        ss->head = (ss->head + 1) % RING;
        ss->n--;
        ss->sending = false;
        send_next(ss);
        return 0;
    case NOTIFY_WS_RECV:
        on_recv(ctx, ss, m);
        return 0;
    default:
        return TR_EUNHANDLED;
    }
}

static void
session_stop(tr_ctx *ctx, int reason)
{
    struct session *ss = tr_state(ctx);
    struct ws_io *io = ss->io;
    (void)ctx;
    (void)reason;
    // Groups need no leave: the node drops a member that stops.
    nng_stream_close(io->s);
    nng_aio_stop(io->rx);
    nng_aio_stop(io->tx);
    nng_aio_free(io->rx);
    nng_aio_free(io->tx);
    nng_stream_free(io->s);
    free(io);
    for (unsigned i = 0; i < ss->n; i++)
        free(ss->ring[(ss->head + i) % RING].data);
    atomic_fetch_sub(ss->sessions, 1);
}

const tr_behavior notify_session = {.name = "session",
                                    .state_size = sizeof(struct session),
                                    .init = session_init,
                                    .receive = session_receive,
                                    .stop = session_stop};
