// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
#define _POSIX_C_SOURCE 200809L
#include "base.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#if TR_USE_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

// With jemalloc, the runtime calls its own entry points (mallocx,
// sdallocx) rather than malloc: they name jemalloc whatever malloc the
// program resolved to (a program linking libtroupe.so gets glibc's malloc
// first in symbol order), and the sized free skips a size lookup.
void *
tr__alloc(size_t size)
{
#if TR_USE_JEMALLOC
    return mallocx(size ? size : 1, 0);
#else
    return malloc(size);
#endif
}

void *
tr__zalloc(size_t size)
{
#if TR_USE_JEMALLOC
    return mallocx(size ? size : 1, MALLOCX_ZERO);
#else
    return calloc(1, size);
#endif
}

void
tr__free(void *p, size_t size)
{
    if (p == NULL)
        return;
#if TR_USE_JEMALLOC
    sdallocx(p, size ? size : 1, 0);
#else
    (void)size;
    free(p);
#endif
}

int64_t
tr__now_upper_ns(void)
{
    static _Atomic int64_t res; // the coarse clock's resolution, once read
    int64_t r = atomic_load_explicit(&res, memory_order_relaxed);
    struct timespec ts;
    if (r == 0) {
        if (clock_getres(CLOCK_MONOTONIC_COARSE, &ts) != 0)
            return tr__now_ns();
        r = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
        atomic_store_explicit(&res, r, memory_order_relaxed);
    }
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec + r;
}

int64_t
tr__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#include <troupe.h>

const char *
tr_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
#define X(n, c, s) \
    case c:        \
        return s;
        TR_ERRORS(X)
#undef X
    default:
        return "unknown error";
    }
}

const char *
tr_errname(int err)
{
    switch (err) {
    case 0:
        return "TR_OK";
#define X(n, c, s) \
    case c:        \
        return "TR_" #n;
        TR_ERRORS(X)
#undef X
    default:
        return "TR_E?";
    }
}

int64_t
tr_now_ns(void)
{
    return tr__now_ns();
}
