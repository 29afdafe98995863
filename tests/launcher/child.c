// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// launch-child: the process the launcher tests start. It reports to a
// "mark" file (a FIFO the test reads) and then does what its flags say:
//
//   --mark PATH     where to write report lines (appended, one write each)
//   --say WORD      report "say NAME WORD" (repeatable), after the start line
//   --ignore-term   ignore SIGTERM (so a stop must SIGKILL it)
//   --on-term       on SIGTERM, report "term NAME" and exit 0
//   --exit N        exit with status N once started
//   --crash         die of SIGSEGV once started
//
// At start it reports "start NAME pid=P restarts=R lpid=L test=T", from
// TROUPE_NODE_NAME, TROUPE_LAUNCH_RESTARTS, TROUPE_LAUNCH_PID and
// LAUNCH_TEST; only then does it exit, crash or wait for a signal, so a
// test that has read the line knows the signal setup is in place.
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int mark_fd = -1;
static char term_line[128];

static const char *
env_or(const char *key, const char *dflt)
{
    const char *v = getenv(key);
    return v != NULL ? v : dflt;
}

static void
report(const char *line)
{
    if (mark_fd >= 0)
        (void)!write(mark_fd, line, strlen(line));
}

static void
on_term(int sig)
{
    (void)sig;
    report(term_line); // write(2) is async-signal-safe
    _exit(0);
}

int
main(int argc, char **argv)
{
    const char *name = env_or("TROUPE_NODE_NAME", "?");
    int exit_code = -1;
    int crash = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--mark") == 0 && i + 1 < argc) {
            mark_fd = open(argv[++i], O_WRONLY | O_APPEND | O_CLOEXEC);
        } else if (strcmp(argv[i], "--ignore-term") == 0) {
            signal(SIGTERM, SIG_IGN);
        } else if (strcmp(argv[i], "--on-term") == 0) {
            snprintf(term_line, sizeof term_line, "term %s\n", name);
            struct sigaction sa;
            memset(&sa, 0, sizeof sa);
            sa.sa_handler = on_term;
            sigemptyset(&sa.sa_mask);
            sigaction(SIGTERM, &sa, NULL);
        } else if (strcmp(argv[i], "--exit") == 0 && i + 1 < argc) {
            exit_code = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--crash") == 0) {
            crash = 1;
        } else if (strcmp(argv[i], "--say") == 0 && i + 1 < argc) {
            i++; // reported below, after the start line
        } else {
            fprintf(stderr, "launch-child: unknown argument %s\n", argv[i]);
            return 64;
        }
    }
    char line[512];
    snprintf(line, sizeof line,
             "start %s pid=%ld restarts=%s lpid=%s test=%s\n", name,
             (long)getpid(), env_or("TROUPE_LAUNCH_RESTARTS", "?"),
             env_or("TROUPE_LAUNCH_PID", "?"), env_or("LAUNCH_TEST", "-"));
    report(line);
    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], "--say") == 0) {
            snprintf(line, sizeof line, "say %s %s\n", name, argv[++i]);
            report(line);
        }
    }
    if (crash) {
        signal(SIGSEGV, SIG_DFL); // not a sanitizer's handler
        raise(SIGSEGV);
    }
    if (exit_code >= 0)
        return exit_code;
    for (;;)
        pause();
}
