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

TR__TLS struct tr__loop *tr__loop_self;

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
static inline bool
drain_ready(struct tr__loop *l)
{
    // Nothing posted since the last drain, which is what a busy loop
    // mostly finds: one load instead of a call and a pop. (A queue whose
    // head is not the stub holds something, or a node the last drain left
    // for a half-done push; the pop below sorts that out.)
    if (atomic_load_explicit(&l->ready.head, memory_order_relaxed) ==
            &l->ready.stub &&
        l->ready.tail == &l->ready.stub)
        return false;
    bool any = false;
    struct tr__node *n;
    while ((n = tr__mpsc_pop(&l->ready)) != NULL) {
        tr__rq_push(l, n);
        any = true;
    }
    return any;
}

// How many runs a loop with armed timers makes between clock reads.
#define CLOCK_EVERY 32

static int64_t
ms_floor(int64_t ns)
{
    return ns / 1000000;
}

void
tr__loop_timer_arm_at(struct tr__loop *l, struct tr__timer *t, int64_t at_ns)
{
    // Round up: the timer fires once the wheel's tick (the clock rounded
    // down) has reached it, so never before at_ns.
    int64_t due = (at_ns + 999999) / 1000000;
    if (due < l->wheel.now)
        due = l->wheel.now;
    tr__wheel_arm(&l->wheel, t, due);
}

void
tr__loop_timer_arm(struct tr__loop *l, struct tr__timer *t, int64_t delay_ms)
{
    if (delay_ms <= 0)
        tr__wheel_arm(&l->wheel, t, l->wheel.now);
    else
        tr__loop_timer_arm_at(l, t, tr__loop_now_ns(l) + delay_ms * 1000000);
}

// Fires what is due on the loop's clock and records lateness.
static void
loop_timers(struct tr__loop *l)
{
    l->since_clock = 0;
    if (l->wheel.count == 0)
        return;
    int64_t now = tr__loop_now_ns(l);
    if (ms_floor(now) < l->wheel.now && l->wheel.due == NULL)
        return;
    int64_t next = tr__wheel_next(&l->wheel);
    if (next > ms_floor(now))
        return;
    int64_t late = now - next * 1000000;
    // A timer due is a schedulable due to run: its lateness is lag too
    // (the probe cannot see it, since what it makes runnable is posted
    // only when it fires).
    if (!l->manual)
        tr__hist_add(&l->lag, late);
    if (late >
        atomic_load_explicit(&l->timer_late_max_ns, memory_order_relaxed))
        atomic_store_explicit(&l->timer_late_max_ns, late,
                              memory_order_relaxed);
    size_t n = tr__wheel_advance(&l->wheel, ms_floor(now));
    atomic_store_explicit(
        &l->timers_fired,
        atomic_load_explicit(&l->timers_fired, memory_order_relaxed) + n,
        memory_order_relaxed);
}

// The poll timeout until the next timer, in ms (-1: none).
static int
sleep_ms(struct tr__loop *l)
{
    int64_t next = tr__wheel_next(&l->wheel);
    if (next == INT64_MAX)
        return -1;
    int64_t wait = next - ms_floor(tr__now_ns());
    return wait <= 0 ? 0 : wait > 60000 ? 60000 : (int)wait;
}

static void
loop_sleep(struct tr__loop *l)
{
    // Nothing to run: give other loops back the messages we hold of theirs.
    tr__msgpool_flush(&l->pool);
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
    int rc;
    while ((rc = poll(&pfd, 1, sleep_ms(l))) < 0 && errno == EINTR)
        ;
    uint64_t v;
    if (rc > 0 && read(l->efd, &v, sizeof v) == sizeof v)
        atomic_fetch_add_explicit(&l->wakeups, 1, memory_order_relaxed);
    atomic_store(&l->sleeping, 0);
}

// A sampled run: its duration. Afterwards it arms the lag probe for the
// next post, if the probe is idle.
static __attribute__((noinline)) int
run_timed(struct tr__loop *l, struct tr__sched *s)
{
    int64_t t0 = tr__now_ns();
    l->timed_ns = t0;
    int again = s->run(s);
    l->timed_ns = 0;
    tr__hist_add(&l->run, tr__now_ns() - t0);
    int idle = TR__PROBE_IDLE;
    if (!l->manual)
        atomic_compare_exchange_strong_explicit(
            &l->probe, &idle, TR__PROBE_ARMED, memory_order_relaxed,
            memory_order_relaxed);
    return again;
}

// The marker's run: it was posted just before the probed schedulable, so
// its wait is that schedulable's lag.
static int
probe_run(struct tr__sched *s)
{
    struct tr__loop *l = tr__container_of(s, struct tr__loop, probe_sched);
    tr__hist_add(&l->lag,
                 tr__now_ns() -
                     atomic_load_explicit(&l->probe_ns, memory_order_relaxed));
    atomic_store_explicit(&l->probe, TR__PROBE_IDLE, memory_order_relaxed);
    return TR__RUN_DONE;
}

// Runs one schedulable, with the health marks the watchdog reads: a run
// count and a busy flag (relaxed stores, owner only); one run in
// sample_mask + 1 is timed.
static inline void
run_one(struct tr__loop *l, struct tr__node *n)
{
    struct tr__sched *s = (struct tr__sched *)n;
    uint64_t runs = atomic_load_explicit(&l->runs, memory_order_relaxed) + 1;
    atomic_store_explicit(&l->runs, runs, memory_order_relaxed);
    atomic_store_explicit(&l->busy, 1, memory_order_relaxed);
    int again;
    if (TR_UNLIKELY((runs & l->sample_mask) == 0))
        again = run_timed(l, s);
    else
        again = s->run(s);
    atomic_store_explicit(&l->busy, 0, memory_order_relaxed);
    if (again == TR__RUN_AGAIN)
        tr__rq_push(l, n);
}

static void *
loop_main(void *arg)
{
    struct tr__loop *l = arg;
    tr__loop_self = l;
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
            run_one(l, n);
            if (l->wheel.count != 0 && ++l->since_clock >= CLOCK_EVERY)
                loop_timers(l);
            continue;
        }
        loop_timers(l);
        if (l->rq_head != NULL)
            continue; // a timer made something runnable
        if (atomic_load(&l->quit) && tr__mpsc_empty(&l->ready))
            break;
        loop_sleep(l);
    }
    tr__msgpool_flush(&l->pool);
    tr__msgpool_self = NULL;
    tr__loop_self = NULL;
    return NULL;
}

static int
loop_init(struct tr__loop *l, unsigned index, int cpu, bool manual,
          unsigned sample_every)
{
    unsigned mask = 255;
    if (sample_every != 0) {
        mask = 0;
        while (mask + 1 < sample_every && mask < (1u << 30))
            mask = mask * 2 + 1;
    }
    l->sample_mask = mask;
    atomic_init(&l->probe, TR__PROBE_IDLE);
    atomic_init(&l->probe_ns, 0);
    l->probe_sched.run = probe_run;
    atomic_init(&l->probe_sched.node.next, NULL);
    tr__hist_init(&l->lag);
    tr__hist_init(&l->run);
    tr__mpsc_init(&l->ready);
    atomic_init(&l->sleeping, 0);
    atomic_init(&l->quit, false);
    atomic_init(&l->wakeups, 0);
    atomic_init(&l->timers_fired, 0);
    atomic_init(&l->runs, 0);
    atomic_init(&l->busy, 0);
    atomic_init(&l->timer_late_max_ns, 0);
    l->rq_head = l->rq_tail = NULL;
    l->index = index;
    l->cpu = cpu;
    l->manual = manual;
    l->vnow_ns = 0;
    l->since_clock = 0;
    tr__msgpool_init(&l->pool);
    tr__wheel_init(&l->wheel, ms_floor(tr__loop_now_ns(l)));
    l->efd = eventfd(0, EFD_CLOEXEC);
    return l->efd < 0 ? TR_ESYS : 0;
}

int
tr__loop_start_manual(struct tr__loop *l, unsigned index)
{
    return loop_init(l, index, -1, true, 0);
}

size_t
tr__loop_run(struct tr__loop *l)
{
    struct tr__loop *was = tr__loop_self;
    struct tr__msgpool *was_pool = tr__msgpool_self;
    tr__loop_self = l;
    tr__msgpool_self = &l->pool;
    size_t runs = 0;
    for (;;) {
        drain_ready(l);
        loop_timers(l);
        struct tr__node *n = rq_pop(l);
        if (n == NULL) {
            if (tr__mpsc_empty(&l->ready))
                break;
            continue; // a post is half done
        }
        run_one(l, n); // the watchdog is off in manual mode; marks are cheap
        runs++;
    }
    tr__msgpool_flush(&l->pool);
    tr__msgpool_self = was_pool;
    tr__loop_self = was;
    return runs;
}

size_t
tr__loop_advance(struct tr__loop *l, int64_t ms)
{
    int64_t target = ms_floor(l->vnow_ns) + (ms > 0 ? ms : 0);
    size_t runs = tr__loop_run(l);
    for (;;) {
        int64_t next = tr__wheel_next(&l->wheel);
        if (next > target)
            break;
        if (next * 1000000 > l->vnow_ns)
            l->vnow_ns = next * 1000000;
        runs += tr__loop_run(l);
    }
    if (target * 1000000 > l->vnow_ns)
        l->vnow_ns = target * 1000000;
    return runs + tr__loop_run(l);
}

int
tr__loop_start(struct tr__loop *l, unsigned index, int cpu,
               unsigned sample_every)
{
    int rc = loop_init(l, index, cpu, false, sample_every);
    if (rc != 0)
        return rc;
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

// Claims the armed probe for the post of `s` (see loop.h): stamps the
// time and queues the marker just ahead of `s`, by the same path, so it
// runs just before `s` does.
static __attribute__((noinline)) void
probe_claim(struct tr__loop *l)
{
    int armed = TR__PROBE_ARMED;
    if (!atomic_compare_exchange_strong_explicit(
            &l->probe, &armed, TR__PROBE_BUSY, memory_order_relaxed,
            memory_order_relaxed))
        return;
    // Published to the loop by the marker's push (release, acquire).
    atomic_store_explicit(&l->probe_ns, tr__now_ns(), memory_order_relaxed);
    if (tr__loop_self == l)
        tr__rq_push(l, &l->probe_sched.node);
    else
        tr__mpsc_push(&l->ready, &l->probe_sched.node);
}

void
tr__loop_post(struct tr__loop *l, struct tr__sched *s)
{
    if (TR_UNLIKELY(atomic_load_explicit(&l->probe, memory_order_relaxed) ==
                    TR__PROBE_ARMED))
        probe_claim(l);
    if (tr__loop_self == l) {
        tr__rq_push(l, &s->node);
        return;
    }
    tr__mpsc_push(&l->ready, &s->node);
    loop_wake(l);
}

void
tr__loop_stop(struct tr__loop *l)
{
    if (l->manual) {
        tr__loop_run(l); // let what is runnable finish
        return;
    }
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
