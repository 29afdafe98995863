// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// troupe.h: the public API of troupe, an actor runtime for C11.
//
// An actor is a state block plus a behaviour (init / receive / stop). Actors
// live on per-core loops, talk only by copying messages into each other's
// mailboxes, and form one ownership tree: every actor has a parent, and
// stopping an actor stops its subtree first. Refs are plain values; a stale
// ref gets TR_ENOACTOR, never freed memory.
//
// Thread notes: every declaration says which thread may call it.
//   any                 any thread, including loop threads and handlers
//   handler (ctx owner) only inside a behaviour callback, with the ctx it got
//   non-loop thread     a thread that is not one of the system's loops
#ifndef TROUPE_H
#define TROUPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(TR_BUILDING) && defined(__GNUC__)
#define TR_API __attribute__((visibility("default")))
#else
#define TR_API
#endif

// ---------------------------------------------------------------------------
// Errors

// TR_ERRORS lists every error code: name, value, text.
#define TR_ERRORS(X)                                                          \
    X(EINVAL, -1, "invalid argument")                                         \
    X(ENOMEM, -2, "out of memory")                                            \
    X(EFULL, -3, "mailbox is at capacity; nothing was queued")                \
    X(ENOACTOR, -4, "no such actor (stale or unknown ref)")                   \
    X(EMSGSIZE, -5, "message is larger than the configured maximum")          \
    X(ETIMEDOUT, -6, "deadline passed")                                       \
    X(ECLOSED, -7, "the system or actor is shutting down")                    \
    X(EUNHANDLED, -8, "message type not handled by this behaviour")           \
    X(EBUSY, -9, "resource busy; try again later")                            \
    X(ELIMIT, -10, "a configured limit was reached")                          \
    X(ESYS, -11, "operating system call failed")                              \
    X(EREMOTE, -12, "ref names another node and no transport is registered")  \
    X(EDOWN, -13, "the responder stopped (or never existed) before replying") \
    X(ECANCELED, -14, "cancelled")                                            \
    X(EINTENSITY, -15, "a supervisor's restart intensity was exceeded")       \
    X(EPROTO, -16, "malformed data: a bad frame or payload")                  \
    X(EAUTH, -17, "the peer failed authentication")                           \
    X(ENOCONN, -18, "no connection to the actor's node")

enum tr_err {
    TR_OK = 0,
#define TR_X_ENUM(n, c, s) TR_##n = c,
    TR_ERRORS(TR_X_ENUM)
#undef TR_X_ENUM
};

// tr_strerror returns a static description of `err` ("unknown error" for a
// code it does not know). Never NULL. Thread: any.
TR_API const char *tr_strerror(int err);

// tr_errname returns the code's name, e.g. "TR_EFULL", or "TR_E?" for an
// unknown code. Never NULL. Thread: any.
TR_API const char *tr_errname(int err);

// ---------------------------------------------------------------------------
// Core types

// tr_system is one actor runtime: its loops, its actors and its root.
typedef struct tr_system tr_system;

// tr_ctx is an actor's view of itself, lent to each behaviour callback for
// the duration of that callback only.
typedef struct tr_ctx tr_ctx;

// tr_msg is a message: a type, a sender, and payload bytes. A handler's
// message is lent until the handler returns; a message taken from an inbox
// is owned by the caller, who frees it with tr_msg_free().
typedef struct tr_msg tr_msg;

// tr_inbox is a mailbox for a thread that is not an actor (main, a test):
// it has a ref that actors can send and reply to, and blocking receive.
typedef struct tr_inbox tr_inbox;

// tr_ref names an actor: node (16 bits, 0 = this process), slot (24 bits)
// and generation (24 bits). A plain value: copy it, store it, send it. The
// all-zero ref names nobody.
typedef struct tr_ref {
    uint64_t bits;
} tr_ref;

#define TR_REF_NONE ((tr_ref){0})

// tr_ref_eq is true when both refs name the same actor. Thread: any.
static inline bool
tr_ref_eq(tr_ref a, tr_ref b)
{
    return a.bits == b.bits;
}

// tr_ref_is_none is true for the ref that names nobody. Thread: any.
static inline bool
tr_ref_is_none(tr_ref r)
{
    return r.bits == 0;
}

// Exit reasons. An actor stops with an int reason: TR_EXIT_NORMAL for a
// plain stop, the two positive system reasons below, or a negative error
// code (a crash: the handler returned that error or called tr_exit with it).
#define TR_EXIT_NORMAL   0
#define TR_EXIT_SHUTDOWN 1 // its parent or the system is stopping
#define TR_EXIT_KILLED   2 // stopped forcibly

// Message types at or above TR_MSG_SYSTEM are reserved for the runtime.
#define TR_MSG_SYSTEM 0xFFFF0000u

// tr_behavior describes a kind of actor. Keep it in static storage: the
// runtime holds the pointer for the actor's whole life.
typedef struct tr_behavior {
    // name appears in logs and diagnostics. May be NULL.
    const char *name;
    // state_size bytes of zeroed state are allocated with the actor and
    // returned by tr_state(). May be 0.
    size_t state_size;
    // init runs once, synchronously inside tr_spawn, on the spawner's thread,
    // before any message is delivered. `arg` is the spawner's argument,
    // borrowed for this call. A negative return fails the spawn with that
    // code; the stop hook then does not run (init cleans up after itself),
    // and any children init spawned are stopped. May be NULL.
    int (*init)(tr_ctx *ctx, const void *arg, size_t len);
    // receive handles one message, which is lent until it returns. Return 0,
    // TR_EUNHANDLED for a type it does not know (counted, not a crash), or
    // another negative code to crash: the actor stops with that reason.
    // Required.
    int (*receive)(tr_ctx *ctx, const tr_msg *msg);
    // stop runs exactly once for every actor whose init succeeded, after its
    // children have stopped and before its ref goes stale: the `finally`
    // that always runs. `reason` is the exit reason. May be NULL.
    void (*stop)(tr_ctx *ctx, int reason);
} tr_behavior;

// ---------------------------------------------------------------------------
// Logging

// Log levels. In tr_config, 0 (TR_LOG_DEFAULT) means TR_LOG_INFO.
enum tr_log_level {
    TR_LOG_DEFAULT = 0,
    TR_LOG_DEBUG,
    TR_LOG_INFO,
    TR_LOG_WARN,
    TR_LOG_ERROR,
    TR_LOG_OFF, // as a threshold: nothing is logged
};

// tr_log_fn receives one log line: space-separated key=value pairs that
// begin with `level=` and `event=`, e.g. "level=warn event=loop_stalled
// loop=0 behavior=parser msg_type=7 held_ms=212". No trailing newline.
// It is called from any of the system's threads (loops, the watchdog, pool
// threads, the caller of tr_log), possibly at once, so it must be
// thread-safe; it must not call back into the system.
// Ownership: `line` is lent for the call only.
typedef void (*tr_log_fn)(void *cookie, enum tr_log_level level,
                          const char *line);

// tr_log_level_name returns "debug", "info", "warn", "error" or "off"
// (static text; "info" for TR_LOG_DEFAULT). Thread: any.
TR_API const char *tr_log_level_name(enum tr_log_level level);

#if defined(__GNUC__)
#define TR_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define TR_PRINTF(f, a)
#endif

// ---------------------------------------------------------------------------
// System

// What a bounded mailbox does with a user message that finds it full.
// Signals (stop, exit, DOWN, timers' internal work) are never refused.
enum tr_overflow {
    TR_OVERFLOW_REFUSE = 0,  // the send returns TR_EFULL; nothing queued
    TR_OVERFLOW_DROP_NEWEST, // the send returns 0; the new message is dropped
    TR_OVERFLOW_DROP_OLDEST, // the send returns 0; the oldest queued message
                             // is dropped when the actor next reads (until
                             // then the queue may hold more than capacity)
    TR_OVERFLOW_WAIT, // a sender off the loops waits up to wait_ms for room,
                      // then gets TR_EFULL; on a loop thread, as REFUSE
};

// tr_config sets up a system. Zero-initialise it and set what you need.
typedef struct tr_config {
    // loops is the number of loop threads. 0: one per online CPU.
    unsigned loops;
    // pin binds loop i to CPU i modulo the CPU count.
    bool pin;
    // budget is how much an actor may do per turn before the loop runs
    // others (fairness): each message handled and each message sent costs
    // one. A handler always runs to completion. 0: 64.
    unsigned budget;
    // max_msg_size caps a message's payload in bytes; larger sends fail
    // with TR_EMSGSIZE. 0: 64 MiB.
    size_t max_msg_size;
    // manual makes a deterministic system for tests: one loop with no
    // thread, driven by the caller with tr_system_run and
    // tr_system_advance, on a virtual clock that starts at 0 and moves only
    // when advanced. Everything then happens on the driving thread, in the
    // same order every time.
    bool manual;
    // seed seeds the runtime's randomness (retry jitter). 0: from the
    // clock, or 1 in a manual system.
    uint64_t seed;
    // mailbox_capacity and mailbox_overflow are the defaults for spawns
    // that set no capacity. 0: unbounded mailboxes.
    uint32_t mailbox_capacity;
    enum tr_overflow mailbox_overflow;
    // debug (or TROUPE_DEBUG=1 in the environment): warn once per
    // behaviour about user messages nobody handled, and at close report the
    // actors still alive when it began, requests never answered, dead
    // letters and late replies (lines on the log sink).
    bool debug;
    // watchdog_ms: a handler holding its loop longer than this is reported
    // (a warn line on the log sink naming the behaviour and message type,
    // while it is stuck and again when it returns; tr_stats.loop_stalls).
    // 0: 50 ms; negative: no watchdog.
    int64_t watchdog_ms;
    // sample_every: each loop times one turn in this many (rounded up to
    // a power of two) for tr_loop_info.run, and after each timed turn the
    // lag of the next post to it, for tr_loop_info.lag (timers' lateness is
    // always recorded). 0: 256; 1: every turn (about three clock reads
    // more per turn).
    unsigned sample_every;
    // actor_stats keeps per-actor counters (the depth of unbounded
    // mailboxes, messages handled, busy time) for tr_actors_top and
    // troupe/metrics.h: 16 bytes more per actor (128 instead of 112) and
    // a counter update per message. Off, tr_actors_top sees the depth of
    // bounded mailboxes only.
    bool actor_stats;
    // pool_threads is the size of the blocking pool (tr_offload); 0: 4.
    // pool_queue bounds its queue of jobs waiting for a thread, and is the
    // default mailbox capacity of a blocking actor; 0: 1024.
    unsigned pool_threads;
    uint32_t pool_queue;
    // blocking_threads is the number of threads that run blocking actors
    // (tr_spawn_opts.blocking), apart from pool_threads so that neither
    // kind of work can starve the other; started with the first blocking
    // actor. 0: 4.
    unsigned blocking_threads;
    // shutdown_ms is how long a stopping parent (or tr_system_close) lets
    // a child that traps exits take over its shutdown before killing it.
    // 0: 5000; negative: no limit.
    int64_t shutdown_ms;
    // log_fn receives the system's log lines (the watchdog, debug mode,
    // mailbox alarms, tr_log) at log_level and above, with log_cookie.
    // NULL: each line goes to stderr, prefixed "troupe ". log_level 0:
    // TR_LOG_INFO.
    tr_log_fn log_fn;
    void *log_cookie;
    enum tr_log_level log_level;
} tr_config;

// tr_system_open starts a system with `cfg` (NULL for defaults): its loop
// threads are running when it returns.
// Returns 0, TR_EINVAL, TR_ENOMEM or TR_ESYS.
// Ownership: *out is the caller's until tr_system_close() succeeds; `cfg` is
// borrowed for the call. Thread: any.
TR_API int tr_system_open(tr_system **out, const tr_config *cfg);

// tr_stats counts what a system did. Counters are exact once the system has
// stopped, and a recent approximation while it runs.
typedef struct tr_stats {
    uint64_t actors_live;        // spawned and not yet freed (inboxes included)
    uint64_t actors_spawned;     // spawns that succeeded
    uint64_t actors_crashed;     // actors that stopped with a negative reason
    uint64_t msgs_sent;          // messages queued into a mailbox
    uint64_t dead_letters;       // user messages left unread by a dead actor
    uint64_t unhandled;          // receive returned TR_EUNHANDLED
    uint64_t late_replies;       // replies that came after their request ended
    uint64_t msgs_refused;       // sends that got TR_EFULL
    uint64_t msgs_dropped;       // dropped by a mailbox's overflow policy
    uint64_t mailbox_alarms;     // overload alarms raised
    uint64_t loop_stalls;        // handlers that held a loop past watchdog_ms
    uint64_t requests_abandoned; // pending when their requester stopped
    uint64_t requests_timed_out; // requests (and tr_call) past their deadline
    uint64_t timers_fired;       // timers that fired (requests' deadlines too)
    int64_t timer_late_max_ns;   // the latest any timer fired, past its due
} tr_stats;

// tr_system_stats fills *out with the system's counters.
// Ownership: `out` is borrowed. Thread: any.
TR_API void tr_system_stats(tr_system *sys, tr_stats *out);

// tr_system_loops returns the number of loop threads. Thread: any.
TR_API unsigned tr_system_loops(tr_system *sys);

// tr_system_close stops every actor (top-level actors newest first, each
// stopping its own subtree first, with reason TR_EXIT_SHUTDOWN), joins the
// loop threads and frees the system. If `final` is not NULL it receives the
// counters as they were at the end; actors_live is then 0 unless
// something leaked.
// Returns 0 when everything stopped, TR_ETIMEDOUT if the tree had not
// stopped after `timeout_ms` (negative: wait forever) - the system then
// stays valid and still shutting down, and the caller may call
// tr_system_close again to keep waiting - or TR_EBUSY, with nothing done, if
// an inbox is still allocated.
// Ownership: on 0, `sys` is freed. Thread: non-loop thread.
TR_API int tr_system_close(tr_system *sys, int64_t timeout_ms, tr_stats *final);

// tr_system_run runs a manual system until nothing is runnable, firing
// timers due on its virtual clock. Returns the number of actor turns run,
// or TR_EINVAL for a system that is not manual. Thread: the driver.
TR_API int tr_system_run(tr_system *sys);

// tr_system_advance moves a manual system's virtual clock forward by
// `ms`, firing timers in due order and running after each, then runs until
// idle. Returns the number of turns run, or TR_EINVAL. Thread: the driver.
TR_API int tr_system_advance(tr_system *sys, int64_t ms);

// tr_log writes one line through the system's log sink when `level` is at
// or above the configured threshold: "level=<level> event=<event>" and,
// if `fmt` is not NULL, a space and the printf-formatted rest, which
// should be key=value pairs (values without spaces, or quoted). Lines
// longer than 511 bytes are cut. Thread: any.
TR_API void tr_log(tr_system *sys, enum tr_log_level level, const char *event,
                   const char *fmt, ...) TR_PRINTF(4, 5);

// tr_log_enabled is true when a line at `level` would be written, so a
// caller can skip preparing one. Thread: any.
TR_API bool tr_log_enabled(tr_system *sys, enum tr_log_level level);

// tr_system_now_ns returns the system's clock in ns: CLOCK_MONOTONIC, or
// the virtual clock of a manual system. Deadlines are on this clock.
// Thread: any.
TR_API int64_t tr_system_now_ns(tr_system *sys);

// ---------------------------------------------------------------------------
// Spawning

// Placement: where a new actor lives for its whole life.
enum tr_placement {
    TR_PLACE_PARENT = 0,  // the spawner's loop (round-robin at top level)
    TR_PLACE_ROUND_ROBIN, // the next loop in turn
    TR_PLACE_LOOP,        // the loop numbered tr_spawn_opts.loop
};

// tr_spawn_opts tunes one spawn. Zero-initialise; NULL means all defaults.
typedef struct tr_spawn_opts {
    enum tr_placement placement;
    unsigned loop; // with TR_PLACE_LOOP: 0 .. tr_system_loops() - 1
    // shutdown_ms is this child's shutdown deadline when its parent stops
    // (see tr_config.shutdown_ms). 0: the system's; negative: no limit.
    // Top-level actors always use the system's.
    int64_t shutdown_ms;
    // capacity bounds the mailbox to this many user messages (0: the
    // system's mailbox_capacity; that 0 too: unbounded), with `overflow`
    // deciding what a full mailbox does, and wait_ms for TR_OVERFLOW_WAIT.
    // A bounded actor costs 32 bytes more.
    uint32_t capacity;
    enum tr_overflow overflow;
    int64_t wait_ms;
    // Overload alarm (bounded or not): when the mailbox reaches
    // high_watermark user messages, the alarm is raised (a warn line on
    // the log sink, tr_stats.mailbox_alarms, and TR_MSG_OVERLOAD to
    // alarm_to if set); it clears only once the mailbox is back to
    // low_watermark (hysteresis), with another TR_MSG_OVERLOAD. 0: no alarm.
    uint32_t high_watermark;
    uint32_t low_watermark;
    tr_ref alarm_to;
    // blocking makes a *blocking actor*: the same behaviour API, but its
    // handlers run on one of the system's blocking-actor threads
    // (tr_config.blocking_threads) instead of a loop, so they may block
    // (sleep, synchronous I/O, a sync database driver, CPU-heavy work), and
    // may wait for their next message with tr_receive. It is an ordinary
    // member of the tree: supervised, linked, monitored, stopped with its
    // parent. Its init still runs on the spawner's thread and must not
    // block. Its mailbox is always bounded (capacity 0: the system's
    // mailbox_capacity, else tr_config.pool_queue); a send to a full one
    // returns TR_EBUSY. A blocking actor cannot spawn children, arm timers
    // (tr_send_after, tr_send_every), make asynchronous requests
    // (tr_request, tr_gather, tr_request_retry) or offload: those return
    // TR_EINVAL; it waits with tr_receive instead, and may call tr_call. A
    // handler that waits in tr_receive holds its thread, so at most
    // blocking_threads blocking actors make progress at once. Not
    // available in a manual system (TR_EINVAL).
    bool blocking;
} tr_spawn_opts;

// tr_spawn creates a child of the calling actor running behaviour `b`, runs
// its init with `arg` (borrowed for the call) and stores its ref in *out.
// Returns 0, init's negative code, TR_EINVAL (bad behaviour or placement;
// the caller is a blocking actor; a blocking actor in a manual system),
// TR_ENOMEM, TR_ELIMIT (no free actor slot) or TR_ECLOSED (the caller is
// stopping). `opts` may be NULL. Thread: handler (ctx owner).
TR_API int tr_spawn(tr_ref *out, tr_ctx *ctx, const tr_behavior *b,
                    const void *arg, size_t len, const tr_spawn_opts *opts);

// tr_system_spawn creates a top-level actor (a child of the system's root),
// otherwise as tr_spawn. Returns as tr_spawn, TR_ECLOSED once
// tr_system_close has begun. Thread: any.
TR_API int tr_system_spawn(tr_ref *out, tr_system *sys, const tr_behavior *b,
                           const void *arg, size_t len,
                           const tr_spawn_opts *opts);

// ---------------------------------------------------------------------------
// Inside a handler

// tr_self returns the calling actor's ref. Thread: handler (ctx owner).
TR_API tr_ref tr_self(const tr_ctx *ctx);

// tr_state returns the actor's state block (state_size bytes, zeroed at
// spawn), or NULL when state_size is 0. Owned by the runtime, valid until
// the stop hook returns. Thread: handler (ctx owner).
TR_API void *tr_state(const tr_ctx *ctx);

// tr_ctx_system returns the system the actor lives in. Thread: handler.
TR_API tr_system *tr_ctx_system(const tr_ctx *ctx);

// tr_ctx_loop returns the index of the loop the actor lives on (for a
// blocking actor: the loop whose clock it uses). Thread: handler (ctx owner).
TR_API unsigned tr_ctx_loop(const tr_ctx *ctx);

// tr_parent returns the actor's parent, or TR_REF_NONE for a top-level
// actor. Thread: handler (ctx owner).
TR_API tr_ref tr_parent(const tr_ctx *ctx);

// tr_become replaces the actor's behaviour with `b` from the next message
// on (a state machine's next state). `b` shares the actor's state block, so
// b->state_size must not exceed the size the actor was spawned with.
// Returns 0 or TR_EINVAL. Ownership: `b` is held, keep it static.
// Thread: handler (ctx owner).
TR_API int tr_become(tr_ctx *ctx, const tr_behavior *b);

// tr_send copies `len` bytes of `data` into a new message of `type` from
// the calling actor to `to`. Per sender and receiver, messages arrive in
// send order; delivery is at most once.
// Returns 0, TR_EINVAL (type reserved), TR_ENOACTOR (stale or unknown ref),
// TR_EMSGSIZE, TR_ENOMEM or TR_EREMOTE.
// Ownership: `data` is borrowed for this call only. Thread: handler.
TR_API int tr_send(tr_ctx *ctx, tr_ref to, uint32_t type, const void *data,
                   size_t len);

// tr_reply sends to the sender of `msg` (which must have one), as tr_send.
// Returns as tr_send; TR_ENOACTOR when `msg` had no sender.
// Thread: handler (ctx owner).
TR_API int tr_reply(tr_ctx *ctx, const tr_msg *msg, uint32_t type,
                    const void *data, size_t len);

// tr_forward sends a copy of `msg` to `to` as if its original sender had
// sent it there: the sender, request id and deadline are kept, so `to`
// replies straight to the requester (routers, proxies). Returns as
// tr_send. Thread: handler.
TR_API int tr_forward(tr_ctx *ctx, tr_ref to, const tr_msg *msg);

// tr_stop asks actor `who` to stop with `reason` (>= 0, or a negative code
// for a crash). Stopping is asynchronous: `who` stops its children first,
// then runs its stop hook. Stopping an actor that is already stopping does
// nothing. Returns 0, TR_ENOACTOR or TR_EINVAL. Thread: handler.
TR_API int tr_stop(tr_ctx *ctx, tr_ref who, int reason);

// tr_receive waits up to `timeout_ms` (negative: no limit; 0: poll) for
// the calling blocking actor's next message, as CAF's blocking actors do,
// and stores it in *out. Stop and exit signals wake it: then it returns
// TR_ECLOSED, and the handler should return. Trapped exits arrive as
// TR_MSG_EXIT messages, DOWNs as TR_MSG_DOWN.
// Returns 0, TR_ETIMEDOUT, TR_ECLOSED (the actor is stopping) or TR_EINVAL
// (not inside a blocking actor's receive handler).
// Ownership: *out is lent until the handler returns or calls tr_receive
// again. Thread: handler (ctx owner) of a blocking actor.
TR_API int tr_receive(tr_ctx *ctx, const tr_msg **out, int64_t timeout_ms);

// tr_exit_text is tr_exit with a short text for the reason (cut to
// TR_EXIT_TEXT - 1 bytes), which monitors (tr_down) and links
// (tr_exit_info) receive with it. Thread: handler (ctx owner).
TR_API void tr_exit_text(tr_ctx *ctx, int reason, const char *text);

// tr_exit stops the calling actor with `reason` once the current handler
// returns; no further user message is delivered to it. Equivalent to a
// handler returning a negative reason when `reason` is negative.
// Thread: handler (ctx owner).
TR_API void tr_exit(tr_ctx *ctx, int reason);

// ---------------------------------------------------------------------------
// Monitors and links

// TR_MSG_DOWN is delivered to a monitoring actor (or inbox) when the actor
// it monitors stops; the payload is a struct tr_down and the sender is the
// actor that stopped. It arrives after every message that actor sent
// before stopping, and exactly once per monitor (never after
// tr_demonitor). A monitor set on a ref that is already gone gets its DOWN
// at once, with reason TR_ENOACTOR.
#define TR_MSG_DOWN (TR_MSG_SYSTEM + 0x100)

// TR_MSG_EXIT is delivered instead of stopping to an actor that traps
// exits (tr_trap_exit) when a linked actor stops; the payload is a struct
// tr_exit_info.
#define TR_MSG_EXIT (TR_MSG_SYSTEM + 0x101)

// TR_EXIT_TEXT is the room for an exit reason's short text, NUL included.
#define TR_EXIT_TEXT 48

typedef struct tr_down {
    tr_ref who;              // the actor that stopped
    uint64_t mon;            // the monitor's id, as tr_monitor returned it
    int32_t reason;          // its exit reason
    char text[TR_EXIT_TEXT]; // tr_exit_text's text, else empty
} tr_down;

typedef struct tr_exit_info {
    tr_ref who;              // the linked actor that stopped
    int32_t reason;          // its exit reason
    char text[TR_EXIT_TEXT]; // tr_exit_text's text, else empty
} tr_exit_info;

// tr_monitor asks for a TR_MSG_DOWN when `who` stops, and stores the
// monitor's id in *mon (if not NULL). Monitors are one-way and may be set
// more than once (each gets its own DOWN).
// Returns 0 (also when `who` is already gone: the DOWN is then on its way),
// TR_ENOMEM or TR_EREMOTE. Thread: handler (ctx owner).
TR_API int tr_monitor(tr_ctx *ctx, tr_ref who, uint64_t *mon);

// tr_demonitor removes a monitor; no DOWN for it is delivered after this
// call, even one already on its way. Returns 0 or TR_EINVAL (unknown id).
// Thread: handler (ctx owner).
TR_API int tr_demonitor(tr_ctx *ctx, uint64_t mon);

// tr_link links the caller and `who` both ways: when either stops, the
// other gets an exit signal with its reason. An actor not trapping exits
// ignores TR_EXIT_NORMAL and stops with any other reason; one that traps
// gets a TR_MSG_EXIT message instead. Linking to a ref that is already gone
// sends the caller an exit signal with reason TR_ENOACTOR. Linking twice
// is the same as once. Returns 0, TR_ENOMEM, TR_EINVAL (self) or
// TR_EREMOTE. Thread: handler (ctx owner).
TR_API int tr_link(tr_ctx *ctx, tr_ref who);

// tr_unlink removes a link both ways; no exit signal from `who` takes
// effect after this call. Returns 0 or TR_EINVAL (not linked).
// Thread: handler (ctx owner).
TR_API int tr_unlink(tr_ctx *ctx, tr_ref who);

// tr_trap_exit turns exit trapping on or off for the caller.
// Thread: handler (ctx owner).
TR_API void tr_trap_exit(tr_ctx *ctx, bool on);

// ---------------------------------------------------------------------------
// Timers

// tr_send_after sends the message (copied now) from the calling actor to
// `to` after `delay_ms` (0: on the next loop turn); never earlier. The
// timer dies with the actor. *timer (if not NULL) gets a handle for
// tr_timer_cancel. Returns 0, TR_EINVAL, TR_EMSGSIZE or TR_ENOMEM; a
// message that cannot be delivered when the timer fires (a stale `to`) is
// counted as a dead letter. Thread: handler (ctx owner).
TR_API int tr_send_after(tr_ctx *ctx, tr_ref to, uint32_t type,
                         const void *data, size_t len, int64_t delay_ms,
                         uint64_t *timer);

// tr_send_every is tr_send_after repeating every `period_ms` (> 0), on a
// fixed schedule (lateness does not accumulate), until cancelled, until the
// actor stops or until `to` is gone. Thread: handler (ctx owner).
TR_API int tr_send_every(tr_ctx *ctx, tr_ref to, uint32_t type,
                         const void *data, size_t len, int64_t period_ms,
                         uint64_t *timer);

// tr_timer_cancel stops a timer of the calling actor; nothing is sent
// after this call. O(timers the actor has). Returns 0 or TR_EINVAL
// (unknown, fired or cancelled). Thread: handler (ctx owner).
TR_API int tr_timer_cancel(tr_ctx *ctx, uint64_t timer);

// tr_ctx_now_ns returns the system's clock (see tr_system_now_ns).
// Thread: handler (ctx owner).
TR_API int64_t tr_ctx_now_ns(const tr_ctx *ctx);

// ---------------------------------------------------------------------------
// Requests: every request has a deadline

// tr_reply_fn completes a request, exactly once, in the requester's
// context: `status` is 0 with the `reply` (lent for the call), or
// TR_ETIMEDOUT (the deadline passed), TR_EDOWN (the responder stopped or
// did not exist; reported at once, not at the deadline), TR_ECANCELED (the
// request this one was made for was cancelled), TR_EINVAL (bad type or
// timeout), TR_EMSGSIZE or TR_ENOMEM, with `reply` NULL. If the requester
// stops first, no callback runs.
typedef void (*tr_reply_fn)(tr_ctx *ctx, int status, const tr_msg *reply,
                            void *cookie);

// tr_request sends a request to `to`, due within `timeout_ms` (> 0), and
// stores its id in *req (if not NULL). The responder answers with
// tr_reply (or tr_reply_to later). The absolute deadline travels with the
// request; a request made while handling a request inherits the earlier of
// the two deadlines and is cancelled if that request is. When a request
// times out or its requester stops, the responder gets TR_MSG_CANCEL.
// Returns 0, after which `fn` runs exactly once (unless the requester
// stops), or - with no callback ever - TR_EINVAL (fn NULL) or TR_ENOMEM.
// Cost: an entry and one timer, no other allocation.
// Ownership: `data` is borrowed for the call; `cookie` is passed back.
// Thread: handler (ctx owner).
TR_API int tr_request(tr_ctx *ctx, uint64_t *req, tr_ref to, uint32_t type,
                      const void *data, size_t len, int64_t timeout_ms,
                      tr_reply_fn fn, void *cookie);

// tr_request_cancel abandons a pending request: its callback will not run,
// and the responder gets TR_MSG_CANCEL. Returns 0 or TR_EINVAL (not
// pending). Thread: handler (ctx owner).
TR_API int tr_request_cancel(tr_ctx *ctx, uint64_t req);

// TR_MSG_CANCEL tells a responder that a request it got was abandoned
// (timed out, cancelled, or its requester stopped), so deferred work can be
// dropped. Payload: tr_request_info. Returning TR_EUNHANDLED is fine.
#define TR_MSG_CANCEL (TR_MSG_SYSTEM + 0x102)

typedef struct tr_request_info {
    tr_ref requester;
    uint64_t req; // the request's id at the requester
} tr_request_info;

// tr_msg_is_request is true for a message sent by tr_request (or
// tr_call). Thread: any holder.
TR_API bool tr_msg_is_request(const tr_msg *m);

// tr_msg_deadline_ns returns a request's absolute deadline on the system
// clock, 0 for none. Thread: any holder.
TR_API int64_t tr_msg_deadline_ns(const tr_msg *m);

// tr_budget_ms returns the time left, in ms (>= 0), before the deadline of
// the request being handled, or -1 when the message has none.
// Thread: handler (ctx owner).
TR_API int64_t tr_budget_ms(const tr_ctx *ctx);

// tr_reply_token is what a responder keeps to reply later: a plain value.
typedef struct tr_reply_token {
    tr_ref to;
    uint64_t req; // 0: not a request, the reply is a plain message
    int64_t deadline_ns;
} tr_reply_token;

// tr_reply_later returns a token for replying to `m` after its handler
// has returned. Thread: any holder.
TR_API tr_reply_token tr_reply_later(const tr_msg *m);

// tr_reply_to replies through a token, as tr_reply. A reply after the
// requester gave up is dropped there and counted (late_replies).
// Thread: handler.
TR_API int tr_reply_to(tr_ctx *ctx, const tr_reply_token *t, uint32_t type,
                       const void *data, size_t len);

// tr_call makes a request from a thread that is not an actor and waits up
// to `timeout_ms` for the reply, stored in *reply (the caller's, to
// tr_msg_free). Returns 0, TR_ETIMEDOUT (the responder is told), TR_EDOWN,
// TR_EINVAL (also for a manual system, which nothing would run), TR_ENOMEM
// or TR_EMSGSIZE. Thread: non-loop thread.
TR_API int tr_call(tr_system *sys, tr_ref to, uint32_t type, const void *data,
                   size_t len, int64_t timeout_ms, tr_msg **reply);

// ---------------------------------------------------------------------------
// Fan-out, bounded concurrency and retry

// tr_gather_item is one request of a gather.
typedef struct tr_gather_item {
    tr_ref to;
    uint32_t type;
    const void *data; // copied by tr_gather
    size_t len;
} tr_gather_item;

// tr_outcome is one request's result: status as for tr_reply_fn, and the
// reply (status 0) lent until the gather's callback returns.
typedef struct tr_outcome {
    int status;
    const tr_msg *reply;
} tr_outcome;

typedef struct tr_gather_opts {
    int64_t timeout_ms;   // one deadline for the whole gather (> 0)
    size_t max_in_flight; // at most this many requests at once; 0: all
    bool fail_fast;       // on the first failure, cancel the rest
} tr_gather_opts;

// tr_gather_fn receives every outcome, in the order of the items. With
// fail_fast, items cancelled or never sent have TR_ECANCELED.
typedef void (*tr_gather_fn)(tr_ctx *ctx, const tr_outcome *outcomes, size_t n,
                             void *cookie);

// tr_gather sends the n requests (keeping at most max_in_flight pending,
// the asyncio.Semaphore pattern) under one deadline, and calls `done` once
// with every outcome (asyncio's gather(return_exceptions=True)).
// Returns 0, after which `done` runs exactly once (unless the caller
// stops), or TR_EINVAL / TR_ENOMEM with no callback.
// Ownership: `items` and their data are copied. Thread: handler.
TR_API int tr_gather(tr_ctx *ctx, const tr_gather_item *items, size_t n,
                     const tr_gather_opts *opts, tr_gather_fn done,
                     void *cookie);

// tr_retry says how tr_request_retry retries.
typedef struct tr_retry {
    int max_attempts;           // > 0
    int64_t timeout_ms;         // overall deadline: the hard limit (> 0)
    int64_t attempt_timeout_ms; // each attempt's own limit; 0: what is left
    int64_t backoff_ms;         // first pause; doubles after each failure
    int64_t backoff_max_ms;     // cap on the pause; 0: no cap
} tr_retry;

// tr_request_retry makes a request and retries it after TR_ETIMEDOUT or
// TR_EDOWN, pausing with exponential backoff and jitter (half the pause
// fixed, half random), until a reply, max_attempts, or the overall
// deadline (a pause that would cross it ends the retries). `fn` runs once
// with the last outcome. Returns as tr_request. Thread: handler.
TR_API int tr_request_retry(tr_ctx *ctx, tr_ref to, uint32_t type,
                            const void *data, size_t len,
                            const tr_retry *policy, tr_reply_fn fn,
                            void *cookie);

// ---------------------------------------------------------------------------
// Blocking work off the loops

// tr_job is a running offloaded job, lent to its function.
typedef struct tr_job tr_job;

// tr_job_fn runs on a pool thread and may block; it returns the result.
// `arg` is the job's own copy of the argument bytes.
typedef void *(*tr_job_fn)(const tr_job *job, void *arg);
// tr_job_done receives the result in the caller's context, on its loop.
typedef void (*tr_job_done)(tr_ctx *ctx, void *result, void *cookie);
// tr_job_free frees a result nobody will receive.
typedef void (*tr_job_free)(void *result);

// tr_offload runs fn(job, copy of arg) on the blocking pool (asyncio's
// run_in_executor) and later calls done(ctx, result, cookie) in the
// calling actor's context. The `len` argument bytes are copied into the
// job, so the job never reads the caller's memory, which may be gone. If the
// actor stops first, the job sees tr_job_cancelled() become true, done never
// runs, and the result goes to free_result (if not NULL). Returns 0, TR_EBUSY
// at once when the pool's queue is full, TR_EINVAL or TR_ENOMEM (no callback
// then). Ownership: `arg` is borrowed for the call (copied); `cookie` stays the
// caller's and is used only in done; the result passes to done (or
// free_result). Thread: handler (ctx owner).
TR_API int tr_offload(tr_ctx *ctx, tr_job_fn fn, const void *arg, size_t len,
                      tr_job_done done, void *cookie, tr_job_free free_result);

// tr_job_cancelled is true once the job's owner has stopped. A long job
// polls it to stop early. Thread: the pool thread running the job.
TR_API bool tr_job_cancelled(const tr_job *job);

// ---------------------------------------------------------------------------
// Metrics: histograms and per-loop, per-pool snapshots

// TR_HIST_BUCKETS is the number of buckets in a tr_hist: values 0..7 ns
// have a bucket each; above, each power of two is split into 8 buckets
// (relative error at most 12.5%) up to 2^38 ns (about 275 s); larger values
// share the last bucket.
#define TR_HIST_BUCKETS 288

// tr_hist is a snapshot of a log-linear histogram of durations in ns.
typedef struct tr_hist {
    uint64_t count;  // values recorded: the sum of the buckets
    uint64_t sum_ns; // their sum (for a mean)
    uint64_t max_ns; // the largest, exact
    uint64_t bucket[TR_HIST_BUCKETS];
} tr_hist;

// tr_hist_bucket_max_ns returns the largest value bucket `i` holds
// (UINT64_MAX for the last, and for i out of range). Thread: any.
TR_API uint64_t tr_hist_bucket_max_ns(unsigned i);

// tr_hist_quantile returns an upper estimate of the value at quantile `q`
// (0 <= q <= 1; 0.5 is the median): the upper bound of the bucket the
// value fell in, but never more than max_ns. 0 for an empty histogram.
// Thread: any (the snapshot is the caller's).
TR_API uint64_t tr_hist_quantile(const tr_hist *h, double q);

// tr_loop_info is one loop's counters and histograms. The histograms are
// sampled (see tr_config.sample_every): `lag` is the time from an actor
// becoming runnable to its turn starting: samples of a post's wait for its
// turn (a message or signal for an idle actor) and of each batch of timers'
// lateness (due -> fired); `run` is how long a turn took (an actor's
// handlers for up to `budget` messages). Counters are exact once the
// system has stopped, and a recent approximation while it runs.
typedef struct tr_loop_info {
    uint64_t runs;             // turns started
    uint64_t msgs_handled;     // messages actors on this loop took
    uint64_t msgs_sent;        // messages sent from this loop
    uint64_t wakeups;          // sleeps ended by another thread's post
    uint64_t timers_fired;     // timers that fired on this loop
    int64_t timer_late_max_ns; // the latest one fired, past its due time
    uint64_t stalls;           // watchdog reports of a held loop
    tr_hist lag;               // runnable -> running, ns (sampled)
    tr_hist run;               // turn durations, ns (sampled)
} tr_loop_info;

// tr_loop_stats fills *out for loop `loop` (0 .. tr_system_loops() - 1).
// It reads the loop's own counters without stopping it: no lock, and
// nothing the loop writes is shared with other loops.
// Returns 0 or TR_EINVAL. Ownership: `out` is borrowed. Thread: any.
TR_API int tr_loop_stats(tr_system *sys, unsigned loop, tr_loop_info *out);

// tr_pool_info describes the blocking pool: the threads that run
// offloaded jobs and, apart from them, the threads that run blocking
// actors (see tr_spawn_opts.blocking).
typedef struct tr_pool_info {
    unsigned threads;         // job threads (tr_config.pool_threads)
    unsigned busy;            // of them, running a job now
    uint32_t queued;          // jobs waiting for a thread
    uint32_t queue_cap;       // tr_config.pool_queue
    uint64_t jobs_run;        // jobs started
    uint64_t jobs_rejected;   // tr_offload calls refused with TR_EBUSY
    unsigned actor_threads;   // blocking-actor threads
    unsigned actors_busy;     // of them, in a blocking actor's turn
    uint32_t actors_runnable; // blocking actors waiting for a thread
    uint64_t actors_refused;  // sends refused with TR_EBUSY (actor full)
} tr_pool_info;

// tr_pool_stats fills *out. Returns 0. Ownership: `out` is borrowed.
// Thread: any.
TR_API int tr_pool_stats(tr_system *sys, tr_pool_info *out);

// ---------------------------------------------------------------------------
// From any thread

// TR_MSG_OVERLOAD reports a mailbox alarm raised or cleared; payload:
// tr_overload.
#define TR_MSG_OVERLOAD (TR_MSG_SYSTEM + 0x104)

typedef struct tr_overload {
    tr_ref who;      // the actor whose mailbox it is
    uint32_t queued; // user messages queued when it changed
    uint32_t raised; // 1: raised, 0: cleared
} tr_overload;

// TR_MSG_WRITABLE tells an actor that asked with tr_notify_writable that
// the target's mailbox has room again. Payload: the target's tr_ref.
#define TR_MSG_WRITABLE (TR_MSG_SYSTEM + 0x103)

// tr_notify_writable asks bounded actor `target` to send the caller one
// TR_MSG_WRITABLE once its mailbox is at most half full (at once if it
// already is): a producer that got TR_EFULL pauses and resumes on it
// instead of spinning. Returns 0, TR_ENOACTOR, TR_EINVAL (target not
// bounded) or TR_ENOMEM. Thread: handler (ctx owner).
TR_API int tr_notify_writable(tr_ctx *ctx, tr_ref target);

// tr_mailbox_info describes one actor's mailbox.
typedef struct tr_mailbox_info {
    uint32_t capacity; // 0: unbounded
    uint32_t queued;   // messages waiting (approximate while running):
                       // bounded, the user messages; unbounded, every
                       // message in the mailbox, the runtime's included
    uint64_t refused;  // sends refused with TR_EFULL
    uint64_t dropped;  // messages dropped by the overflow policy
} tr_mailbox_info;

// tr_mailbox_stats fills *out for actor `who`. Returns 0, TR_ENOACTOR or
// TR_EREMOTE. Thread: any.
TR_API int tr_mailbox_stats(tr_system *sys, tr_ref who, tr_mailbox_info *out);

// tr_actor_info describes one actor for tr_actors_top: a snapshot, each
// field read on its own (relaxed), so they may be a moment apart.
typedef struct tr_actor_info {
    tr_ref ref;
    // name is the behaviour's name (tr_behavior.name: static storage, so
    // the pointer stays valid after the actor is gone), or NULL.
    const char *name;
    unsigned loop;     // its loop; TR_LOOP_BLOCKING for a blocking actor
    uint32_t capacity; // mailbox capacity; 0: unbounded
    uint32_t queued;   // messages in its mailbox, the runtime's included
    uint64_t handled;  // messages it has taken from its mailbox (modulo
                       // 2^32: a rate is a difference of two readings)
    // busy_ns estimates how long it has held a thread (its turns:
    // handlers, signals, timers): loops time one turn in
    // tr_config.sample_every and each timed turn counts sample_every
    // times, so an actor with few turns may show 0 or a multiple of one
    // turn. A blocking actor's turns are all timed, waits in tr_receive
    // included. Kept in microseconds, modulo 2^32 us (71 minutes).
    uint64_t busy_ns;
} tr_actor_info;

#define TR_LOOP_BLOCKING 0xFFFFFFFFu

// What tr_actors_top ranks by: the largest first.
enum tr_top_by {
    TR_TOP_QUEUED = 0, // mailbox depth
    TR_TOP_BUSY,       // busy_ns
    TR_TOP_HANDLED,    // messages handled
};

// tr_actors_top writes to out[0 .. *n - 1] the (at most) `cap` live
// actors of this process with the largest `by`, largest first (ties in
// slot order); inboxes are not listed. It walks the slot table, holding
// each live actor for a moment (an atomic increment and decrement), so it
// costs O(actors) and never stops a loop: call it for a scrape or a
// diagnostic view, not per message. Mailbox depth is messages pushed
// minus messages taken, and a turn books what it took when it ends: while
// an actor's turn runs, the messages it has taken so far (at most the
// budget) still count as queued and not yet as handled. Without
// tr_config.actor_stats only bounded mailboxes have a depth, and handled
// and busy_ns are 0.
// Returns 0 or TR_EINVAL. Ownership: `out` and `n` are borrowed.
// Thread: any (before tr_system_close).
TR_API int tr_actors_top(tr_system *sys, enum tr_top_by by, tr_actor_info *out,
                         size_t cap, size_t *n);

// tr_system_send sends from outside any actor (the message has no sender),
// as tr_send. Thread: any.
TR_API int tr_system_send(tr_system *sys, tr_ref to, uint32_t type,
                          const void *data, size_t len);

// tr_system_stop asks `who` to stop, as tr_stop. Thread: any.
TR_API int tr_system_stop(tr_system *sys, tr_ref who, int reason);

// ---------------------------------------------------------------------------
// Messages

// tr_msg_type returns the message's type. Thread: any holder.
TR_API uint32_t tr_msg_type(const tr_msg *m);

// tr_msg_data returns the payload (NULL when empty), valid as long as the
// message is. Thread: any holder.
TR_API const void *tr_msg_data(const tr_msg *m);

// tr_msg_size returns the payload's length in bytes. Thread: any holder.
TR_API size_t tr_msg_size(const tr_msg *m);

// tr_msg_sender returns who sent the message (TR_REF_NONE from outside an
// actor). Thread: any holder.
TR_API tr_ref tr_msg_sender(const tr_msg *m);

// tr_msg_free frees a message taken from an inbox. Never call it on a
// handler's message. NULL is ignored. Thread: any.
TR_API void tr_msg_free(tr_msg *m);

// ---------------------------------------------------------------------------
// Inboxes for non-actor threads

// tr_inbox_alloc creates an inbox with its own ref in `sys`.
// Returns 0, TR_ENOMEM, TR_ELIMIT or TR_ECLOSED.
// Ownership: *out is the caller's; free it with tr_inbox_free before
// closing the system. Thread: any.
TR_API int tr_inbox_alloc(tr_inbox **out, tr_system *sys);

// tr_inbox_free frees the inbox and any unread messages (counted as dead
// letters); its ref goes stale. Thread: the inbox's user.
TR_API void tr_inbox_free(tr_inbox *ib);

// tr_inbox_ref returns the inbox's ref. Thread: any.
TR_API tr_ref tr_inbox_ref(const tr_inbox *ib);

// tr_inbox_send sends with the inbox as sender, so replies come back to
// it. Returns as tr_send. Thread: the inbox's user.
TR_API int tr_inbox_send(tr_inbox *ib, tr_ref to, uint32_t type,
                         const void *data, size_t len);

// tr_inbox_monitor is tr_monitor for an inbox: the TR_MSG_DOWN arrives in
// the inbox. Returns as tr_monitor. Thread: the inbox's user.
TR_API int tr_inbox_monitor(tr_inbox *ib, tr_ref who, uint64_t *mon);

// tr_inbox_recv waits up to `timeout_ms` (negative: forever, 0: poll) for
// the next message and stores it in *out.
// Returns 0 or TR_ETIMEDOUT. Ownership: *out is the caller's, to
// tr_msg_free. Thread: the inbox's user (one thread at a time).
TR_API int tr_inbox_recv(tr_inbox *ib, tr_msg **out, int64_t timeout_ms);

// ---------------------------------------------------------------------------
// Time

// tr_now_ns returns CLOCK_MONOTONIC in nanoseconds. Thread: any.
TR_API int64_t tr_now_ns(void);

#ifdef __cplusplus
}
#endif

#endif // TROUPE_H
