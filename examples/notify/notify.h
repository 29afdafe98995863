// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// notify.h: the pieces of examples/notify, a notification service, and
// what they say to each other. The server (server.c) puts them together:
//
//   HTTP / WebSocket (edge.c, nng threads)
//     |  POST /notify, GET /notify/<id>: one bounded table of requests in
//     |  flight; each is a token that an actor answers later (notify_port)
//     v
//   api.<shard>      bounded mailbox (TR_EFULL -> 503), per-user rate limit
//     v                (429); a child of its courier
//   courier.<shard>  owns its notifications: admission (503 when its queue
//     |                is full), the status store, WebSocket fan-out through
//     |                process groups, and push delivery: one request per
//     |                attempt, under a deadline, retried with backoff
//     |                within the notification's budget
//     v
//   gateway.<shard>.<i>  blocking actors that simulate a slow push service
//
//   session          one actor per WebSocket, a member of the groups
//                    "u:<user>" and "t:<topic>"
//
// Everything is bounded: the edge's table of requests in flight, each
// api's mailbox, each courier's live notifications and status entries,
// each gateway's streams and mailbox, each session's mailbox and queue of
// frames. A full one answers 503 with Retry-After (or, for a session,
// drops a frame and counts it) instead of growing.
#ifndef NOTIFY_H
#define NOTIFY_H

#include <troupe.h>

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// Message types between the pieces.
enum notify_msg {
    NOTIFY_SUBMIT = 1, // edge -> api -> courier: see notify_submission
    NOTIFY_GET,        // edge -> api -> courier: [token, id]
    NOTIFY_PUSH,       // courier -> gateway, a request: [id, target, title,
                       // body]
    NOTIFY_PUSH_OK,    // gateway's reply: delivered
    NOTIFY_PUSH_ERR,   // gateway's reply: [permanent (bool), reason]
    NOTIFY_RETRY,      // courier's own timer: the id (uint64_t) to retry
    NOTIFY_SWEEP,      // courier's own timer: expire what waited too long
    NOTIFY_EVENT,      // courier -> sessions (group publish): JSON + "\n"
    NOTIFY_WS_RECV,    // a session's socket -> the session: bytes read
    NOTIFY_WS_SENT,    // a session's socket -> the session: frame written
};

#define NOTIFY_NAME_MAX  64   // bytes of a user or topic name
#define NOTIFY_TITLE_MAX 128  // bytes of a title
#define NOTIFY_BODY_MAX  1024 // bytes of a body
#define NOTIFY_ERROR_MAX 96   // bytes of a status's last error, NUL included
// The largest ttl_max_ms: a day, far from overflowing a deadline in ns.
#define NOTIFY_TTL_LIMIT_MS 86400000

// notify_config: every knob, with notify_config_defaults() for a server
// that behaves as the README says.
typedef struct notify_config {
    const char *host; // listen address (loopback: "127.0.0.1")
    int port;         // 0: any free port (see notify_server_port)
    unsigned loops;   // loop threads
    unsigned shards;  // api + courier pairs; 0: one per loop
    // The simulated push gateway, per shard: `gateways` blocking actors,
    // each with `streams` requests in progress at most (an HTTP/2
    // connection's streams). An attempt takes a latency drawn uniformly
    // from [latency_min_ms, latency_max_ms]; `fail_rate` of attempts
    // fail, and `permanent_rate` of those failures are permanent (an
    // unregistered device: not retried).
    unsigned gateways;
    unsigned streams;
    int64_t latency_min_ms;
    int64_t latency_max_ms;
    double fail_rate;
    double permanent_rate;
    uint64_t seed; // of every random choice; 0: from the clock
    // Delivery: each attempt is a request due within attempt_ms (or what
    // is left of the budget); after a failure the next waits backoff_ms,
    // doubling up to backoff_max_ms, half of it random; at most
    // max_attempts; no attempt starts with less than min_attempt_ms of
    // the budget left (it could not succeed). A notification's budget is
    // its ttl_ms (default ttl_ms, at most ttl_max_ms).
    int64_t attempt_ms;
    int64_t min_attempt_ms;
    int64_t backoff_ms;
    int64_t backoff_max_ms;
    int max_attempts;
    int64_t ttl_ms;
    int64_t ttl_max_ms; // at most NOTIFY_TTL_LIMIT_MS
    // Rate limit per user (or topic): `rate` per second, bursts of
    // `burst`, tracked for `limiter_keys` keys per shard. rate 0: none.
    double rate;
    uint32_t burst;
    uint32_t limiter_keys;
    // Bounds.
    uint32_t queue;         // live notifications per shard
    uint32_t store;         // status entries per shard (>= 2 * queue)
    uint32_t api_queue;     // each api's mailbox
    uint32_t pending;       // HTTP requests waiting for an actor's answer
    int64_t pending_ms;     // how long one waits before the edge answers 503
    uint32_t sessions;      // WebSocket sessions
    uint32_t session_queue; // each session's mailbox
    int64_t sweep_ms;       // how often a courier expires queued work
} notify_config;

// notify_config_defaults fills `c` with the defaults.
void notify_config_defaults(notify_config *c);

// notify_config_check returns NULL when `c` is usable, else a static
// sentence saying what is wrong.
const char *notify_config_check(const notify_config *c);

// notify_port answers the HTTP request that `token` stands for: the
// actors' way out to the edge. respond copies `body` (JSON, `len` bytes),
// sets Retry-After when retry_after_s > 0, and ignores a token that was
// already answered or reclaimed. Thread: any.
typedef struct notify_port {
    void (*respond)(void *cookie, uint64_t token, int status, int retry_after_s,
                    const char *body, size_t len);
    void *cookie;
} notify_port;

// notify_counters: one shard's counters, written by its actors (relaxed
// atomics, one writer each) and read by /stats and tests.
struct notify_counters {
    _Atomic uint64_t accepted;     // 202: taken for delivery
    _Atomic uint64_t rejected;     // 503: the shard's queue was full
    _Atomic uint64_t limited;      // 429: the rate limit
    _Atomic uint64_t delivered;    // push delivered
    _Atomic uint64_t failed;       // push failed (permanent, or attempts)
    _Atomic uint64_t expired;      // push budget used up
    _Atomic uint64_t attempts;     // requests to the gateway
    _Atomic uint64_t retries;      // attempts after the first
    _Atomic uint64_t timeouts;     // attempts past their deadline
    _Atomic uint64_t ws_delivered; // notifications that reached a session
    _Atomic uint64_t ws_missed;    // sessions existed, all were full
    _Atomic uint64_t ws_none;      // nobody was connected
    _Atomic uint64_t live;         // accepted, not finished (gauge)
    _Atomic uint64_t waiting;      // of them, waiting for a gateway (gauge)
};

// The arguments of the actors (copied at spawn).
struct notify_shard_arg {
    notify_config cfg;
    unsigned shard;
    notify_port port;
    struct notify_counters *ctr; // outlives the actors
};

struct notify_gateway_arg {
    uint64_t seed;
    unsigned streams;
    int64_t latency_min_ms;
    int64_t latency_max_ms;
    double fail_rate;
    double permanent_rate;
};

struct notify_session_arg {
    void *stream;               // nng_stream *, owned by the session
    _Atomic unsigned *sessions; // decremented when the session ends
    uint32_t ngroups;
    char groups[9][NOTIFY_NAME_MAX + 3]; // "u:<user>", "t:<topic>"...
};

// The behaviours. The courier spawns its api and its gateways.
extern const tr_behavior notify_courier;
extern const tr_behavior notify_api;
extern const tr_behavior notify_gateway;
extern const tr_behavior notify_session;

// notify_api_name writes "notify.api.<shard>", the name an api registers.
void notify_api_name(char *buf, size_t size, unsigned shard);

// notify_name_ok is true for a user or topic name: 1-64 bytes of
// [A-Za-z0-9_.@-].
bool notify_name_ok(const char *s, size_t len);

// notify_hash is FNV-1a: which shard owns a user or topic.
uint64_t notify_hash(const void *data, size_t len);

// The submission the edge packs (tr_pack) for NOTIFY_SUBMIT:
// [token, kind (0 user, 1 topic), name, title, body, ttl_ms].
struct notify_submission {
    uint64_t token;
    unsigned kind;
    const char *name;
    size_t name_len;
    const char *title;
    size_t title_len;
    const char *body;
    size_t body_len;
    int64_t ttl_ms;
};

// notify_submission_pack writes `s` into `p` (tr_pack). Returns its error.
struct tr_pack;
int notify_submission_pack(struct tr_pack *p,
                           const struct notify_submission *s);

// notify_submission_unpack reads a NOTIFY_SUBMIT payload into `s`, whose
// strings point into `data`. Returns 0 or TR_EPROTO (also for strings
// longer than the edge allows, or a ttl_ms outside 1-ttl_max_ms, the
// edge's cfg->ttl_max_ms).
int notify_submission_unpack(struct notify_submission *s, const void *data,
                             size_t len, int64_t ttl_max_ms);

// ---------------------------------------------------------------------------
// Retry arithmetic (backoff.c), pure so tests can check it alone.

// notify_rng returns the next number of a xorshift64* generator whose
// state is *s (never 0).
uint64_t notify_rng(uint64_t *s);

// notify_backoff_ms returns the pause after failed attempt number
// `attempt` (1, 2, ...): base_ms * 2^(attempt-1), capped at cap_ms (0: no
// cap), with equal jitter (half of it fixed, half random).
int64_t notify_backoff_ms(int attempt, int64_t base_ms, int64_t cap_ms,
                          uint64_t *rng);

enum notify_next {
    NOTIFY_NEXT_RETRY,  // try again at *at_ns
    NOTIFY_NEXT_FAIL,   // permanent error, or max_attempts reached
    NOTIFY_NEXT_EXPIRE, // the next attempt could not finish in the budget
};

// notify_plan decides what follows failed attempt number `attempts`: a
// retry after the backoff, unless the error is permanent or the attempts
// are used up (FAIL), or the retry would start with less than
// cfg->min_attempt_ms of the budget left, too late to succeed (EXPIRE).
enum notify_next notify_plan(int attempts, bool permanent, int64_t now_ns,
                             int64_t deadline_ns, const notify_config *cfg,
                             uint64_t *rng, int64_t *at_ns);

#endif // NOTIFY_H
