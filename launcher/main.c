// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// troupe-launch: start a cluster's node processes and keep them running.
//
// SYNOPSIS
//     troupe-launch CONFIG
//     troupe-launch --check CONFIG
//
// DESCRIPTION
//     Starts every `node` of CONFIG, in file order, and supervises them:
//     a node that exits is started again by its restart type after an
//     exponential backoff with jitter; if restarts come faster than the
//     intensity allows, every node is stopped and troupe-launch exits 1.
//     On SIGINT, SIGTERM or SIGHUP it stops the nodes in reverse file
//     order (SIGTERM, then SIGKILL after the node's shutdown_ms) and exits
//     0. If troupe-launch itself is killed, the kernel kills the nodes.
//
//     Each node runs in its own process group with the launcher's
//     environment plus its env= entries, TROUPE_NODE_NAME, the restart
//     count TROUPE_LAUNCH_RESTARTS and TROUPE_LAUNCH_PID.
//
//     --check reads CONFIG, reports the first error and exits, starting
//     nothing.
//
// CONFIG
//     Line-based; '#' starts a comment; tokens split at whitespace, with
//     shell-like quotes ('...', "...") and backslash escapes:
//
//         backoff_min_ms=100 backoff_max_ms=10000   # the defaults
//         intensity=5/60s            # at most 5 restarts in 60 s; or none
//         node a -- ./my-node --port 7001
//         node b restart=transient shutdown_ms=2000 env=LOG=debug -- ./n
//
//     restart= is permanent (the default), transient (not after exit 0) or
//     temporary (never); shutdown_ms= is a number or kill (SIGKILL at
//     once), default 5000. Details: docs/design/launcher.md.
//
// OUTPUT
//     One key=value line per event on stderr, for example:
//         launch event=started node=a pid=4242 restarts=0
//         launch event=exited node=a pid=4242 signal=KILL uptime_ms=5120
//         launch event=restart node=a in_ms=73 restarts=0
//
// EXIT STATUS
//     0 stopped by a signal, or every node exited for good; 1 a node could
//     not be started, or the restart intensity was exceeded; 2 usage or
//     config error.
#define _GNU_SOURCE // sigabbrev_np
#include <troupe/launch.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>

static tr_launch *the_launcher;
static volatile sig_atomic_t stop_signal;

static void
on_signal(int sig)
{
    stop_signal = sig;
    tr_launch_wake(the_launcher);
}

static const char *
sig_name(int sig)
{
    const char *s = sigabbrev_np(sig);
    return s != NULL ? s : "?";
}

// print_event writes one event as a key=value line on stderr.
static void
print_event(void *arg, const tr_launch_event *ev)
{
    (void)arg;
    char extra[160] = "";
    char ebuf[96];
    switch (ev->kind) {
    case TR_LAUNCH_STARTED:
        snprintf(extra, sizeof extra, " pid=%d restarts=%u", ev->pid,
                 ev->restarts);
        break;
    case TR_LAUNCH_EXITED:
        if (ev->signal != 0)
            snprintf(extra, sizeof extra, " pid=%d signal=%s uptime_ms=%lld%s",
                     ev->pid, sig_name(ev->signal), (long long)ev->uptime_ms,
                     ev->stopping ? " stopping=1" : "");
        else
            snprintf(extra, sizeof extra, " pid=%d code=%d uptime_ms=%lld%s",
                     ev->pid, ev->code, (long long)ev->uptime_ms,
                     ev->stopping ? " stopping=1" : "");
        break;
    case TR_LAUNCH_RESTARTING:
        snprintf(extra, sizeof extra, " in_ms=%lld restarts=%u",
                 (long long)ev->delay_ms, ev->restarts);
        break;
    case TR_LAUNCH_SPAWN_FAILED:
        snprintf(extra, sizeof extra, " error=\"%s\"",
                 strerror_r(ev->err, ebuf, sizeof ebuf));
        break;
    case TR_LAUNCH_GAVE_UP:
        snprintf(extra, sizeof extra, " restarts=%u", ev->restarts);
        break;
    case TR_LAUNCH_STOPPING:
    case TR_LAUNCH_KILLED:
        snprintf(extra, sizeof extra, " pid=%d signal=%s", ev->pid,
                 sig_name(ev->signal));
        break;
    }
    fprintf(stderr, "launch event=%s node=%s%s\n",
            tr_launch_event_name(ev->kind), ev->name, extra);
}

static int
usage(void)
{
    fprintf(stderr, "usage: troupe-launch [--check] CONFIG\n"
                    "       (format: docs/design/launcher.md)\n");
    return 2;
}

int
main(int argc, char **argv)
{
    bool check = argc == 3 && strcmp(argv[1], "--check") == 0;
    if (argc != 2 + check || argv[1 + check][0] == '-')
        return usage();
    const char *path = argv[1 + check];
    setvbuf(stderr, NULL, _IOLBF, 0);

    tr_launch_config cfg = {.on_event = print_event};
    tr_launch_diag diag;
    int rc = tr_launch_open(&the_launcher, &cfg);
    if (rc != 0) {
        fprintf(stderr, "troupe-launch: %s\n", tr_strerror(rc));
        return 1;
    }
    rc = tr_launch_load_file(the_launcher, path, &diag);
    if (rc != 0) {
        if (diag.line > 0)
            fprintf(stderr, "troupe-launch: %s:%d: %s\n", path, diag.line,
                    diag.text);
        else
            fprintf(stderr, "troupe-launch: %s: %s\n", path, diag.text);
        tr_launch_close(the_launcher);
        return 2;
    }
    if (check) {
        tr_launch_close(the_launcher);
        fprintf(stderr, "troupe-launch: %s: ok\n", path);
        return 0;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);

    rc = tr_launch_start(the_launcher);
    if (rc == TR_EINVAL) {
        fprintf(stderr, "troupe-launch: %s: no node lines\n", path);
        tr_launch_close(the_launcher);
        return 2;
    }
    if (rc != 0) {
        fprintf(stderr, "troupe-launch: start failed: %s\n", tr_strerror(rc));
        tr_launch_close(the_launcher);
        return 1;
    }
    while (stop_signal == 0) {
        rc = tr_launch_run(the_launcher, -1);
        if (rc == TR_EINTENSITY || rc == TR_ECLOSED || rc == TR_ESYS)
            break;
    }
    int status = 0;
    if (stop_signal != 0) {
        fprintf(stderr, "launch event=stop signal=%s\n", sig_name(stop_signal));
    } else if (rc == TR_EINTENSITY) {
        fprintf(stderr, "troupe-launch: restart intensity exceeded; "
                        "every node stopped\n");
        status = 1;
    } else if (rc == TR_ESYS) {
        fprintf(stderr, "troupe-launch: waiting failed; stopping\n");
        status = 1;
    }
    if (tr_launch_close(the_launcher) != 0) {
        fprintf(stderr, "troupe-launch: a node did not die after SIGKILL\n");
        status = 1;
    }
    fprintf(stderr, "launch event=stopped\n");
    return status;
}
