// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// edge.c: HTTP and WebSocket on nng, in front of the actors.
//
// Design notes
// - nng calls a handler on one of its threads with an aio to complete.
//   A handler checks what it can alone (the JSON, the path), takes a slot
//   in a bounded table of requests in flight, and sends the request to
//   the shard's api actor with the slot's token. The actor that decides
//   answers through notify_port.respond, on its own thread, and that
//   completes the aio. No nng thread ever waits for an actor.
// - A full table, or a full api mailbox (TR_EFULL), is answered 503 with
//   Retry-After at once, inside the handler: the request costs nothing
//   more. Bad input is answered 400 there too.
// - A token is a slot's index and generation: an answer for a slot that
//   was reclaimed (closing, or swept) finds another generation and is
//   ignored. A slot nobody answers (its actor stopped with the request in
//   its mailbox) is reclaimed with 503 after cfg.pending_ms, by a sweep
//   that runs every SWEEP_MS on an nng timer, and at once when the table
//   is full (at most every SWEEP_MS). The timer is what answers a lost
//   request when traffic is light: the table may never fill.
// - Closing answers every slot first: nng's server stop waits for its
//   handlers' aios, which only we complete.
// - The WebSocket listener shares the HTTP server's port: nng finds the
//   running server by host and port.
#define _POSIX_C_SOURCE 200809L
#include "edge.h"

#include <troupe/cluster.h>
#include <troupe/pack.h>

#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <nng/nng.h>
#include <nng/supplemental/http/http.h>

#define SWEEP_MS 100
#define BODY_MAX (16 * 1024)

extern const char notify_page[];

struct slot {
    nng_aio *aio; // NULL: free
    uint32_t gen;
    int64_t born_ns;
};

struct notify_edge {
    tr_system *sys;
    const notify_config *cfg;
    struct notify_counters *ctr;
    nng_http_server *http;
    nng_stream_listener *wsl;
    nng_aio *acc;
    nng_aio *tick; // the sweep's timer
    int port;
    int64_t started_ns;

    pthread_mutex_t mu; // guards the slots, the free list and closing
    struct slot *slots;
    uint32_t *free;
    uint32_t nfree;
    bool closing;
    int64_t swept_ns;

    _Atomic uint64_t requests, bad, busy, ws_accepted, ws_refused;
    _Atomic unsigned sessions;
};

// --- answering ---------------------------------------------------------------

// reply completes `aio` with a JSON response.
static void
reply(nng_aio *aio, int status, int retry_after_s, const char *body, size_t len)
{
    nng_http_res *res;
    if (nng_http_res_alloc(&res) != 0) {
        nng_aio_finish(aio, NNG_ENOMEM); // nng closes the connection
        return;
    }
    char ra[16];
    snprintf(ra, sizeof ra, "%d", retry_after_s);
    if (nng_http_res_set_status(res, (uint16_t)status) != 0 ||
        nng_http_res_set_header(res, "Content-Type", "application/json") != 0 ||
        nng_http_res_set_header(res, "Cache-Control", "no-store") != 0 ||
        (retry_after_s > 0 &&
         nng_http_res_set_header(res, "Retry-After", ra) != 0) ||
        nng_http_res_copy_data(res, body, len) != 0) {
        nng_http_res_free(res);
        nng_aio_finish(aio, NNG_ENOMEM);
        return;
    }
    nng_aio_set_output(aio, 0, res);
    nng_aio_finish(aio, 0);
}

// reply_error answers {"error": text}, escaped by jansson (the text may
// quote the client's input).
static void
reply_error(nng_aio *aio, int status, int retry_after_s, const char *text)
{
    json_t *j = json_pack("{s:s}", "error", text);
    char *s = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (s != NULL)
        reply(aio, status, retry_after_s, s, strlen(s));
    else
        reply(aio, status, retry_after_s, "{}", 2);
    free(s);
}

static void
edge_respond(void *cookie, uint64_t token, int status, int retry_after_s,
             const char *body, size_t len)
{
    struct notify_edge *e = cookie;
    uint32_t i = (uint32_t)token, gen = (uint32_t)(token >> 32);
    nng_aio *aio = NULL;
    pthread_mutex_lock(&e->mu);
    if (i < e->cfg->pending && e->slots[i].aio != NULL &&
        e->slots[i].gen == gen) {
        aio = e->slots[i].aio;
        e->slots[i].aio = NULL;
        e->free[e->nfree++] = i;
    }
    pthread_mutex_unlock(&e->mu);
    if (aio != NULL)
        reply(aio, status, retry_after_s, body, len);
}

notify_port
notify_edge_port_of(struct notify_edge *e)
{
    return (notify_port){.respond = edge_respond, .cookie = e};
}

// sweep_locked reclaims up to `cap` slots nobody answered in time; it
// returns their aios in `out` (the caller answers them unlocked).
static uint32_t
sweep_locked(struct notify_edge *e, int64_t now, nng_aio **out, uint32_t cap)
{
    uint32_t k = 0;
    e->swept_ns = now;
    for (uint32_t i = 0; i < e->cfg->pending && k < cap; i++)
        if (e->slots[i].aio != NULL &&
            now - e->slots[i].born_ns > e->cfg->pending_ms * 1000000) {
            out[k++] = e->slots[i].aio;
            e->slots[i].aio = NULL;
            e->free[e->nfree++] = i;
        }
    return k;
}

// slot_take holds a slot for `aio`; false when full or closing.
static bool
slot_take(struct notify_edge *e, nng_aio *aio, uint64_t *token)
{
    nng_aio *stale[8];
    uint32_t nstale = 0;
    bool ok = false;
    int64_t now = tr_now_ns();
    pthread_mutex_lock(&e->mu);
    if (e->nfree == 0 && !e->closing &&
        now - e->swept_ns >= SWEEP_MS * 1000000ll)
        nstale = sweep_locked(e, now, stale, 8);
    if (e->nfree != 0 && !e->closing) {
        uint32_t i = e->free[--e->nfree];
        e->slots[i] = (struct slot){aio, e->slots[i].gen + 1, now};
        *token = (uint64_t)e->slots[i].gen << 32 | i;
        ok = true;
    }
    pthread_mutex_unlock(&e->mu);
    for (uint32_t i = 0; i < nstale; i++)
        reply_error(stale[i], 503, 1, "no answer in time");
    return ok;
}

// sweep_tick runs every SWEEP_MS on an nng thread until closing: it
// answers the requests nobody answered within pending_ms.
static void
sweep_tick(void *arg)
{
    struct notify_edge *e = arg;
    if (nng_aio_result(e->tick) != 0)
        return; // stopped
    nng_aio *stale[16];
    uint32_t n;
    bool closing;
    do {
        pthread_mutex_lock(&e->mu);
        closing = e->closing;
        n = closing ? 0 : sweep_locked(e, tr_now_ns(), stale, 16);
        pthread_mutex_unlock(&e->mu);
        for (uint32_t i = 0; i < n; i++)
            reply_error(stale[i], 503, 1, "no answer in time");
    } while (n == 16);
    if (!closing)
        nng_sleep_aio(SWEEP_MS, e->tick);
}

// slot_drop gives back a slot whose request was never sent.
static void
slot_drop(struct notify_edge *e, uint64_t token)
{
    uint32_t i = (uint32_t)token;
    pthread_mutex_lock(&e->mu);
    if (e->slots[i].aio != NULL && e->slots[i].gen == (uint32_t)(token >> 32)) {
        e->slots[i].aio = NULL;
        e->free[e->nfree++] = i;
    }
    pthread_mutex_unlock(&e->mu);
}

// dispatch sends a packed request to shard `shard`'s api, or answers 503.
// The token must be the payload's; the aio is answered here on failure.
static void
dispatch(struct notify_edge *e, nng_aio *aio, unsigned shard, uint64_t token,
         uint32_t type, const void *data, size_t len)
{
    char name[32];
    tr_ref api;
    notify_api_name(name, sizeof name, shard);
    int rc = tr_whereis(e->sys, name, &api);
    if (rc == 0)
        rc = tr_system_send(e->sys, api, type, data, len);
    if (rc == 0)
        return; // the actor answers; the aio is no longer ours to touch
    slot_drop(e, token);
    atomic_fetch_add(&e->busy, 1);
    reply_error(aio, 503, 1,
                rc == TR_EFULL ? "api queue full" : "shard unavailable");
}

// --- POST /notify ------------------------------------------------------------

// parse reads a submission from JSON; on error it writes why into `err`.
// The strings point into `root`.
static bool
parse(struct notify_submission *s, json_t **root, const void *body, size_t len,
      const notify_config *cfg, char *err, size_t errsz)
{
    json_error_t je;
    *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (*root == NULL) {
        snprintf(err, errsz, "malformed JSON at line %d column %d: %s", je.line,
                 je.column, je.text);
        return false;
    }
    json_t *user = json_object_get(*root, "user");
    json_t *topic = json_object_get(*root, "topic");
    json_t *title = json_object_get(*root, "title");
    json_t *text = json_object_get(*root, "body");
    json_t *ttl = json_object_get(*root, "ttl_ms");
    json_t *who = user != NULL ? user : topic;
    *s = (struct notify_submission){
        .kind = user == NULL, .ttl_ms = cfg->ttl_ms, .body = ""};
    if (!json_is_object(*root)) {
        snprintf(err, errsz, "expected a JSON object");
    } else if ((user == NULL) == (topic == NULL)) {
        snprintf(err, errsz, "give exactly one of \"user\" and \"topic\"");
    } else if (!json_is_string(who) ||
               !notify_name_ok(json_string_value(who),
                               json_string_length(who))) {
        snprintf(err, errsz,
                 "\"%s\" must be 1-%d characters of A-Z a-z 0-9 _ . @ -",
                 user != NULL ? "user" : "topic", NOTIFY_NAME_MAX);
    } else if (!json_is_string(title) || json_string_length(title) == 0 ||
               json_string_length(title) > NOTIFY_TITLE_MAX) {
        snprintf(err, errsz, "\"title\" must be a string of 1-%d bytes",
                 NOTIFY_TITLE_MAX);
    } else if (text != NULL && (!json_is_string(text) ||
                                json_string_length(text) > NOTIFY_BODY_MAX)) {
        snprintf(err, errsz, "\"body\" must be a string of at most %d bytes",
                 NOTIFY_BODY_MAX);
    } else if (ttl != NULL &&
               (!json_is_integer(ttl) || json_integer_value(ttl) < 1 ||
                json_integer_value(ttl) > cfg->ttl_max_ms)) {
        snprintf(err, errsz, "\"ttl_ms\" must be an integer of 1-%lld",
                 (long long)cfg->ttl_max_ms);
    } else {
        s->name = json_string_value(who);
        s->name_len = json_string_length(who);
        s->title = json_string_value(title);
        s->title_len = json_string_length(title);
        if (text != NULL) {
            s->body = json_string_value(text);
            s->body_len = json_string_length(text);
        }
        if (ttl != NULL)
            s->ttl_ms = json_integer_value(ttl);
        return true;
    }
    return false;
}

static void
post_notify(nng_aio *aio)
{
    nng_http_handler *h = nng_aio_get_input(aio, 1);
    nng_http_req *req = nng_aio_get_input(aio, 0);
    struct notify_edge *e = nng_http_handler_get_data(h);
    atomic_fetch_add(&e->requests, 1);
    void *body = NULL;
    size_t len = 0;
    nng_http_req_get_data(req, &body, &len);
    struct notify_submission s;
    json_t *root = NULL;
    char err[256];
    if (!parse(&s, &root, body, len, e->cfg, err, sizeof err)) {
        json_decref(root);
        atomic_fetch_add(&e->bad, 1);
        reply_error(aio, 400, 0, err);
        return;
    }
    if (!slot_take(e, aio, &s.token)) {
        json_decref(root);
        atomic_fetch_add(&e->busy, 1);
        reply_error(aio, 503, 1, "too many requests in flight");
        return;
    }
    unsigned char buf[2048];
    tr_pack p;
    tr_pack_init(&p, buf, sizeof buf);
    int rc = notify_submission_pack(&p, &s);
    unsigned shard =
        (unsigned)(notify_hash(s.name, s.name_len) % e->cfg->shards);
    json_decref(root);
    if (rc == 0)
        dispatch(e, aio, shard, s.token, NOTIFY_SUBMIT, tr_pack_data(&p),
                 tr_pack_len(&p));
    tr_pack_fini(&p);
    if (rc != 0) {
        slot_drop(e, s.token);
        reply_error(aio, 500, 0, "out of memory");
    }
}

// --- GET /notify/<id> ------------------------------------------------------

static void
get_notify(nng_aio *aio)
{
    nng_http_handler *h = nng_aio_get_input(aio, 1);
    nng_http_req *req = nng_aio_get_input(aio, 0);
    struct notify_edge *e = nng_http_handler_get_data(h);
    atomic_fetch_add(&e->requests, 1);
    const char *uri = nng_http_req_get_uri(req);
    const char *p = strncmp(uri, "/notify/", 8) == 0 ? uri + 8 : "";
    uint64_t id = 0;
    size_t digits = 0;
    while (p[digits] >= '0' && p[digits] <= '9' && digits < 19)
        id = id * 10 + (uint64_t)(p[digits++] - '0');
    if (digits == 0 || (p[digits] != '\0' && p[digits] != '?') || id == 0) {
        atomic_fetch_add(&e->bad, 1);
        reply_error(aio, 400, 0, "expected GET /notify/<id>, id a number");
        return;
    }
    uint64_t token;
    if (!slot_take(e, aio, &token)) {
        atomic_fetch_add(&e->busy, 1);
        reply_error(aio, 503, 1, "too many requests in flight");
        return;
    }
    unsigned char buf[64];
    tr_pack pk;
    tr_pack_init(&pk, buf, sizeof buf);
    tr_pack_array(&pk, 2);
    tr_pack_uint(&pk, token);
    tr_pack_uint(&pk, id);
    dispatch(e, aio, (unsigned)(id % e->cfg->shards), token, NOTIFY_GET,
             tr_pack_data(&pk), tr_pack_len(&pk));
    tr_pack_fini(&pk);
}

// --- GET /stats ------------------------------------------------------------

int
notify_rss_kb(uint64_t *rss, uint64_t *peak)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL)
        return -1;
    char line[256];
    int found = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        unsigned long long v;
        if (sscanf(line, "VmRSS: %llu", &v) == 1)
            *rss = v, found |= 1;
        else if (sscanf(line, "VmHWM: %llu", &v) == 1)
            *peak = v, found |= 2;
    }
    fclose(f);
    return found == 3 ? 0 : -1;
}

void
notify_edge_stats(struct notify_edge *e, struct notify_edge_stats *out)
{
    *out = (struct notify_edge_stats){
        .requests = atomic_load(&e->requests),
        .bad = atomic_load(&e->bad),
        .busy = atomic_load(&e->busy),
        .ws_accepted = atomic_load(&e->ws_accepted),
        .ws_refused = atomic_load(&e->ws_refused),
        .sessions = atomic_load(&e->sessions),
    };
    pthread_mutex_lock(&e->mu);
    out->in_flight = e->cfg->pending - e->nfree;
    pthread_mutex_unlock(&e->mu);
}

char *
notify_stats_json(struct notify_edge *e)
{
    static const char *const names[] = {
        "accepted",  "rejected", "limited", "delivered", "failed",
        "expired",   "attempts", "retries", "timeouts",  "ws_delivered",
        "ws_missed", "ws_none",  "live",    "waiting"};
    uint64_t sum[sizeof names / sizeof names[0]] = {0};
    for (unsigned s = 0; s < e->cfg->shards; s++) {
        const _Atomic uint64_t *c = &e->ctr[s].accepted;
        for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++)
            sum[i] += atomic_load_explicit(&c[i], memory_order_relaxed);
    }
    json_t *j = json_object();
    for (unsigned i = 0; j != NULL && i < sizeof names / sizeof names[0]; i++)
        json_object_set_new(j, names[i], json_integer((json_int_t)sum[i]));
    struct notify_edge_stats es;
    notify_edge_stats(e, &es);
    uint64_t rss = 0, peak = 0;
    (void)notify_rss_kb(&rss, &peak);
    json_t *edge = json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "requests",
        (json_int_t)es.requests, "bad_request", (json_int_t)es.bad, "busy",
        (json_int_t)es.busy, "in_flight", (json_int_t)es.in_flight, "sessions",
        (json_int_t)es.sessions, "ws_accepted", (json_int_t)es.ws_accepted,
        "ws_refused", (json_int_t)es.ws_refused);
    json_object_set_new(j, "edge", edge);
    json_object_set_new(j, "rss_kb", json_integer((json_int_t)rss));
    json_object_set_new(j, "peak_rss_kb", json_integer((json_int_t)peak));
    json_object_set_new(
        j, "uptime_ms",
        json_integer((json_int_t)((tr_now_ns() - e->started_ns) / 1000000)));
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s;
}

static void
get_stats(nng_aio *aio)
{
    nng_http_handler *h = nng_aio_get_input(aio, 1);
    struct notify_edge *e = nng_http_handler_get_data(h);
    char *s = notify_stats_json(e);
    if (s != NULL)
        reply(aio, 200, 0, s, strlen(s));
    else
        reply_error(aio, 500, 0, "out of memory");
    free(s);
}

// --- WebSocket /ws?user=U&topic=T... -----------------------------------------

// query_groups reads user= and topic= (repeatable) from the request URI.
static bool
query_groups(const char *uri, struct notify_session_arg *a)
{
    const char *q = strchr(uri, '?');
    size_t cap = sizeof a->groups / sizeof a->groups[0];
    while (q != NULL && *q != '\0') {
        q++;
        const char *end = strchr(q, '&');
        size_t n = end != NULL ? (size_t)(end - q) : strlen(q);
        const char *kind = NULL;
        if (n > 5 && strncmp(q, "user=", 5) == 0)
            kind = "u:";
        else if (n > 6 && strncmp(q, "topic=", 6) == 0)
            kind = "t:";
        if (kind != NULL) {
            const char *v = strchr(q, '=') + 1;
            size_t vlen = n - (size_t)(v - q);
            if (!notify_name_ok(v, vlen) || a->ngroups == cap)
                return false;
            snprintf(a->groups[a->ngroups++], sizeof a->groups[0], "%s%.*s",
                     kind, (int)vlen, v);
        }
        q = end;
    }
    return a->ngroups != 0;
}

static void
ws_session(struct notify_edge *e, nng_stream *s)
{
    struct notify_session_arg a = {.stream = s, .sessions = &e->sessions};
    char *uri = NULL;
    bool ok = nng_stream_get_string(s, NNG_OPT_WS_REQUEST_URI, &uri) == 0 &&
              query_groups(uri, &a);
    nng_strfree(uri);
    if (ok && atomic_fetch_add(&e->sessions, 1) >= e->cfg->sessions) {
        atomic_fetch_sub(&e->sessions, 1);
        ok = false;
    }
    if (ok) {
        tr_ref r;
        tr_spawn_opts o = {.capacity = e->cfg->session_queue};
        if (tr_system_spawn(&r, e->sys, &notify_session, &a, sizeof a, &o) ==
            0) {
            atomic_fetch_add(&e->ws_accepted, 1);
            return; // the session owns the stream
        }
        atomic_fetch_sub(&e->sessions, 1);
    }
    atomic_fetch_add(&e->ws_refused, 1);
    nng_stream_close(s);
    nng_stream_free(s);
}

static void
ws_accepted(void *arg)
{
    struct notify_edge *e = arg;
    int rv = nng_aio_result(e->acc);
    if (rv == NNG_ECLOSED || rv == NNG_ECANCELED)
        return;
    if (rv == 0)
        ws_session(e, nng_aio_get_output(e->acc, 0));
    nng_stream_listener_accept(e->wsl, e->acc);
}

// --- start and stop ----------------------------------------------------------

static int
add_handler(struct notify_edge *e, const char *path, const char *method,
            void (*cb)(nng_aio *), bool tree, bool body)
{
    nng_http_handler *h;
    int rv = nng_http_handler_alloc(&h, path, cb);
    if (rv != 0)
        return rv;
    if ((rv = nng_http_handler_set_method(h, method)) != 0 ||
        (rv = nng_http_handler_set_data(h, e, NULL)) != 0 ||
        (tree && (rv = nng_http_handler_set_tree(h)) != 0) ||
        (rv = nng_http_handler_collect_body(h, body, BODY_MAX)) != 0 ||
        (rv = nng_http_server_add_handler(e->http, h)) != 0) {
        nng_http_handler_free(h);
        return rv;
    }
    return 0;
}

int
notify_edge_start(struct notify_edge **out, tr_system *sys,
                  const notify_config *cfg, struct notify_counters *ctr)
{
    struct notify_edge *e = calloc(1, sizeof *e);
    if (e == NULL)
        return NNG_ENOMEM;
    e->sys = sys;
    e->cfg = cfg;
    e->ctr = ctr;
    e->started_ns = tr_now_ns();
    pthread_mutex_init(&e->mu, NULL);
    e->slots = calloc(cfg->pending, sizeof *e->slots);
    e->free = calloc(cfg->pending, sizeof *e->free);
    if (e->slots == NULL || e->free == NULL) {
        notify_edge_free(e);
        return NNG_ENOMEM;
    }
    for (uint32_t i = 0; i < cfg->pending; i++)
        e->free[e->nfree++] = cfg->pending - 1 - i;

    char url[128];
    nng_url *u = NULL;
    nng_sockaddr sa;
    snprintf(url, sizeof url, "http://%s:%d", cfg->host, cfg->port);
    int rv = nng_url_parse(&u, url);
    if (rv == 0)
        rv = nng_http_server_hold(&e->http, u);
    nng_url_free(u);
    nng_http_handler *page = NULL;
    if (rv == 0 &&
        (rv = nng_http_handler_alloc_static(&page, "/", notify_page,
                                            strlen(notify_page),
                                            "text/html; charset=utf-8")) == 0 &&
        (rv = nng_http_server_add_handler(e->http, page)) != 0)
        nng_http_handler_free(page);
    if (rv == 0)
        rv = add_handler(e, "/notify", "POST", post_notify, false, true);
    if (rv == 0)
        rv = add_handler(e, "/notify", "GET", get_notify, true, false);
    if (rv == 0)
        rv = add_handler(e, "/stats", "GET", get_stats, false, false);
    if (rv == 0)
        rv = nng_http_server_start(e->http);
    if (rv == 0)
        rv = nng_http_server_get_addr(e->http, &sa);
    if (rv != 0) {
        notify_edge_free(e);
        return rv;
    }
    e->port = ntohs(sa.s_in.sa_port); // nng keeps network byte order
    snprintf(url, sizeof url, "ws://%s:%d/ws", cfg->host, e->port);
    if ((rv = nng_stream_listener_alloc(&e->wsl, url)) != 0 ||
        (rv = nng_stream_listener_set_bool(e->wsl, NNG_OPT_WS_SEND_TEXT,
                                           true)) != 0 ||
        (rv = nng_stream_listener_set_bool(e->wsl, NNG_OPT_WS_RECV_TEXT,
                                           true)) != 0 ||
        (rv = nng_stream_listener_set_size(e->wsl, NNG_OPT_WS_RECVMAXFRAME,
                                           4096)) != 0 ||
        (rv = nng_aio_alloc(&e->acc, ws_accepted, e)) != 0 ||
        (rv = nng_aio_alloc(&e->tick, sweep_tick, e)) != 0 ||
        (rv = nng_stream_listener_listen(e->wsl)) != 0) {
        nng_http_server_stop(e->http);
        notify_edge_free(e);
        return rv;
    }
    nng_stream_listener_accept(e->wsl, e->acc);
    nng_sleep_aio(SWEEP_MS, e->tick);
    *out = e;
    return 0;
}

int
notify_edge_port(const struct notify_edge *e)
{
    return e->port;
}

void
notify_edge_close(struct notify_edge *e)
{
    pthread_mutex_lock(&e->mu);
    e->closing = true;
    pthread_mutex_unlock(&e->mu);
    if (e->tick != NULL)
        nng_aio_stop(e->tick); // it sees closing: no more sweeps
    for (uint32_t i = 0; i < e->cfg->pending; i++) {
        nng_aio *aio = NULL;
        pthread_mutex_lock(&e->mu);
        if (e->slots[i].aio != NULL) {
            aio = e->slots[i].aio;
            e->slots[i].aio = NULL;
            e->free[e->nfree++] = i;
        }
        pthread_mutex_unlock(&e->mu);
        if (aio != NULL)
            reply_error(aio, 503, 1, "shutting down");
    }
    if (e->wsl != NULL)
        nng_stream_listener_close(e->wsl);
    if (e->acc != NULL)
        nng_aio_stop(e->acc);
    if (e->http != NULL)
        nng_http_server_stop(e->http);
}

void
notify_edge_free(struct notify_edge *e)
{
    if (e == NULL)
        return;
    nng_aio_free(e->tick);
    nng_aio_free(e->acc);
    nng_stream_listener_free(e->wsl);
    if (e->http != NULL)
        nng_http_server_release(e->http);
    pthread_mutex_destroy(&e->mu);
    free(e->slots);
    free(e->free);
    free(e);
}
