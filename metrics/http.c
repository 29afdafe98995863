// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// http.c: tr_metrics_serve, GET /metrics over nng's HTTP server.
//
// Design notes
// - Scrapes run on nng's threads. Each one renders the text from the
//   system's snapshot functions, which are safe from any thread and never
//   stop a loop, so a scrape costs the loops nothing but the reads.
// - The server's life is tied to the system's with a close hook: when
//   tr_system_close begins, the hook marks the server closed, waits for
//   the scrapes in progress (they hold `inflight`), then stops and
//   releases nng's server. A scrape that starts after that gets a 503
//   without touching the system.
// - nng owns the record once the handler exists: the handler's data
//   destructor frees it when nng frees the handler (the server's end), so
//   a callback nng might still run after the stop finds it allocated.
#define _POSIX_C_SOURCE 200809L
#include "metrics.h"
#include "../cluster/nngerr.h"

#include "../actors/actor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <nng/nng.h>
#include <nng/supplemental/http/http.h>

#define URL_MAX 256

struct server {
    tr_system *sys;
    nng_http_server *srv;
    unsigned top;
    pthread_mutex_t mu; // guards closed and inflight
    pthread_cond_t cv;  // signalled when inflight drops to 0
    bool closed;
    unsigned inflight;
    struct tr__hook hook;
    char url[URL_MAX]; // what tr_metrics_url returns; constant once serving
};

// The hook's key: the address of something unique to this file.
static const char hook_key;

static void
server_free(void *arg)
{
    struct server *m = arg;
    pthread_cond_destroy(&m->cv);
    pthread_mutex_destroy(&m->mu);
    tr__free(m, sizeof *m);
}

// Answers one GET: the text, or 503 once the system is closing.
static void
scrape(nng_aio *aio)
{
    nng_http_handler *h = nng_aio_get_input(aio, 1);
    struct server *m = nng_http_handler_get_data(h);
    pthread_mutex_lock(&m->mu);
    bool closed = m->closed;
    if (!closed)
        m->inflight++;
    pthread_mutex_unlock(&m->mu);
    nng_http_res *res = NULL;
    int rv;
    if (closed) {
        rv =
            nng_http_res_alloc_error(&res, NNG_HTTP_STATUS_SERVICE_UNAVAILABLE);
    } else {
        struct tr__mbuf b = {0};
        int rc = tr__metrics_render(&b, m->sys, m->top);
        pthread_mutex_lock(&m->mu); // done with the system
        if (--m->inflight == 0)
            pthread_cond_broadcast(&m->cv);
        pthread_mutex_unlock(&m->mu);
        if (rc != 0) {
            rv = nng_http_res_alloc_error(
                &res, NNG_HTTP_STATUS_INTERNAL_SERVER_ERROR);
        } else if ((rv = nng_http_res_alloc(&res)) == 0 &&
                   ((rv = nng_http_res_set_header(
                         res, "Content-Type",
                         "text/plain; version=0.0.4; charset=utf-8")) != 0 ||
                    (rv = nng_http_res_copy_data(res, b.p, b.len)) != 0)) {
            nng_http_res_free(res);
            res = NULL;
        }
        tr__mbuf_free(&b);
    }
    if (rv != 0) {
        nng_aio_finish(aio, rv);
        return;
    }
    nng_aio_set_output(aio, 0, res);
    nng_aio_finish(aio, 0);
}

// The close hook: no scrape touches the system after this returns.
static void
server_close(void *arg)
{
    struct server *m = arg;
    nng_http_server *srv = m->srv;
    pthread_mutex_lock(&m->mu);
    m->closed = true;
    while (m->inflight != 0)
        pthread_cond_wait(&m->cv, &m->mu);
    pthread_mutex_unlock(&m->mu);
    nng_http_server_stop(srv);
    nng_http_server_release(srv); // may free m (server_free): last
}

// Writes the URL to scrape: the host as given, the port bound.
static int
server_url(struct server *m, const nng_url *u, const char *path)
{
    nng_sockaddr sa;
    unsigned port = 0;
    if (nng_http_server_get_addr(m->srv, &sa) == 0) {
        if (sa.s_family == NNG_AF_INET)
            port = ntohs(sa.s_in.sa_port);
        else if (sa.s_family == NNG_AF_INET6)
            port = ntohs(sa.s_in6.sa_port);
    }
    if (port == 0)
        port = (unsigned)atoi(u->u_port);
    bool v6 = strchr(u->u_hostname, ':') != NULL;
    int n = snprintf(m->url, sizeof m->url, "http://%s%s%s:%u%s", v6 ? "[" : "",
                     u->u_hostname, v6 ? "]" : "", port, path);
    return n > 0 && (size_t)n < sizeof m->url ? 0 : TR_EINVAL;
}

int
tr_metrics_serve(tr_system *sys, const char *url, const tr_metrics_opts *opts)
{
    if (sys == NULL || url == NULL || strlen(url) >= URL_MAX)
        return TR_EINVAL;
    nng_url *u;
    if (nng_url_parse(&u, url) != 0)
        return TR_EINVAL;
    const char *path = u->u_path[0] != 0 && strcmp(u->u_path, "/") != 0
                           ? u->u_path
                           : "/metrics";
    if (strcmp(u->u_scheme, "http") != 0) {
        nng_url_free(u);
        return TR_EINVAL;
    }
    if (tr__hook_find(sys, &hook_key) != NULL) {
        nng_url_free(u);
        return TR_EBUSY;
    }
    struct server *m = tr__zalloc(sizeof *m);
    if (m == NULL) {
        nng_url_free(u);
        return TR_ENOMEM;
    }
    m->sys = sys;
    m->top = opts != NULL ? opts->top_actors : 0;
    pthread_mutex_init(&m->mu, NULL);
    pthread_cond_init(&m->cv, NULL);
    m->hook =
        (struct tr__hook){.close = server_close, .arg = m, .key = &hook_key};

    nng_http_handler *h;
    int rv = nng_http_handler_alloc(&h, path, scrape);
    if (rv != 0) {
        server_free(m);
        nng_url_free(u);
        return tr__nng_err(rv);
    }
    // From here nng frees m, with the handler.
    if ((rv = nng_http_handler_set_data(h, m, server_free)) != 0) {
        server_free(m);
        nng_http_handler_free(h);
        nng_url_free(u);
        return tr__nng_err(rv);
    }
    if ((rv = nng_http_server_hold(&m->srv, u)) != 0) {
        nng_http_handler_free(h);
        nng_url_free(u);
        return tr__nng_err(rv);
    }
    nng_http_server *srv = m->srv;
    if ((rv = nng_http_server_add_handler(srv, h)) != 0) {
        nng_http_handler_free(h);
        nng_http_server_release(srv);
        nng_url_free(u);
        return rv == NNG_EADDRINUSE ? TR_EBUSY : tr__nng_err(rv);
    }
    if ((rv = nng_http_server_start(srv)) != 0) {
        nng_http_server_release(srv); // frees h, and m with it
        nng_url_free(u);
        return tr__nng_err(rv);
    }
    int rc = server_url(m, u, path);
    nng_url_free(u);
    if (rc == 0)
        rc = tr__hook_add(sys, &m->hook);
    if (rc != 0) {
        server_close(m);
        return rc;
    }
    return 0;
}

int
tr_metrics_url(tr_system *sys, char *buf, size_t size)
{
    struct server *m = sys != NULL ? tr__hook_find(sys, &hook_key) : NULL;
    if (m == NULL || buf == NULL)
        return TR_EINVAL;
    if (strlen(m->url) >= size)
        return TR_ELIMIT;
    strcpy(buf, m->url);
    return 0;
}
