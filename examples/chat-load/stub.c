// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// stub.c: a tiny chat server for testing chat-load without the real one.
// It speaks just enough of the protocol (shared/CHAT.md): welcome, nick,
// join (with a history of at most the room's last message, enough for a
// joiner to know the current seq), say (a msg with seq and ts to every
// member, the id only in the sender's copy), presence on join, and error
// bad_request or not_in_room. No rate limit, no leave, no limits.
//
// It uses nng's own WebSocket stream listener (text frames on), which
// also checks chat-load's hand-written client framing against a second
// implementation. One lock guards everything: it is a stub, not a server;
// it is not meant to be fast.
#define _POSIX_C_SOURCE 200809L
#include "chat_load.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <nng/nng.h>

#define STUB_OUT_MAX 100000 // queued messages before a client is dropped

struct out {
    struct out *next;
    size_t len;
    char data[];
};

struct sconn {
    struct sconn *next; // every connection, freed at exit
    nng_stream *s;
    nng_aio *rx, *tx;
    struct out *head, *tail;
    unsigned queued;
    bool busy, dead;
    char name[40];
    char rbuf[8192];
};

struct sroom {
    char name[40];
    struct sconn **m;
    unsigned n, cap;
    uint64_t seq;
    char *last; // the last msg, as JSON without id
};

static pthread_mutex_t smtx = PTHREAD_MUTEX_INITIALIZER;
static struct sconn *conns;
static struct sroom *rooms;
static unsigned nrooms, caprooms;
static unsigned guests;
static nng_stream_listener *listener;
static nng_aio *accept_aio;

static void
stub_send_next(struct sconn *c)
{
    if (c->busy || c->head == NULL || c->dead)
        return;
    nng_iov iov = {.iov_buf = c->head->data, .iov_len = c->head->len};
    c->busy = true;
    nng_aio_set_iov(c->tx, 1, &iov);
    nng_stream_send(c->s, c->tx);
}

static void
stub_queue(struct sconn *c, const char *js)
{
    size_t len = strlen(js);
    struct out *o;
    if (c->dead || (o = malloc(sizeof *o + len)) == NULL)
        return;
    if (++c->queued > STUB_OUT_MAX) { // a slow consumer: drop it
        free(o);
        c->dead = true;
        nng_stream_close(c->s);
        return;
    }
    o->next = NULL;
    o->len = len;
    memcpy(o->data, js, len);
    if (c->tail != NULL)
        c->tail->next = o;
    else
        c->head = o;
    c->tail = o;
    stub_send_next(c);
}

static void
stub_queue_json(struct sconn *c, json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    if (s != NULL)
        stub_queue(c, s);
    free(s);
    json_decref(j);
}

static void
stub_error(struct sconn *c, const char *code, json_t *req)
{
    json_t *e = json_pack("{s:s,s:s}", "ev", "error", "code", code);
    json_t *op = json_object_get(req, "op"), *id = json_object_get(req, "id");
    if (json_is_string(op))
        json_object_set(e, "op", op);
    if (json_is_string(id))
        json_object_set(e, "id", id);
    stub_queue_json(c, e);
}

static struct sroom *
stub_room(const char *name, bool create)
{
    for (unsigned i = 0; i < nrooms; i++)
        if (strcmp(rooms[i].name, name) == 0)
            return &rooms[i];
    if (!create || strlen(name) >= sizeof rooms[0].name)
        return NULL;
    if (nrooms == caprooms) {
        unsigned cap = caprooms ? caprooms * 2 : 64;
        struct sroom *r = realloc(rooms, cap * sizeof *r);
        if (r == NULL)
            return NULL;
        rooms = r;
        caprooms = cap;
    }
    struct sroom *r = &rooms[nrooms++];
    memset(r, 0, sizeof *r);
    strcpy(r->name, name);
    return r;
}

static bool
stub_member(struct sroom *r, struct sconn *c)
{
    for (unsigned i = 0; i < r->n; i++)
        if (r->m[i] == c)
            return true;
    return false;
}

static void
stub_join(struct sconn *c, const char *room)
{
    struct sroom *r = stub_room(room, true);
    if (r == NULL)
        return;
    if (!stub_member(r, c)) {
        if (r->n == r->cap) {
            unsigned cap = r->cap ? r->cap * 2 : 16;
            struct sconn **m = realloc(r->m, cap * sizeof *m);
            if (m == NULL)
                return;
            r->m = m;
            r->cap = cap;
        }
        json_t *p = json_pack("{s:s,s:s,s:s,s:s}", "ev", "presence", "room",
                              room, "name", c->name, "state", "join");
        char *ps = json_dumps(p, JSON_COMPACT);
        json_decref(p);
        for (unsigned i = 0; ps != NULL && i < r->n; i++)
            stub_queue(r->m[i], ps);
        free(ps);
        r->m[r->n++] = c;
    }
    json_t *members = json_array(), *history = json_array();
    for (unsigned i = 0; i < r->n; i++)
        json_array_append_new(members, json_string(r->m[i]->name));
    if (r->last != NULL)
        json_array_append_new(history, json_loads(r->last, 0, NULL));
    stub_queue_json(c, json_pack("{s:s,s:s,s:o,s:o}", "ev", "joined", "room",
                                 room, "members", members, "history", history));
}

static void
stub_say(struct sconn *c, json_t *req, const char *room, const char *text)
{
    struct sroom *r = stub_room(room, false);
    if (r == NULL || !stub_member(r, c)) {
        stub_error(c, "not_in_room", req);
        return;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    json_t *m = json_pack("{s:s,s:s,s:s,s:s,s:I,s:I}", "ev", "msg", "room",
                          room, "from", c->name, "text", text, "ts",
                          (json_int_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000,
                          "seq", (json_int_t)++r->seq);
    free(r->last);
    r->last = json_dumps(m, JSON_COMPACT);
    json_t *id = json_object_get(req, "id");
    for (unsigned i = 0; r->last != NULL && i < r->n; i++) {
        if (r->m[i] == c && json_is_string(id)) {
            json_object_set(m, "id", id);
            stub_queue_json(c, json_incref(m));
        } else {
            stub_queue(r->m[i], r->last);
        }
    }
    json_decref(m);
}

static void
stub_handle(struct sconn *c, const char *p, size_t len)
{
    json_t *req = json_loadb(p, len, 0, NULL);
    const char *op = json_string_value(json_object_get(req, "op"));
    const char *name = json_string_value(json_object_get(req, "name"));
    const char *room = json_string_value(json_object_get(req, "room"));
    const char *text = json_string_value(json_object_get(req, "text"));
    if (op != NULL && strcmp(op, "nick") == 0 && name != NULL &&
        strlen(name) < sizeof c->name) {
        strcpy(c->name, name);
        stub_queue_json(c, json_pack("{s:s,s:s}", "ev", "nick", "name", name));
    } else if (op != NULL && strcmp(op, "join") == 0 && room != NULL) {
        stub_join(c, room);
    } else if (op != NULL && strcmp(op, "say") == 0 && room != NULL &&
               text != NULL) {
        stub_say(c, req, room, text);
    } else {
        stub_error(c, "bad_request", req);
    }
    json_decref(req);
}

static void
stub_drop(struct sconn *c)
{
    c->dead = true;
    nng_stream_close(c->s);
    for (unsigned i = 0; i < nrooms; i++) {
        struct sroom *r = &rooms[i];
        for (unsigned k = 0; k < r->n; k++)
            if (r->m[k] == c) {
                r->m[k] = r->m[--r->n];
                break;
            }
    }
}

static void
stub_recv(struct sconn *c)
{
    nng_iov iov = {.iov_buf = c->rbuf, .iov_len = sizeof c->rbuf};
    nng_aio_set_iov(c->rx, 1, &iov);
    nng_stream_recv(c->s, c->rx);
}

static void
stub_rx_cb(void *arg)
{
    struct sconn *c = arg;
    pthread_mutex_lock(&smtx);
    if (nng_aio_result(c->rx) != 0) {
        stub_drop(c);
    } else if (!c->dead) {
        // nng's stream mode hands over one frame per receive here: the
        // buffer is larger than any client message (4 KiB) and clients do
        // not fragment.
        stub_handle(c, c->rbuf, nng_aio_count(c->rx));
        stub_recv(c);
    }
    pthread_mutex_unlock(&smtx);
}

static void
stub_tx_cb(void *arg)
{
    struct sconn *c = arg;
    pthread_mutex_lock(&smtx);
    struct out *o = c->head;
    c->busy = false;
    if (nng_aio_result(c->tx) != 0) {
        stub_drop(c);
    } else if (o != NULL) {
        c->head = o->next;
        if (c->head == NULL)
            c->tail = NULL;
        c->queued--;
        free(o);
        stub_send_next(c);
    }
    pthread_mutex_unlock(&smtx);
}

static void
stub_accept_cb(void *arg)
{
    (void)arg;
    if (nng_aio_result(accept_aio) != 0)
        return; // closing
    nng_stream *s = nng_aio_get_output(accept_aio, 0);
    struct sconn *c = calloc(1, sizeof *c);
    if (c == NULL || nng_aio_alloc(&c->rx, stub_rx_cb, c) != 0 ||
        nng_aio_alloc(&c->tx, stub_tx_cb, c) != 0) {
        nng_stream_free(s);
        if (c != NULL) {
            nng_aio_free(c->rx);
            free(c);
        }
    } else {
        pthread_mutex_lock(&smtx);
        c->s = s;
        c->next = conns;
        conns = c;
        snprintf(c->name, sizeof c->name, "guest-%u", ++guests);
        stub_queue_json(c, json_pack("{s:s,s:s,s:s}", "ev", "welcome", "name",
                                     c->name, "node", "stub"));
        stub_recv(c);
        pthread_mutex_unlock(&smtx);
    }
    nng_stream_listener_accept(listener, accept_aio);
}

// A free port on 127.0.0.1, from the kernel. Another process could take it
// before the stub listens; the caller retries.
static unsigned
free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t al = sizeof a;
    unsigned port = 0;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &al) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

int
cl_stub_main(unsigned port, int ready_fd)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL); // nng's threads inherit it
    int rv = -1;
    for (int attempt = 0; attempt < 20 && rv != 0; attempt++) {
        unsigned p = port != 0 ? port : free_port();
        char url[64];
        snprintf(url, sizeof url, "ws://127.0.0.1:%u/ws", p);
        if (listener != NULL)
            nng_stream_listener_free(listener);
        rv = nng_stream_listener_alloc(&listener, url);
        if (rv == 0)
            rv = nng_stream_listener_set_bool(listener, NNG_OPT_WS_RECV_TEXT,
                                              true);
        if (rv == 0)
            rv = nng_stream_listener_set_bool(listener, NNG_OPT_WS_SEND_TEXT,
                                              true);
        if (rv == 0)
            rv = nng_stream_listener_listen(listener);
        if (rv == 0) {
            port = p;
        } else if (port != 0) {
            fprintf(stderr, "chat-load: stub: %s: %s\n", url, nng_strerror(rv));
            return 1;
        }
    }
    if (rv != 0 || nng_aio_alloc(&accept_aio, stub_accept_cb, NULL) != 0) {
        fprintf(stderr, "chat-load: stub: cannot listen\n");
        return 1;
    }
    nng_stream_listener_accept(listener, accept_aio);
    if (ready_fd >= 0) {
        if (write(ready_fd, &port, sizeof port) != (ssize_t)sizeof port)
            return 1;
        close(ready_fd);
    } else {
        printf("chat-load: stub serving ws://127.0.0.1:%u/ws\n", port);
        fflush(stdout);
    }
    int sig;
    sigwait(&set, &sig);
    nng_stream_listener_close(listener);
    nng_aio_stop(accept_aio);
    pthread_mutex_lock(&smtx);
    for (struct sconn *c = conns; c != NULL; c = c->next) {
        c->dead = true;
        nng_stream_close(c->s);
    }
    pthread_mutex_unlock(&smtx);
    while (conns != NULL) {
        struct sconn *c = conns;
        conns = c->next;
        nng_aio_stop(c->rx);
        nng_aio_stop(c->tx);
        nng_stream_free(c->s);
        nng_aio_free(c->rx);
        nng_aio_free(c->tx);
        while (c->head != NULL) {
            struct out *o = c->head;
            c->head = o->next;
            free(o);
        }
        free(c);
    }
    for (unsigned i = 0; i < nrooms; i++) {
        free(rooms[i].m);
        free(rooms[i].last);
    }
    free(rooms);
    nng_aio_free(accept_aio);
    nng_stream_listener_free(listener);
    return 0;
}
