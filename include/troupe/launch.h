// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// troupe/launch.h: the process launcher: OS-process supervision.
//
// A launcher starts child processes (a cluster's nodes) from specs,
// restarts one that exits by its restart type, with exponential backoff
// and jitter, gives up when restarts come too often (restart intensity,
// as an OTP supervisor does), and stops them all in reverse order: SIGTERM,
// a bounded wait, then SIGKILL. It is OTP's supervisor for processes
// rather than actors, and depends on nothing of the actor runtime: a
// program may use it with no tr_system open. `troupe-launch` is a program
// built on it that reads a config file (format: docs/design/launcher.md).
//
// A launcher is driven by the caller's thread: tr_launch_start spawns,
// and tr_launch_run waits for children to exit and for restart and kill
// deadlines, handling them as they come; nothing happens between calls
// except that children run and exit (they are reaped by the next call).
// Exits are seen through pidfds (Linux 5.3 or later), so the launcher
// installs no SIGCHLD handler and never reaps a process it did not start.
//
// Children are started with vfork and execve, in a process group of their
// own (so a terminal's Ctrl-C reaches the launcher alone, which then stops
// them in order), with every signal at its default action and unblocked,
// every inherited descriptor above 2 closed on exec, and
// PR_SET_PDEATHSIG set to SIGKILL: if the launcher dies without stopping
// them (kill -9), the kernel kills them. Linux sends that signal when the
// *thread* that spawned the child exits, so the thread that calls
// tr_launch_start and tr_launch_run must live until tr_launch_stop.
//
// Each child sees its parent's environment at spawn time plus its spec's
// additions and: TROUPE_NODE_NAME (its name), TROUPE_LAUNCH_RESTARTS (how
// many times it has been restarted: 0 at the first start) and
// TROUPE_LAUNCH_PID (the launcher's pid). The environment is read at each
// spawn, so other threads must not setenv while the launcher's thread is
// in tr_launch_start or tr_launch_run. The children share the launcher's
// stdin, stdout and stderr.
//
// Thread notes: a launcher belongs to one thread, "the launcher's thread",
// which makes every call on it except tr_launch_wake. Event callbacks run
// on that thread, inside the call that saw the event.
#ifndef TROUPE_LAUNCH_H
#define TROUPE_LAUNCH_H

#include <troupe.h>

#ifdef __cplusplus
extern "C" {
#endif

// tr_launch is one launcher: its children and their state.
typedef struct tr_launch tr_launch;

// When a child that exited is started again.
enum tr_launch_restart {
    TR_LAUNCH_PERMANENT, // always
    TR_LAUNCH_TRANSIENT, // unless it exited with status 0
    TR_LAUNCH_TEMPORARY, // never
};

// What happened, as told to tr_launch_config.on_event.
enum tr_launch_event_kind {
    TR_LAUNCH_STARTED,      // a child was spawned: pid, restarts
    TR_LAUNCH_EXITED,       // a child exited: pid, code or signal, uptime_ms
    TR_LAUNCH_RESTARTING,   // it will be started again in delay_ms
    TR_LAUNCH_SPAWN_FAILED, // fork or exec failed: err (an errno value);
                            // counted as an exit with code 127
    TR_LAUNCH_GAVE_UP,      // restart intensity exceeded by this child's
                            // exit: the launcher stops every child
    TR_LAUNCH_STOPPING,     // SIGTERM sent (SIGKILL if shutdown_ms < 0)
    TR_LAUNCH_KILLED,       // shutdown_ms passed: SIGKILL sent
};

// tr_launch_event describes one event. Everything in it, `name` included,
// is lent to the callback for its duration only.
typedef struct tr_launch_event {
    enum tr_launch_event_kind kind;
    const char *name;  // the child's name
    int pid;           // the child's pid (0 for SPAWN_FAILED, GAVE_UP)
    int code;          // EXITED normally: its exit status; else -1
    int signal;        // EXITED by a signal: its number; else 0
    int err;           // SPAWN_FAILED: the errno value; else 0
    int64_t delay_ms;  // RESTARTING: the backoff before the restart
    int64_t uptime_ms; // EXITED: how long it ran
    uint32_t restarts; // how many times this child has been restarted
    bool stopping;     // EXITED: it was asked to stop (no restart follows)
} tr_launch_event;

// tr_launch_config sets up a launcher. Zero-initialise it and set what you
// need.
typedef struct tr_launch_config {
    // Restart backoff: the n-th restart of a child in a row waits
    // backoff_min_ms * 2^(n-1), capped at backoff_max_ms, the upper half
    // of it random (jitter): a delay d becomes d/2 + rand(0..d/2). A child
    // that ran for period_ms or longer starts again at the minimum.
    // 0: 100 ms and 10000 ms; a negative minimum: restart at once.
    int64_t backoff_min_ms;
    int64_t backoff_max_ms;
    // Restart intensity: at most `intensity` restarts (all children
    // together) within period_ms; the exit that would need one more makes
    // the launcher give up: it stops every child and tr_launch_run
    // returns TR_EINTENSITY. 0: 5 restarts in 60000 ms; a negative
    // intensity: no limit.
    int intensity;
    int64_t period_ms;
    // on_event, if not NULL, is called with `arg` for every event, on the
    // launcher's thread, inside tr_launch_start, _run, _stop or _close. It
    // may call tr_launch_info and tr_launch_wake, nothing else of this
    // launcher.
    void (*on_event)(void *arg, const tr_launch_event *ev);
    void *arg;
    // seed seeds the jitter; 0: from the clock and the pid.
    uint64_t seed;
} tr_launch_config;

// tr_launch_child says how to start one child.
typedef struct tr_launch_child {
    // name is unique in the launcher: 1 to 64 of [A-Za-z0-9_.-].
    const char *name;
    // argv is the command, NULL-terminated, with at least the program in
    // argv[0], which is searched in PATH unless it contains a '/'.
    const char *const *argv;
    // env, if not NULL, is a NULL-terminated list of "KEY=VALUE" entries
    // added to (or replacing in) the launcher's environment.
    const char *const *env;
    enum tr_launch_restart restart;
    // shutdown_ms is how long a stop waits after SIGTERM before SIGKILL.
    // 0: 5000; negative: SIGKILL at once (OTP's brutal_kill).
    int64_t shutdown_ms;
} tr_launch_child;

// tr_launch_open makes a launcher with `cfg` (NULL for defaults) and no
// children.
// Returns 0, TR_EINVAL (backoff_min_ms > backoff_max_ms, a negative
// maximum or period), TR_ENOMEM or TR_ESYS.
// Ownership: *out is the caller's until tr_launch_close(); `cfg` is
// copied (`arg` is kept as a pointer). Thread: any; the caller becomes
// the launcher's thread.
TR_API int tr_launch_open(tr_launch **out, const tr_launch_config *cfg);

// tr_launch_add adds a child, to be started by tr_launch_start in the
// order added.
// Returns 0, TR_EINVAL (bad or duplicate name, empty argv, bad env entry),
// TR_EBUSY (already started) or TR_ENOMEM.
// Ownership: `child` and every string it points to are copied.
// Thread: the launcher's.
TR_API int tr_launch_add(tr_launch *l, const tr_launch_child *child);

// tr_launch_diag says where a config text went wrong.
typedef struct tr_launch_diag {
    int line;       // 1-based; 0 when not about one line (e.g. I/O)
    char text[200]; // what is wrong, NUL-terminated
} tr_launch_diag;

// tr_launch_load reads a config text (`len` bytes; the format is in
// docs/design/launcher.md): its settings replace the matching fields of
// the launcher's config, and its `node` lines add children as
// tr_launch_add does. Nothing is applied unless the whole text is valid.
// Returns 0, TR_EINVAL (with *diag filled in, if not NULL), TR_EBUSY
// (already started) or TR_ENOMEM.
// Ownership: `text` is borrowed for the call; `diag` is the caller's.
// Thread: the launcher's.
TR_API int tr_launch_load(tr_launch *l, const char *text, size_t len,
                          tr_launch_diag *diag);

// tr_launch_load_file is tr_launch_load on the contents of file `path`.
// Returns as tr_launch_load, or TR_ESYS if the file cannot be read
// (diag->line is then 0).
// Ownership: `path` is borrowed. Thread: the launcher's.
TR_API int tr_launch_load_file(tr_launch *l, const char *path,
                               tr_launch_diag *diag);

// tr_launch_start spawns every child, in the order added. If one cannot
// be spawned (TR_LAUNCH_SPAWN_FAILED), those already started are stopped
// in reverse order and the launcher is left stopped.
// Returns 0, TR_EINVAL (no children), TR_EBUSY (started before), TR_ESYS
// or TR_ENOMEM.
// Thread: the launcher's (it must outlive the children; see above).
TR_API int tr_launch_start(tr_launch *l);

// tr_launch_run waits up to `timeout_ms` (0: not at all; negative: no
// limit) for something to happen - a child exits, a restart or kill is
// due, tr_launch_wake is called - handles everything that has, and
// returns. A child that exits is reaped and, by its restart type,
// scheduled for restart after its backoff; a restart falls due in a later
// call.
// Returns 0 when something was handled (or it was woken), TR_ETIMEDOUT
// when nothing happened, TR_EINTENSITY when the launcher gave up (every
// child has then been stopped; every later call returns it too),
// TR_ECLOSED when no child is running or due to restart (every one
// exited for good, or tr_launch_stop ran), TR_ESYS if poll failed, or
// TR_EINVAL before tr_launch_start.
// Thread: the launcher's.
TR_API int tr_launch_run(tr_launch *l, int64_t timeout_ms);

// tr_launch_wake makes a tr_launch_run in progress (or the next one)
// return 0 soon. Async-signal-safe: call it from a SIGTERM handler to get
// the launcher's thread out of its wait, then call tr_launch_stop there.
// Thread: any, and signal handlers.
TR_API void tr_launch_wake(tr_launch *l);

// tr_launch_stop stops every child in the reverse of the order added,
// one after the other: pending restarts are cancelled, then each running
// child gets SIGTERM (to its process group), up to its shutdown_ms to
// exit, then SIGKILL. Children that exit meanwhile are not restarted.
// Bounded: after SIGKILL it waits at most 5 s more for each child.
// The launcher cannot be started again.
// Returns 0 when every child has exited, TR_ETIMEDOUT if one had not even
// after SIGKILL (it is left behind).
// Thread: the launcher's.
TR_API int tr_launch_stop(tr_launch *l);

// tr_launch_close stops the children if they are still running (as
// tr_launch_stop) and frees the launcher.
// Returns what that stop returned, or 0.
// Ownership: `l` is freed on every outcome. Thread: the launcher's.
TR_API int tr_launch_close(tr_launch *l);

// A child's state, as tr_launch_info reports it.
enum tr_proc_state {
    TR_PROC_IDLE,       // not started yet
    TR_PROC_RUNNING,    // running as `pid`
    TR_PROC_RESTARTING, // exited; a restart is due after its backoff
    TR_PROC_STOPPING,   // sent SIGTERM or SIGKILL; not reaped yet
    TR_PROC_DONE,       // exited, not to be restarted
};

typedef struct tr_launch_status {
    enum tr_proc_state state;
    int pid; // RUNNING, STOPPING: its pid; else 0
    uint32_t restarts;
} tr_launch_status;

// tr_launch_info reports the state of the child called `name`.
// Returns 0 or TR_EINVAL (no such child).
// Ownership: `name` is borrowed, `out` is the caller's.
// Thread: the launcher's (event callbacks included).
TR_API int tr_launch_info(const tr_launch *l, const char *name,
                          tr_launch_status *out);

// tr_launch_event_name returns "started", "exited", "restart",
// "spawn_failed", "gave_up", "stopping" or "killed" (static text, "?" for
// an unknown kind). Thread: any.
TR_API const char *tr_launch_event_name(enum tr_launch_event_kind kind);

#ifdef __cplusplus
}
#endif

#endif // TROUPE_LAUNCH_H
