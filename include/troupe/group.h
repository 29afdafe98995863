// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// troupe/group.h: task groups (asyncio's TaskGroup), built on the public
// API only. A group runs N tasks (actors) under one owner: if one fails,
// the others are cancelled and their stop hooks run; either way the owner
// gets one message at the end, carrying every failure.
#ifndef TROUPE_GROUP_H
#define TROUPE_GROUP_H

#include <troupe.h>

#ifdef __cplusplus
extern "C" {
#endif

// tr_task is one task of a group: an actor that finishes by stopping
// normally (tr_exit(ctx, TR_EXIT_NORMAL)) and fails by stopping with a
// negative reason (a handler error or tr_exit).
typedef struct tr_task {
    const tr_behavior *behavior;
    const void *arg; // passed to init, borrowed for the spawn
    size_t len;
    tr_spawn_opts opts;
} tr_task;

// tr_group_failure is one failed task: its index and exit reason.
typedef struct tr_group_failure {
    uint32_t index;
    int32_t reason;
} tr_group_failure;

// tr_group_result is the payload of the owner's final message:
// n_failed entries follow the header.
typedef struct tr_group_result {
    uint32_t n_tasks;
    uint32_t n_failed;    // 0: every task finished
    uint32_t n_cancelled; // stopped because another failed
    tr_group_failure failures[];
} tr_group_result;

// tr_group_spawn starts a group, a child of the calling actor, running the
// n tasks (each a child of the group). When every task has stopped, the
// owner gets one message of type `done_type` with a tr_group_result, and
// the group stops. If a task fails, the others are stopped (reason
// TR_EXIT_SHUTDOWN, so their stop hooks run) and counted as cancelled;
// failures that happen meanwhile are all reported. If the owner stops,
// the group and its tasks stop with it, and nothing is sent.
// Returns 0, a task's init code (the tasks already started are stopped
// and no message comes), TR_EINVAL or TR_ENOMEM.
// Ownership: `tasks` is borrowed for the call. Thread: handler.
TR_API int tr_group_spawn(tr_ref *out, tr_ctx *ctx, const tr_task *tasks,
                          size_t n, uint32_t done_type);

#ifdef __cplusplus
}
#endif

#endif // TROUPE_GROUP_H
