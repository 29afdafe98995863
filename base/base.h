// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// base.h: the bottom layer: allocation, clock, atomics. Everything above
// allocates through tr__alloc/tr__free so the allocator is one switch
// (TR_ALLOCATOR=jemalloc|libc) and sized frees reach jemalloc.
#ifndef TR_BASE_H
#define TR_BASE_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define TR_LIKELY(x)   __builtin_expect(!!(x), 1)
#define TR_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define TR_LIKELY(x)   (x)
#define TR_UNLIKELY(x) (x)
#endif

// tr__container_of returns the struct of `type` whose `member` is at `ptr`.
#define tr__container_of(ptr, type, member) \
    ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

// TR__TLS declares the runtime's thread-local pointers (the loop and the
// message pool a thread runs), read on every send: the initial-exec model
// makes each read one instruction instead of a call, at the price of not
// loading libtroupe with dlopen into a process short of static TLS space.
#if defined(__GNUC__)
#define TR__TLS _Thread_local __attribute__((tls_model("initial-exec")))
#else
#define TR__TLS _Thread_local
#endif

// TR_CACHELINE separates fields written by different threads.
#define TR_CACHELINE 64

// tr__alloc returns `size` bytes or NULL. Thread: any.
void *tr__alloc(size_t size);

// tr__zalloc returns `size` zeroed bytes or NULL. Thread: any.
void *tr__zalloc(size_t size);

// tr__free frees `p` (NULL is ignored), which tr__alloc/tr__zalloc returned
// for exactly `size` bytes. Thread: any.
void tr__free(void *p, size_t size);

// tr__grow makes room for one more element in the heap array *v, which
// has room for *cap elements of `size` bytes and holds `n`: when full it
// doubles (the first allocation holds `first`), moving the n elements.
// Returns 0 or TR_ENOMEM (the array is then unchanged). Thread: any; the
// caller owns the array.
int tr__grow(void *v, uint32_t *cap, uint32_t n, size_t size, uint32_t first);

// tr__now_ns is CLOCK_MONOTONIC in nanoseconds. Thread: any.
int64_t tr__now_ns(void);

// tr__now_upper_ns returns a time no earlier than tr__now_ns() would, and
// at most 50 us later, for less than half the cost (a TSC read most of the
// time): for deadlines, which must never come early. Thread: any.
int64_t tr__now_upper_ns(void);

// tr__futex_wait sleeps while *addr == val, at most until the absolute
// CLOCK_MONOTONIC time `deadline_ns` (negative: no limit). Returns on a
// wake, a timeout, a signal or a changed value alike. Thread: any.
void tr__futex_wait(_Atomic uint32_t *addr, uint32_t val, int64_t deadline_ns);

// tr__futex_wake wakes every thread waiting on addr. Thread: any.
void tr__futex_wake(_Atomic uint32_t *addr);

// tr__cpu_relax tells the CPU we are spinning.
static inline void
tr__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

#endif // TR_BASE_H
