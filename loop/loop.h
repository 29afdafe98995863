// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// loop.h: per-core loop threads that run schedulables.
//
// A loop does not know what an actor is. It runs *schedulables*: records
// with a run function. run() returns TR__RUN_AGAIN to go to the back of the
// run queue, or TR__RUN_DONE to be forgotten until someone posts it again.
//
// Design notes
// - Each loop has a local run queue (owner thread only, no atomics) and a
//   ready queue (tr__mpsc) that other threads post into.
// - The caller guarantees a schedulable is queued at most once at a time
//   (actors do it with their schedule flag), so one link field suffices.
// - Sleeping: an idle loop spins briefly, then sets `sleeping`, re-checks
//   its ready queue and blocks on its eventfd. A poster pushes, then
//   exchanges `sleeping` to 0 and writes the eventfd only if it was 1. Both
//   sides use seq_cst, so either the loop sees the push or the poster sees
//   the flag (store-load pairing). A busy loop pays no syscall per message.
// - Health histograms are sampled, so the hot path reads no clock: one run
//   in sample_mask + 1 is timed (run). After a timed run the loop *arms*
//   its lag probe; the next post to it claims the probe (a CAS), stamps
//   the time and queues the loop's marker schedulable just ahead of what
//   it posts, by the same path. The marker runs just before that
//   schedulable and records now - stamp (lag), freeing the probe. A post
//   pays one load for this, a run nothing more than the sampling test.
//   While a probe waits nothing else is sampled, so a long stall yields
//   one (large) lag sample, not one per waiting post. Each batch of timers
//   fired adds its lateness (due tick -> fired) to `lag` as well: a timer
//   that fires late made its actor runnable late, which no probe sees.
#ifndef TR_LOOP_LOOP_H
#define TR_LOOP_LOOP_H

#include "../base/hist.h"
#include "../mailbox/msg.h"
#include "timer.h"

#include <pthread.h>
#include <stdbool.h>

enum { TR__RUN_DONE = 0, TR__RUN_AGAIN = 1 };

// States of a loop's lag probe (see design notes).
enum { TR__PROBE_IDLE, TR__PROBE_ARMED, TR__PROBE_BUSY };

struct tr__sched {
    struct tr__node node; // link in a run or ready queue
    int (*run)(struct tr__sched *s);
};

// A timer's fire() runs on its loop between schedulables; the loop records
// how late it was (against the due tick) before calling it.

struct tr__loop {
    // Written by other threads.
    alignas(TR_CACHELINE) struct tr__mpsc ready;
    _Atomic int sleeping; // 1 while blocked or about to block on efd
    _Atomic bool quit;
    // Lag probe (see design notes): armed by the owner, claimed by a
    // poster with a CAS, made idle by the marker's run.
    _Atomic int probe;
    _Atomic int64_t probe_ns; // CLOCK_MONOTONIC when the probe was claimed
    unsigned sample_mask;     // constant after start: 2^k - 1
    // Owner thread only (after start).
    alignas(TR_CACHELINE) struct tr__node *rq_head;
    struct tr__node *rq_tail;
    int efd;
    unsigned index;
    int cpu; // -1: not pinned
    pthread_t thread;
    _Atomic uint64_t wakeups; // eventfd writes received; relaxed, stats
    struct tr__msgpool pool;  // messages sent from this loop
    struct tr__wheel wheel;   // owner only
    unsigned since_clock;     // runs since the clock was last read
    // The start of the timed run in progress (CLOCK_MONOTONIC), 0 when
    // the run is not timed: what runs may book its own share of it.
    int64_t timed_ns;
    bool manual;     // no thread: driven by tr__loop_run/advance
    int64_t vnow_ns; // manual: the virtual clock
    // Health: `runs` counts schedulables started and `busy` is 1 while one
    // runs; a watchdog that sees `busy` with `runs` unchanged for too long
    // knows the loop is held. Owner writes (relaxed), anyone reads.
    _Atomic uint64_t runs;
    _Atomic int busy;
    // Timer statistics, owner writes, anyone reads (relaxed).
    _Atomic uint64_t timers_fired;
    _Atomic int64_t timer_late_max_ns; // worst lateness seen
    // Health histograms, ns: owner writes, anyone reads (see hist.h).
    struct tr__hist lag;          // post -> run start, of the probes
    struct tr__hist run;          // durations of the timed runs
    struct tr__sched probe_sched; // the lag marker; queued by a claimer
};

// tr__loop_start initialises `l` and starts its thread, pinned to `cpu`
// unless it is negative, timing one run in `sample_every` (rounded up to a
// power of two; 0: 256) and the first post after it. Returns 0 or TR_ESYS.
// Thread: any.
int tr__loop_start(struct tr__loop *l, unsigned index, int cpu,
                   unsigned sample_every);

// tr__loop_start_manual initialises `l` without a thread, on a virtual
// clock starting at 0, for a test to drive with tr__loop_run and
// tr__loop_advance. Returns 0 or TR_ESYS. Thread: any.
int tr__loop_start_manual(struct tr__loop *l, unsigned index);

// tr__loop_run runs a manual loop on the calling thread until it has
// nothing runnable, firing timers due on its virtual clock. Returns the
// number of runs made. Thread: the driving thread.
size_t tr__loop_run(struct tr__loop *l);

// tr__loop_advance moves a manual loop's clock forward by `ms`, firing
// timers in order of their due time and running after each tick that fired
// any. Returns the number of runs made. Thread: the driving thread.
size_t tr__loop_advance(struct tr__loop *l, int64_t ms);

// tr__loop_now_ns returns the loop's clock: CLOCK_MONOTONIC, or the
// virtual clock of a manual loop. Thread: any (a manual loop: its driver).
static inline int64_t
tr__loop_now_ns(const struct tr__loop *l)
{
    return l->manual ? l->vnow_ns : tr__now_ns();
}

// tr__loop_now_upper_ns returns a time no earlier than the loop's clock,
// cheaply (see tr__now_upper_ns): for computing deadlines.
static inline int64_t
tr__loop_now_upper_ns(const struct tr__loop *l)
{
    return l->manual ? l->vnow_ns : tr__now_upper_ns();
}

// tr__loop_timer_arm arms `t` to fire `delay_ms` from now (0: on the next
// loop turn), never earlier. Thread: owner.
void tr__loop_timer_arm(struct tr__loop *l, struct tr__timer *t,
                        int64_t delay_ms);

// tr__loop_timer_arm_at arms `t` to fire at `at_ns` on the loop's clock.
// Thread: owner.
void tr__loop_timer_arm_at(struct tr__loop *l, struct tr__timer *t,
                           int64_t at_ns);

// tr__loop_timer_cancel disarms `t` if armed. Thread: owner.
static inline void
tr__loop_timer_cancel(struct tr__loop *l, struct tr__timer *t)
{
    tr__wheel_cancel(&l->wheel, t);
}

// tr__loop_stop tells the loop to exit once its run queues are empty, and
// joins its thread. Thread: any but the loop's own.
void tr__loop_stop(struct tr__loop *l);

// tr__loop_fini frees what a stopped loop holds. Messages from its pool may
// be freed by other loops until they stop, so call this only once every
// loop sharing messages with it has stopped. Thread: any.
void tr__loop_fini(struct tr__loop *l);

// tr__loop_self is the loop the calling thread runs, or NULL; read it
// through tr__loop_current.
extern TR__TLS struct tr__loop *tr__loop_self;

// tr__loop_current returns the loop the calling thread runs, or NULL.
// Thread: any.
static inline struct tr__loop *
tr__loop_current(void)
{
    return tr__loop_self;
}

// tr__loop_post queues `s` to run on `l`: straight into the local run
// queue when called from `l`'s own thread, else through the ready queue,
// waking `l` if it sleeps. Thread: any.
void tr__loop_post(struct tr__loop *l, struct tr__sched *s);

// tr__rq_push appends `n` to the loop's local run queue. Thread: owner.
static inline void
tr__rq_push(struct tr__loop *l, struct tr__node *n)
{
    atomic_store_explicit(&n->next, NULL, memory_order_relaxed);
    if (l->rq_tail != NULL)
        atomic_store_explicit(&l->rq_tail->next, n, memory_order_relaxed);
    else
        l->rq_head = n;
    l->rq_tail = n;
}

// tr__loop_post_own is tr__loop_post from `l`'s own thread. Thread: owner.
static inline void
tr__loop_post_own(struct tr__loop *l, struct tr__sched *s)
{
    if (TR_UNLIKELY(atomic_load_explicit(&l->probe, memory_order_relaxed) ==
                    TR__PROBE_ARMED))
        tr__loop_post(l, s); // claims the probe
    else
        tr__rq_push(l, &s->node);
}

#endif // TR_LOOP_LOOP_H
