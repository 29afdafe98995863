// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
#include "client.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>

struct notify_http {
    nng_url *url;
    nng_http_client *cli;
    nng_http_conn *conn;
    nng_aio *aio;
};

static int
http_connect(notify_http *c)
{
    nng_aio_set_timeout(c->aio, 5000);
    nng_http_client_connect(c->cli, c->aio);
    nng_aio_wait(c->aio);
    int rv = nng_aio_result(c->aio);
    if (rv == 0)
        c->conn = nng_aio_get_output(c->aio, 0);
    return rv;
}

int
notify_http_open(notify_http **out, const char *host, int port)
{
    char url[128];
    snprintf(url, sizeof url, "http://%s:%d", host, port);
    notify_http *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NNG_ENOMEM;
    int rv;
    if ((rv = nng_url_parse(&c->url, url)) != 0 ||
        (rv = nng_http_client_alloc(&c->cli, c->url)) != 0 ||
        (rv = nng_aio_alloc(&c->aio, NULL, NULL)) != 0 ||
        (rv = http_connect(c)) != 0) {
        notify_http_close(c);
        return rv;
    }
    *out = c;
    return 0;
}

static int
transact(notify_http *c, nng_http_req *req, nng_http_res *res,
         int64_t timeout_ms)
{
    nng_aio_set_timeout(c->aio, (nng_duration)timeout_ms);
    nng_http_conn_transact(c->conn, req, res, c->aio);
    nng_aio_wait(c->aio);
    return nng_aio_result(c->aio);
}

int
notify_http_do(notify_http *c, const char *method, const char *path,
               const char *body, size_t len, int64_t timeout_ms, int *status,
               char **resp, int *retry_after)
{
    nng_http_req *req = NULL;
    nng_http_res *res = NULL;
    int rv;
    if (resp != NULL)
        *resp = NULL;
    *retry_after = 0;
    if ((rv = nng_http_req_alloc(&req, c->url)) != 0 ||
        (rv = nng_http_res_alloc(&res)) != 0 ||
        (rv = nng_http_req_set_method(req, method)) != 0 ||
        (rv = nng_http_req_set_uri(req, path)) != 0 ||
        (body != NULL &&
         ((rv = nng_http_req_set_header(req, "Content-Type",
                                        "application/json")) != 0 ||
          (len != 0 && (rv = nng_http_req_copy_data(req, body, len)) != 0))))
        goto done;
    for (int tries = 0; tries < 2; tries++) {
        if (c->conn == NULL && (rv = http_connect(c)) != 0)
            goto done;
        rv = transact(c, req, res, timeout_ms);
        if (rv == 0)
            break;
        nng_http_conn_close(c->conn); // closed by the server, or timed out
        c->conn = NULL;
        nng_http_res_reset(res);
        if (rv == NNG_ETIMEDOUT)
            break;
    }
    if (rv != 0)
        goto done;
    *status = nng_http_res_get_status(res);
    const char *ra = nng_http_res_get_header(res, "Retry-After");
    if (ra != NULL)
        *retry_after = atoi(ra);
    if (resp != NULL) {
        void *data;
        size_t n;
        nng_http_res_get_data(res, &data, &n);
        if ((*resp = malloc(n + 1)) != NULL) {
            memcpy(*resp, data, n);
            (*resp)[n] = '\0';
        }
    }
    const char *conn = nng_http_res_get_header(res, "Connection");
    if (conn != NULL && strstr(conn, "close") != NULL) {
        nng_http_conn_close(c->conn);
        c->conn = NULL;
    }
done:
    nng_http_req_free(req);
    nng_http_res_free(res);
    return rv;
}

void
notify_http_close(notify_http *c)
{
    if (c == NULL)
        return;
    if (c->conn != NULL)
        nng_http_conn_close(c->conn);
    nng_aio_free(c->aio);
    nng_http_client_free(c->cli);
    nng_url_free(c->url);
    free(c);
}

// --- WebSocket -------------------------------------------------------------

struct notify_ws {
    nng_stream_dialer *d;
    nng_stream *s;
    nng_aio *aio;
    char buf[8192]; // bytes read, not yet returned as lines
    size_t len;
};

int
notify_ws_open(notify_ws **out, const char *host, int port, const char *query)
{
    char url[512];
    snprintf(url, sizeof url, "ws://%s:%d/ws?%s", host, port, query);
    notify_ws *w = calloc(1, sizeof *w);
    if (w == NULL)
        return NNG_ENOMEM;
    int rv;
    if ((rv = nng_stream_dialer_alloc(&w->d, url)) != 0 ||
        (rv = nng_stream_dialer_set_bool(w->d, NNG_OPT_WS_SEND_TEXT, true)) !=
            0 ||
        (rv = nng_stream_dialer_set_bool(w->d, NNG_OPT_WS_RECV_TEXT, true)) !=
            0 ||
        (rv = nng_aio_alloc(&w->aio, NULL, NULL)) != 0) {
        notify_ws_close(w);
        return rv;
    }
    nng_aio_set_timeout(w->aio, 5000);
    nng_stream_dialer_dial(w->d, w->aio);
    nng_aio_wait(w->aio);
    if ((rv = nng_aio_result(w->aio)) != 0) {
        notify_ws_close(w);
        return rv;
    }
    w->s = nng_aio_get_output(w->aio, 0);
    *out = w;
    return 0;
}

int
notify_ws_line(notify_ws *w, char *buf, size_t size, int64_t timeout_ms)
{
    for (;;) {
        char *nl = memchr(w->buf, '\n', w->len);
        if (nl != NULL) {
            size_t n = (size_t)(nl - w->buf);
            if (n + 1 > size)
                return NNG_EMSGSIZE;
            memcpy(buf, w->buf, n);
            buf[n] = '\0';
            memmove(w->buf, nl + 1, w->len - n - 1);
            w->len -= n + 1;
            return 0;
        }
        if (w->len == sizeof w->buf)
            return NNG_EMSGSIZE;
        nng_iov iov = {.iov_buf = w->buf + w->len,
                       .iov_len = sizeof w->buf - w->len};
        nng_aio_set_iov(w->aio, 1, &iov);
        nng_aio_set_timeout(w->aio, (nng_duration)timeout_ms);
        nng_stream_recv(w->s, w->aio);
        nng_aio_wait(w->aio);
        int rv = nng_aio_result(w->aio);
        if (rv != 0)
            return rv;
        w->len += nng_aio_count(w->aio);
    }
}

int
notify_ws_send(notify_ws *w, const char *text)
{
    nng_iov iov = {.iov_buf = (void *)text, .iov_len = strlen(text)};
    nng_aio_set_iov(w->aio, 1, &iov);
    nng_aio_set_timeout(w->aio, 5000);
    nng_stream_send(w->s, w->aio);
    nng_aio_wait(w->aio);
    return nng_aio_result(w->aio);
}

void
notify_ws_close(notify_ws *w)
{
    if (w == NULL)
        return;
    if (w->s != NULL) {
        nng_stream_close(w->s);
        nng_stream_free(w->s);
    }
    nng_aio_free(w->aio);
    nng_stream_dialer_free(w->d);
    free(w);
}
