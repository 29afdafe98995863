// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

const char *
tr_log_level_name(enum tr_log_level level)
{
    switch (level) {
    case TR_LOG_DEBUG:
        return "debug";
    case TR_LOG_WARN:
        return "warn";
    case TR_LOG_ERROR:
        return "error";
    case TR_LOG_OFF:
        return "off";
    default:
        return "info";
    }
}

// The default sink: "troupe <line>\n" on stderr in one write(2), so lines
// written by different threads at once do not interleave (stdio's stderr
// is unbuffered and may split a line).
static void
log_stderr(void *cookie, enum tr_log_level level, const char *line)
{
    (void)cookie;
    (void)level;
    char buf[TR__LOG_LINE + 8];
    int n = snprintf(buf, sizeof buf, "troupe %s\n", line);
    if (n < 0)
        return;
    size_t len = (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1;
    const char *p = buf;
    while (len > 0) {
        ssize_t w = write(STDERR_FILENO, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        p += w;
        len -= (size_t)w;
    }
}

void
tr__log_init(struct tr__log *lg, tr_log_fn fn, void *cookie,
             enum tr_log_level level)
{
    lg->fn = fn != NULL ? fn : log_stderr;
    lg->cookie = cookie;
    lg->level = level == TR_LOG_DEFAULT ? TR_LOG_INFO : level;
}

void
tr__logv(const struct tr__log *lg, enum tr_log_level level, const char *event,
         const char *fmt, va_list ap)
{
    if (!tr__log_on(lg, level))
        return;
    char line[TR__LOG_LINE];
    int n = snprintf(line, sizeof line, "level=%s event=%s",
                     tr_log_level_name(level), event != NULL ? event : "-");
    if (n < 0)
        return;
    if (fmt != NULL && (size_t)n + 1 < sizeof line) {
        line[n] = ' ';
        // A line too long is cut: vsnprintf stops at the buffer's end.
        (void)vsnprintf(line + n + 1, sizeof line - (size_t)n - 1, fmt, ap);
    }
    lg->fn(lg->cookie, level, line);
}

void
tr__logf(const struct tr__log *lg, enum tr_log_level level, const char *event,
         const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tr__logv(lg, level, event, fmt, ap);
    va_end(ap);
}
