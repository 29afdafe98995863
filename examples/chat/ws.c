// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// ws.c: the HTTP and WebSocket front end, all nng 1.5.2: one HTTP server
// serves the page (static handlers) and /ws (an nng WebSocket stream
// listener sharing that server), and each accepted stream becomes a
// connection actor's transport.
//
// How nng's WebSocket streams are set up, and why:
// - "ws:msgmode" (the option nng's own ws transport sets) makes a receive
//   deliver one whole message, fragments joined, as an nng_msg: CHAT.md's
//   size limit is on messages, and JSON needs message boundaries. nng
//   checks NNG_OPT_RECVMAXSZ itself (closing with 1009 past it), so that
//   is set well above 4,096 and conn.c answers 4,097..65,536 bytes with
//   `too_large`.
// - NNG_OPT_WS_RECV_TEXT / NNG_OPT_WS_SEND_TEXT: browsers send text
//   frames, and expect text for JSON. nng does not tell a receiver whether
//   a frame was text or binary, so binary frames cannot be refused with
//   1003 (README.md lists this and the other gaps).
// - Callbacks run on nng's threads and never block. A receive is copied
//   into a message to the connection actor (tr_system_send, any thread).
//   A finished send starts the next queued one itself, so the actor is
//   not told of each one.
// - Writes start on nng's task threads, in batches (struct kick). nng
//   completes every send through its task queue; a send started on a
//   troupe loop thread woke an idle task thread for nearly every event
//   written (2.4 context switches per delivery, measured), while a task
//   thread that starts a batch is already awake to run the completions.
#define _POSIX_C_SOURCE 200809L
#include "chat.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>

#define WS_RECV_MAX (64 * 1024) // nng's own limit on a client message

// Two receives are kept posted, so that one is always waiting: nng 1.5.2
// never completes a receive posted after the peer's close frame came in
// (it aborts only those already waiting), and with one receive the close
// could slip in while its callback runs, leaving the connection open until
// the next ping's send fails. nng completes waiting receives in the order
// they were posted; callbacks may run at once on two threads, so each
// completion is parked in its slot and handed on in posting order.
struct wsio {
    nng_stream *s;
    nng_aio *rx[2], *tx;
    tr_system *sys;
    tr_ref conn;
    atomic_bool paused; // the actor is closing: drop what comes in
    pthread_mutex_t mu; // guards the fields below
    uint64_t posted[2]; // the posting number of the receive in rx[i]
    uint64_t next;      // the posting number to hand on next
    uint64_t count;     // receives posted so far
    nng_msg *got[2];    // completed, not handed on yet
    int err[2];         // completed with this error
    bool done[2];
    bool closed; // CHAT_IO_CLOSED was sent
    // The outgoing queue: a ring of messages waiting behind the one in tx.
    nng_msg **q;
    size_t qhead, qn, qcap;
    bool busy;     // a send is in flight on tx
    bool failed;   // a send failed: the stream is done
    bool flushing; // send CHAT_IO_SENT once nothing is left
    bool gone;     // closed by the actor: the struct waits for its refs
    // The kick that starts this stream's first write.
    struct kick *k;
    struct wsio *knext; // on k's list (under k->mu)
    atomic_bool listed; // on k's list, or taken off and not handled yet
    atomic_uint refs;   // the actor's, and one while listed
};

// kick is the server's list of streams with a message queued and no write
// in flight. An nng aio, finished by hand (nng_aio_begin/finish), runs
// kick_cb on one of nng's task threads, which takes the whole list and
// starts their writes. A listed stream holds a reference to itself, so
// that kick_cb never waits for (nor is waited for by) a closing stream.
// Every stream and the server hold a reference to the kick; the last one
// frees it.
struct kick {
    pthread_mutex_t mu;
    struct wsio *head, *tail;
    bool armed; // kick_cb is dispatched or running
    unsigned refs;
    nng_aio *aio;
};

static void wsio_unref(struct wsio *w);

static void
kick_cb(void *arg)
{
    struct kick *k = arg;
    for (;;) {
        pthread_mutex_lock(&k->mu);
        struct wsio *w = k->head;
        k->head = k->tail = NULL;
        k->armed = w != NULL;
        pthread_mutex_unlock(&k->mu);
        if (w == NULL)
            return;
        while (w != NULL) {
            struct wsio *next = w->knext;
            // Unlisted first: a send that comes after this lists it again,
            // and one before it is seen below.
            atomic_store(&w->listed, false);
            pthread_mutex_lock(&w->mu);
            if (!w->busy && !w->failed && !w->gone && w->qn > 0) {
                w->busy = true;
                nng_aio_set_msg(w->tx, w->q[w->qhead]); // nng frees it
                w->qhead = (w->qhead + 1) % w->qcap;
                w->qn--;
                nng_stream_send(w->s, w->tx);
            }
            pthread_mutex_unlock(&w->mu);
            wsio_unref(w);
            w = next;
        }
    }
}

// kick_add lists `w` (once) and makes sure kick_cb will run.
static void
kick_add(struct kick *k, struct wsio *w)
{
    if (atomic_exchange(&w->listed, true))
        return;
    atomic_fetch_add(&w->refs, 1);
    pthread_mutex_lock(&k->mu);
    w->knext = NULL;
    if (k->tail != NULL)
        k->tail->knext = w;
    else
        k->head = w;
    k->tail = w;
    bool start = !k->armed;
    k->armed = true;
    pthread_mutex_unlock(&k->mu);
    if (start && nng_aio_begin(k->aio))
        nng_aio_finish(k->aio, 0); // runs kick_cb on a task thread
}

static struct kick *
kick_alloc(void)
{
    struct kick *k = calloc(1, sizeof *k);
    if (k == NULL)
        return NULL;
    if (nng_aio_alloc(&k->aio, kick_cb, k) != 0) {
        free(k);
        return NULL;
    }
    pthread_mutex_init(&k->mu, NULL);
    k->refs = 1;
    return k;
}

static void
kick_hold(struct kick *k)
{
    pthread_mutex_lock(&k->mu);
    k->refs++;
    pthread_mutex_unlock(&k->mu);
}

// kick_release drops a reference. Never called from kick_cb: the last
// stream drops its reference when its actor closes it.
static void
kick_release(struct kick *k)
{
    pthread_mutex_lock(&k->mu);
    bool last = --k->refs == 0;
    pthread_mutex_unlock(&k->mu);
    if (!last)
        return;
    nng_aio_free(k->aio); // waits for a kick_cb still running
    pthread_mutex_destroy(&k->mu);
    free(k);
}

static void
wsio_post(struct wsio *w, int i)
{
    w->posted[i] = w->count++;
    w->done[i] = false;
    nng_stream_recv(w->s, w->rx[i]);
}

static void
wsio_rx_cb(struct wsio *w, int i)
{
    nng_aio *aio = w->rx[i];
    pthread_mutex_lock(&w->mu);
    w->err[i] = nng_aio_result(aio);
    w->got[i] = w->err[i] == 0 ? nng_aio_get_msg(aio) : NULL;
    nng_aio_set_msg(aio, NULL);
    w->done[i] = true;
    // Hand on every completion that is next in posting order.
    for (;;) {
        int k = w->posted[0] == w->next ? 0 : 1;
        if (w->posted[k] != w->next || !w->done[k] || w->closed)
            break;
        w->next++;
        if (w->err[k] != 0) {
            w->closed = true;
            tr_system_send(w->sys, w->conn, CHAT_IO_CLOSED, NULL, 0);
            break;
        }
        nng_msg *m = w->got[k];
        w->got[k] = NULL;
        // A send refused (the actor is gone or stopping) is fine to drop.
        // Once paused (closing), input is read and dropped here: closing
        // a TCP socket with unread input sends a reset, and the client's
        // kernel would then drop our last events (the error, the close).
        if (m != NULL && !atomic_load(&w->paused))
            tr_system_send(w->sys, w->conn, CHAT_IO_RECV, nng_msg_body(m),
                           nng_msg_len(m));
        if (m != NULL)
            nng_msg_free(m);
        wsio_post(w, k);
    }
    pthread_mutex_unlock(&w->mu);
}

static void
wsio_rx0_cb(void *arg)
{
    wsio_rx_cb(arg, 0);
}

static void
wsio_rx1_cb(void *arg)
{
    wsio_rx_cb(arg, 1);
}

// wsio_grow doubles the queue's ring. Caller holds mu.
static int
wsio_grow(struct wsio *w)
{
    size_t cap = w->qcap ? 2 * w->qcap : 8;
    nng_msg **q = malloc(cap * sizeof *q);
    if (q == NULL)
        return TR_ENOMEM;
    for (size_t i = 0; i < w->qn; i++)
        q[i] = w->q[(w->qhead + i) % w->qcap];
    free(w->q);
    w->q = q;
    w->qcap = cap;
    w->qhead = 0;
    return 0;
}

// wsio_tx_cb runs when a send ends: it starts the next queued one, or
// reports the failure, or (when asked) that the queue is empty.
static void
wsio_tx_cb(void *arg)
{
    struct wsio *w = arg;
    uint32_t report = 0;
    pthread_mutex_lock(&w->mu);
    if (nng_aio_result(w->tx) != 0) {
        nng_msg *m = nng_aio_get_msg(w->tx);
        nng_aio_set_msg(w->tx, NULL);
        if (m != NULL)
            nng_msg_free(m);
        w->failed = true;
        w->busy = false;
        report = CHAT_IO_CLOSED;
    } else if (w->qn > 0) {
        nng_aio_set_msg(w->tx, w->q[w->qhead]); // in msgmode nng frees it
        w->qhead = (w->qhead + 1) % w->qcap;
        w->qn--;
        nng_stream_send(w->s, w->tx);
    } else {
        w->busy = false;
        if (w->flushing) {
            w->flushing = false;
            report = CHAT_IO_SENT;
        }
    }
    pthread_mutex_unlock(&w->mu);
    if (report != 0)
        tr_system_send(w->sys, w->conn, report, NULL, 0);
}

static void
wsio_bind(void *io, tr_system *sys, tr_ref conn)
{
    struct wsio *w = io;
    w->sys = sys;
    w->conn = conn;
}

static void
wsio_recv(void *io)
{
    struct wsio *w = io;
    pthread_mutex_lock(&w->mu);
    wsio_post(w, 0);
    wsio_post(w, 1);
    pthread_mutex_unlock(&w->mu);
}

static void
wsio_pause(void *io)
{
    struct wsio *w = io;
    atomic_store(&w->paused, true);
}

static int
wsio_send(void *io, const char *text, size_t len)
{
    struct wsio *w = io;
    nng_msg *m;
    if (nng_msg_alloc(&m, len) != 0)
        return TR_ENOMEM;
    memcpy(nng_msg_body(m), text, len);
    int n = TR_ECLOSED;
    bool kick = false;
    pthread_mutex_lock(&w->mu);
    if (!w->failed && (w->qn < w->qcap || wsio_grow(w) == 0)) {
        w->q[(w->qhead + w->qn++) % w->qcap] = m;
        m = NULL;
        n = (int)w->qn + (w->busy ? 1 : 0);
        kick = !w->busy;
    } else if (!w->failed) {
        n = TR_ENOMEM;
    }
    pthread_mutex_unlock(&w->mu);
    if (m != NULL)
        nng_msg_free(m);
    if (kick)
        kick_add(w->k, w);
    return n;
}

static void
wsio_drop(void *io)
{
    struct wsio *w = io;
    pthread_mutex_lock(&w->mu);
    for (; w->qn > 0; w->qn--) {
        nng_msg_free(w->q[w->qhead]);
        w->qhead = (w->qhead + 1) % w->qcap;
    }
    pthread_mutex_unlock(&w->mu);
}

static void
wsio_flush(void *io)
{
    struct wsio *w = io;
    pthread_mutex_lock(&w->mu);
    w->flushing = w->busy || w->qn > 0;
    bool now = !w->flushing && !w->failed;
    pthread_mutex_unlock(&w->mu);
    if (now)
        tr_system_send(w->sys, w->conn, CHAT_IO_SENT, NULL, 0);
}

static bool
wsio_header(void *io, const char *name, char *buf, size_t size)
{
    struct wsio *w = io;
    char opt[64];
    char *v = NULL;
    snprintf(opt, sizeof opt, NNG_OPT_WS_REQUEST_HEADER "%s", name);
    if (nng_stream_get_string(w->s, opt, &v) != 0 || v == NULL)
        return false;
    snprintf(buf, size, "%s", v);
    nng_strfree(v);
    return true;
}

static void
wsio_unref(struct wsio *w)
{
    if (atomic_fetch_sub(&w->refs, 1) != 1)
        return;
    pthread_mutex_destroy(&w->mu);
    free(w);
}

// wsio_free closes the stream and frees what nng holds at once; the
// struct itself goes with its last reference (kick_cb may hold one).
static void
wsio_free(struct wsio *w)
{
    pthread_mutex_lock(&w->mu);
    w->gone = true; // kick_cb starts no write from now on
    pthread_mutex_unlock(&w->mu);
    if (w->s != NULL)
        nng_stream_close(w->s);
    // Stop waits for a callback that is running: they never block. A
    // stopped receive's callback still runs (with an error) and may post
    // again: that post fails at once on the closed stream.
    for (int i = 0; i < 2; i++)
        if (w->rx[i] != NULL)
            nng_aio_stop(w->rx[i]);
    if (w->tx != NULL) {
        nng_aio_stop(w->tx);
        nng_msg *m = nng_aio_get_msg(w->tx);
        if (m != NULL)
            nng_msg_free(m);
    }
    for (int i = 0; i < 2; i++) {
        nng_aio_free(w->rx[i]);
        if (w->got[i] != NULL)
            nng_msg_free(w->got[i]);
    }
    for (size_t i = 0; i < w->qn; i++)
        nng_msg_free(w->q[(w->qhead + i) % w->qcap]);
    free(w->q);
    w->q = NULL;
    w->qn = 0;
    nng_aio_free(w->tx);
    if (w->s != NULL)
        nng_stream_free(w->s);
    if (w->k != NULL)
        kick_release(w->k);
    wsio_unref(w);
}

static void
wsio_close(void *io)
{
    wsio_free(io);
}

static const struct chat_io_ops wsio_ops = {.bind = wsio_bind,
                                            .recv = wsio_recv,
                                            .pause = wsio_pause,
                                            .send = wsio_send,
                                            .drop = wsio_drop,
                                            .flush = wsio_flush,
                                            .header = wsio_header,
                                            .close = wsio_close};

// --- the server -----------------------------------------------------------

struct chat_ws {
    struct chat_server *srv;
    struct kick *kick;
    nng_stream_listener *l;
    nng_aio *acc;
    nng_http_server *http;
    nng_http_handler *pages[3];
    void *files[3];
};

static void
accept_cb(void *arg)
{
    struct chat_ws *ws = arg;
    if (nng_aio_result(ws->acc) != 0)
        return; // closed (or out of memory: then the server stops accepting)
    nng_stream *s = nng_aio_get_output(ws->acc, 0);
    struct wsio *w = calloc(1, sizeof *w);
    if (w == NULL) {
        nng_stream_close(s);
        nng_stream_free(s);
    } else {
        pthread_mutex_init(&w->mu, NULL);
        atomic_init(&w->refs, 1);
        w->s = s;
        w->k = ws->kick;
        kick_hold(w->k);
        if (nng_aio_alloc(&w->rx[0], wsio_rx0_cb, w) != 0 ||
            nng_aio_alloc(&w->rx[1], wsio_rx1_cb, w) != 0 ||
            nng_aio_alloc(&w->tx, wsio_tx_cb, w) != 0)
            wsio_free(w);
        else // the actor owns w from here; it is closed on failure too
            chat_conn_spawn(ws->srv, &wsio_ops, w, NULL);
    }
    nng_stream_listener_accept(ws->l, ws->acc);
}

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
    if (ws->l != NULL)
        nng_stream_listener_close(ws->l);
    if (ws->acc != NULL)
        nng_aio_stop(ws->acc);
    if (ws->http != NULL) {
        for (int i = 0; i < 3; i++)
            if (ws->pages[i] != NULL &&
                nng_http_server_del_handler(ws->http, ws->pages[i]) == 0)
                nng_http_handler_free(ws->pages[i]);
        nng_http_server_release(ws->http);
    }
    if (ws->l != NULL)
        nng_stream_listener_free(ws->l);
    nng_aio_free(ws->acc);
    if (ws->kick != NULL)
        kick_release(ws->kick); // the last stream to close frees it
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
    if ((ws->kick = kick_alloc()) == NULL) {
        free(ws);
        return TR_ENOMEM;
    }
    if (strcmp(host, "*") == 0)
        host = "";
    char url[512];
    nng_url *u = NULL;
    int rv;
    // The stream listener first: it makes the HTTP server for host:port,
    // which nng_http_server_hold then finds (same host and port, before
    // it listens) to add the page.
    snprintf(url, sizeof url, "ws://%s:%d/ws", host, *port);
    if ((rv = nng_stream_listener_alloc(&ws->l, url)) != 0)
        goto fail;
    if ((rv = nng_stream_listener_set_bool(ws->l, "ws:msgmode", true)) != 0 ||
        (rv = nng_stream_listener_set_bool(ws->l, NNG_OPT_WS_RECV_TEXT,
                                           true)) != 0 ||
        (rv = nng_stream_listener_set_bool(ws->l, NNG_OPT_WS_SEND_TEXT,
                                           true)) != 0 ||
        (rv = nng_stream_listener_set_size(ws->l, NNG_OPT_RECVMAXSZ,
                                           WS_RECV_MAX)) != 0 ||
        (rv = nng_stream_listener_set_size(ws->l, NNG_OPT_WS_RECVMAXFRAME,
                                           WS_RECV_MAX)) != 0)
        goto fail;
    snprintf(url, sizeof url, "http://%s:%d", host, *port);
    if ((rv = nng_url_parse(&u, url)) != 0 ||
        (rv = nng_http_server_hold(&ws->http, u)) != 0)
        goto fail;
    for (int i = 0; i < 3; i++) {
        size_t len = 0;
        if ((ws->files[i] = read_file(www, names[i], &len)) == NULL) {
            fprintf(stderr, "chat: cannot read %s/%s\n", www, names[i]);
            rv = NNG_ENOENT;
            goto fail;
        }
        if ((rv = nng_http_handler_alloc_static(
                 &ws->pages[i], paths[i], ws->files[i], len, types[i])) != 0)
            goto fail;
        if ((rv = nng_http_server_add_handler(ws->http, ws->pages[i])) != 0) {
            nng_http_handler_free(ws->pages[i]);
            ws->pages[i] = NULL;
            goto fail;
        }
    }
    if ((rv = nng_aio_alloc(&ws->acc, accept_cb, ws)) != 0 ||
        (rv = nng_stream_listener_listen(ws->l)) != 0 ||
        (rv = nng_stream_listener_get_int(ws->l, NNG_OPT_TCP_BOUND_PORT,
                                          port)) != 0)
        goto fail;
    nng_url_free(u);
    nng_stream_listener_accept(ws->l, ws->acc);
    *out = ws;
    return 0;
fail:
    if (u != NULL)
        nng_url_free(u);
    chat_ws_stop(ws);
    return rv;
}
