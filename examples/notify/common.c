// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// common.c: configuration, names, the submission's payload, and the retry
// arithmetic (backoff with jitter, and what follows a failed attempt).
#include "notify.h"

#include <troupe/pack.h>

#include <stdio.h>
#include <string.h>

void
notify_config_defaults(notify_config *c)
{
    *c = (notify_config){
        .host = "127.0.0.1",
        .port = 8080,
        .loops = 2,
        .gateways = 4,
        .streams = 8,
        .latency_min_ms = 50,
        .latency_max_ms = 500,
        .fail_rate = 0.10,
        .permanent_rate = 0.10,
        .attempt_ms = 450,
        .min_attempt_ms = 50,
        .backoff_ms = 100,
        .backoff_max_ms = 5000,
        .max_attempts = 8,
        .ttl_ms = 30000,
        .ttl_max_ms = 600000,
        .rate = 10,
        .burst = 20,
        .limiter_keys = 4096,
        .queue = 1024,
        .store = 8192,
        .api_queue = 256,
        .pending = 1024,
        .pending_ms = 10000,
        .sessions = 1024,
        .session_queue = 64,
        .sweep_ms = 50,
    };
}

const char *
notify_config_check(const notify_config *c)
{
    if (c->host == NULL || c->port < 0 || c->port > 65535)
        return "bad host or port";
    if (c->loops == 0 || c->gateways == 0 || c->streams == 0 || c->streams > 64)
        return "loops and gateways must be > 0, streams 1-64";
    if (c->latency_min_ms < 0 || c->latency_max_ms < c->latency_min_ms)
        return "latency must be MIN-MAX with 0 <= MIN <= MAX";
    if (c->fail_rate < 0 || c->fail_rate > 1 || c->permanent_rate < 0 ||
        c->permanent_rate > 1)
        return "fail and permanent rates must be within 0-1";
    if (c->attempt_ms <= 0 || c->backoff_ms < 0 || c->backoff_max_ms < 0 ||
        c->max_attempts <= 0 || c->min_attempt_ms < 0)
        return "attempt_ms and max_attempts must be > 0, backoffs >= 0";
    if (c->ttl_ms <= 0 || c->ttl_max_ms < c->ttl_ms ||
        c->ttl_max_ms > NOTIFY_TTL_LIMIT_MS)
        return "ttl must be > 0 and at most ttl_max, ttl_max at most a day";
    if (c->rate < 0 || (c->rate > 0 && (c->burst == 0 || c->limiter_keys == 0)))
        return "a rate limit needs a burst and keys";
    if (c->queue == 0 || c->store < 2 * (uint64_t)c->queue ||
        c->api_queue == 0 || c->pending == 0 || c->session_queue == 0 ||
        c->sweep_ms <= 0)
        return "queues must be > 0, and the store at least twice the queue";
    if (c->pending_ms <= 0 || c->pending_ms > 3600000)
        return "pending_ms must be 1-3600000";
    return NULL;
}

void
notify_api_name(char *buf, size_t size, unsigned shard)
{
    snprintf(buf, size, "notify.api.%u", shard);
}

bool
notify_name_ok(const char *s, size_t len)
{
    if (len == 0 || len > NOTIFY_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-' ||
              c == '@'))
            return false;
    }
    return true;
}

uint64_t
notify_hash(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

int
notify_submission_pack(struct tr_pack *p, const struct notify_submission *s)
{
    tr_pack_array(p, 6);
    tr_pack_uint(p, s->token);
    tr_pack_uint(p, s->kind);
    tr_pack_str(p, s->name, s->name_len);
    tr_pack_str(p, s->title, s->title_len);
    tr_pack_str(p, s->body, s->body_len);
    return tr_pack_int(p, s->ttl_ms);
}

int
notify_submission_unpack(struct notify_submission *s, const void *data,
                         size_t len, int64_t ttl_max_ms)
{
    tr_unpack u;
    uint32_t n = 0;
    uint64_t kind = 0;
    *s = (struct notify_submission){0};
    tr_unpack_init(&u, data, len);
    tr_unpack_array(&u, &n);
    tr_unpack_uint(&u, &s->token);
    tr_unpack_uint(&u, &kind);
    tr_unpack_str(&u, &s->name, &s->name_len);
    tr_unpack_str(&u, &s->title, &s->title_len);
    tr_unpack_str(&u, &s->body, &s->body_len);
    tr_unpack_int(&u, &s->ttl_ms);
    // The strings point into `data`, not into the reader: fini keeps them.
    int rc = tr_unpack_fini(&u);
    // The readers copy the name into fixed buffers (the api's rate-limit
    // key, the courier's entry): a length past the edge's limits is a
    // malformed payload, not something to copy. So is a ttl past the
    // edge's: the courier adds ttl_ms * 1000000 to the time in ns.
    if (rc == 0 &&
        (n != 6 || kind > 1 || s->ttl_ms <= 0 || s->ttl_ms > ttl_max_ms ||
         s->name_len == 0 || s->name_len > NOTIFY_NAME_MAX ||
         s->title_len > NOTIFY_TITLE_MAX || s->body_len > NOTIFY_BODY_MAX))
        rc = TR_EPROTO;
    s->kind = (unsigned)kind;
    return rc;
}

// ---------------------------------------------------------------------------
// Retry arithmetic

uint64_t
notify_rng(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 2685821657736338717ull;
}

int64_t
notify_backoff_ms(int attempt, int64_t base_ms, int64_t cap_ms, uint64_t *rng)
{
    int64_t pause = base_ms;
    for (int i = 1; i < attempt && (cap_ms == 0 || pause < cap_ms); i++) {
        if (pause > INT64_MAX / 4)
            break; // no cap and absurd attempt counts: stop doubling
        pause *= 2;
    }
    if (cap_ms > 0 && pause > cap_ms)
        pause = cap_ms;
    // Equal jitter: retries of many notifications that failed together
    // spread over the second half of the pause instead of arriving at once.
    int64_t half = pause / 2;
    return pause - half + (int64_t)(notify_rng(rng) % (uint64_t)(half + 1));
}

enum notify_next
notify_plan(int attempts, bool permanent, int64_t now_ns, int64_t deadline_ns,
            const notify_config *cfg, uint64_t *rng, int64_t *at_ns)
{
    if (permanent || attempts >= cfg->max_attempts)
        return NOTIFY_NEXT_FAIL;
    int64_t pause =
        notify_backoff_ms(attempts, cfg->backoff_ms, cfg->backoff_max_ms, rng);
    // Compared in whole ms of budget left, never scaled to ns first: a
    // pause from absurd backoffs (or no cap and many attempts) or an
    // absurd min_attempt_ms would overflow int64 ns. pause and
    // min_attempt_ms are integers, so "> left_ms" (left rounded down) is
    // the same test as "> the budget left" in ns.
    if (deadline_ns < now_ns)
        return NOTIFY_NEXT_EXPIRE;
    int64_t left_ms = (deadline_ns - now_ns) / 1000000;
    if (pause > left_ms || cfg->min_attempt_ms > left_ms - pause)
        return NOTIFY_NEXT_EXPIRE;
    *at_ns = now_ns + pause * 1000000; // at most deadline_ns
    return NOTIFY_NEXT_RETRY;
}
