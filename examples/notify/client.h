// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// client.h: small blocking HTTP and WebSocket clients on nng, for
// notify-load and the tests. Each object belongs to one thread.
#ifndef NOTIFY_CLIENT_H
#define NOTIFY_CLIENT_H

#include <stddef.h>
#include <stdint.h>

typedef struct notify_http notify_http;

// notify_http_open connects to http://host:port. Returns 0 or an nng error.
int notify_http_open(notify_http **out, const char *host, int port);

// notify_http_do sends one request on the connection (reconnecting once if
// the server closed it) and waits up to timeout_ms for the answer:
// *status, *resp (malloc'd and NUL-terminated, may be NULL) and
// *retry_after (the Retry-After header in seconds, 0 if none).
// Returns 0 or an nng error (NNG_ETIMEDOUT, NNG_ECONNREFUSED...).
int notify_http_do(notify_http *c, const char *method, const char *path,
                   const char *body, size_t len, int64_t timeout_ms,
                   int *status, char **resp, int *retry_after);

void notify_http_close(notify_http *c);

typedef struct notify_ws notify_ws;

// notify_ws_open opens ws://host:port/ws?<query>. Returns 0 or nng's error.
int notify_ws_open(notify_ws **out, const char *host, int port,
                   const char *query);

// notify_ws_line waits up to timeout_ms for the next line the server sent
// (without its newline) and copies it into buf. Returns 0, NNG_ETIMEDOUT,
// NNG_EMSGSIZE (a line longer than size - 1) or nng's error.
int notify_ws_line(notify_ws *w, char *buf, size_t size, int64_t timeout_ms);

// notify_ws_send sends one text frame. Returns 0 or nng's error.
int notify_ws_send(notify_ws *w, const char *text);

void notify_ws_close(notify_ws *w);

#endif // NOTIFY_CLIENT_H
