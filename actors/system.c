// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// system.c: opening a system, its root, statistics and shutdown.
#define _GNU_SOURCE
#include "actor.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_BUDGET  64
#define DEFAULT_MAX_MSG (64u << 20)
#define MAX_LOOPS       254 // the slot word keeps 8 bits; 0xFF is "none"

// Joins every loop before freeing any: a loop may free messages from
// another loop's pool until it stops.
static void
stop_loops(tr_system *sys, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        tr__loop_stop(&sys->shards[i].loop);
    for (unsigned i = 0; i < n; i++)
        tr__loop_fini(&sys->shards[i].loop);
}

// The watchdog wakes every few ms and looks at each loop: busy, with the
// same run count as at its last look, for longer than the threshold, means
// a handler is holding the loop. It says so once while it lasts, and again
// when the loop moves on.
static void *
watchdog_main(void *arg)
{
    tr_system *sys = arg;
    unsigned n = sys->nloops;
    uint64_t *seen = tr__zalloc(n * sizeof *seen);
    int64_t *since = tr__zalloc(n * sizeof *since);
    bool *told = tr__zalloc(n * sizeof *told);
    int64_t tick = sys->watchdog_ms / 5 > 0 ? sys->watchdog_ms / 5 : 1;
    if (tick > 10)
        tick = 10;
    pthread_mutex_lock(&sys->wd_mu);
    while (!sys->wd_quit && seen != NULL && since != NULL && told != NULL) {
        int64_t now = tr__now_ns();
        for (unsigned i = 0; i < n; i++) {
            struct tr__shard *sh = &sys->shards[i];
            uint64_t runs =
                atomic_load_explicit(&sh->loop.runs, memory_order_relaxed);
            int busy =
                atomic_load_explicit(&sh->loop.busy, memory_order_relaxed);
            if (runs != seen[i] || !busy) {
                if (told[i])
                    tr__logf(&sys->log, TR_LOG_INFO, "loop_recovered",
                             "loop=%u held_ms=%lld", i,
                             (long long)((now - since[i]) / 1000000));
                seen[i] = runs;
                since[i] = now;
                told[i] = false;
                continue;
            }
            if (!told[i] && now - since[i] >= sys->watchdog_ms * 1000000) {
                const char *name =
                    atomic_load_explicit(&sh->cur_name, memory_order_relaxed);
                tr__logf(
                    &sys->log, TR_LOG_WARN, "loop_stalled",
                    "loop=%u behavior=%s msg_type=%u held_ms=%lld", i,
                    name != NULL ? name : "-",
                    atomic_load_explicit(&sh->cur_type, memory_order_relaxed),
                    (long long)((now - since[i]) / 1000000));
                atomic_fetch_add_explicit(&sh->c.stalls, 1,
                                          memory_order_relaxed);
                told[i] = true;
            }
        }
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t wake =
            (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec + tick * 1000000;
        ts.tv_sec = wake / 1000000000;
        ts.tv_nsec = wake % 1000000000;
        pthread_cond_timedwait(&sys->wd_cv, &sys->wd_mu, &ts);
    }
    pthread_mutex_unlock(&sys->wd_mu);
    tr__free(seen, n * sizeof *seen);
    tr__free(since, n * sizeof *since);
    tr__free(told, n * sizeof *told);
    return NULL;
}

static void
watchdog_stop(tr_system *sys)
{
    if (!sys->watchdog_on)
        return;
    pthread_mutex_lock(&sys->wd_mu);
    sys->wd_quit = true;
    pthread_cond_signal(&sys->wd_cv);
    pthread_mutex_unlock(&sys->wd_mu);
    pthread_join(sys->watchdog, NULL);
    pthread_cond_destroy(&sys->wd_cv);
    pthread_mutex_destroy(&sys->wd_mu);
    sys->watchdog_on = false;
}

static void
system_free(tr_system *sys)
{
    watchdog_stop(sys);
    if (atomic_load(&sys->bpool_on) && sys->bpool.threads != NULL)
        tr__pool_stop(&sys->bpool);
    if (sys->pool.threads != NULL)
        tr__pool_stop(&sys->pool);
    tr__free(sys->shards, sys->nloops * sizeof *sys->shards);
    tr__slots_fini(&sys->slots);
    pthread_cond_destroy(&sys->root_cv);
    pthread_mutex_destroy(&sys->root_lock);
    pthread_mutex_destroy(&sys->dbg_mu);
    pthread_mutex_destroy(&sys->bpool_mu);
    tr__free(sys, sizeof *sys);
}

int
tr_system_open(tr_system **out, const tr_config *cfg)
{
    tr_config c = cfg != NULL ? *cfg : (tr_config){0};
    if (out == NULL || c.loops > MAX_LOOPS || c.max_msg_size > UINT32_MAX)
        return TR_EINVAL;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu < 1)
        ncpu = 1;
    if (c.manual && c.loops > 1)
        return TR_EINVAL;
    if (c.manual)
        c.loops = 1;
    if (c.loops == 0)
        c.loops = ncpu > MAX_LOOPS ? MAX_LOOPS : (unsigned)ncpu;
    tr_system *sys = tr__zalloc(sizeof *sys);
    if (sys == NULL)
        return TR_ENOMEM;
    sys->nloops = c.loops;
    sys->budget = c.budget != 0 ? c.budget : DEFAULT_BUDGET;
    sys->max_msg = c.max_msg_size != 0 ? c.max_msg_size : DEFAULT_MAX_MSG;
    sys->shutdown_ms = c.shutdown_ms != 0 ? c.shutdown_ms : 5000;
    sys->mbox_cap = c.mailbox_capacity;
    sys->mbox_overflow = c.mailbox_overflow;
    if (c.log_level > TR_LOG_OFF) {
        tr__free(sys, sizeof *sys);
        return TR_EINVAL;
    }
    tr__log_init(&sys->log, c.log_fn, c.log_cookie, c.log_level);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int bad = tr__slots_init(&sys->slots) != 0;
    bad |= pthread_mutex_init(&sys->root_lock, NULL) != 0;
    bad |= pthread_cond_init(&sys->root_cv, &ca) != 0;
    bad |= pthread_mutex_init(&sys->dbg_mu, NULL) != 0;
    bad |= pthread_mutex_init(&sys->bpool_mu, NULL) != 0;
    sys->bpool_threads = c.blocking_threads ? c.blocking_threads : 4;
    sys->pool_cap = c.pool_queue ? c.pool_queue : 1024;
    const char *env = getenv("TROUPE_DEBUG");
    sys->debug = c.debug || (env != NULL && env[0] != 0 && env[0] != '0');
    pthread_condattr_destroy(&ca);
    sys->shards = tr__zalloc(c.loops * sizeof *sys->shards);
    if (bad || sys->shards == NULL) {
        system_free(sys);
        return TR_ENOMEM;
    }
    sys->manual = c.manual;
    sys->actor_stats = c.actor_stats;
    uint64_t seed = c.seed ? c.seed : c.manual ? 1 : (uint64_t)tr__now_ns();
    int prc = tr__pool_start(&sys->pool, c.pool_threads ? c.pool_threads : 4,
                             sys->pool_cap);
    if (prc != 0) {
        system_free(sys);
        return prc;
    }
    for (unsigned i = 0; i < c.loops; i++) {
        sys->shards[i].sys = sys;
        sys->shards[i].rng = (seed + i) * 0x9E3779B97F4A7C15ull | 1;
        int rc = c.manual
                     ? tr__loop_start_manual(&sys->shards[i].loop, i)
                     : tr__loop_start(&sys->shards[i].loop, i,
                                      c.pin ? (int)(i % (unsigned)ncpu) : -1,
                                      c.sample_every);
        if (rc != 0) {
            stop_loops(sys, i);
            system_free(sys);
            return rc;
        }
    }
    sys->watchdog_ms = c.watchdog_ms != 0 ? c.watchdog_ms : 50;
    if (sys->watchdog_ms > 0 && !c.manual) {
        pthread_condattr_t wa;
        pthread_condattr_init(&wa);
        pthread_condattr_setclock(&wa, CLOCK_MONOTONIC);
        pthread_mutex_init(&sys->wd_mu, NULL);
        pthread_cond_init(&sys->wd_cv, &wa);
        pthread_condattr_destroy(&wa);
        if (pthread_create(&sys->watchdog, NULL, watchdog_main, sys) != 0) {
            pthread_cond_destroy(&sys->wd_cv);
            pthread_mutex_destroy(&sys->wd_mu);
            stop_loops(sys, sys->nloops);
            system_free(sys);
            return TR_ESYS;
        }
        sys->watchdog_on = true;
    }
    *out = sys;
    return 0;
}

void
tr_log(tr_system *sys, enum tr_log_level level, const char *event,
       const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tr__logv(&sys->log, level, event, fmt, ap);
    va_end(ap);
}

bool
tr_log_enabled(tr_system *sys, enum tr_log_level level)
{
    return tr__log_on(&sys->log, level);
}

unsigned
tr_system_loops(tr_system *sys)
{
    return sys->nloops;
}

static uint64_t
rd(_Atomic uint64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

static void
add_counters(tr_stats *st, uint64_t *created, uint64_t *freed,
             struct tr__counters *c)
{
    st->msgs_sent += rd(&c->sent);
    st->dead_letters += rd(&c->dead);
    st->unhandled += rd(&c->unhandled);
    st->actors_spawned += rd(&c->spawned);
    st->actors_crashed += rd(&c->crashed);
    st->late_replies += rd(&c->late);
    st->msgs_refused += rd(&c->refused);
    st->msgs_dropped += rd(&c->dropped);
    st->mailbox_alarms += rd(&c->alarms);
    st->loop_stalls += rd(&c->stalls);
    st->requests_abandoned += rd(&c->abandoned);
    st->requests_timed_out += rd(&c->timeouts);
    *created += rd(&c->created);
    *freed += rd(&c->freed);
}

void
tr_system_stats(tr_system *sys, tr_stats *out)
{
    uint64_t created = 0, freed = 0;
    memset(out, 0, sizeof *out);
    add_counters(out, &created, &freed, &sys->ext);
    for (unsigned i = 0; i < sys->nloops; i++) {
        struct tr__loop *l = &sys->shards[i].loop;
        add_counters(out, &created, &freed, &sys->shards[i].c);
        out->timers_fired += rd(&l->timers_fired);
        int64_t late =
            atomic_load_explicit(&l->timer_late_max_ns, memory_order_relaxed);
        if (late > out->timer_late_max_ns)
            out->timer_late_max_ns = late;
    }
    out->actors_live = created >= freed ? created - freed : 0;
}

int
tr_loop_stats(tr_system *sys, unsigned loop, tr_loop_info *out)
{
    if (loop >= sys->nloops || out == NULL)
        return TR_EINVAL;
    struct tr__shard *sh = &sys->shards[loop];
    struct tr__loop *l = &sh->loop;
    out->runs = atomic_load_explicit(&l->runs, memory_order_relaxed);
    out->msgs_handled = rd(&sh->c.handled);
    out->msgs_sent = rd(&sh->c.sent);
    out->wakeups = rd(&l->wakeups);
    out->timers_fired = rd(&l->timers_fired);
    out->timer_late_max_ns =
        atomic_load_explicit(&l->timer_late_max_ns, memory_order_relaxed);
    out->stalls = rd(&sh->c.stalls);
    tr__hist_read(&l->lag, &out->lag);
    tr__hist_read(&l->run, &out->run);
    return 0;
}

int
tr_pool_stats(tr_system *sys, tr_pool_info *out)
{
    struct tr__pool *p = &sys->pool;
    *out = (tr_pool_info){0};
    out->threads = p->nthreads;
    out->busy = atomic_load_explicit(&p->busy, memory_order_relaxed);
    out->queued = tr__pool_depth(p);
    out->queue_cap = p->cap;
    out->jobs_run = rd(&p->ran);
    out->jobs_rejected = rd(&p->rejected);
    if (atomic_load(&sys->bpool_on)) {
        struct tr__pool *b = &sys->bpool;
        out->actor_threads = b->nthreads;
        out->actors_busy = atomic_load_explicit(&b->busy, memory_order_relaxed);
        out->actors_runnable = tr__pool_depth(b);
    }
    out->actors_refused = rd(&sys->bk_refused);
    return 0;
}

static struct timespec
ts_of(int64_t ns)
{
    return (struct timespec){.tv_sec = ns / 1000000000,
                             .tv_nsec = ns % 1000000000};
}

int
tr_system_run(tr_system *sys)
{
    if (!sys->manual)
        return TR_EINVAL;
    size_t n = tr__loop_run(&sys->shards[0].loop);
    return n > INT32_MAX ? INT32_MAX : (int)n;
}

int
tr_system_advance(tr_system *sys, int64_t ms)
{
    if (!sys->manual || ms < 0)
        return TR_EINVAL;
    size_t n = tr__loop_advance(&sys->shards[0].loop, ms);
    return n > INT32_MAX ? INT32_MAX : (int)n;
}

int64_t
tr_system_now_ns(tr_system *sys)
{
    return tr__loop_now_ns(&sys->shards[0].loop);
}

// close_step asks the newest top-level actor to shut down (gracefully:
// one that traps exits gets TR_MSG_EXIT), and once its deadline has passed
// kills it. Returns the time at which it must look again, INT64_MAX for
// none, or 0 after a failed allocation. Caller holds root_lock (or is the
// manual driver).
static int64_t
close_step(tr_system *sys, int64_t now)
{
    bool kill = sys->root_signal == sys->root_last && sys->root_kill_at != 0 &&
                now >= sys->root_kill_at;
    if (sys->root_signal == sys->root_last && !kill)
        return sys->root_kill_at != 0 ? sys->root_kill_at : INT64_MAX;
    struct tr_msg *m = tr__sig_shutdown_alloc(TR_REF_NONE, kill);
    if (m == NULL)
        return 0;
    if (!kill) {
        sys->root_signal = sys->root_last;
        sys->root_kill_at =
            sys->shutdown_ms < 0 ? 0 : now + sys->shutdown_ms * 1000000;
    } else {
        sys->root_kill_at = 0; // killed: wait as long as it takes
    }
    tr__actor_signal(sys, tr__slot_actor(sys, sys->root_last), m);
    return sys->root_kill_at != 0 ? sys->root_kill_at : INT64_MAX;
}

// A manual system is stopped by driving its loop here, moving the virtual
// clock on only when nothing else can make progress.
static int
close_manual(tr_system *sys)
{
    struct tr__loop *l = &sys->shards[0].loop;
    while (sys->root_last != 0) {
        int64_t look = close_step(sys, l->vnow_ns);
        if (look == 0)
            return TR_ENOMEM;
        if (tr__loop_run(l) != 0 || sys->root_last == 0)
            continue;
        int64_t next = tr__wheel_next(&l->wheel);
        int64_t next_ns = next == INT64_MAX ? INT64_MAX : next * 1000000;
        if (next_ns > look)
            next_ns = look; // the kill comes first
        if (next_ns == INT64_MAX)
            return TR_ETIMEDOUT; // stuck with nothing to wait for
        tr__loop_advance(l, (next_ns - l->vnow_ns + 999999) / 1000000);
    }
    return 0;
}

int
tr__hook_add(tr_system *sys, struct tr__hook *h)
{
    int rc = 0;
    pthread_mutex_lock(&sys->root_lock);
    for (struct tr__hook *o = sys->hooks; o != NULL && rc == 0; o = o->next)
        if (o->key == h->key)
            rc = TR_EBUSY;
    if (rc == 0 && sys->hooks_ran)
        rc = TR_ECLOSED;
    if (rc == 0) {
        h->next = sys->hooks;
        sys->hooks = h;
    }
    pthread_mutex_unlock(&sys->root_lock);
    return rc;
}

void *
tr__hook_find(tr_system *sys, const void *key)
{
    void *arg = NULL;
    pthread_mutex_lock(&sys->root_lock);
    for (struct tr__hook *h = sys->hooks; h != NULL && arg == NULL; h = h->next)
        if (h->key == key)
            arg = h->arg;
    pthread_mutex_unlock(&sys->root_lock);
    return arg;
}

// Runs the close hooks once: the first close takes the list.
static void
hooks_run(tr_system *sys)
{
    pthread_mutex_lock(&sys->root_lock);
    struct tr__hook *h = sys->hooks;
    sys->hooks = NULL;
    sys->hooks_ran = true;
    pthread_mutex_unlock(&sys->root_lock);
    while (h != NULL) {
        struct tr__hook *next = h->next; // h may be freed by its close
        h->close(h->arg);
        h = next;
    }
}

int
tr_system_close(tr_system *sys, int64_t timeout_ms, tr_stats *final)
{
    assert(tr__cur_shard(sys) == NULL && "tr_system_close on a loop thread");
    if (atomic_load(&sys->inboxes) != 0)
        return TR_EBUSY;
    hooks_run(sys);
    if (sys->debug && !atomic_load(&sys->closing)) {
        tr_stats st;
        tr_system_stats(sys, &st);
        tr__logf(&sys->log, TR_LOG_INFO, "closing", "actors_alive=%llu",
                 (unsigned long long)st.actors_live);
    }
    atomic_store(&sys->closing, true);
    if (sys->manual) {
        int rc = close_manual(sys);
        if (rc != 0)
            return rc;
        timeout_ms = -1; // the tree is gone; nothing below waits
    }
    int64_t end =
        timeout_ms < 0 ? INT64_MAX : tr__now_ns() + timeout_ms * 1000000;

    // Stop top-level actors newest first, one at a time; each stops its
    // own subtree before it goes.
    pthread_mutex_lock(&sys->root_lock);
    while (sys->root_last != 0) {
        int64_t now = tr__now_ns();
        int64_t wake = close_step(sys, now);
        if (wake == 0)
            wake = now + 1000000; // retry the allocation soon
        if (wake > end)
            wake = end;
        if (wake == INT64_MAX) {
            pthread_cond_wait(&sys->root_cv, &sys->root_lock);
            continue;
        }
        if (now >= end) {
            pthread_mutex_unlock(&sys->root_lock);
            return TR_ETIMEDOUT;
        }
        struct timespec ts = ts_of(wake);
        pthread_cond_timedwait(&sys->root_cv, &sys->root_lock, &ts);
    }
    pthread_mutex_unlock(&sys->root_lock);

    const struct tr__transport *t = atomic_load(&sys->transport);
    if (t != NULL)
        t->close(sys->transport_arg);
    // Pool threads may still hold a reference to an actor that just died
    // (a job's result on its way back) and free it on their own thread:
    // join them while the loops, whose message pools they may free into,
    // are still there, and before counting what leaked. Blocking actors
    // are all dead; their threads may be finishing their last turn.
    if (atomic_load(&sys->bpool_on))
        tr__pool_stop(&sys->bpool);
    tr__pool_stop(&sys->pool);
    stop_loops(sys, sys->nloops);
    tr_stats st;
    tr_system_stats(sys, &st);
    if (sys->debug)
        tr__logf(&sys->log, TR_LOG_INFO, "closed",
                 "requests_abandoned=%llu dead_letters=%llu late_replies=%llu "
                 "unhandled=%llu loop_stalls=%llu actors_leaked=%llu",
                 (unsigned long long)st.requests_abandoned,
                 (unsigned long long)st.dead_letters,
                 (unsigned long long)st.late_replies,
                 (unsigned long long)st.unhandled,
                 (unsigned long long)st.loop_stalls,
                 (unsigned long long)st.actors_live);
    if (final != NULL)
        *final = st;
    system_free(sys);
    return 0;
}
