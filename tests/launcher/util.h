// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// util.h: what the launcher tests share: a scratch directory, a line
// reader with a deadline (for the FIFO the children report to, and for
// troupe-launch's stderr), and a bounded wait for a process.
#ifndef TR_TESTS_LAUNCHER_UTIL_H
#define TR_TESTS_LAUNCHER_UTIL_H

#include "tests/test.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

// lines reads '\n'-terminated lines from a non-blocking fd.
struct lines {
    int fd;
    char buf[8192];
    size_t len;
};

// has_all: does `line` hold every string of `needles` (NULL-terminated)?
static inline bool
has_all(const char *line, const char *const *needles)
{
    for (size_t i = 0; needles[i] != NULL; i++)
        if (strstr(line, needles[i]) == NULL)
            return false;
    return true;
}

// lines_next puts the next line (without its '\n') in `out`, waiting until
// the absolute tr_now_ns() time `deadline_ns`. False at the deadline or EOF.
static inline bool
lines_next(struct lines *r, char *out, size_t outlen, int64_t deadline_ns)
{
    for (;;) {
        char *nl = memchr(r->buf, '\n', r->len);
        if (nl != NULL) {
            size_t n = (size_t)(nl - r->buf);
            size_t c = n < outlen - 1 ? n : outlen - 1;
            memcpy(out, r->buf, c);
            out[c] = '\0';
            memmove(r->buf, nl + 1, r->len - n - 1);
            r->len -= n + 1;
            return true;
        }
        if (r->len == sizeof r->buf)
            r->len = 0; // an overlong line: drop it
        ssize_t got = read(r->fd, r->buf + r->len, sizeof r->buf - r->len);
        if (got > 0) {
            r->len += (size_t)got;
            continue;
        }
        if (got == 0)
            return false;
        if (errno != EAGAIN && errno != EINTR)
            return false;
        int64_t left = deadline_ns - tr_now_ns();
        if (left <= 0)
            return false;
        struct pollfd p = {.fd = r->fd, .events = POLLIN};
        (void)poll(&p, 1, (int)(left / 1000000) + 1);
    }
}

// lines_find reads lines until one contains every string of `needles`
// (NULL-terminated), copying it to `out`. False at TEST_WAIT_MS.
static inline bool
lines_find(struct lines *r, char *out, size_t outlen,
           const char *const *needles)
{
    int64_t end = tr_now_ns() + (int64_t)TEST_WAIT_MS * 1000000;
    while (lines_next(r, out, outlen, end))
        if (has_all(out, needles))
            return true;
    return false;
}

#define LINES_FIND(r, out, ...)         \
    lines_find((r), (out), sizeof(out), \
               (const char *const[]){__VA_ARGS__, NULL})

// scratch holds a temporary directory and a FIFO in it ("marks") that
// children report to; the test keeps it open for reading and writing, so
// a child's open never blocks and the test never sees EOF. Children
// report concurrently, so lines read but not yet asked for are kept.
#define MARKS_KEPT 64
struct scratch {
    char dir[128];
    char fifo[160];
    struct lines marks;
    char kept[MARKS_KEPT][256];
    size_t nkept;
};

// marks_find returns (and forgets) a report line holding every string of
// `needles`, whether it came before or comes within TEST_WAIT_MS.
static inline bool
marks_find(struct scratch *s, char *out, size_t outlen,
           const char *const *needles)
{
    for (size_t i = 0; i < s->nkept; i++) {
        if (has_all(s->kept[i], needles)) {
            snprintf(out, outlen, "%s", s->kept[i]);
            memmove(s->kept[i], s->kept[i + 1],
                    (s->nkept - i - 1) * sizeof s->kept[0]);
            s->nkept--;
            return true;
        }
    }
    int64_t end = tr_now_ns() + (int64_t)TEST_WAIT_MS * 1000000;
    char line[256];
    while (lines_next(&s->marks, line, sizeof line, end)) {
        if (has_all(line, needles)) {
            snprintf(out, outlen, "%s", line);
            return true;
        }
        if (s->nkept < MARKS_KEPT)
            memcpy(s->kept[s->nkept++], line, sizeof line);
    }
    return false;
}

#define MARKS_FIND(s, out, ...)         \
    marks_find((s), (out), sizeof(out), \
               (const char *const[]){__VA_ARGS__, NULL})

static inline void
scratch_open(struct scratch *s)
{
    snprintf(s->dir, sizeof s->dir, "/tmp/troupe-launch-XXXXXX");
    assert_non_null(mkdtemp(s->dir));
    snprintf(s->fifo, sizeof s->fifo, "%s/marks", s->dir);
    assert_int_equal(mkfifo(s->fifo, 0600), 0);
    s->marks.len = 0;
    s->nkept = 0;
    s->marks.fd = open(s->fifo, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    assert_true(s->marks.fd >= 0);
}

static inline void
scratch_path(const struct scratch *s, char *out, size_t len, const char *f)
{
    snprintf(out, len, "%s/%s", s->dir, f);
}

static inline void
scratch_close(struct scratch *s)
{
    char cmd[256];
    close(s->marks.fd);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s->dir);
    assert_int_equal(system(cmd), 0);
}

// field_int reads the number after `key` ("pid=") in `line`, or -1.
static inline long
field_int(const char *line, const char *key)
{
    const char *p = strstr(line, key);
    return p != NULL ? strtol(p + strlen(key), NULL, 10) : -1;
}

// proc_wait waits up to TEST_WAIT_MS for `pid` (a child of this process)
// to exit, through a pidfd, and returns its wait status (-1 on timeout).
static inline int
proc_wait(pid_t pid)
{
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    assert_true(fd >= 0);
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int r = poll(&p, 1, TEST_WAIT_MS);
    close(fd);
    int st = -1;
    if (r == 1)
        assert_int_equal(waitpid(pid, &st, 0), pid);
    return st;
}

#endif // TR_TESTS_LAUNCHER_UTIL_H
