// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// launch.c: the process launcher: spawn, reap, restart, stop.
//
// Design notes
// - One thread drives everything (the launcher's thread); there is no
//   lock and no signal handler. Each running child has a pidfd; a child's
//   exit makes its pidfd readable, and only then is it reaped, with
//   waitpid on its own pid, so a host program's other children are never
//   touched. A pid is signalled only while its process is unreaped (alive
//   or a zombie), so it cannot have been reused.
// - Spawn is vfork + execve, not posix_spawn, because the child must set
//   PR_SET_PDEATHSIG (no posix_spawn attribute does) and its process
//   group. Every signal is blocked around vfork, so no handler of the
//   launcher's runs in the child, which shares its memory until execve;
//   the child sets every disposition to the default before unblocking.
//   Everything the child needs (path, argv, envp) is built before vfork:
//   the child only makes system calls. Exec failure comes back through a
//   close-on-exec pipe (EOF: exec succeeded), which works the same when a
//   sanitizer turns vfork into fork.
// - States: IDLE -> RUNNING -> (exit) RESTARTING -> (due) RUNNING ...;
//   stop: RUNNING -> STOPPING (SIGTERM; due: SIGKILL) -> KILLING (SIGKILL;
//   due: give up waiting) -> DONE, or LOST if it never died. `due_ns`
//   serves the state the child is in; tr_launch_run sleeps in poll until
//   the earliest one or a pidfd or the wake eventfd is readable.
// - Intensity: the times of the last `intensity` restarts are kept in a
//   ring; an exit that would need the (intensity+1)-th restart within
//   period_ms makes the launcher give up and stop everything.
#define _GNU_SOURCE // vfork, pidfd, close_range, prctl
#include "launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/close_range.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define MS                  INT64_C(1000000) // ns per ms
#define DEFAULT_BACKOFF_MIN TR__LAUNCH_BACKOFF_MIN
#define DEFAULT_BACKOFF_MAX TR__LAUNCH_BACKOFF_MAX
#define DEFAULT_INTENSITY   5
#define DEFAULT_PERIOD      60000
#define DEFAULT_SHUTDOWN    5000
#define KILL_WAIT_MS        5000 // after SIGKILL, before giving up on it
#define EXEC_FAILED_STATUS  127  // a child whose exec failed exits so

enum kid_state {
    K_IDLE,
    K_RUNNING,
    K_RESTARTING,
    K_STOPPING, // SIGTERM sent
    K_KILLING,  // SIGKILL sent
    K_DONE,
    K_LOST, // did not die within KILL_WAIT_MS of SIGKILL; left behind
};

struct kid {
    char *name;
    char **argv; // argc + 1 entries, NULL-terminated
    size_t argc;
    char **env; // nenv + 1 entries, NULL-terminated
    size_t nenv;
    enum tr_launch_restart restart;
    int64_t shutdown_ms; // resolved: > 0, or < 0 for SIGKILL at once
    enum kid_state state;
    pid_t pid;
    int pidfd;
    int64_t started_ns; // last spawn, tr_now clock
    int64_t due_ns;     // RESTARTING, STOPPING, KILLING: see design notes
    uint32_t restarts;  // spawns after the first
    uint32_t streak;    // restarts in a row, for backoff
};

struct tr_launch {
    tr_launch_config cfg; // as given; defaults resolved when used
    struct kid *kids;
    size_t n, cap;
    struct pollfd *fds; // n + 1
    int wakefd;         // eventfd: tr_launch_wake writes, run drains
    bool started;
    bool stopping; // no more restarts: stop or give-up in progress
    bool stopped;  // every child stopped for good
    bool gave_up;
    int64_t *ring; // intensity: times of the last restarts
    size_t ring_len, ring_next, ring_used;
    uint64_t rng;
    pid_t self;
};

static int64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static char *
str_dup(const char *s)
{
    size_t len = strlen(s) + 1;
    char *p = malloc(len);
    if (p != NULL)
        memcpy(p, s, len);
    return p;
}

static void
strv_free(char **v)
{
    if (v == NULL)
        return;
    for (char **p = v; *p != NULL; p++)
        free(*p);
    free(v);
}

// strv_dup copies a NULL-terminated list (NULL: an empty one).
static char **
strv_dup(const char *const *v, size_t *count)
{
    size_t n = 0;
    while (v != NULL && v[n] != NULL)
        n++;
    char **out = calloc(n + 1, sizeof *out);
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if ((out[i] = str_dup(v[i])) == NULL) {
            strv_free(out);
            return NULL;
        }
    }
    *count = n;
    return out;
}

bool
tr__launch_name_ok(const char *name)
{
    size_t len = name != NULL ? strlen(name) : 0;
    if (len == 0 || len > TR__LAUNCH_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
            return false;
    }
    return true;
}

bool
tr__launch_env_ok(const char *entry)
{
    const char *eq = strchr(entry, '=');
    if (eq == NULL || eq == entry || (entry[0] >= '0' && entry[0] <= '9'))
        return false;
    for (const char *p = entry; p < eq; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    return true;
}

// ---------------------------------------------------------------------------
// Config

static int64_t
cfg_backoff_min(const tr_launch_config *c)
{
    return c->backoff_min_ms > 0   ? c->backoff_min_ms
           : c->backoff_min_ms < 0 ? 0
                                   : DEFAULT_BACKOFF_MIN;
}

static int64_t
cfg_backoff_max(const tr_launch_config *c)
{
    return c->backoff_max_ms > 0 ? c->backoff_max_ms : DEFAULT_BACKOFF_MAX;
}

static int64_t
cfg_period(const tr_launch_config *c)
{
    return c->period_ms > 0 ? c->period_ms : DEFAULT_PERIOD;
}

static int
cfg_intensity(const tr_launch_config *c)
{
    return c->intensity != 0 ? c->intensity : DEFAULT_INTENSITY;
}

static int
cfg_check(const tr_launch_config *c)
{
    if (c->backoff_max_ms < 0 || c->period_ms < 0)
        return TR_EINVAL;
    if (cfg_backoff_min(c) > cfg_backoff_max(c))
        return TR_EINVAL;
    // Keep every sum of a time and a delay in range.
    if (cfg_backoff_max(c) > INT64_MAX / MS / 4 ||
        cfg_period(c) > INT64_MAX / MS / 4)
        return TR_EINVAL;
    return 0;
}

int
tr_launch_open(tr_launch **out, const tr_launch_config *cfg)
{
    tr_launch_config def = {0};
    if (out == NULL)
        return TR_EINVAL;
    if (cfg == NULL)
        cfg = &def;
    if (cfg_check(cfg) != 0)
        return TR_EINVAL;
    tr_launch *l = calloc(1, sizeof *l);
    if (l == NULL)
        return TR_ENOMEM;
    l->cfg = *cfg;
    l->self = getpid();
    l->rng = cfg->seed != 0 ? cfg->seed
                            : (uint64_t)now_ns() ^ ((uint64_t)l->self << 32);
    if (l->rng == 0)
        l->rng = 1;
    l->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (l->wakefd < 0) {
        free(l);
        return TR_ESYS;
    }
    *out = l;
    return 0;
}

const tr_launch_config *
tr__launch_config(const tr_launch *l)
{
    return &l->cfg;
}

int
tr__launch_set_config(tr_launch *l, const tr_launch_config *cfg)
{
    if (l->started)
        return TR_EBUSY;
    if (cfg_check(cfg) != 0)
        return TR_EINVAL;
    l->cfg = *cfg;
    return 0;
}

static struct kid *
kid_find(const tr_launch *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->kids[i].name, name) == 0)
            return &l->kids[i];
    return NULL;
}

bool
tr__launch_has(const tr_launch *l, const char *name)
{
    return kid_find(l, name) != NULL;
}

size_t
tr__launch_count(const tr_launch *l)
{
    return l->n;
}

static void
kid_fini(struct kid *k)
{
    free(k->name);
    strv_free(k->argv);
    strv_free(k->env);
    if (k->pidfd >= 0)
        close(k->pidfd);
}

void
tr__launch_truncate(tr_launch *l, size_t n)
{
    while (l->n > n)
        kid_fini(&l->kids[--l->n]);
}

int
tr_launch_add(tr_launch *l, const tr_launch_child *child)
{
    if (l == NULL || child == NULL || !tr__launch_name_ok(child->name) ||
        child->argv == NULL || child->argv[0] == NULL ||
        child->argv[0][0] == '\0' || kid_find(l, child->name) != NULL ||
        (unsigned)child->restart > TR_LAUNCH_TEMPORARY)
        return TR_EINVAL;
    for (size_t i = 0; child->env != NULL && child->env[i] != NULL; i++)
        if (!tr__launch_env_ok(child->env[i]))
            return TR_EINVAL;
    if (l->started)
        return TR_EBUSY;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4;
        struct kid *k = realloc(l->kids, cap * sizeof *k);
        if (k == NULL)
            return TR_ENOMEM;
        l->kids = k;
        struct pollfd *f = realloc(l->fds, (cap + 1) * sizeof *f);
        if (f == NULL)
            return TR_ENOMEM;
        l->fds = f;
        l->cap = cap;
    }
    struct kid *k = &l->kids[l->n];
    memset(k, 0, sizeof *k);
    k->pidfd = -1;
    k->restart = child->restart;
    k->shutdown_ms =
        child->shutdown_ms != 0 ? child->shutdown_ms : DEFAULT_SHUTDOWN;
    if (k->shutdown_ms > INT64_MAX / MS / 4)
        k->shutdown_ms = INT64_MAX / MS / 4;
    k->name = str_dup(child->name);
    k->argv = strv_dup(child->argv, &k->argc);
    k->env = strv_dup(child->env, &k->nenv);
    if (k->name == NULL || k->argv == NULL || k->env == NULL) {
        kid_fini(k);
        return TR_ENOMEM;
    }
    l->n++;
    return 0;
}

// ---------------------------------------------------------------------------
// Events

const char *
tr_launch_event_name(enum tr_launch_event_kind kind)
{
    switch (kind) {
    case TR_LAUNCH_STARTED:
        return "started";
    case TR_LAUNCH_EXITED:
        return "exited";
    case TR_LAUNCH_RESTARTING:
        return "restart";
    case TR_LAUNCH_SPAWN_FAILED:
        return "spawn_failed";
    case TR_LAUNCH_GAVE_UP:
        return "gave_up";
    case TR_LAUNCH_STOPPING:
        return "stopping";
    case TR_LAUNCH_KILLED:
        return "killed";
    }
    return "?";
}

static void
launch_emit(tr_launch *l, tr_launch_event *ev, const struct kid *k)
{
    ev->name = k->name;
    ev->restarts = k->restarts;
    if (ev->kind != TR_LAUNCH_EXITED)
        ev->code = -1;
    if (l->cfg.on_event != NULL)
        l->cfg.on_event(l->cfg.arg, ev);
}

// ---------------------------------------------------------------------------
// Spawn

// What the vfork child needs, all built before vfork.
struct plan {
    const char *path;
    char *const *argv;
    char *const *envp;
    pid_t parent;
    int errfd; // write end of the exec-error pipe (close-on-exec)
};

// plan_exec runs in the vfork child: it may only make system calls and
// must not return. Signals are all blocked on entry.
static _Noreturn void
plan_exec(const struct plan *p)
{
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++)
        (void)sigaction(sig, &dfl, NULL); // SIGKILL & co. fail: harmless
    (void)setpgid(0, 0);
    (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != p->parent) // the launcher died before the prctl
        _exit(EXEC_FAILED_STATUS);
    (void)close_range(3, ~0u, CLOSE_RANGE_CLOEXEC);
    sigset_t none;
    sigemptyset(&none);
    (void)sigprocmask(SIG_SETMASK, &none, NULL);
    execve(p->path, p->argv, p->envp);
    int err = errno;
    (void)!write(p->errfd, &err, sizeof err);
    _exit(EXEC_FAILED_STATUS);
}

// plan_fork is its own function so that nothing in the caller's frame
// lives across vfork (and -Wclobbered has nothing to say).
static pid_t
plan_fork(const struct plan *p)
{
    pid_t pid = vfork();
    if (pid == 0)
        plan_exec(p);
    return pid;
}

// find_program puts the path to run for `prog` in `buf`: itself if it has
// a '/', else the first executable regular file of that name in PATH.
// Returns 0 or an errno value.
static int
find_program(char *buf, size_t len, const char *prog)
{
    if (strchr(prog, '/') != NULL) {
        if (strlen(prog) >= len)
            return ENAMETOOLONG;
        strcpy(buf, prog);
        return 0;
    }
    const char *path = getenv("PATH");
    if (path == NULL)
        path = "/usr/local/bin:/usr/bin:/bin";
    int err = ENOENT;
    for (const char *dir = path;; dir++) {
        const char *end = strchr(dir, ':');
        size_t dlen = end != NULL ? (size_t)(end - dir) : strlen(dir);
        int n = snprintf(buf, len, "%.*s%s%s", (int)dlen, dir,
                         dlen != 0 ? "/" : "", prog);
        struct stat st;
        if (n > 0 && (size_t)n < len && stat(buf, &st) == 0 &&
            S_ISREG(st.st_mode)) {
            if (access(buf, X_OK) == 0)
                return 0;
            err = EACCES;
        }
        if (end == NULL)
            return err;
        dir = end;
    }
}

static bool
env_has_key(const char *entry, const char *key, size_t klen)
{
    return strncmp(entry, key, klen) == 0 && entry[klen] == '=';
}

// env_overridden: is entry's key set by any of `over` (n entries)?
static bool
env_overridden(const char *entry, char *const *over, size_t n)
{
    const char *eq = strchr(entry, '=');
    size_t klen = eq != NULL ? (size_t)(eq - entry) : strlen(entry);
    for (size_t i = 0; i < n; i++)
        if (env_has_key(over[i], entry, klen))
            return true;
    return false;
}

// build_env makes the child's environment: the launcher's, minus what the
// additions replace, then the spec's additions (a later one wins), then
// the launcher's own three variables, which win over everything. The
// array borrows every string: from environ, the spec, and `own`.
static char **
build_env(const struct kid *k, char *own[3])
{
    size_t ne = 0;
    while (environ != NULL && environ[ne] != NULL)
        ne++;
    char **envp = malloc((ne + k->nenv + 4) * sizeof *envp);
    if (envp == NULL)
        return NULL;
    size_t j = 0;
    for (size_t i = 0; i < ne; i++)
        if (!env_overridden(environ[i], k->env, k->nenv) &&
            !env_overridden(environ[i], own, 3))
            envp[j++] = environ[i];
    for (size_t i = 0; i < k->nenv; i++)
        if (!env_overridden(k->env[i], k->env + i + 1, k->nenv - i - 1) &&
            !env_overridden(k->env[i], own, 3))
            envp[j++] = k->env[i];
    for (size_t i = 0; i < 3; i++)
        envp[j++] = own[i];
    envp[j] = NULL;
    return envp;
}

// kid_spawn starts `k`. Returns 0 (it is RUNNING) or an errno value.
static int
kid_spawn(tr_launch *l, struct kid *k)
{
    char path[PATH_MAX];
    int err = find_program(path, sizeof path, k->argv[0]);
    if (err != 0)
        return err;

    char name_var[32 + TR__LAUNCH_NAME_MAX], restarts_var[48], pid_var[48];
    snprintf(name_var, sizeof name_var, "TROUPE_NODE_NAME=%s", k->name);
    snprintf(restarts_var, sizeof restarts_var, "TROUPE_LAUNCH_RESTARTS=%u",
             (unsigned)k->restarts);
    snprintf(pid_var, sizeof pid_var, "TROUPE_LAUNCH_PID=%ld", (long)l->self);
    char *own[3] = {name_var, restarts_var, pid_var};
    char **envp = build_env(k, own);
    if (envp == NULL)
        return ENOMEM;

    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) != 0) {
        err = errno;
        free(envp);
        return err;
    }
    struct plan plan = {
        .path = path,
        .argv = k->argv,
        .envp = envp,
        .parent = l->self,
        .errfd = pipefd[1],
    };
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t pid = plan_fork(&plan);
    err = pid < 0 ? errno : 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    close(pipefd[1]);
    free(envp);
    if (pid < 0) {
        close(pipefd[0]);
        return err;
    }
    // Set the group from this side too, in case the child has not run yet
    // (vfork became fork); after its exec this fails, harmlessly.
    (void)setpgid(pid, pid);

    int exec_err = 0;
    ssize_t got;
    do
        got = read(pipefd[0], &exec_err, sizeof exec_err);
    while (got < 0 && errno == EINTR);
    close(pipefd[0]);
    int pidfd = -1;
    if (got == 0) {
        pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        if (pidfd < 0) {
            exec_err = errno;
            kill(pid, SIGKILL);
        }
    } else if (got != (ssize_t)sizeof exec_err) {
        exec_err = EIO;
    }
    if (pidfd < 0) {
        int st;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
        return exec_err != 0 ? exec_err : EIO;
    }
    k->pid = pid;
    k->pidfd = pidfd;
    k->state = K_RUNNING;
    k->started_ns = now_ns();
    tr_launch_event ev = {.kind = TR_LAUNCH_STARTED, .pid = pid};
    launch_emit(l, &ev, k);
    return 0;
}

// ---------------------------------------------------------------------------
// Exits and restarts

static uint64_t
rng_next(tr_launch *l)
{
    uint64_t x = l->rng; // xorshift64
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return l->rng = x;
}

// backoff_ms: the streak-th restart in a row waits min * 2^(streak-1),
// capped, with equal jitter (the upper half random).
static int64_t
backoff_ms(tr_launch *l, uint32_t streak)
{
    int64_t max = cfg_backoff_max(&l->cfg);
    int64_t d = cfg_backoff_min(&l->cfg);
    for (uint32_t i = 1; i < streak && d < max; i++)
        d *= 2;
    if (d > max)
        d = max;
    if (d <= 1)
        return d;
    int64_t half = d / 2;
    return half + (int64_t)(rng_next(l) % (uint64_t)(d - half + 1));
}

// intensity_take records a restart at `now` and says whether it was within
// the intensity.
static bool
intensity_take(tr_launch *l, int64_t now)
{
    if (l->ring_len == 0)
        return true; // no limit
    if (l->ring_used == l->ring_len &&
        now - l->ring[l->ring_next] < cfg_period(&l->cfg) * MS)
        return false;
    l->ring[l->ring_next] = now;
    l->ring_next = (l->ring_next + 1) % l->ring_len;
    if (l->ring_used < l->ring_len)
        l->ring_used++;
    return true;
}

// kid_ended decides what follows an exit (or a failed spawn) of `k`.
static void
kid_ended(tr_launch *l, struct kid *k, bool normal, int64_t uptime_ns,
          int64_t now)
{
    bool again =
        !l->stopping && (k->restart == TR_LAUNCH_PERMANENT ||
                         (k->restart == TR_LAUNCH_TRANSIENT && !normal));
    k->state = K_DONE;
    if (!again)
        return;
    if (!intensity_take(l, now)) {
        l->gave_up = true;
        l->stopping = true;
        tr_launch_event ev = {.kind = TR_LAUNCH_GAVE_UP};
        launch_emit(l, &ev, k);
        return;
    }
    if (uptime_ns >= cfg_period(&l->cfg) * MS)
        k->streak = 0;
    k->streak++;
    int64_t delay = backoff_ms(l, k->streak);
    k->state = K_RESTARTING;
    k->due_ns = now + delay * MS;
    tr_launch_event ev = {.kind = TR_LAUNCH_RESTARTING, .delay_ms = delay};
    launch_emit(l, &ev, k);
}

// kid_reap reaps `k` if its process has exited. Returns true if it had.
static bool
kid_reap(tr_launch *l, struct kid *k)
{
    int st;
    pid_t r;
    do
        r = waitpid(k->pid, &st, WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r == 0)
        return false; // readable pidfd but not yet reapable: next turn
    int64_t now = now_ns();
    tr_launch_event ev = {
        .kind = TR_LAUNCH_EXITED,
        .pid = k->pid,
        .code = -1,
        .uptime_ms = (now - k->started_ns) / MS,
        .stopping =
            l->stopping || k->state == K_STOPPING || k->state == K_KILLING,
    };
    bool normal = false;
    if (r < 0) {
        // Someone else reaped it (SIGCHLD set to SIG_IGN, or a waitpid(-1)
        // elsewhere in the program): its status is lost.
        ev.code = -1;
    } else if (WIFEXITED(st)) {
        ev.code = WEXITSTATUS(st);
        normal = ev.code == 0;
    } else if (WIFSIGNALED(st)) {
        ev.signal = WTERMSIG(st);
    }
    close(k->pidfd);
    k->pidfd = -1;
    k->pid = 0;
    bool stopping = ev.stopping;
    k->state = K_DONE;
    launch_emit(l, &ev, k);
    if (!stopping)
        kid_ended(l, k, normal, now - k->started_ns, now);
    return true;
}

// kid_signal sends `sig` to k's process group, or to k alone if it left
// the group.
static void
kid_signal(struct kid *k, int sig)
{
    if (kill(-k->pid, sig) != 0)
        (void)kill(k->pid, sig);
}

// kid_stop starts stopping a running child: SIGTERM and a deadline for
// SIGKILL, or SIGKILL at once.
static void
kid_stop(tr_launch *l, struct kid *k, int64_t now)
{
    bool brutal = k->shutdown_ms < 0;
    kid_signal(k, brutal ? SIGKILL : SIGTERM);
    k->state = brutal ? K_KILLING : K_STOPPING;
    k->due_ns = now + (brutal ? KILL_WAIT_MS : k->shutdown_ms) * MS;
    tr_launch_event ev = {
        .kind = TR_LAUNCH_STOPPING,
        .pid = k->pid,
        .signal = brutal ? SIGKILL : SIGTERM,
    };
    launch_emit(l, &ev, k);
}

// run_timers handles every deadline that has passed. Returns true if
// there was one.
static bool
launch_timers(tr_launch *l, int64_t now)
{
    bool did = false;
    for (size_t i = 0; i < l->n; i++) {
        struct kid *k = &l->kids[i];
        if (k->due_ns > now)
            continue;
        switch (k->state) {
        case K_RESTARTING: {
            if (l->stopping)
                break; // gave up earlier in this pass: no new spawns
            did = true;
            k->restarts++;
            int err = kid_spawn(l, k);
            if (err != 0) {
                tr_launch_event ev = {.kind = TR_LAUNCH_SPAWN_FAILED,
                                      .err = err};
                launch_emit(l, &ev, k);
                kid_ended(l, k, false, 0, now);
            }
            break;
        }
        case K_STOPPING: {
            did = true;
            kid_signal(k, SIGKILL);
            k->state = K_KILLING;
            k->due_ns = now + KILL_WAIT_MS * MS;
            tr_launch_event ev = {
                .kind = TR_LAUNCH_KILLED, .pid = k->pid, .signal = SIGKILL};
            launch_emit(l, &ev, k);
            break;
        }
        case K_KILLING:
            did = true;
            k->state = K_LOST; // its pidfd stays open until close
            break;
        default:
            break;
        }
    }
    return did;
}

static int64_t
launch_next_due(const tr_launch *l)
{
    int64_t due = -1;
    for (size_t i = 0; i < l->n; i++) {
        const struct kid *k = &l->kids[i];
        if ((k->state == K_RESTARTING || k->state == K_STOPPING ||
             k->state == K_KILLING) &&
            (due < 0 || k->due_ns < due))
            due = k->due_ns;
    }
    return due;
}

// step waits until `deadline` (negative: no limit) for something to
// happen and handles it. Returns 0 if something was handled (a wake
// included), TR_ETIMEDOUT if nothing happened by the deadline, TR_ESYS
// if poll failed.
static int
launch_step(tr_launch *l, int64_t deadline)
{
    for (;;) {
        int64_t now = now_ns();
        if (launch_timers(l, now))
            return 0;
        int64_t due = launch_next_due(l);
        if (deadline >= 0 && (due < 0 || deadline < due))
            due = deadline;
        int timeout = -1;
        if (due >= 0) {
            int64_t ms = due > now ? (due - now + MS - 1) / MS : 0;
            timeout = ms > INT_MAX ? INT_MAX : (int)ms;
        }
        nfds_t nfds = 0;
        l->fds[nfds++] = (struct pollfd){.fd = l->wakefd, .events = POLLIN};
        for (size_t i = 0; i < l->n; i++)
            if (l->kids[i].pidfd >= 0 && l->kids[i].state != K_LOST)
                l->fds[nfds++] =
                    (struct pollfd){.fd = l->kids[i].pidfd, .events = POLLIN};
        int r = poll(l->fds, nfds, timeout);
        if (r < 0 && errno != EINTR)
            return TR_ESYS;
        bool did = false;
        if (r > 0) {
            if (l->fds[0].revents != 0) {
                uint64_t v;
                (void)!read(l->wakefd, &v, sizeof v);
                did = true;
            }
            for (size_t i = 0; i < l->n; i++) {
                struct kid *k = &l->kids[i];
                if (k->pidfd < 0 || k->state == K_LOST)
                    continue;
                for (nfds_t f = 1; f < nfds; f++)
                    if (l->fds[f].fd == k->pidfd && l->fds[f].revents != 0)
                        did |= kid_reap(l, k);
            }
        }
        if (did)
            return 0;
        if (deadline >= 0 && now_ns() >= deadline)
            return TR_ETIMEDOUT;
    }
}

// live: is any child running or due to restart?
static bool
launch_live(const tr_launch *l)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->kids[i].state == K_RUNNING || l->kids[i].state == K_RESTARTING)
            return true;
    return false;
}

// stop_all stops every child, newest in spec order first, each in turn.
static int
launch_stop_all(tr_launch *l)
{
    int rc = 0;
    l->stopping = true;
    for (size_t i = 0; i < l->n; i++)
        if (l->kids[i].state == K_IDLE || l->kids[i].state == K_RESTARTING)
            l->kids[i].state = K_DONE;
    for (size_t i = l->n; i-- > 0;) {
        struct kid *k = &l->kids[i];
        if (k->state == K_RUNNING)
            kid_stop(l, k, now_ns());
        while (k->state == K_STOPPING || k->state == K_KILLING)
            if (launch_step(l, -1) == TR_ESYS)
                break; // cannot wait: leave it as it is
        if (k->state != K_DONE)
            rc = TR_ETIMEDOUT;
    }
    l->stopped = true;
    return rc;
}

// ---------------------------------------------------------------------------
// Public entry points

int
tr_launch_start(tr_launch *l)
{
    if (l == NULL || l->n == 0)
        return TR_EINVAL;
    if (l->started)
        return TR_EBUSY;
    int intensity = cfg_intensity(&l->cfg);
    if (intensity > 0) {
        l->ring = calloc((size_t)intensity, sizeof *l->ring);
        if (l->ring == NULL)
            return TR_ENOMEM;
        l->ring_len = (size_t)intensity;
    }
    l->started = true;
    for (size_t i = 0; i < l->n; i++) {
        struct kid *k = &l->kids[i];
        int err = kid_spawn(l, k);
        if (err != 0) {
            tr_launch_event ev = {.kind = TR_LAUNCH_SPAWN_FAILED, .err = err};
            launch_emit(l, &ev, k);
            k->state = K_DONE;
            launch_stop_all(l);
            return err == ENOMEM ? TR_ENOMEM : TR_ESYS;
        }
    }
    return 0;
}

int
tr_launch_run(tr_launch *l, int64_t timeout_ms)
{
    if (l == NULL || !l->started)
        return TR_EINVAL;
    if (l->gave_up)
        return TR_EINTENSITY;
    if (l->stopped || !launch_live(l))
        return TR_ECLOSED;
    int64_t deadline = -1;
    if (timeout_ms >= 0)
        deadline =
            now_ns() + (timeout_ms < INT64_MAX / MS / 4 ? timeout_ms
                                                        : INT64_MAX / MS / 4) *
                           MS;
    int rc = launch_step(l, deadline);
    if (l->gave_up) {
        launch_stop_all(l);
        return TR_EINTENSITY;
    }
    return rc;
}

void
tr_launch_wake(tr_launch *l)
{
    uint64_t one = 1;
    int saved = errno; // async-signal-safe: leave errno as it was
    (void)!write(l->wakefd, &one, sizeof one);
    errno = saved;
}

int
tr_launch_stop(tr_launch *l)
{
    if (l == NULL)
        return TR_EINVAL;
    if (l->stopped)
        return 0;
    return launch_stop_all(l);
}

int
tr_launch_close(tr_launch *l)
{
    if (l == NULL)
        return 0;
    int rc = l->started && !l->stopped ? launch_stop_all(l) : 0;
    tr__launch_truncate(l, 0);
    free(l->kids);
    free(l->fds);
    free(l->ring);
    close(l->wakefd);
    free(l);
    return rc;
}

int
tr_launch_info(const tr_launch *l, const char *name, tr_launch_status *out)
{
    const struct kid *k = l != NULL && name != NULL ? kid_find(l, name) : NULL;
    if (k == NULL || out == NULL)
        return TR_EINVAL;
    static const enum tr_proc_state map[] = {
        [K_IDLE] = TR_PROC_IDLE,
        [K_RUNNING] = TR_PROC_RUNNING,
        [K_RESTARTING] = TR_PROC_RESTARTING,
        [K_STOPPING] = TR_PROC_STOPPING,
        [K_KILLING] = TR_PROC_STOPPING,
        [K_DONE] = TR_PROC_DONE,
        [K_LOST] = TR_PROC_STOPPING,
    };
    out->state = map[k->state];
    out->pid = k->pid;
    out->restarts = k->restarts;
    return 0;
}
