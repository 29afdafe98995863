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
#define TR_ERRORS(X)                                                 \
    X(EINVAL, -1, "invalid argument")                                \
    X(ENOMEM, -2, "out of memory")                                   \
    X(EFULL, -3, "mailbox is at capacity; nothing was queued")       \
    X(ENOACTOR, -4, "no such actor (stale or unknown ref)")          \
    X(EMSGSIZE, -5, "message is larger than the configured maximum") \
    X(ETIMEDOUT, -6, "deadline passed")                              \
    X(ECLOSED, -7, "the system or actor is shutting down")           \
    X(EUNHANDLED, -8, "message type not handled by this behaviour")  \
    X(EBUSY, -9, "resource busy; try again later")                   \
    X(ELIMIT, -10, "a configured limit was reached")                 \
    X(ESYS, -11, "operating system call failed")                     \
    X(EREMOTE, -12, "ref names another node and no transport is registered")

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
// System

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
    uint64_t actors_live;    // spawned and not yet freed (inboxes included)
    uint64_t actors_spawned; // spawns that succeeded
    uint64_t actors_crashed; // actors that stopped with a negative reason
    uint64_t msgs_sent;      // messages queued into a mailbox
    uint64_t dead_letters;   // queued to an actor that died before reading
    uint64_t unhandled;      // receive returned TR_EUNHANDLED
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
} tr_spawn_opts;

// tr_spawn creates a child of the calling actor running behaviour `b`, runs
// its init with `arg` (borrowed for the call) and stores its ref in *out.
// Returns 0, init's negative code, TR_EINVAL (bad behaviour or placement),
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

// tr_ctx_loop returns the index of the loop the actor lives on.
// Thread: handler (ctx owner).
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

// tr_stop asks actor `who` to stop with `reason` (>= 0, or a negative code
// for a crash). Stopping is asynchronous: `who` stops its children first,
// then runs its stop hook. Stopping an actor that is already stopping does
// nothing. Returns 0, TR_ENOACTOR or TR_EINVAL. Thread: handler.
TR_API int tr_stop(tr_ctx *ctx, tr_ref who, int reason);

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

typedef struct tr_down {
    tr_ref who;     // the actor that stopped
    uint64_t mon;   // the monitor's id, as tr_monitor returned it
    int32_t reason; // its exit reason
} tr_down;

typedef struct tr_exit_info {
    tr_ref who;     // the linked actor that stopped
    int32_t reason; // its exit reason
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
// From any thread

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
