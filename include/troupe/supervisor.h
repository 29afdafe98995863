// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// troupe/supervisor.h: OTP-style supervisors, built on the public API only.
//
// A supervisor is an actor that starts children from specs, watches them
// (monitors) and restarts them by its strategy. When its parent stops it,
// the runtime stops its children newest first (a restarted child counts as
// new), each within its shutdown deadline, then forced.
#ifndef TROUPE_SUPERVISOR_H
#define TROUPE_SUPERVISOR_H

#include <troupe.h>

#ifdef __cplusplus
extern "C" {
#endif

enum tr_strategy {
    TR_ONE_FOR_ONE,        // restart the child that stopped
    TR_ONE_FOR_ALL,        // stop the others, restart them all
    TR_REST_FOR_ONE,       // stop those started after it, restart them all
    TR_SIMPLE_ONE_FOR_ONE, // many children of one spec, added at run time
};

enum tr_restart {
    TR_PERMANENT, // always restarted
    TR_TRANSIENT, // restarted after an abnormal exit (reason < 0, killed)
    TR_TEMPORARY, // never restarted
};

// tr_child_spec says how to start one child. The supervisor copies it,
// and `arg` with it.
typedef struct tr_child_spec {
    const char *id; // for introspection; kept as a pointer (static text)
    const tr_behavior *behavior;
    const void *arg; // passed to the child's init at every (re)start
    size_t len;
    enum tr_restart restart;
    tr_spawn_opts opts; // placement and shutdown_ms
} tr_child_spec;

typedef struct tr_sup_spec {
    enum tr_strategy strategy;
    // At most `intensity` restarts within `period_ms`; one more and the
    // supervisor stops its children and exits with TR_EINTENSITY, which
    // its own parent sees (escalation). 0 / 0: 3 in 5000 ms.
    int intensity;
    int64_t period_ms;
    // Restart backoff: the n-th restart of a child in a row waits
    // backoff_ms * 2^(n-1), capped at backoff_max_ms, half of it random
    // (jitter). 0: restart at once, as OTP does.
    int64_t backoff_ms;
    int64_t backoff_max_ms;
    const tr_child_spec *children; // SIMPLE_ONE_FOR_ONE: exactly one
    size_t n;
} tr_sup_spec;

// tr_sup_spawn starts a supervisor as a child of the calling actor. Its
// children start in order; if one's init fails, the ones started are
// stopped and tr_sup_spawn returns that child's code.
// Returns 0, a child's init code, TR_EINVAL or TR_ENOMEM.
// Ownership: `spec` (children, args) is copied. Thread: handler.
TR_API int tr_sup_spawn(tr_ref *out, tr_ctx *ctx, const tr_sup_spec *spec);

// tr_sup_spawn_top starts a top-level supervisor, as tr_sup_spawn.
// Thread: any.
TR_API int tr_sup_spawn_top(tr_ref *out, tr_system *sys,
                            const tr_sup_spec *spec);

// Messages a supervisor answers (with tr_reply, so use tr_request or
// tr_call):
// TR_SUP_START_CHILD, payload: the init argument for a new child of a
// SIMPLE_ONE_FOR_ONE supervisor's spec. Reply: struct tr_sup_started.
#define TR_SUP_START_CHILD 0xFFFE0001u
// TR_SUP_WHICH_CHILDREN, no payload. Reply: an array of tr_sup_child.
#define TR_SUP_WHICH_CHILDREN 0xFFFE0002u

typedef struct tr_sup_started {
    int32_t rc; // 0 or the child's init code
    tr_ref child;
} tr_sup_started;

enum tr_sup_state {
    TR_CHILD_RUNNING,
    TR_CHILD_RESTARTING, // stopped, restart pending (backoff, or siblings)
    TR_CHILD_STOPPED,    // not to be restarted
};

typedef struct tr_sup_child {
    const char *id;
    tr_ref ref;    // TR_REF_NONE unless running
    int32_t state; // enum tr_sup_state
    uint32_t restarts;
} tr_sup_child;

#ifdef __cplusplus
}
#endif

#endif // TROUPE_SUPERVISOR_H
