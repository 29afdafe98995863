// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
#define _GNU_SOURCE // syscall(2), for the futex
#include "base.h"

#include <limits.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

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

// tr__now_upper_ns: the last precise reading plus a bound on the time
// since, measured in TSC cycles. The bound uses half the calibrated TSC
// rate, so it is never short; a reading older than UPPER_NS (at that rate)
// is refreshed. Deadlines come out at most UPPER_NS late, never early. (The
// coarse clock is no upper bound: here it lags by up to 6 ms, more than its
// stated resolution.)
#define UPPER_NS 50000

#if defined(__x86_64__) || defined(__i386__)
static _Atomic uint64_t tsc_per_us; // half the measured rate; 0: not yet

static _Thread_local struct {
    int64_t ns, cal_ns;
    uint64_t tsc, cal_tsc;
} last;

int64_t
tr__now_upper_ns(void)
{
    uint64_t rate = atomic_load_explicit(&tsc_per_us, memory_order_relaxed);
    uint64_t t = __builtin_ia32_rdtsc();
    if (rate != 0 && last.tsc != 0 && t - last.tsc < rate * (UPPER_NS / 1000))
        return last.ns + UPPER_NS;
    int64_t now = tr__now_ns();
    t = __builtin_ia32_rdtsc();
    if (rate == 0) { // calibrate over at least 2 ms of this thread's calls
        if (last.cal_tsc == 0) {
            last.cal_ns = now;
            last.cal_tsc = t;
        } else if (now - last.cal_ns >= 2000000 && t > last.cal_tsc) {
            uint64_t r =
                (t - last.cal_tsc) * 1000 / (uint64_t)(now - last.cal_ns) / 2;
            atomic_store_explicit(&tsc_per_us, r ? r : 1, memory_order_relaxed);
        }
    }
    last.ns = now;
    last.tsc = t;
    return now;
}
#else
int64_t
tr__now_upper_ns(void)
{
    return tr__now_ns();
}
#endif

void
tr__futex_wait(_Atomic uint32_t *addr, uint32_t val, int64_t deadline_ns)
{
    struct timespec ts, *tp = NULL;
    if (deadline_ns >= 0) {
        int64_t left = deadline_ns - tr__now_ns();
        if (left <= 0)
            return;
        ts.tv_sec = left / 1000000000;
        ts.tv_nsec = left % 1000000000;
        tp = &ts;
    }
    syscall(SYS_futex, (void *)addr, FUTEX_WAIT_PRIVATE, val, tp, NULL, 0);
}

void
tr__futex_wake(_Atomic uint32_t *addr)
{
    syscall(SYS_futex, (void *)addr, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL,
            0);
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

int
tr__grow(void *v, uint32_t *cap, uint32_t n, size_t size, uint32_t first)
{
    if (n < *cap)
        return 0;
    void **pv = v;
    uint32_t ncap = *cap ? *cap * 2 : first;
    void *nv = tr__alloc((size_t)ncap * size);
    if (nv == NULL)
        return TR_ENOMEM;
    if (n != 0)
        memcpy(nv, *pv, (size_t)n * size);
    tr__free(*pv, (size_t)*cap * size);
    *pv = nv;
    *cap = ncap;
    return 0;
}
