// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// ws.c: the HTTP and WebSocket front end. nng 1.5.2's HTTP server serves
// the page and parses every request; a GET of /ws that asks for a
// WebSocket is checked here (the upgrade headers, the version, CHAT.md's
// Origin rule: 403 before the upgrade), then taken from the server
// (nng_http_hijack) and spoken over with wsframe.c. Why not nng's own
// WebSocket streams: wsframe.h.
//
// A connection (struct wsio) is the transport of one connection actor:
// - Output is a byte queue with one write in flight: the 101 response is
//   its first bytes, then frames. The actor's messages and control frames
//   (pong, ping, close) join it whenever they come; a finished write
//   starts the next one with everything queued meanwhile, so under load a
//   write carries many frames and the actor hears nothing back (see
//   chat.h: send, drop, flush).
// - Input: one read in flight into a buffer that holds a whole frame of
//   the largest size accepted. Frames are parsed in place; an unfragmented
//   text message goes to the actor straight from the buffer, fragments are
//   joined in a buffer allocated when the first one comes.
// - A client's close is answered at once with the same code (RFC 6455,
//   5.5.1); our own close (shut) waits for the client's answer, which the
//   actor bounds with a timer. After a refusal (a protocol error, binary,
//   too large) input is read and dropped, never parsed: closing a socket
//   with unread input resets it, and the client would lose our close.
// - Callbacks run on nng's threads and only copy bytes and send messages
//   to the actor (tr_system_send, never blocking); one mutex per
//   connection orders them with the actor's calls.
#define _POSIX_C_SOURCE 200809L
#include "chat.h"
#include "wsframe.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>

#define RX_BUF (CHAT_FRAME_MAX + WS_HEADER_MAX)

struct buf {
    uint8_t *p;
    size_t len, cap;
};

struct wsio {
    nng_http_conn *conn;
    nng_aio *rxa, *txa;
    tr_system *sys;
    tr_ref actor;
    pthread_mutex_t mu; // guards what follows, and orders the reports
    bool closing;       // close() began: no reports, no new I/O
    bool ended;         // CHAT_IO_CLOSED was reported
    // input (the read callback's, one at a time)
    uint8_t rx[RX_BUF];
    size_t rxlen;
    struct ws_msg msg; // fragments; msg.data allocated on first use
    bool drain;        // refused: read and drop
    bool paused;       // the actor is closing: data messages dropped
    // output
    struct buf out, wr; // queued; being written
    bool writing;
    unsigned nout, nwr; // the actor's messages in out, in wr
    bool flush;         // report CHAT_IO_SENT once nothing is left
    bool close_sent, close_got;
};

static bool
buf_add(struct buf *b, const void *p, size_t len)
{
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + len)
            cap *= 2;
        uint8_t *q = realloc(b->p, cap);
        if (q == NULL)
            return false;
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, len);
    b->len += len;
    return true;
}

// report sends the actor one message. Locked.
static void
report(struct wsio *w, uint32_t type, const void *data, size_t len)
{
    if (!w->closing)
        tr_system_send(w->sys, w->actor, type, data, len);
}

// end reports CHAT_IO_CLOSED, once. Locked.
static void
end(struct wsio *w)
{
    if (!w->ended) {
        w->ended = true;
        report(w, CHAT_IO_CLOSED, NULL, 0);
    }
}

// write_next starts a write of everything queued, if none is in flight.
// Locked.
static void
write_next(struct wsio *w)
{
    if (w->writing || w->closing || w->out.len == 0)
        return;
    struct buf t = w->wr;
    w->wr = w->out;
    w->out = t;
    w->out.len = 0;
    w->nwr = w->nout;
    w->nout = 0;
    w->writing = true;
    nng_iov iov = {.iov_buf = w->wr.p, .iov_len = w->wr.len};
    nng_aio_set_iov(w->txa, 1, &iov);
    nng_http_conn_write_all(w->conn, w->txa);
}

// queue adds one frame to the output (`data`: the actor's message).
// Locked.
static bool
queue(struct wsio *w, unsigned op, const void *payload, size_t len, bool data)
{
    uint8_t h[10];
    size_t hl = ws_header(h, op, len);
    size_t mark = w->out.len;
    if (!buf_add(&w->out, h, hl) ||
        (len != 0 && !buf_add(&w->out, payload, len))) {
        w->out.len = mark;
        return false;
    }
    w->nout += data;
    write_next(w);
    return true;
}

// close_frame queues a close frame, once. Locked.
static void
close_frame(struct wsio *w, unsigned code, const char *reason)
{
    if (w->close_sent)
        return;
    uint8_t f[2 + WS_CONTROL_MAX];
    size_t n = ws_close_frame(f, code, reason);
    w->close_sent = true;
    if (buf_add(&w->out, f, n))
        write_next(w);
}

// flushed reports CHAT_IO_SENT if asked and nothing is left. Locked.
static void
flushed(struct wsio *w)
{
    if (w->flush && !w->writing && w->out.len == 0) {
        w->flush = false;
        report(w, CHAT_IO_SENT, NULL, 0);
    }
}

// finished: both closes are through (ours written); the actor may go.
// Locked.
static void
maybe_finished(struct wsio *w)
{
    if (w->close_sent && w->close_got && !w->writing && w->out.len == 0)
        end(w);
}

static void
tx_cb(void *arg)
{
    struct wsio *w = arg;
    int rv = nng_aio_result(w->txa);
    pthread_mutex_lock(&w->mu);
    w->writing = false;
    w->wr.len = 0;
    w->nwr = 0;
    if (rv != 0) {
        end(w);
    } else {
        write_next(w);
        flushed(w);
        maybe_finished(w);
    }
    pthread_mutex_unlock(&w->mu);
}

// refuse stops taking input: the actor closes with `code`. Locked.
static void
refuse(struct wsio *w, unsigned code)
{
    w->drain = true;
    report(w, CHAT_IO_REFUSE, &code, sizeof code);
}

// on_frame acts on one parsed frame. Locked.
static void
on_frame(struct wsio *w, const struct ws_frame *f)
{
    unsigned code;
    int rc;
    switch (f->op) {
    case WS_OP_PING:
        if (!w->close_sent)
            (void)queue(w, WS_OP_PONG, f->payload, f->len, false);
        return;
    case WS_OP_PONG:
        report(w, CHAT_IO_ALIVE, NULL, 0);
        return;
    case WS_OP_CLOSE:
        if ((rc = ws_close_parse(f, &code)) != 0) {
            refuse(w, (unsigned)-rc);
            return;
        }
        if (f->len > 2 && !chat_utf8_ok(f->payload + 2, f->len - 2, NULL)) {
            refuse(w, WS_BAD_DATA);
            return;
        }
        w->close_got = true;
        w->drain = true; // nothing may follow a close
        close_frame(w, code == 1005 ? WS_NORMAL : code, NULL);
        maybe_finished(w);
        return;
    }
    if (f->op == WS_OP_TEXT && f->fin && !w->msg.open) { // the common case
        if (!w->paused)
            report(w, CHAT_IO_RECV, f->payload, f->len);
        return;
    }
    if (w->msg.data == NULL &&
        (w->msg.data = malloc(w->msg.max = CHAT_FRAME_MAX)) == NULL) {
        refuse(w, WS_TOO_BIG); // no room to join it
        return;
    }
    rc = ws_msg_add(&w->msg, f);
    if (rc < 0)
        refuse(w, (unsigned)-rc);
    else if (rc == 1 && !w->paused)
        report(w, CHAT_IO_RECV, w->msg.data, w->msg.len);
}

static void
read_next(struct wsio *w)
{
    nng_iov iov = {.iov_buf = w->rx + w->rxlen,
                   .iov_len = sizeof w->rx - w->rxlen};
    nng_aio_set_iov(w->rxa, 1, &iov);
    nng_http_conn_read(w->conn, w->rxa);
}

static void
rx_cb(void *arg)
{
    struct wsio *w = arg;
    int rv = nng_aio_result(w->rxa);
    pthread_mutex_lock(&w->mu);
    if (rv != 0) {
        end(w);
        pthread_mutex_unlock(&w->mu);
        return;
    }
    w->rxlen += nng_aio_count(w->rxa);
    size_t off = 0;
    while (!w->drain) {
        struct ws_frame f;
        long n =
            ws_frame_parse(w->rx + off, w->rxlen - off, CHAT_FRAME_MAX, &f);
        if (n == 0)
            break;
        if (n < 0) {
            refuse(w, (unsigned)-n);
            break;
        }
        off += (size_t)n;
        on_frame(w, &f);
    }
    if (w->drain)
        w->rxlen = 0;
    else if (off != 0)
        memmove(w->rx, w->rx + off, w->rxlen -= off);
    if (!w->closing)
        read_next(w);
    pthread_mutex_unlock(&w->mu);
}

// --- the transport's operations (chat.h) ------------------------------------

static void
wsio_bind(void *io, tr_system *sys, tr_ref actor)
{
    struct wsio *w = io;
    pthread_mutex_lock(&w->mu);
    w->sys = sys;
    w->actor = actor;
    write_next(w); // the 101
    pthread_mutex_unlock(&w->mu);
}

static void
wsio_recv(void *io)
{
    struct wsio *w = io;
    pthread_mutex_lock(&w->mu);
    if (!w->closing)
        read_next(w);
    pthread_mutex_unlock(&w->mu);
}

static void
wsio_pause(void *io)
{
    struct wsio *w = io;
    pthread_mutex_lock(&w->mu);
    w->paused = true;
    pthread_mutex_unlock(&w->mu);
}

static int
wsio_send(void *io, const char *text, size_t len)
{
    struct wsio *w = io;
    int rc;
    pthread_mutex_lock(&w->mu);
    if (w->ended || w->close_sent)
        rc = TR_ECLOSED;
    else if (!queue(w, WS_OP_TEXT, text, len, true))
        rc = TR_ENOMEM;
    else
        rc = (int)(w->nout + w->nwr);
    pthread_mutex_unlock(&w->mu);
    return rc;
}

// drop discards what no write has taken yet (control frames too: a pong
// lost to a slow consumer's close is harmless).
static void
wsio_drop(void *io)
{
    struct wsio *w = io;
    pthread_mutex_lock(&w->mu);
    w->out.len = 0;
    w->nout = 0;
    pthread_mutex_unlock(&w->mu);
}

static void
wsio_flush(void *io)
{
    struct wsio *w = io;
    pthread_mutex_lock(&w->mu);
    w->flush = true;
    flushed(w);
    pthread_mutex_unlock(&w->mu);
}

static void
wsio_ping(void *io)
{
    struct wsio *w = io;
    pthread_mutex_lock(&w->mu);
    if (!w->close_sent)
        (void)queue(w, WS_OP_PING, NULL, 0, false);
    pthread_mutex_unlock(&w->mu);
}

static void
wsio_shut(void *io, unsigned code, const char *reason)
{
    struct wsio *w = io;
    pthread_mutex_lock(&w->mu);
    close_frame(w, code, reason);
    maybe_finished(w);
    pthread_mutex_unlock(&w->mu);
}

static void
wsio_close(void *io)
{
    struct wsio *w = io;
    pthread_mutex_lock(&w->mu);
    w->closing = true;
    pthread_mutex_unlock(&w->mu);
    // Stopping waits for a callback that runs; one that runs after this
    // sees `closing` and starts nothing.
    if (w->rxa != NULL)
        nng_aio_stop(w->rxa);
    if (w->txa != NULL)
        nng_aio_stop(w->txa);
    if (w->conn != NULL)
        nng_http_conn_close(w->conn);
    nng_aio_free(w->rxa);
    nng_aio_free(w->txa);
    free(w->msg.data);
    free(w->out.p);
    free(w->wr.p);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

static const struct chat_io_ops wsio_ops = {.bind = wsio_bind,
                                            .recv = wsio_recv,
                                            .pause = wsio_pause,
                                            .send = wsio_send,
                                            .drop = wsio_drop,
                                            .flush = wsio_flush,
                                            .ping = wsio_ping,
                                            .shut = wsio_shut,
                                            .close = wsio_close};

// --- the upgrade
// ---------------------------------------------------------------

struct chat_ws {
    struct chat_server *srv;
    nng_http_server *http;
    nng_http_handler *h[4]; // the page's three files, /ws
    void *files[3];
};

// has_token: is `tok` one of the comma-separated tokens of header value v
// (case-insensitive)?
static bool
has_token(const char *v, const char *tok)
{
    size_t n = strlen(tok);
    while (v != NULL && *v != '\0') {
        while (*v == ' ' || *v == '\t' || *v == ',')
            v++;
        const char *e = v;
        while (*e != '\0' && *e != ',')
            e++;
        const char *t = e;
        while (t > v && (t[-1] == ' ' || t[-1] == '\t'))
            t--;
        if ((size_t)(t - v) == n && strncasecmp(v, tok, n) == 0)
            return true;
        v = e;
    }
    return false;
}

// refuse_upgrade answers the handler's request with a short text.
static void
refuse_upgrade(nng_aio *aio, uint16_t status, const char *text)
{
    nng_http_res *res;
    if (nng_http_res_alloc(&res) != 0) {
        nng_aio_finish(aio, NNG_ENOMEM);
        return;
    }
    if (nng_http_res_set_status(res, status) != 0 ||
        nng_http_res_set_header(res, "Content-Type",
                                "text/plain; charset=utf-8") != 0 ||
        (status == 426 &&
         nng_http_res_set_header(res, "Sec-WebSocket-Version", "13") != 0) ||
        nng_http_res_copy_data(res, text, strlen(text)) != 0) {
        nng_http_res_free(res);
        nng_aio_finish(aio, NNG_ENOMEM);
        return;
    }
    nng_aio_set_output(aio, 0, res);
    nng_aio_finish(aio, 0);
}

static void
upgrade(nng_aio *aio)
{
    nng_http_req *req = nng_aio_get_input(aio, 0);
    nng_http_handler *h = nng_aio_get_input(aio, 1);
    nng_http_conn *conn = nng_aio_get_input(aio, 2);
    struct chat_ws *ws = nng_http_handler_get_data(h);
    const char *key = nng_http_req_get_header(req, "Sec-WebSocket-Key");
    const char *ver = nng_http_req_get_header(req, "Sec-WebSocket-Version");
    const char *origin = nng_http_req_get_header(req, "Origin");
    const char *host = nng_http_req_get_header(req, "Host");
    char accept[WS_ACCEPT_LEN + 1];
    if (!has_token(nng_http_req_get_header(req, "Upgrade"), "websocket") ||
        !has_token(nng_http_req_get_header(req, "Connection"), "upgrade") ||
        key == NULL || ws_accept(key, accept) != 0) {
        refuse_upgrade(aio, 400, "this is a WebSocket endpoint\n");
        return;
    }
    if (ver == NULL || strcmp(ver, "13") != 0) {
        refuse_upgrade(aio, 426, "WebSocket version 13 only\n");
        return;
    }
    if (!chat_origin_ok(&ws->srv->cfg, origin, host)) {
        refuse_upgrade(aio, 403, "origin not allowed\n");
        return;
    }
    struct wsio *w = calloc(1, sizeof *w);
    char res[160];
    int n = snprintf(res, sizeof res,
                     "HTTP/1.1 101 Switching Protocols\r\n"
                     "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Accept: %s\r\n\r\n",
                     accept);
    if (w == NULL || nng_aio_alloc(&w->rxa, rx_cb, w) != 0 ||
        nng_aio_alloc(&w->txa, tx_cb, w) != 0 ||
        !buf_add(&w->out, res, (size_t)n)) {
        if (w != NULL) {
            nng_aio_free(w->rxa);
            nng_aio_free(w->txa);
            free(w->out.p);
            free(w);
        }
        refuse_upgrade(aio, 503, "out of memory\n");
        return;
    }
    pthread_mutex_init(&w->mu, NULL);
    // Ours from here, the request too; the server forgets the connection.
    nng_http_hijack(conn);
    nng_http_req_free(req);
    w->conn = conn;
    nng_aio_set_output(aio, 0, NULL);
    nng_aio_finish(aio, 0);
    // The 101 is written when the actor binds; a failed spawn closes w.
    chat_conn_spawn(ws->srv, &wsio_ops, w, NULL);
}

// --- the server
// ----------------------------------------------------------------

static void *
read_file(const char *dir, const char *name, size_t *len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *buf = NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long n = ftell(f);
        if (n >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
            (buf = malloc((size_t)n + 1)) != NULL &&
            fread(buf, 1, (size_t)n, f) != (size_t)n) {
            free(buf);
            buf = NULL;
        }
        *len = n >= 0 ? (size_t)n : 0;
    }
    fclose(f);
    return buf;
}

void
chat_ws_stop(struct chat_ws *ws)
{
    if (ws == NULL)
        return;
    if (ws->http != NULL) {
        for (int i = 0; i < 4; i++)
            if (ws->h[i] != NULL &&
                nng_http_server_del_handler(ws->http, ws->h[i]) == 0)
                nng_http_handler_free(ws->h[i]);
        nng_http_server_release(ws->http);
    }
    for (int i = 0; i < 3; i++)
        free(ws->files[i]);
    free(ws);
}

int
chat_ws_start(struct chat_ws **out, struct chat_server *srv, const char *host,
              int *port, const char *www)
{
    static const char *const names[3] = {"index.html", "chat.js", "chat.css"};
    static const char *const paths[3] = {"/", "/chat.js", "/chat.css"};
    static const char *const types[3] = {"text/html; charset=utf-8",
                                         "text/javascript; charset=utf-8",
                                         "text/css; charset=utf-8"};
    struct chat_ws *ws = calloc(1, sizeof *ws);
    if (ws == NULL)
        return TR_ENOMEM;
    ws->srv = srv;
    if (strcmp(host, "*") == 0)
        host = "";
    char url[512];
    nng_url *u = NULL;
    nng_sockaddr sa;
    int rv;
    // Small frames must leave at once (Nagle's wait for an ACK the client
    // delays costs up to 40 ms). nng 1.5.2's HTTP server has no options of
    // its own; TCP_NODELAY reaches its TCP listener only through a
    // WebSocket listener on the same host and port, which creates the
    // server for nng_http_server_hold to find, and is then let go.
    nng_stream_listener *nl = NULL;
    snprintf(url, sizeof url, "ws://%s:%d/", host, *port);
    if ((rv = nng_stream_listener_alloc(&nl, url)) != 0 ||
        (rv = nng_stream_listener_set_bool(nl, NNG_OPT_TCP_NODELAY, true)) != 0)
        goto fail;
    snprintf(url, sizeof url, "http://%s:%d", host, *port);
    if ((rv = nng_url_parse(&u, url)) != 0 ||
        (rv = nng_http_server_hold(&ws->http, u)) != 0)
        goto fail;
    nng_stream_listener_free(nl);
    nl = NULL;
    for (int i = 0; i < 3; i++) {
        size_t len = 0;
        if ((ws->files[i] = read_file(www, names[i], &len)) == NULL) {
            fprintf(stderr, "chat: cannot read %s/%s\n", www, names[i]);
            rv = NNG_ENOENT;
            goto fail;
        }
        if ((rv = nng_http_handler_alloc_static(
                 &ws->h[i], paths[i], ws->files[i], len, types[i])) != 0)
            goto fail;
        if ((rv = nng_http_server_add_handler(ws->http, ws->h[i])) != 0) {
            nng_http_handler_free(ws->h[i]);
            ws->h[i] = NULL;
            goto fail;
        }
    }
    if ((rv = nng_http_handler_alloc(&ws->h[3], "/ws", upgrade)) != 0)
        goto fail;
    if ((rv = nng_http_handler_set_data(ws->h[3], ws, NULL)) != 0 ||
        (rv = nng_http_server_add_handler(ws->http, ws->h[3])) != 0) {
        nng_http_handler_free(ws->h[3]);
        ws->h[3] = NULL;
        goto fail;
    }
    if ((rv = nng_http_server_start(ws->http)) != 0 ||
        (rv = nng_http_server_get_addr(ws->http, &sa)) != 0)
        goto fail;
    *port = ntohs(sa.s_in.sa_port); // nng keeps network byte order
    nng_url_free(u);
    *out = ws;
    return 0;
fail:
    if (u != NULL)
        nng_url_free(u);
    if (nl != NULL)
        nng_stream_listener_free(nl);
    chat_ws_stop(ws);
    return rv;
}
