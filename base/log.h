// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// log.h: structured log lines (key=value) through a pluggable sink.
//
// A logger is a sink, its cookie and a threshold, fixed when the system
// opens and read-only after: any thread may log without a lock. A line is
// formatted on the caller's stack, so logging allocates nothing; the sink
// gets it whole, and the default sink writes it with one write(2), so
// lines from different threads do not interleave.
#ifndef TR_BASE_LOG_H
#define TR_BASE_LOG_H

#include <troupe.h>

#include <stdarg.h>
#include <stdbool.h>

// TR__LOG_LINE is the room for one line, NUL included.
#define TR__LOG_LINE 512

struct tr__log {
    tr_log_fn fn; // never NULL once initialised
    void *cookie;
    enum tr_log_level level; // lines below it are skipped
};

// tr__log_init sets up `lg` with sink `fn` (NULL: stderr) and threshold
// `level` (TR_LOG_DEFAULT: TR_LOG_INFO). Thread: any, before use.
void tr__log_init(struct tr__log *lg, tr_log_fn fn, void *cookie,
                  enum tr_log_level level);

// tr__log_on is true when a line at `level` would be written.
static inline bool
tr__log_on(const struct tr__log *lg, enum tr_log_level level)
{
    return level >= lg->level && level < TR_LOG_OFF;
}

// tr__logf writes "level=.. event=<event>" plus, if fmt is not NULL, a
// space and the formatted rest. Thread: any.
void tr__logf(const struct tr__log *lg, enum tr_log_level level,
              const char *event, const char *fmt, ...) TR_PRINTF(4, 5);

// tr__logv is tr__logf with a va_list. Thread: any.
void tr__logv(const struct tr__log *lg, enum tr_log_level level,
              const char *event, const char *fmt, va_list ap) TR_PRINTF(4, 0);

#endif // TR_BASE_LOG_H
