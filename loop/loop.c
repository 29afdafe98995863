// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
#define _GNU_SOURCE
#include "loop.h"

#include <troupe.h>

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <unistd.h>

// How many empty polls of the ready queue an idle loop makes before it
// sleeps. Spinning a little keeps a cross-loop conversation free of
// syscalls; the cost is at most a few microseconds of CPU per idle period.
#define LOOP_SPINS 256

static _Thread_local struct tr__loop *loop_self;

struct tr__loop *
tr__loop_current(void)
{
    return loop_self;
}

static void
rq_push(struct tr__loop *l, struct tr__node *n)
{
    atomic_store_explicit(&n->next, NULL, memory_order_relaxed);
    if (l->rq_tail != NULL)
        atomic_store_explicit(&l->rq_tail->next, n, memory_order_relaxed);
    else
        l->rq_head = n;
    l->rq_tail = n;
}

static struct tr__node *
rq_pop(struct tr__loop *l)
{
    struct tr__node *n = l->rq_head;
    if (n != NULL) {
        l->rq_head = atomic_load_explicit(&n->next, memory_order_relaxed);
        if (l->rq_head == NULL)
            l->rq_tail = NULL;
    }
    return n;
}

// Moves everything posted from other threads onto the local run queue.
// Returns false when the ready queue looked empty.
static bool
drain_ready(struct tr__loop *l)
{
    bool any = false;
    struct tr__node *n;
    while ((n = tr__mpsc_pop(&l->ready)) != NULL) {
        rq_push(l, n);
        any = true;
    }
    return any;
}

static void
loop_sleep(struct tr__loop *l)
{
    for (int i = 0; i < LOOP_SPINS; i++) {
        if (!tr__mpsc_empty(&l->ready) || atomic_load(&l->quit))
            return;
        tr__cpu_relax();
    }
    atomic_store(&l->sleeping, 1);
    // seq_cst store then load: pairs with the poster's push then exchange.
    if (!tr__mpsc_empty(&l->ready) || atomic_load(&l->quit)) {
        atomic_store(&l->sleeping, 0);
        return;
    }
    struct pollfd pfd = {.fd = l->efd, .events = POLLIN};
    while (poll(&pfd, 1, -1) < 0 && errno == EINTR)
        ;
    uint64_t v;
    if (read(l->efd, &v, sizeof v) == sizeof v)
        atomic_fetch_add_explicit(&l->wakeups, 1, memory_order_relaxed);
    atomic_store(&l->sleeping, 0);
}

static void *
loop_main(void *arg)
{
    struct tr__loop *l = arg;
    loop_self = l;
    tr__msgpool_self = &l->pool;
    if (l->cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(l->cpu, &set);
        (void)pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    }
    for (;;) {
        drain_ready(l);
        struct tr__node *n = rq_pop(l);
        if (n != NULL) {
            struct tr__sched *s = (struct tr__sched *)n;
            if (s->run(s) == TR__RUN_AGAIN)
                rq_push(l, n);
            continue;
        }
        if (atomic_load(&l->quit) && tr__mpsc_empty(&l->ready))
            break;
        loop_sleep(l);
    }
    tr__msgpool_self = NULL;
    loop_self = NULL;
    return NULL;
}

int
tr__loop_start(struct tr__loop *l, unsigned index, int cpu)
{
    tr__mpsc_init(&l->ready);
    atomic_init(&l->sleeping, 0);
    atomic_init(&l->quit, false);
    atomic_init(&l->wakeups, 0);
    l->rq_head = l->rq_tail = NULL;
    l->index = index;
    l->cpu = cpu;
    tr__msgpool_init(&l->pool);
    l->efd = eventfd(0, EFD_CLOEXEC);
    if (l->efd < 0)
        return TR_ESYS;
    if (pthread_create(&l->thread, NULL, loop_main, l) != 0) {
        close(l->efd);
        return TR_ESYS;
    }
    return 0;
}

static void
loop_wake(struct tr__loop *l)
{
    // seq_cst: pairs with loop_sleep's store of `sleeping` then re-check.
    if (atomic_load(&l->sleeping) && atomic_exchange(&l->sleeping, 0)) {
        uint64_t one = 1;
        while (write(l->efd, &one, sizeof one) < 0 && errno == EINTR)
            ;
    }
}

void
tr__loop_post(struct tr__loop *l, struct tr__sched *s)
{
    if (loop_self == l) {
        rq_push(l, &s->node);
        return;
    }
    tr__mpsc_push(&l->ready, &s->node);
    loop_wake(l);
}

void
tr__loop_stop(struct tr__loop *l)
{
    atomic_store(&l->quit, true);
    uint64_t one = 1;
    while (write(l->efd, &one, sizeof one) < 0 && errno == EINTR)
        ;
    pthread_join(l->thread, NULL);
}

void
tr__loop_fini(struct tr__loop *l)
{
    close(l->efd);
    tr__msgpool_fini(&l->pool);
}
