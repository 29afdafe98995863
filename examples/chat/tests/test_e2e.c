// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// chat/e2e: the chat server end to end over loopback WebSockets. Two
// systems in this process are two cluster nodes (n1 listens, n2 joins it),
// each serving HTTP and /ws on its own port; a small WebSocket client
// talks to them as a browser would. Clients chat on one node and across the
// two; bad input (4,097 bytes and more, invalid UTF-8, a flood, malformed JSON,
// a foreign Origin) gets its error and close while the others keep chatting.
// The client is written by hand over TCP, so the test sees close codes and
// reasons, pings and pongs, and refused upgrades, as a browser would.
#define _GNU_SOURCE // memmem
#include "chat.h"
#include "wsframe.h"

#include "tests/test.h"

#include <troupe/cluster.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <nng/nng.h>
#include <nng/supplemental/http/http.h>

#ifndef CHAT_WWW_DIR
#define CHAT_WWW_DIR "www"
#endif

#define SECRET "e2e-secret"

struct node {
    tr_system *sys;
    struct chat_server srv;
    struct chat_ws *ws;
    int port;
};

static struct node n1, n2;

static void
node_open(struct node *n, const char *name, const char *seed)
{
    tr_config tc = {.loops = 2};
    assert_int_equal(tr_system_open(&n->sys, &tc), 0);
    const char *seeds[1] = {seed};
    tr_node_config nc = {.name = name,
                         .listen = "tcp://127.0.0.1:0",
                         .seeds = seeds,
                         .nseeds = seed != NULL ? 1 : 0,
                         .secret = SECRET,
                         .secret_len = strlen(SECRET),
                         // Not a failure-detection test: a loaded machine
                         // stalling both nodes past the default 1.5 s
                         // would split their rooms.
                         .timeout_ms = 10000};
    assert_int_equal(tr_node_start(n->sys, &nc), 0);
    struct chat_config cfg = {.node = name,
                              .verbose = getenv("CHAT_VERBOSE") != NULL};
    chat_server_init(&n->srv, n->sys, &cfg);
    n->port = 0;
    assert_int_equal(
        chat_ws_start(&n->ws, &n->srv, "127.0.0.1", &n->port, CHAT_WWW_DIR), 0);
    assert_true(n->port > 0);
}

static void
node_close(struct node *n)
{
    chat_ws_stop(n->ws);
    test_close(n->sys);
}

static int
setup(void **state)
{
    (void)state;
    char url[128];
    node_open(&n1, "n1", NULL);
    assert_int_equal(tr_node_url(n1.sys, url, sizeof url), 0);
    node_open(&n2, "n2", url);
    assert_int_equal(tr_node_wait_peers(n1.sys, 1, TEST_WAIT_MS), 0);
    assert_int_equal(tr_node_wait_peers(n2.sys, 1, TEST_WAIT_MS), 0);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    node_close(&n2);
    node_close(&n1);
    return 0;
}

// --- a small WebSocket client over nng's TCP stream
// ---------------------------

// Frames are read and written by hand (masked out, unmasked in), so the
// test sees what a browser would: close codes and reasons, pings, the
// status of a refused upgrade. Every wait has TEST_WAIT_MS.
struct wsc {
    nng_stream *s;
    nng_aio *aio;
    char name[40];
    uint8_t in[1 << 17]; // bytes read, not yet taken
    size_t len;
    int status;       // the upgrade's HTTP status
    int close_code;   // the server's close frame (0: none yet)
    char reason[128]; // and its reason
    bool ended;       // closed, or the stream failed
};

static int
wsc_io(struct wsc *c, void *p, size_t len, bool rx)
{
    nng_iov iov = {.iov_buf = p, .iov_len = len};
    nng_aio_set_iov(c->aio, 1, &iov);
    nng_aio_set_timeout(c->aio, TEST_WAIT_MS);
    if (rx)
        nng_stream_recv(c->s, c->aio);
    else
        nng_stream_send(c->s, c->aio);
    nng_aio_wait(c->aio);
    int rv = nng_aio_result(c->aio);
    return rv != 0 ? -rv : (int)nng_aio_count(c->aio);
}

// wsc_write writes all of p; returns 0 or nng's error.
static int
wsc_write(struct wsc *c, const void *p, size_t len)
{
    while (len > 0) {
        int n = wsc_io(c, (void *)p, len, false);
        if (n < 0)
            return -n;
        p = (const uint8_t *)p + n;
        len -= (size_t)n;
    }
    return 0;
}

// wsc_fill reads more input; false once the stream ended.
static bool
wsc_fill(struct wsc *c)
{
    if (c->len == sizeof c->in)
        fail_msg("%s: input buffer full", c->name);
    int n = wsc_io(c, c->in + c->len, sizeof c->in - c->len, true);
    if (n == -NNG_ETIMEDOUT)
        fail_msg("%s: nothing within %d ms", c->name, TEST_WAIT_MS);
    if (n <= 0)
        return false;
    c->len += (size_t)n;
    return true;
}

// wsc_upgrade dials node n's /ws and asks for a WebSocket (with an
// Origin header if not NULL); returns the HTTP status (101: open).
static int
wsc_upgrade(struct wsc *c, const struct node *n, const char *origin)
{
    char url[128], req[512];
    nng_stream_dialer *d;
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "client");
    snprintf(url, sizeof url, "tcp://127.0.0.1:%d", n->port);
    assert_int_equal(nng_stream_dialer_alloc(&d, url), 0);
    assert_int_equal(nng_aio_alloc(&c->aio, NULL, NULL), 0);
    nng_aio_set_timeout(c->aio, TEST_WAIT_MS);
    nng_stream_dialer_dial(d, c->aio);
    nng_aio_wait(c->aio);
    assert_int_equal(nng_aio_result(c->aio), 0);
    c->s = nng_aio_get_output(c->aio, 0);
    nng_stream_dialer_free(d);
    int len =
        snprintf(req, sizeof req,
                 "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                 "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 "Sec-WebSocket-Version: 13\r\n%s%s%s\r\n",
                 n->port, origin != NULL ? "Origin: " : "",
                 origin != NULL ? origin : "", origin != NULL ? "\r\n" : "");
    assert_int_equal(wsc_write(c, req, (size_t)len), 0);
    char *end;
    while ((end = memmem(c->in, c->len, "\r\n\r\n", 4)) == NULL)
        assert_true(wsc_fill(c));
    assert_int_equal(sscanf((char *)c->in, "HTTP/1.1 %d", &c->status), 1);
    if (c->status == 101)
        assert_non_null(memmem(c->in, (size_t)(end - (char *)c->in),
                               "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", 28));
    size_t head = (size_t)(end + 4 - (char *)c->in);
    memmove(c->in, c->in + head, c->len -= head);
    return c->status;
}

static void
wsc_open(struct wsc *c, const struct node *n, const char *origin)
{
    assert_int_equal(wsc_upgrade(c, n, origin), 101);
}

static void
wsc_close(struct wsc *c)
{
    if (c->s != NULL) {
        nng_stream_close(c->s);
        nng_stream_free(c->s);
    }
    nng_aio_free(c->aio);
    c->s = NULL;
    c->aio = NULL;
}

// wsc_frame sends one masked frame; returns nng's result.
static int
wsc_frame(struct wsc *c, unsigned b0, const void *data, size_t len)
{
    static const uint8_t key[4] = {0x12, 0x34, 0x56, 0x78};
    uint8_t h[14];
    size_t hl = ws_header(h, 0, len);
    h[0] = (uint8_t)b0;
    h[1] |= 0x80;
    memcpy(h + hl, key, 4);
    uint8_t *f = malloc(hl + 4 + len);
    assert_non_null(f);
    memcpy(f, h, hl + 4);
    for (size_t i = 0; i < len; i++)
        f[hl + 4 + i] = ((const uint8_t *)data)[i] ^ key[i & 3];
    int rv = wsc_write(c, f, hl + 4 + len);
    free(f);
    return rv;
}

// wsc_try_send sends one text message; returns nng's result.
static int
wsc_try_send(struct wsc *c, const void *data, size_t len)
{
    return wsc_frame(c, 0x80 | WS_OP_TEXT, data, len);
}

static void
wsc_send(struct wsc *c, const void *data, size_t len)
{
    assert_int_equal(wsc_try_send(c, data, len), 0);
}

static void wsc_sendf(struct wsc *c, const char *fmt, ...) TR_PRINTF(2, 3);

static void
wsc_sendf(struct wsc *c, const char *fmt, ...)
{
    char buf[8192];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    wsc_send(c, buf, (size_t)n);
}

// wsc_read returns the next frame from the server (its payload copied to
// `out`, NUL-terminated), or -1 once the stream ended.
static int
wsc_read(struct wsc *c, char *out, size_t cap, size_t *len)
{
    for (;;) {
        if (c->len >= 2) {
            assert_int_equal(c->in[1] & 0x80, 0); // servers do not mask
            uint64_t n = c->in[1] & 0x7F;
            size_t h = 2;
            if (n == 126 && c->len >= 4) {
                n = (uint64_t)c->in[2] << 8 | c->in[3];
                h = 4;
            } else if (n == 127 && c->len >= 10) {
                n = 0;
                for (int i = 0; i < 8; i++)
                    n = n << 8 | c->in[2 + i];
                h = 10;
            }
            if (n < 126 || h > 2) {
                assert_true(n < cap);
                if (c->len >= h + n) {
                    int op = c->in[0] & 0x0F;
                    assert_true(c->in[0] & 0x80); // unfragmented
                    memcpy(out, c->in + h, (size_t)n);
                    out[n] = '\0';
                    *len = (size_t)n;
                    memmove(c->in, c->in + h + n, c->len -= h + (size_t)n);
                    return op;
                }
            }
        }
        if (!wsc_fill(c))
            return -1;
    }
}

// wsc_next returns the next event. Pings are answered; a close frame is
// answered and noted (close_code, reason), and then, or at the end of the
// stream, wsc_next returns NULL.
static json_t *
wsc_next(struct wsc *c)
{
    static char buf[1 << 17];
    size_t len;
    for (;;) {
        int op = c->ended ? -1 : wsc_read(c, buf, sizeof buf, &len);
        if (op == WS_OP_PING) {
            (void)wsc_frame(c, 0x80 | WS_OP_PONG, buf, len);
            continue;
        }
        if (op == WS_OP_CLOSE) {
            assert_true(len >= 2);
            c->close_code = (uint8_t)buf[0] << 8 | (uint8_t)buf[1];
            snprintf(c->reason, sizeof c->reason, "%.*s",
                     (int)(len - 2 < 127 ? len - 2 : 127), buf + 2);
            (void)wsc_frame(c, 0x80 | WS_OP_CLOSE, buf, 2);
            if (getenv("CHAT_VERBOSE") != NULL)
                printf("%s < close %d %s\n", c->name, c->close_code, c->reason);
        }
        if (op < 0 || op == WS_OP_CLOSE) {
            c->ended = true;
            return NULL;
        }
        assert_int_equal(op, WS_OP_TEXT);
        if (getenv("CHAT_VERBOSE") != NULL)
            printf("%s < %.*s\n", c->name, (int)len, buf);
        json_error_t err;
        json_t *j = json_loadb(buf, len, 0, &err);
        assert_non_null(j);
        assert_non_null(json_string_value(json_object_get(j, "ev")));
        return j;
    }
}

static const char *
str(json_t *j, const char *k)
{
    const char *s = json_string_value(json_object_get(j, k));
    assert_non_null(s);
    return s;
}

static json_t *
expect(struct wsc *c, const char *ev)
{
    json_t *j = wsc_next(c);
    if (j == NULL)
        fail_msg("%s: wanted %s, the connection closed", c->name, ev);
    if (strcmp(str(j, "ev"), ev) != 0) {
        char *s = json_dumps(j, JSON_COMPACT);
        fail_msg("%s: wanted %s, got %s", c->name, ev, s);
    }
    return j;
}

static void
expect_error(struct wsc *c, const char *code)
{
    json_t *j = expect(c, "error");
    assert_string_equal(str(j, "code"), code);
    json_decref(j);
}

// expect_closed: a close frame with `code`, and nothing before it.
static void
expect_closed(struct wsc *c, int code)
{
    json_t *j = wsc_next(c);
    if (j != NULL) {
        char *s = json_dumps(j, JSON_COMPACT);
        fail_msg("%s: wanted a close, got %s", c->name, s);
    }
    assert_int_equal(c->close_code, code);
}

// login connects to node n, checks the welcome and takes `name`.
static void
login(struct wsc *c, const struct node *n, const char *name)
{
    wsc_open(c, n, NULL);
    json_t *j = expect(c, "welcome");
    assert_string_equal(str(j, "node"), n->srv.cfg.node);
    json_decref(j);
    wsc_sendf(c, "{\"op\":\"nick\",\"name\":\"%s\"}", name);
    j = expect(c, "nick");
    assert_string_equal(str(j, "name"), name);
    json_decref(j);
    snprintf(c->name, sizeof c->name, "%s", name);
}

static void
join(struct wsc *c, const char *room, size_t members)
{
    wsc_sendf(c, "{\"op\":\"join\",\"room\":\"%s\"}", room);
    json_t *j = expect(c, "joined");
    assert_int_equal(json_array_size(json_object_get(j, "members")), members);
    json_decref(j);
}

static void
expect_msg(struct wsc *c, const char *from, const char *text, int seq,
           const char *id)
{
    json_t *j = expect(c, "msg");
    assert_string_equal(str(j, "from"), from);
    assert_string_equal(str(j, "text"), text);
    assert_int_equal(json_integer_value(json_object_get(j, "seq")), seq);
    if (id != NULL)
        assert_string_equal(str(j, "id"), id);
    else
        assert_null(json_object_get(j, "id"));
    json_decref(j);
}

static void
expect_presence(struct wsc *c, const char *name, const char *state)
{
    json_t *j = expect(c, "presence");
    assert_string_equal(str(j, "name"), name);
    assert_string_equal(str(j, "state"), state);
    json_decref(j);
}

// --- tests ----------------------------------------------------------------

static void
test_page(void **state)
{
    (void)state;
    char url[128];
    nng_url *u;
    nng_http_client *cl;
    nng_http_req *req;
    nng_http_res *res;
    nng_aio *aio;
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", n1.port);
    assert_int_equal(nng_url_parse(&u, url), 0);
    assert_int_equal(nng_http_client_alloc(&cl, u), 0);
    assert_int_equal(nng_http_req_alloc(&req, u), 0);
    assert_int_equal(nng_http_res_alloc(&res), 0);
    assert_int_equal(nng_aio_alloc(&aio, NULL, NULL), 0);
    nng_aio_set_timeout(aio, TEST_WAIT_MS);
    nng_http_client_transact(cl, req, res, aio);
    nng_aio_wait(aio);
    assert_int_equal(nng_aio_result(aio), 0);
    assert_int_equal(nng_http_res_get_status(res), 200);
    void *body;
    size_t len;
    nng_http_res_get_data(res, &body, &len);
    char *copy = calloc(1, len + 1);
    memcpy(copy, body, len);
    assert_non_null(strstr(copy, "<title>troupe chat</title>"));
    free(copy);
    nng_aio_free(aio);
    nng_http_res_free(res);
    nng_http_req_free(req);
    nng_http_client_free(cl);
    nng_url_free(u);
}

static void
test_one_node(void **state)
{
    (void)state;
    struct wsc a, b;
    login(&a, &n1, "alice");
    login(&b, &n1, "bob");
    join(&a, "lobby", 1);
    join(&b, "lobby", 2);
    expect_presence(&a, "bob", "join");
    wsc_sendf(&a, "{\"op\":\"say\",\"room\":\"lobby\",\"text\":\"hi "
                  "bob\",\"id\":\"c-1\"}");
    expect_msg(&a, "alice", "hi bob", 1, "c-1");
    expect_msg(&b, "alice", "hi bob", 1, NULL);
    wsc_sendf(&b, "{\"op\":\"say\",\"room\":\"lobby\",\"text\":\"h\xc3\xa9"
                  "llo \xf0\x9f\x91\x8b\"}");
    expect_msg(&b, "bob", "h\xc3\xa9llo \xf0\x9f\x91\x8b", 2, NULL);
    expect_msg(&a, "bob", "h\xc3\xa9llo \xf0\x9f\x91\x8b", 2, NULL);
    wsc_close(&b);
    expect_presence(&a, "bob", "leave");
    wsc_close(&a);
}

static void
test_two_nodes(void **state)
{
    (void)state;
    struct wsc a, c, d;
    tr_ref r;
    login(&a, &n1, "ann");
    join(&a, "cross", 1);
    // Wait until n2 knows the room and the name (the registry spreads in
    // the background); otherwise n2 could make a room of its own.
    TEST_WAIT_UNTIL(tr_whereis(n2.sys, "room:cross", &r) == 0 &&
                    tr_whereis(n2.sys, "nick:ann", &r) == 0);
    assert_int_equal(tr_whereis(n2.sys, "room:cross", &r), 0);
    login(&c, &n2, "cyd");
    // Nicknames are unique across the cluster.
    wsc_sendf(&c, "{\"op\":\"nick\",\"name\":\"ann\"}");
    expect_error(&c, "name_taken");
    join(&c, "cross", 2);
    expect_presence(&a, "cyd", "join");
    // Both ways, one seq order, assigned by the room's home (n1).
    wsc_sendf(&c, "{\"op\":\"say\",\"room\":\"cross\",\"text\":\"from "
                  "n2\",\"id\":\"x\"}");
    expect_msg(&c, "cyd", "from n2", 1, "x");
    expect_msg(&a, "cyd", "from n2", 1, NULL);
    wsc_sendf(&a, "{\"op\":\"say\",\"room\":\"cross\",\"text\":\"from "
                  "n1\"}");
    expect_msg(&a, "ann", "from n1", 2, NULL);
    expect_msg(&c, "ann", "from n1", 2, NULL);
    // A third member on n2 gets the history and then the live messages.
    login(&d, &n2, "dee");
    wsc_sendf(&d, "{\"op\":\"join\",\"room\":\"cross\"}");
    json_t *j = expect(&d, "joined");
    json_t *h = json_object_get(j, "history");
    assert_int_equal(json_array_size(h), 2);
    assert_string_equal(str(json_array_get(h, 0), "text"), "from n2");
    json_decref(j);
    expect_presence(&a, "dee", "join");
    expect_presence(&c, "dee", "join");
    wsc_sendf(&a, "{\"op\":\"say\",\"room\":\"cross\",\"text\":\"three\"}");
    expect_msg(&a, "ann", "three", 3, NULL);
    expect_msg(&c, "ann", "three", 3, NULL);
    expect_msg(&d, "ann", "three", 3, NULL);
    // who and rooms from n2 see members on both nodes.
    wsc_sendf(&d, "{\"op\":\"who\",\"room\":\"cross\"}");
    j = expect(&d, "who");
    assert_int_equal(json_array_size(json_object_get(j, "members")), 3);
    json_decref(j);
    wsc_sendf(&d, "{\"op\":\"rooms\"}");
    j = expect(&d, "rooms");
    json_t *rooms = json_object_get(j, "rooms");
    bool found = false;
    for (size_t i = 0; i < json_array_size(rooms); i++) {
        json_t *o = json_array_get(rooms, i);
        if (strcmp(str(o, "room"), "cross") == 0) {
            found = true;
            assert_int_equal(json_integer_value(json_object_get(o, "members")),
                             3);
        }
    }
    assert_true(found);
    json_decref(j);
    // A rename on n2 reaches n1.
    wsc_sendf(&c, "{\"op\":\"nick\",\"name\":\"cyd2\"}");
    json_decref(expect(&c, "nick"));
    j = expect(&a, "presence");
    assert_string_equal(str(j, "state"), "rename");
    assert_string_equal(str(j, "from"), "cyd");
    assert_string_equal(str(j, "name"), "cyd2");
    json_decref(j);
    expect_presence(&d, "cyd2", "rename");
    wsc_close(&c);
    expect_presence(&a, "cyd2", "leave");
    expect_presence(&d, "cyd2", "leave");
    wsc_close(&d);
    expect_presence(&a, "dee", "leave");
    wsc_close(&a);
}

static void
test_bad_input(void **state)
{
    (void)state;
    struct wsc good, bad;
    login(&good, &n1, "good");
    join(&good, "calm", 1);

    // Exactly 4,096 bytes is fine; 4,097 gets too_large and a close.
    char *big = malloc(70000);
    memset(big, ' ', 70000);
    memcpy(big, "{\"op\":\"rooms\"}", 14);
    login(&bad, &n1, "big");
    wsc_send(&bad, big, 4096);
    json_decref(expect(&bad, "rooms"));
    wsc_send(&bad, big, 4097);
    expect_error(&bad, "too_large");
    expect_closed(&bad, 1009);
    wsc_close(&bad);
    // Any size past it the same, refused from the frame's header.
    login(&bad, &n1, "huge");
    wsc_send(&bad, big, 70000);
    expect_error(&bad, "too_large");
    expect_closed(&bad, 1009);
    wsc_close(&bad);
    // The same limit over fragments: 4,096 whole, 4,097 refused.
    login(&bad, &n1, "frag");
    assert_int_equal(wsc_frame(&bad, WS_OP_TEXT, big, 2000), 0);
    assert_int_equal(wsc_frame(&bad, 0x80 | WS_OP_CONT, big + 2000, 2096), 0);
    json_decref(expect(&bad, "rooms"));
    assert_int_equal(wsc_frame(&bad, WS_OP_TEXT, big, 2000), 0);
    assert_int_equal(wsc_frame(&bad, 0x80 | WS_OP_CONT, big + 2000, 2097), 0);
    expect_error(&bad, "too_large");
    expect_closed(&bad, 1009);
    wsc_close(&bad);
    free(big);

    // A binary frame: closed with 1003, no error event.
    login(&bad, &n1, "binary");
    assert_int_equal(wsc_frame(&bad, 0x80 | WS_OP_BINARY, "{}", 2), 0);
    expect_closed(&bad, 1003);
    wsc_close(&bad);

    // A ping is answered with its payload; a client's close is answered
    // with the same code.
    login(&bad, &n1, "pinger");
    assert_int_equal(wsc_frame(&bad, 0x80 | WS_OP_PING, "hey", 3), 0);
    char pong[16];
    size_t plen;
    assert_int_equal(wsc_read(&bad, pong, sizeof pong, &plen), WS_OP_PONG);
    assert_int_equal(plen, 3);
    assert_memory_equal(pong, "hey", 3);
    uint8_t bye[2] = {0x0F, 0xA0}; // 4000
    assert_int_equal(wsc_frame(&bad, 0x80 | WS_OP_CLOSE, bye, 2), 0);
    assert_int_equal(wsc_read(&bad, pong, sizeof pong, &plen), WS_OP_CLOSE);
    assert_int_equal(plen, 2);
    assert_memory_equal(pong, bye, 2);
    wsc_close(&bad);

    // Invalid UTF-8: bad_utf8, then a close.
    login(&bad, &n1, "utf");
    wsc_send(&bad, "{\"op\":\"say\",\"text\":\"\xc3\x28\"}", 22);
    expect_error(&bad, "bad_utf8");
    expect_closed(&bad, 1007);
    wsc_close(&bad);

    // Malformed JSON: bad_request, and the connection stays.
    login(&bad, &n1, "json");
    wsc_send(&bad, "{\"op\":\"say\"", 11);
    expect_error(&bad, "bad_request");
    wsc_sendf(&bad, "{\"op\":\"join\",\"room\":\"calm\"}");
    json_decref(expect(&bad, "joined"));
    expect_presence(&good, "json", "join");
    wsc_close(&bad);
    expect_presence(&good, "json", "leave");

    // A flood: 150 frames as fast as it can (the burst is 40); after 101
    // refusals, closed with 1008.
    login(&bad, &n1, "flood");
    for (int i = 0; i < 150; i++) {
        char f[64];
        int n =
            snprintf(f, sizeof f,
                     "{\"op\":\"who\",\"room\":\"calm\",\"id\":\"f%d\"}", i);
        if (wsc_try_send(&bad, f, (size_t)n) != 0)
            break;
    }
    int refused = 0;
    json_t *j;
    while ((j = wsc_next(&bad)) != NULL) {
        const char *ev = str(j, "ev");
        if (strcmp(ev, "error") == 0) {
            assert_string_equal(str(j, "code"), "rate_limited");
            refused++;
        }
        json_decref(j);
    }
    assert_int_equal(bad.close_code, 1008);
    assert_string_equal(bad.reason, "rate limit: flood");
    assert_int_equal(refused, 101);
    wsc_close(&bad);

    // A foreign Origin is refused before the upgrade; the page's own is
    // welcome.
    assert_int_equal(wsc_upgrade(&bad, &n1, "http://evil.example"), 403);
    wsc_close(&bad);
    char origin[64];
    snprintf(origin, sizeof origin, "http://127.0.0.1:%d", n1.port);
    wsc_open(&bad, &n1, origin);
    json_decref(expect(&bad, "welcome"));
    wsc_close(&bad);

    // Through all that, the good client chats as before.
    wsc_sendf(&good, "{\"op\":\"say\",\"room\":\"calm\",\"text\":\"still "
                     "here\"}");
    expect_msg(&good, "good", "still here", 1, NULL);
    wsc_close(&good);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_page),
        cmocka_unit_test(test_one_node),
        cmocka_unit_test(test_two_nodes),
        cmocka_unit_test(test_bad_input),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests_name("chat/e2e", tests, setup, teardown);
}
