// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// courier.c: one shard's notifications, from acceptance to a final state.
//
// Design notes
// - Admission: at most cfg.queue notifications are live (accepted, not
//   final). One more is refused with 503 and a Retry-After estimated from
//   the work waiting; nothing is queued for it. That bound is what keeps
//   the courier's own mailbox bounded although it is not capped: what
//   reaches it is API requests (each holds one of the edge's bounded
//   slots), its own timers and the gateways' replies (both at most one per
//   live notification). It must not be capped: a refused retry timer or
//   reply would strand a notification that was promised with a 202.
// - WebSocket: on acceptance the notification is published once to the
//   group "u:<user>" or "t:<topic>"; the status records how many sessions
//   took it. A full session misses it (counted), publishing never waits.
// - Push: each attempt is one tr_request to a gateway stream, due within
//   attempt_ms or what is left of the budget, whichever is sooner. After a
//   failure (an error reply, TR_ETIMEDOUT, TR_EBUSY, TR_EDOWN) notify_plan
//   picks a backoff pause with jitter, or ends it: FAIL for a permanent
//   error or max_attempts, EXPIRE when the retry could not finish in the
//   budget. A pause is a tr_send_after to ourselves; a notification waiting
//   for a free stream sits in the waiting list (a retry at its head: it
//   has waited its turn once), which the sweep timer expires when its
//   budget runs out. So every live notification always has exactly one
//   thing that will move it on: a request, a timer, or the sweep, and
//   every one reaches a final state by its deadline.
// - tr_request_retry fits a request that fails only by timing out; here
//   the gateway also answers with errors, some permanent, and the status
//   shows every attempt, so the courier drives its attempts itself with
//   the same ingredients: one tr_request per attempt, exponential backoff
//   with equal jitter, one overall deadline.
#include "notify.h"
#include "store.h"

#include <troupe/cluster.h>
#include <troupe/pack.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define GW_MAX 64

struct courier {
    struct notify_shard_arg a;
    struct notify_store st;
    uint64_t rng;
    tr_ref api;
    unsigned ngw;
    tr_ref gw[GW_MAX];
    uint32_t busy[GW_MAX]; // attempts in flight per gateway
    unsigned next_gw;      // where the search for a free stream starts
    uint32_t head, tail;   // waiting list of PUSH_QUEUED entries: index + 1
    uint32_t waiting;
};

static void
respond(struct courier *c, uint64_t token, int status, int retry_after_s,
        const char *body, size_t len)
{
    c->a.port.respond(c->a.port.cookie, token, status, retry_after_s, body,
                      len);
}

// respond_json answers with `j` (consumed).
static void
respond_json(struct courier *c, uint64_t token, int status, json_t *j)
{
    char *s = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    if (s != NULL)
        respond(c, token, status, 0, s, strlen(s));
    else
        respond(c, token, 500, 0, "{\"error\":\"out of memory\"}", 25);
    free(s);
    json_decref(j);
}

static void
gauges(struct courier *c)
{
    atomic_store_explicit(&c->a.ctr->live, c->st.live, memory_order_relaxed);
    atomic_store_explicit(&c->a.ctr->waiting, c->waiting, memory_order_relaxed);
}

static void
count(_Atomic uint64_t *n)
{
    atomic_fetch_add_explicit(n, 1, memory_order_relaxed);
}

// --- the waiting list ------------------------------------------------------

static void
wait_push(struct courier *c, struct notify_entry *e)
{
    uint32_t i = notify_store_index(&c->st, e) + 1;
    e->push = PUSH_QUEUED;
    e->prev = c->tail;
    e->next = 0;
    if (c->tail != 0)
        c->st.v[c->tail - 1].next = i;
    else
        c->head = i;
    c->tail = i;
    c->waiting++;
}

// wait_push_front puts a retry first: it has waited its turn once already,
// and behind a full queue a second wait would use up its budget.
static void
wait_push_front(struct courier *c, struct notify_entry *e)
{
    uint32_t i = notify_store_index(&c->st, e) + 1;
    e->push = PUSH_QUEUED;
    e->prev = 0;
    e->next = c->head;
    if (c->head != 0)
        c->st.v[c->head - 1].prev = i;
    else
        c->tail = i;
    c->head = i;
    c->waiting++;
}

static void
wait_remove(struct courier *c, struct notify_entry *e)
{
    if (e->prev != 0)
        c->st.v[e->prev - 1].next = e->next;
    else
        c->head = e->next;
    if (e->next != 0)
        c->st.v[e->next - 1].prev = e->prev;
    else
        c->tail = e->prev;
    e->prev = e->next = 0;
    c->waiting--;
}

// --- final states ----------------------------------------------------------

static void
finish(struct courier *c, struct notify_entry *e, enum notify_push state,
       int64_t now)
{
    notify_store_finish(&c->st, e, state, now);
    count(state == PUSH_DELIVERED ? &c->a.ctr->delivered
          : state == PUSH_FAILED  ? &c->a.ctr->failed
                                  : &c->a.ctr->expired);
}

static void pump(tr_ctx *ctx, struct courier *c);

// expire_waiting ends `e`, taken off the waiting list, whose budget ran out
// before a gateway stream was free; the last attempt's error is kept.
static void
expire_waiting(struct courier *c, struct notify_entry *e, int64_t now)
{
    char last[NOTIFY_ERROR_MAX];
    memcpy(last, e->error, sizeof last);
    if (e->attempts == 0)
        snprintf(e->error, sizeof e->error,
                 "budget used up waiting for the gateway");
    else
        snprintf(e->error, sizeof e->error,
                 "budget used up after %u attempts: %.56s",
                 (unsigned)e->attempts, last);
    finish(c, e, PUSH_EXPIRED, now);
}

// failed decides what follows a failed attempt of `e`.
static void
failed(tr_ctx *ctx, struct courier *c, struct notify_entry *e, bool permanent,
       const char *why)
{
    int64_t now = tr_ctx_now_ns(ctx), at = 0;
    switch (notify_plan(e->attempts, permanent, now, e->deadline_ns, &c->a.cfg,
                        &c->rng, &at)) {
    case NOTIFY_NEXT_RETRY: {
        snprintf(e->error, sizeof e->error, "%s", why);
        uint64_t id = e->id;
        int64_t ms = (at - now + 999999) / 1000000;
        if (tr_send_after(ctx, tr_self(ctx), NOTIFY_RETRY, &id, sizeof id, ms,
                          NULL) == 0) {
            e->push = PUSH_RETRYING;
            e->retry_ns = at;
            return;
        }
        snprintf(e->error, sizeof e->error, "no timer for a retry: %s", why);
        finish(c, e, PUSH_FAILED, now);
        return;
    }
    case NOTIFY_NEXT_FAIL:
        if (permanent)
            snprintf(e->error, sizeof e->error, "%s", why);
        else
            snprintf(e->error, sizeof e->error, "gave up after %u attempts: %s",
                     (unsigned)e->attempts, why);
        finish(c, e, PUSH_FAILED, now);
        return;
    case NOTIFY_NEXT_EXPIRE:
        snprintf(e->error, sizeof e->error,
                 "budget used up after %u attempts: %s", (unsigned)e->attempts,
                 why);
        finish(c, e, PUSH_EXPIRED, now);
        return;
    }
}

// --- attempts --------------------------------------------------------------

static void
on_reply(tr_ctx *ctx, int status, const tr_msg *reply, void *cookie)
{
    struct courier *c = tr_state(ctx);
    struct notify_entry *e = notify_store_get(&c->st, (uintptr_t)cookie);
    if (e == NULL || e->push != PUSH_SENDING)
        return; // cannot happen: a sending entry is live, so not evicted
    c->busy[e->gw]--;
    if (status == 0 && tr_msg_type(reply) == NOTIFY_PUSH_OK) {
        e->error[0] = '\0';
        finish(c, e, PUSH_DELIVERED, tr_ctx_now_ns(ctx));
    } else {
        char why[NOTIFY_ERROR_MAX] = "";
        bool permanent = false;
        if (status == 0 && tr_msg_type(reply) == NOTIFY_PUSH_ERR) {
            tr_unpack u;
            uint32_t n;
            const char *s = "";
            size_t len = 0;
            tr_unpack_init(&u, tr_msg_data(reply), tr_msg_size(reply));
            tr_unpack_array(&u, &n);
            tr_unpack_bool(&u, &permanent);
            tr_unpack_str(&u, &s, &len);
            if (tr_unpack_fini(&u) != 0)
                s = "a malformed error", len = strlen(s), permanent = false;
            snprintf(why, sizeof why, "gateway: %.*s", (int)len, s);
        } else if (status == TR_ETIMEDOUT) {
            count(&c->a.ctr->timeouts);
            snprintf(why, sizeof why, "attempt %u timed out",
                     (unsigned)e->attempts);
        } else if (status == 0) {
            snprintf(why, sizeof why, "unexpected reply type %u",
                     (unsigned)tr_msg_type(reply));
        } else {
            snprintf(why, sizeof why, "gateway: %s", tr_strerror(status));
        }
        failed(ctx, c, e, permanent, why);
    }
    pump(ctx, c);
}

// attempt sends `e` to gateway `g`.
static void
attempt(tr_ctx *ctx, struct courier *c, struct notify_entry *e, unsigned g)
{
    int64_t now = tr_ctx_now_ns(ctx);
    int64_t left = (e->deadline_ns - now) / 1000000;
    int64_t ms = c->a.cfg.attempt_ms < left ? c->a.cfg.attempt_ms : left;
    e->attempts++;
    count(&c->a.ctr->attempts);
    if (e->attempts > 1)
        count(&c->a.ctr->retries);
    int rc =
        tr_request(ctx, NULL, c->gw[g], NOTIFY_PUSH, e->push_req, e->push_len,
                   ms > 0 ? ms : 1, on_reply, (void *)(uintptr_t)e->id);
    if (rc != 0) {
        failed(ctx, c, e, false, tr_strerror(rc));
        return;
    }
    c->busy[g]++;
    e->gw = (uint16_t)g;
    e->push = PUSH_SENDING;
}

// free_gateway finds a gateway with a free stream, round robin.
static int
free_gateway(struct courier *c)
{
    for (unsigned k = 0; k < c->ngw; k++) {
        unsigned g = (c->next_gw + k) % c->ngw;
        if (c->busy[g] < c->a.cfg.streams) {
            c->next_gw = (g + 1) % c->ngw;
            return (int)g;
        }
    }
    return -1;
}

// pump starts waiting notifications while gateway streams are free.
static void
pump(tr_ctx *ctx, struct courier *c)
{
    int g;
    while (c->head != 0 && (g = free_gateway(c)) >= 0) {
        struct notify_entry *e = &c->st.v[c->head - 1];
        wait_remove(c, e);
        int64_t now = tr_ctx_now_ns(ctx);
        if (now + c->a.cfg.min_attempt_ms * 1000000 > e->deadline_ns) {
            expire_waiting(c, e, now);
            continue;
        }
        attempt(ctx, c, e, (unsigned)g);
    }
    gauges(c);
}

// sweep expires waiting notifications that can no longer be delivered.
static void
sweep(tr_ctx *ctx, struct courier *c)
{
    int64_t now = tr_ctx_now_ns(ctx);
    int64_t min = c->a.cfg.min_attempt_ms * 1000000;
    for (uint32_t i = c->head; i != 0;) {
        struct notify_entry *e = &c->st.v[i - 1];
        i = e->next;
        if (now + min > e->deadline_ns) {
            wait_remove(c, e);
            expire_waiting(c, e, now);
        }
    }
    gauges(c);
}

// --- API requests ------------------------------------------------------------

static int
retry_after_s(const struct courier *c)
{
    // The time for what waits now to reach a gateway stream, at the mean
    // latency: a hint, not a promise.
    double mean_ms =
        (double)(c->a.cfg.latency_min_ms + c->a.cfg.latency_max_ms) / 2;
    double per_s = (double)(c->ngw * c->a.cfg.streams) * 1000 / mean_ms;
    int s = (int)((double)c->st.live / per_s) + 1;
    return s > 60 ? 60 : s;
}

// ws_event is the JSON a session receives, newline-terminated.
static char *
ws_event(const struct notify_entry *e, const struct notify_submission *s,
         size_t *len)
{
    json_t *j =
        json_pack("{s:I, s:s%, s:s%, s:s%, s:I}", "id", (json_int_t)e->id,
                  e->kind ? "topic" : "user", s->name, s->name_len, "title",
                  s->title, s->title_len, "body", s->body, s->body_len,
                  "ttl_ms", (json_int_t)s->ttl_ms);
    char *out = NULL;
    if (j != NULL) {
        size_t n = json_dumpb(j, NULL, 0, JSON_COMPACT);
        out = n != 0 ? malloc(n + 1) : NULL;
        if (out != NULL && json_dumpb(j, out, n, JSON_COMPACT) == n) {
            out[n] = '\n';
            *len = n + 1;
        } else {
            free(out);
            out = NULL;
        }
        json_decref(j);
    }
    return out;
}

static void
fan_out(tr_ctx *ctx, struct notify_entry *e, const struct notify_submission *s)
{
    char group[NOTIFY_NAME_MAX + 3];
    snprintf(group, sizeof group, "%s:%.*s", e->kind ? "t" : "u",
             (int)s->name_len, s->name);
    size_t members = 0, took = 0, len = 0;
    tr_system *sys = tr_ctx_system(ctx);
    (void)tr_pg_members(sys, group, NULL, 0, &members);
    char *ev = members != 0 ? ws_event(e, s, &len) : NULL;
    if (ev != NULL)
        (void)tr_pg_publish(sys, tr_self(ctx), group, NOTIFY_EVENT, ev, len,
                            &took);
    free(ev);
    e->ws = members == 0 ? WS_NONE : took != 0 ? WS_DELIVERED : WS_MISSED;
    e->ws_sessions = (uint32_t)took;
}

static void
on_submit(tr_ctx *ctx, struct courier *c, const tr_msg *m)
{
    struct notify_submission s;
    if (notify_submission_unpack(&s, tr_msg_data(m), tr_msg_size(m),
                                 c->a.cfg.ttl_max_ms) != 0)
        return; // not from our edge: nobody to answer
    struct notify_counters *ctr = c->a.ctr;
    struct notify_entry *e = NULL;
    if (c->st.live < c->a.cfg.queue)
        e = notify_store_add(&c->st);
    if (e == NULL) {
        count(&ctr->rejected);
        char body[96];
        int ra = retry_after_s(c);
        int n = snprintf(body, sizeof body,
                         "{\"error\":\"delivery queue full\","
                         "\"retry_after_s\":%d}",
                         ra);
        respond(c, s.token, 503, ra, body, (size_t)n);
        return;
    }
    int64_t now = tr_ctx_now_ns(ctx);
    e->kind = (uint8_t)s.kind;
    e->name_len = (uint8_t)s.name_len;
    memcpy(e->name, s.name, s.name_len);
    e->created_ns = now;
    e->deadline_ns = now + s.ttl_ms * 1000000;
    // The gateway's request: [id, kind, name, title, body].
    tr_pack p;
    tr_pack_init(&p, NULL, 0);
    tr_pack_array(&p, 5);
    tr_pack_uint(&p, e->id);
    tr_pack_uint(&p, s.kind);
    tr_pack_str(&p, s.name, s.name_len);
    tr_pack_str(&p, s.title, s.title_len);
    tr_pack_str(&p, s.body, s.body_len);
    e->push_req = p.err == 0 ? malloc(tr_pack_len(&p)) : NULL;
    if (e->push_req == NULL) {
        tr_pack_fini(&p);
        snprintf(e->error, sizeof e->error, "out of memory");
        notify_store_finish(&c->st, e, PUSH_FAILED, now); // nobody knows it
        respond(c, s.token, 503, 1, "{\"error\":\"out of memory\"}", 25);
        return;
    }
    memcpy(e->push_req, tr_pack_data(&p), tr_pack_len(&p));
    e->push_len = (uint32_t)tr_pack_len(&p);
    tr_pack_fini(&p);
    count(&ctr->accepted);

    fan_out(ctx, e, &s);
    count(e->ws == WS_DELIVERED ? &ctr->ws_delivered
          : e->ws == WS_MISSED  ? &ctr->ws_missed
                                : &ctr->ws_none);
    wait_push(c, e);
    char body[96];
    int n =
        snprintf(body, sizeof body, "{\"id\":%llu,\"status\":\"/notify/%llu\"}",
                 (unsigned long long)e->id, (unsigned long long)e->id);
    respond(c, s.token, 202, 0, body, (size_t)n);
    pump(ctx, c);
}

static void
on_get(tr_ctx *ctx, struct courier *c, const tr_msg *m)
{
    tr_unpack u;
    uint32_t n = 0;
    uint64_t token = 0, id = 0;
    tr_unpack_init(&u, tr_msg_data(m), tr_msg_size(m));
    tr_unpack_array(&u, &n);
    tr_unpack_uint(&u, &token);
    tr_unpack_uint(&u, &id);
    if (tr_unpack_fini(&u) != 0)
        return;
    struct notify_entry *e = notify_store_get(&c->st, id);
    if (e == NULL) {
        respond_json(c, token, 404,
                     json_pack("{s:s, s:I}", "error",
                               "unknown id (or an old one, evicted)", "id",
                               (json_int_t)id));
        return;
    }
    int64_t now = tr_ctx_now_ns(ctx);
    json_t *push = json_pack("{s:s, s:i}", "state", notify_push_name(e->push),
                             "attempts", (int)e->attempts);
    if (push != NULL && e->error[0] != '\0')
        json_object_set_new(push, "last_error", json_string(e->error));
    if (push != NULL && e->push == PUSH_RETRYING)
        json_object_set_new(
            push, "retry_in_ms",
            json_integer((json_int_t)((e->retry_ns - now) / 1000000)));
    if (push != NULL && notify_store_final(e))
        json_object_set_new(
            push, "done_after_ms",
            json_integer((json_int_t)((e->done_ns - e->created_ns) / 1000000)));
    json_t *ws = json_pack("{s:s, s:i}", "state", notify_ws_name(e->ws),
                           "sessions", (int)e->ws_sessions);
    respond_json(
        c, token, 200,
        json_pack("{s:I, s:s%, s:I, s:I, s:o?, s:o?}", "id", (json_int_t)e->id,
                  e->kind ? "topic" : "user", e->name, (size_t)e->name_len,
                  "age_ms", (json_int_t)((now - e->created_ns) / 1000000),
                  "ttl_ms",
                  (json_int_t)((e->deadline_ns - e->created_ns) / 1000000),
                  "ws", ws, "push", push));
}

// --- the behaviour -----------------------------------------------------------

static int
courier_init(tr_ctx *ctx, const void *arg, size_t len)
{
    struct courier *c = tr_state(ctx);
    if (len != sizeof c->a)
        return TR_EINVAL;
    memcpy(&c->a, arg, sizeof c->a);
    const notify_config *cfg = &c->a.cfg;
    if (cfg->gateways > GW_MAX || notify_config_check(cfg) != NULL)
        return TR_EINVAL;
    if (notify_store_init(&c->st, cfg->store, cfg->shards, c->a.shard) != 0)
        return TR_ENOMEM;
    c->rng = (cfg->seed + 0x9e3779b97f4a7c15ull * (c->a.shard + 1)) | 1;
    c->ngw = cfg->gateways;
    int rc = 0;
    for (unsigned i = 0; i < c->ngw && rc == 0; i++) {
        struct notify_gateway_arg g = {
            .seed = cfg->seed * 1000003 + c->a.shard * 1009 + i + 1,
            .streams = cfg->streams,
            .latency_min_ms = cfg->latency_min_ms,
            .latency_max_ms = cfg->latency_max_ms,
            .fail_rate = cfg->fail_rate,
            .permanent_rate = cfg->permanent_rate,
        };
        // Room for a full set of streams, and as many requests whose
        // cancel is still on its way.
        tr_spawn_opts o = {.blocking = true, .capacity = 2 * cfg->streams};
        rc = tr_spawn(&c->gw[i], ctx, &notify_gateway, &g, sizeof g, &o);
    }
    if (rc == 0) {
        tr_spawn_opts o = {.capacity = cfg->api_queue};
        rc = tr_spawn(&c->api, ctx, &notify_api, &c->a, sizeof c->a, &o);
    }
    if (rc == 0)
        rc = tr_send_every(ctx, tr_self(ctx), NOTIFY_SWEEP, NULL, 0,
                           cfg->sweep_ms, NULL);
    if (rc != 0)
        notify_store_fini(&c->st);
    return rc;
}

static int
courier_receive(tr_ctx *ctx, const tr_msg *m)
{
    struct courier *c = tr_state(ctx);
    switch (tr_msg_type(m)) {
    case NOTIFY_SUBMIT:
        on_submit(ctx, c, m);
        return 0;
    case NOTIFY_GET:
        on_get(ctx, c, m);
        return 0;
    case NOTIFY_RETRY: {
        uint64_t id;
        if (tr_msg_size(m) != sizeof id)
            return 0;
        memcpy(&id, tr_msg_data(m), sizeof id);
        struct notify_entry *e = notify_store_get(&c->st, id);
        if (e != NULL && e->push == PUSH_RETRYING) {
            wait_push_front(c, e);
            pump(ctx, c);
        }
        return 0;
    }
    case NOTIFY_SWEEP:
        sweep(ctx, c);
        return 0;
    default:
        return TR_EUNHANDLED;
    }
}

static void
courier_stop(tr_ctx *ctx, int reason)
{
    struct courier *c = tr_state(ctx);
    (void)reason;
    // What is still live is lost with the process (the store is memory):
    // the live gauge keeps showing it.
    notify_store_fini(&c->st);
}

const tr_behavior notify_courier = {.name = "courier",
                                    .state_size = sizeof(struct courier),
                                    .init = courier_init,
                                    .receive = courier_receive,
                                    .stop = courier_stop};
