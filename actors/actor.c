// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// actor.c: spawn, send, the actor's run function, and stopping.
//
// Design notes
// - "Enqueue and schedule if idle" is a push followed by fetch_or of the
//   schedule flag; only the producer that finds the flag clear posts the
//   actor. When a run ends with empty queues, the loop clears the flag
//   (seq_cst) and re-checks the queues; if something arrived it sets the
//   flag again, and exactly one of it and the producer wins the fetch_or.
// - A run handles every pending signal first, then user messages until
//   `budget` is spent, re-checking the signal lane after each. Each message
//   handled and each message sent costs one unit (as sends cost an Erlang
//   process reductions): a producer on the same loop as its consumer yields
//   after about as many sends as the consumer gets to handle per turn, so
//   its backlog stays bounded by the budget instead of growing every turn.
// - Stopping (phase STOPPING): no more user messages; the newest child is
//   sent STOP and awaited (CHILD_DOWN), then the next; with no children
//   left the stop hook runs, the slot is marked dead, the parent is told
//   (CHILD_DOWN, or the root's list under its lock) and the actor drops its
//   own reference. Unread messages become dead letters when it is freed.
// - Death happens only inside the actor's run, on its own loop (an init
//   failure is turned into a STOPPING actor posted to its loop), which is
//   what makes the same-loop fast path in lookup safe.
#include "actor.h"

#include <sched.h>
#include <string.h>

static size_t
state_bytes(size_t n)
{
    return (n + 15) & ~(size_t)15;
}

// The record keeps its slot's generation, so naming an actor reads only
// the record: the slot's word is written by every sender on another loop
// (its reference count), and reading it on each turn would pull that
// cache line back and forth between the loops.
tr_ref
tr__actor_ref(tr_system *sys, struct tr__actor *a)
{
    (void)sys;
    return tr__ref_make(a->slot, a->gen);
}

void
tr__actor_release(tr_system *sys, struct tr__actor *a)
{
    struct tr__slot *s = tr__slots_get(&sys->slots, a->slot);
    // acq_rel: the thread that frees sees every holder's writes.
    uint64_t old = atomic_fetch_sub_explicit(&s->word, 1, memory_order_acq_rel);
    if ((old & TR__W_REFS) == 1 && !(old & TR__W_ALIVE))
        tr__actor_free(sys, a);
}

void
tr__actor_kill(tr_system *sys, struct tr__actor *a)
{
    struct tr__slot *s = tr__slots_get(&sys->slots, a->slot);
    atomic_fetch_and_explicit(&s->word, ~TR__W_ALIVE, memory_order_acq_rel);
}

// lookup_own returns the live actor the local ref `r` names if it lives
// on loop `sh`, else NULL: the same-loop fast path (see actor.h), no
// reference needed.
static inline struct tr__actor *
lookup_own(tr_system *sys, struct tr__shard *sh, tr_ref r)
{
    uint32_t idx = (uint32_t)(r.bits >> TR__GEN_BITS) & TR__SLOT_MASK;
    struct tr__slot *s = tr__slots_get(&sys->slots, idx);
    if (TR_UNLIKELY(s == NULL || idx == 0))
        return NULL;
    uint64_t w = atomic_load_explicit(&s->word, memory_order_acquire);
    uint64_t want = ((r.bits & TR__GEN_MASK) << TR__W_GENSHIFT) |
                    ((uint64_t)sh->loop.index << TR__W_LOOPSHIFT) | TR__W_ALIVE;
    return (w & ~TR__W_REFS) == want ? s->actor : NULL;
}

struct tr__actor *
tr__actor_lookup(tr_system *sys, struct tr__shard *sh, tr_ref r, bool *held)
{
    struct tr__actor *a =
        sh != NULL && TR__REF_NODE(r) == 0 ? lookup_own(sys, sh, r) : NULL;
    if (a != NULL) {
        *held = false;
        return a;
    }
    *held = true;
    return tr__slots_acquire(&sys->slots, r);
}

// Posts an inbox or a blocking actor: a parked blocking actor (waiting in
// tr_receive, its schedule flag clear) is woken on its futex word, an idle
// one queued for a blocking-actor thread.
static void
actor_post_off_loop(tr_system *sys, struct tr__actor *a, uint32_t word)
{
    if (word & TR__A_INBOX) {
        tr__inbox_wake(a);
    } else if (word & TR__A_PARKED) {
        struct tr__bound *bd = tr__bound_of(a);
        atomic_fetch_add(&bd->park, 1);
        tr__futex_wake(&bd->park);
    } else {
        tr__pool_post(&sys->bpool, &a->sched);
    }
}

static inline void
actor_post(tr_system *sys, struct tr__actor *a, uint32_t word)
{
    if (TR_UNLIKELY(word & (TR__A_INBOX | TR__A_BLOCKING)))
        actor_post_off_loop(sys, a, word);
    else
        tr__loop_post(&sys->shards[word >> TR__A_LOOP_SHIFT].loop, &a->sched);
}

struct tr__ext *
tr__ext_get(struct tr__actor *a)
{
    if (a->ext == NULL)
        a->ext = tr__zalloc(sizeof(struct tr__ext));
    return a->ext;
}

// Sets the schedule flag; the caller that finds it clear posts the actor.
// A seq_cst load that sees the flag already set is enough, and spares the
// RMW while an actor works through a burst: the load follows the caller's
// push in the total order, and the loop's clearing of the flag follows the
// load, so the loop's re-check of the queue sees the push.
// Inlined by hand: the compiler stopped inlining it into the send path
// once blocking actors gave actor_post a second branch (+8 instructions
// per message in pingpong).
static inline __attribute__((always_inline)) void
actor_schedule(tr_system *sys, struct tr__actor *a)
{
    if (atomic_load(&a->word) & TR__A_SCHED)
        return;
    uint32_t old = atomic_fetch_or(&a->word, TR__A_SCHED);
    if (!(old & TR__A_SCHED))
        actor_post(sys, a, old);
}

void
tr__actor_schedule(tr_system *sys, struct tr__actor *a)
{
    actor_schedule(sys, a);
}

void
tr__actor_signal(tr_system *sys, struct tr__actor *a, struct tr_msg *m)
{
    tr__stack_push(&a->sig, &m->node);
    actor_schedule(sys, a);
}

static void
set_phase(struct tr__actor *a, unsigned ph)
{
    uint32_t w = atomic_load_explicit(&a->word, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(
        &a->word, &w, (w & ~TR__A_PHASE_MASK) | (ph << TR__A_PHASE_SHIFT),
        memory_order_relaxed, memory_order_relaxed))
        ;
}

static void
set_flags(struct tr__actor *a, uint32_t flags, bool on)
{
    if (on)
        atomic_fetch_or_explicit(&a->word, flags, memory_order_relaxed);
    else
        atomic_fetch_and_explicit(&a->word, ~flags, memory_order_relaxed);
}

static bool
has_flags(struct tr__actor *a, uint32_t flags)
{
    return (atomic_load_explicit(&a->word, memory_order_relaxed) & flags) ==
           flags;
}

struct tr_msg *
tr__sig_stop_alloc(int reason)
{
    struct tr_msg *m = tr__msg_alloc(TR__SIG_STOP, sizeof reason, true);
    if (m != NULL)
        memcpy(m->data, &reason, sizeof reason);
    return m;
}

struct tr_msg *
tr__sig_shutdown_alloc(tr_ref from, bool kill)
{
    if (kill)
        return tr__msg_alloc(TR__SIG_KILL, 0, true);
    struct tr_msg *m = tr__msg_alloc(TR__SIG_SHUTDOWN, sizeof from, true);
    if (m != NULL)
        memcpy(m->data, &from, sizeof from);
    return m;
}

// Bounded mailboxes. A sender takes a place (count + 1) before pushing;
// the consumer gives it back when it pops. A full mailbox applies its
// policy; TR_OVERFLOW_WAIT sleeps on the count (a futex) until the
// consumer frees a place.
#define TR__DROPPED 1

// The consumer gives a place back; returns how many were queued before.
// Only the actor's own run calls it, so `out` takes a plain store.
static uint32_t
bound_leave(struct tr__bound *bd)
{
    uint32_t out = atomic_load_explicit(&bd->out, memory_order_relaxed);
    atomic_store_explicit(&bd->out, out + 1, memory_order_release);
    uint32_t before = atomic_load_explicit(&bd->in, memory_order_relaxed) - out;
    // A waiter that registered just now may be missed here (no store-load
    // fence, to keep this path free of RMWs); it sleeps at most 1 ms at a
    // time, so it sees the room then.
    if (TR_UNLIKELY(atomic_load_explicit(&bd->waiters, memory_order_relaxed) !=
                    0))
        tr__futex_wake(&bd->out);
    return before;
}

// A sender takes back a place it was given but could not use.
static void
bound_unadmit(struct tr__bound *bd)
{
    atomic_fetch_sub_explicit(&bd->in, 1, memory_order_acq_rel);
}

// Overload alarm: raised by the sender that takes the count to the high
// watermark, cleared by the consumer once it is back to the low one; the
// flag makes each edge happen once (hysteresis).
static void
alarm_edge(tr_system *sys, struct tr__shard *sh, struct tr__actor *a,
           uint32_t queued, bool raise)
{
    struct tr__bound *bd = tr__bound_of(a);
    uint32_t want = raise ? 0 : 1;
    if (!atomic_compare_exchange_strong(&bd->alarm, &want, raise ? 1 : 0))
        return;
    tr_ref who = tr__actor_ref(sys, a);
    if (raise)
        tr__count(sys, sh, alarms);
    tr__logf(&sys->log, TR_LOG_WARN,
             raise ? "mailbox_overload" : "mailbox_recovered",
             "actor=%llx behavior=%s queued=%u high=%u low=%u",
             (unsigned long long)who.bits,
             tr__actor_beh(a) != NULL && tr__actor_beh(a)->name != NULL
                 ? tr__actor_beh(a)->name
                 : "-",
             queued, bd->high, bd->low);
    if (!tr_ref_is_none(bd->alarm_to)) {
        tr_overload o = {who, queued, raise ? 1u : 0u};
        (void)tr__send_any(sys, who, bd->alarm_to, TR_MSG_OVERLOAD, &o,
                           sizeof o, 0);
    }
}

// bound_try takes a place: returns how many were queued before ours.
static inline uint32_t
bound_try(struct tr__bound *bd)
{
    uint32_t in = atomic_fetch_add_explicit(&bd->in, 1, memory_order_acq_rel);
    // `out` is read after `in`, so it may count messages admitted after
    // ours: a negative difference means the queue is empty.
    int32_t d =
        (int32_t)(in - atomic_load_explicit(&bd->out, memory_order_acquire));
    return d > 0 ? (uint32_t)d : 0;
}

// What a take of a place that found `n` queued leads to: the alarm's
// edge, the policy of a full mailbox, TR_OVERFLOW_WAIT's sleeps.
static __attribute__((noinline)) int
bound_admit_slow(tr_system *sys, struct tr__shard *sh, struct tr__actor *a,
                 uint32_t n)
{
    struct tr__bound *bd = tr__bound_of(a);
    int64_t deadline = -1;
    for (;;) {
        if (TR_UNLIKELY(bd->high != 0 && n + 1 == bd->high && n < bd->cap))
            alarm_edge(sys, sh, a, n + 1, true);
        if (n < bd->cap || bd->policy == TR_OVERFLOW_DROP_OLDEST)
            return 0;
        bound_unadmit(bd);
        if (bd->policy == TR_OVERFLOW_DROP_NEWEST) {
            atomic_fetch_add_explicit(&bd->dropped, 1, memory_order_relaxed);
            tr__count(sys, sh, dropped);
            return TR__DROPPED;
        }
        if (bd->policy == TR_OVERFLOW_WAIT && sh == NULL && bd->wait_ms > 0) {
            if (deadline < 0)
                deadline = tr__now_ns() + bd->wait_ms * 1000000;
            if (tr__now_ns() < deadline) {
                // Register, re-check, sleep: the consumer wakes waiters
                // after every place it frees while any are registered.
                atomic_fetch_add(&bd->waiters, 1);
                uint32_t seen = atomic_load(&bd->out);
                int64_t until = tr__now_ns() + 1000000;
                if (tr__bound_queued(bd) >= bd->cap)
                    tr__futex_wait(&bd->out, seen,
                                   until < deadline ? until : deadline);
                atomic_fetch_sub(&bd->waiters, 1);
                n = bound_try(bd);
                continue;
            }
        }
        atomic_fetch_add_explicit(&bd->refused, 1, memory_order_relaxed);
        tr__count(sys, sh, refused);
        return TR_EFULL;
    }
}

// A sender takes a place: 0, TR__DROPPED or an error (TR_EFULL). The
// common case (room, no alarm edge) is one RMW and a load, inline.
static inline int
bound_admit(tr_system *sys, struct tr__shard *sh, struct tr__actor *a)
{
    struct tr__bound *bd = tr__bound_of(a);
    uint32_t n = bound_try(bd);
    if (TR_LIKELY(n < bd->cap && n + 1 != bd->high))
        return 0;
    return bound_admit_slow(sys, sh, a, n);
}

// Writable-again notices: subscribers wait in the target's ext; the
// consumer tells them all once its count is at most half the capacity.
static void
writable_tell(tr_ctx *ctx)
{
    struct tr__ext *e = ctx->a->ext;
    if (e->writable.n == 0)
        return;
    for (uint32_t i = 0; i < e->writable.n; i++)
        (void)tr__send_any(ctx->sys, ctx->self, e->writable.v[i].who,
                           TR_MSG_WRITABLE, &ctx->self, sizeof ctx->self, 0);
    e->writable.n = 0;
}

static void
writable_watch(tr_ctx *ctx, tr_ref who)
{
    struct tr__actor *a = ctx->a;
    struct tr__bound *bd = tr__bound_of(a);
    struct tr__ext *e = tr__ext_get(a);
    if (e != NULL && tr__wset_add(&e->writable, who, 0) == 0 &&
        tr__bound_queued(bd) > bd->cap / 2)
        return; // told when it drains
    if (e != NULL && e->writable.n != 0)
        writable_tell(ctx); // room already (or no memory to wait)
    else
        (void)tr__send_any(ctx->sys, ctx->self, who, TR_MSG_WRITABLE,
                           &ctx->self, sizeof ctx->self, 0);
}

int
tr_notify_writable(tr_ctx *ctx, tr_ref target)
{
    return tr__signal_ref(ctx->sys, target, TR__SIG_WRITABLE, &ctx->self,
                          sizeof ctx->self);
}

// Messages in the mailbox: pushed - popped. Every message is counted as
// pushed before it can be popped and popped is read first, so this is
// rarely behind; it is clamped to 0 .. UINT32_MAX all the same.
static uint32_t
astat_queued(struct tr__actor *a)
{
    if (!has_flags(a, TR__A_STATS))
        return 0;
    struct tr__astat *st = tr__astat_of(a);
    uint32_t popped = atomic_load_explicit(&st->popped, memory_order_acquire);
    uint32_t pushed =
        atomic_load_explicit(&st->pushed_local, memory_order_relaxed) +
        atomic_load_explicit(&st->pushed_far, memory_order_relaxed);
    int32_t q = (int32_t)(pushed - popped); // mod 2^32
    return q > 0 ? (uint32_t)q : 0;
}

static uint64_t
top_key(const tr_actor_info *i, enum tr_top_by by)
{
    return by == TR_TOP_QUEUED ? i->queued
           : by == TR_TOP_BUSY ? i->busy_ns
                               : i->handled;
}

// Puts `c` into the sorted (largest first) out[0 .. *n - 1], keeping at
// most `cap`: an insertion, since cap is small next to the actor count.
static void
top_insert(tr_actor_info *out, size_t cap, size_t *n, enum tr_top_by by,
           const tr_actor_info *c)
{
    uint64_t k = top_key(c, by);
    size_t i = *n;
    if (i == cap) {
        if (k <= top_key(&out[cap - 1], by))
            return;
        i--;
    } else {
        (*n)++;
    }
    while (i > 0 && top_key(&out[i - 1], by) < k) {
        out[i] = out[i - 1];
        i--;
    }
    out[i] = *c;
}

int
tr_actors_top(tr_system *sys, enum tr_top_by by, tr_actor_info *out, size_t cap,
              size_t *n)
{
    if (sys == NULL || n == NULL || (cap != 0 && out == NULL) ||
        by > TR_TOP_HANDLED)
        return TR_EINVAL;
    *n = 0;
    if (cap == 0)
        return 0;
    // Chunks are published once and never freed while the system is open;
    // the first NULL chunk ends the table (they are filled in order).
    for (uint32_t ci = 0; ci < TR__NCHUNKS; ci++) {
        struct tr__slot *c =
            atomic_load_explicit(&sys->slots.chunk[ci], memory_order_acquire);
        if (c == NULL)
            break;
        for (uint32_t j = ci == 0 ? 1 : 0; j < TR__CHUNK; j++) {
            uint64_t w = atomic_load_explicit(&c[j].word, memory_order_relaxed);
            if (!(w & TR__W_ALIVE))
                continue;
            uint32_t slot = (ci << TR__CHUNK_BITS) | j;
            tr_ref r = tr__ref_make(slot, (uint32_t)(w >> TR__W_GENSHIFT));
            // A reference keeps the record allocated while we read it.
            struct tr__actor *a = tr__slots_acquire(&sys->slots, r);
            if (a == NULL)
                continue;
            uint32_t aw = atomic_load_explicit(&a->word, memory_order_relaxed);
            if (!(aw & TR__A_INBOX)) {
                struct tr__astat *st = (aw & TR__A_STATS)
                                           ? tr__astat_of(a)
                                           : &(struct tr__astat){0};
                const tr_behavior *b = tr__actor_beh(a);
                tr_actor_info i = {
                    .ref = r,
                    .name = b != NULL ? b->name : NULL,
                    .loop = (aw & TR__A_BLOCKING) ? TR_LOOP_BLOCKING
                                                  : aw >> TR__A_LOOP_SHIFT,
                    .queued = astat_queued(a),
                    .handled =
                        atomic_load_explicit(&st->popped, memory_order_relaxed),
                    .busy_ns = 1000 * (uint64_t)atomic_load_explicit(
                                          &st->busy_us, memory_order_relaxed),
                };
                if (aw & TR__A_BOUNDED) {
                    uint32_t bc = tr__bound_of(a)->cap;
                    i.capacity = bc == UINT32_MAX ? 0 : bc; // alarm only
                }
                top_insert(out, cap, n, by, &i);
            }
            tr__actor_release(sys, a);
        }
    }
    return 0;
}

int
tr_mailbox_stats(tr_system *sys, tr_ref who, tr_mailbox_info *out)
{
    if ((who.bits >> 48) != 0)
        return TR_EREMOTE;
    bool held;
    struct tr__actor *a = tr__actor_lookup(sys, tr__cur_shard(sys), who, &held);
    if (a == NULL)
        return TR_ENOACTOR;
    *out = (tr_mailbox_info){0};
    if (!has_flags(a, TR__A_BOUNDED)) {
        out->queued = astat_queued(a);
    } else {
        struct tr__bound *bd = tr__bound_of(a);
        uint32_t q = tr__bound_queued(bd);
        out->capacity = bd->cap == UINT32_MAX ? 0 : bd->cap; // alarm only
        out->queued = q;
        out->refused = atomic_load(&bd->refused);
        out->dropped = atomic_load(&bd->dropped);
    }
    if (held)
        tr__actor_release(sys, a);
    return 0;
}

int
tr__send(tr_system *sys, tr_ref from, tr_ref to, uint32_t type,
         const void *data, size_t len, uint64_t req_id)
{
    if (type >= TR_MSG_SYSTEM)
        return TR_EINVAL;
    return tr__send_any(sys, from, to, type, data, len, req_id);
}

int
tr__send_any(tr_system *sys, tr_ref from, tr_ref to, uint32_t type,
             const void *data, size_t len, uint64_t req_id)
{
    return tr__send_full(sys, from, to, type, data, len, req_id, 0);
}

int
tr__transport_set(tr_system *sys, const struct tr__transport *t, void *arg)
{
    if (atomic_load(&sys->transport) != NULL)
        return TR_EBUSY;
    sys->transport_arg = arg;
    atomic_store(&sys->transport, t);
    return 0;
}

static int
remote_send(tr_system *sys, tr_ref from, tr_ref to, uint32_t type,
            const void *data, size_t len, uint64_t req_id, int64_t deadline_ns)
{
    const struct tr__transport *t =
        atomic_load_explicit(&sys->transport, memory_order_acquire);
    if (t == NULL)
        return TR_EREMOTE;
    return t->send(sys->transport_arg, from, to, type, data, len, req_id,
                   deadline_ns);
}

int
tr__send_full(tr_system *sys, tr_ref from, tr_ref to, uint32_t type,
              const void *data, size_t len, uint64_t req_id,
              int64_t deadline_ns)
{
    if (len != 0 && data == NULL)
        return TR_EINVAL;
    if (len > sys->max_msg)
        return TR_EMSGSIZE;
    if (TR__REF_NODE(to) != 0)
        return remote_send(sys, from, to, type, data, len, req_id, deadline_ns);
    struct tr__shard *sh = tr__cur_shard(sys);
    bool held;
    struct tr__actor *a = tr__actor_lookup(sys, sh, to, &held);
    if (a == NULL)
        return TR_ENOACTOR;
    uint32_t word = atomic_load_explicit(&a->word, memory_order_relaxed);
    if ((word & TR__A_BOUNDED) && type < TR_MSG_SYSTEM) {
        int rc = bound_admit(sys, sh, a);
        if (rc != 0) {
            if (held)
                tr__actor_release(sys, a);
            if (rc == TR_EFULL && (word & TR__A_BLOCKING)) {
                // A saturated blocking actor: the pool's word for it.
                atomic_fetch_add_explicit(&sys->bk_refused, 1,
                                          memory_order_relaxed);
                rc = TR_EBUSY;
            }
            return rc == TR__DROPPED ? 0 : rc;
        }
    }
    // Messages to an inbox may outlive the loops: not from a pool.
    struct tr_msg *m = tr__msg_alloc(
        type, len,
        !(atomic_load_explicit(&a->word, memory_order_relaxed) & TR__A_INBOX));
    if (m == NULL) {
        if ((word & TR__A_BOUNDED) && type < TR_MSG_SYSTEM)
            bound_unadmit(tr__bound_of(a));
        if (held)
            tr__actor_release(sys, a);
        return TR_ENOMEM;
    }
    if (len != 0)
        memcpy(m->data, data, len);
    m->from = from;
    m->req_id = req_id;
    m->deadline_ns = deadline_ns;
    // Counted before the push, so the owner never pops more than this
    // says was pushed (see struct tr__astat).
    if (word & TR__A_STATS) {
        struct tr__astat *st = tr__astat_of(a);
        if (!held) // the same-loop fast path: we are the owner loop
            atomic_store_explicit(
                &st->pushed_local,
                atomic_load_explicit(&st->pushed_local, memory_order_relaxed) +
                    1,
                memory_order_relaxed);
        else
            atomic_fetch_add_explicit(&st->pushed_far, 1, memory_order_relaxed);
    }
    tr__mbox_push(&a->mbox, &m->node);
    actor_schedule(sys, a);
    tr__count(sys, sh, sent);
    if (held)
        tr__actor_release(sys, a);
    return 0;
}

// ---------------------------------------------------------------------------
// Children

// Appends `c` as the newest in a list whose newest is *last.
static void
link_child(tr_system *sys, uint32_t *last, struct tr__actor *c)
{
    c->sib_prev = *last;
    c->sib_next = 0;
    if (*last != 0)
        tr__slot_actor(sys, *last)->sib_next = c->slot;
    *last = c->slot;
}

static void
unlink_child(tr_system *sys, uint32_t *last, struct tr__actor *c)
{
    if (c->sib_prev != 0)
        tr__slot_actor(sys, c->sib_prev)->sib_next = c->sib_next;
    if (c->sib_next != 0)
        tr__slot_actor(sys, c->sib_next)->sib_prev = c->sib_prev;
    else
        *last = c->sib_prev;
    c->sib_prev = c->sib_next = 0;
}

// ---------------------------------------------------------------------------
// Running

void
tr__begin_stop(tr_ctx *ctx, int reason)
{
    struct tr__actor *a = ctx->a;
    unsigned ph = tr__actor_phase(a);
    if (ph != TR__PH_RUN && ph != TR__PH_INIT)
        return;
    a->reason = reason;
    set_phase(a, TR__PH_STOPPING);
    if (reason < 0)
        tr__count(ctx->sys, ctx->shard, crashed);
}

static void shutdown_forget(struct tr__actor *p, uint32_t slot);

// Debug mode: the first message of a behaviour that nobody handled is
// worth a line; the rest only count.
static void
debug_unhandled(tr_ctx *ctx, uint32_t type)
{
    tr_system *sys = ctx->sys;
    const tr_behavior *b = tr__actor_beh(ctx->a);
    pthread_mutex_lock(&sys->dbg_mu);
    bool seen = false;
    for (unsigned i = 0; i < sys->nwarned && !seen; i++)
        seen = sys->warned[i] == b;
    if (!seen && sys->nwarned < 64)
        sys->warned[sys->nwarned++] = b;
    pthread_mutex_unlock(&sys->dbg_mu);
    if (!seen)
        tr__logf(&sys->log, TR_LOG_WARN, "unhandled",
                 "behavior=%s msg_type=%u once=per_behavior",
                 b->name != NULL ? b->name : "-", type);
}

// Acts on a tr_exit made by the user code that just ran.
static void
check_exit(tr_ctx *ctx)
{
    if (ctx->exit) {
        ctx->exit = false;
        tr__begin_stop(ctx, ctx->exit_reason);
    }
}

static void
handle_signals(tr_ctx *ctx)
{
    struct tr__actor *a = ctx->a;
    struct tr__node *n = tr__stack_take(&a->sig);
    while (n != NULL) {
        struct tr__node *next =
            atomic_load_explicit(&n->next, memory_order_relaxed);
        struct tr_msg *m = tr__msg_of(n);
        if (m->type == TR__SIG_SHUTDOWN) {
            // From the parent (or the system) stopping: an actor that traps
            // exits hears of it as TR_MSG_EXIT and stops in its own time,
            // within its shutdown deadline; any other stops now.
            tr_ref from;
            memcpy(&from, m->data, sizeof from);
            if (has_flags(a, TR__A_TRAP) && tr__actor_phase(a) == TR__PH_RUN &&
                !has_flags(a, TR__A_ASKED)) {
                set_flags(a, TR__A_ASKED, true);
                tr_exit_info x = {.who = from, .reason = TR_EXIT_SHUTDOWN};
                (void)tr__send_any(ctx->sys, from, ctx->self, TR_MSG_EXIT, &x,
                                   sizeof x, 0);
            } else {
                tr__begin_stop(ctx, TR_EXIT_SHUTDOWN);
            }
        } else if (m->type == TR__SIG_KILL) {
            set_flags(a, TR__A_KILLED, true);
            tr__begin_stop(ctx, TR_EXIT_KILLED);
        } else if (m->type == TR__SIG_STOP) {
            int reason;
            memcpy(&reason, m->data, sizeof reason);
            tr__begin_stop(ctx, reason);
        } else if (m->type == TR__SIG_CHILD_DOWN) {
            struct tr__actor *c;
            memcpy(&c, m->data, sizeof c);
            if (c->slot == a->child_last) {
                set_flags(a, TR__A_STOP_SENT | TR__A_KILL_SENT, false);
                if (a->ext != NULL) {
                    struct tr__ext *e = a->ext;
                    tr__loop_timer_cancel(tr__loop_current(), &e->sd_timer);
                }
            }
            unlink_child(ctx->sys, &a->child_last, c);
            shutdown_forget(a, c->slot);
            tr__actor_release(ctx->sys, c); // the parent link's reference
        } else if (m->type == TR__SIG_WRITABLE) {
            tr_ref who;
            memcpy(&who, m->data, sizeof who);
            writable_watch(ctx, who);
        } else if (m->type == TR__SIG_CANCEL) {
            struct tr__cancel c;
            memcpy(&c, m->data, sizeof c);
            tr__req_cancel(ctx, &c);
        } else {
            tr__watch_signal(ctx, m);
        }
        tr__msg_free(m);
        n = next;
    }
    check_exit(ctx);
}

// Inlined by hand into both copies of actor_turn, as it was into the one
// actor_run before blocking actors.
static inline __attribute__((always_inline)) void
deliver(tr_ctx *ctx, struct tr_msg *m, bool blocking)
{
    ctx->cur = m;
    int rc = tr__actor_beh(ctx->a)->receive(ctx, m);
    ctx->cur = NULL;
    // The runtime's own messages (DOWN, EXIT, CANCEL) may go unhandled.
    if (rc == TR_EUNHANDLED && m->type < TR_MSG_SYSTEM) {
        tr__count(ctx->sys, ctx->shard, unhandled);
        if (TR_UNLIKELY(ctx->sys->debug))
            debug_unhandled(ctx, m->type);
    }
    if (blocking)
        tr__msg_free(m);
    else
        tr__msg_free_own(&ctx->shard->loop.pool, m);
    if (rc < 0 && rc != TR_EUNHANDLED)
        tr__begin_stop(ctx, rc);
}

static void
root_unlink(tr_system *sys, struct tr__actor *a)
{
    pthread_mutex_lock(&sys->root_lock);
    if (sys->root_signal == a->slot) {
        sys->root_signal = 0;
        sys->root_kill_at = 0;
    }
    unlink_child(sys, &sys->root_last, a);
    pthread_cond_broadcast(&sys->root_cv);
    pthread_mutex_unlock(&sys->root_lock);
    tr__actor_release(sys, a); // the root link's reference
}

// Shutdown deadlines. While a stopping actor waits for child_last, a
// timer on its loop sends that child KILL when the child's deadline
// passes: the child's own (tr_spawn_opts.shutdown_ms, kept in the
// parent's ext), else the system's.

static void
shutdown_fire(struct tr__timer *t)
{
    struct tr__ext *e = tr__container_of(t, struct tr__ext, sd_timer);
    struct tr__actor *a = e->sd_owner;
    if (a->child_last == 0 || has_flags(a, TR__A_KILL_SENT))
        return;
    struct tr_msg *m = tr__sig_shutdown_alloc(TR_REF_NONE, true);
    if (m == NULL) { // try again shortly
        tr__loop_timer_arm(tr__loop_current(), t, 1);
        return;
    }
    set_flags(a, TR__A_KILL_SENT, true);
    tr__actor_signal(e->sd_sys, tr__slot_actor(e->sd_sys, a->child_last), m);
}

static int64_t
shutdown_ms_of(tr_system *sys, struct tr__ext *e, uint32_t slot)
{
    for (uint32_t i = 0; e != NULL && i < e->nsd; i++)
        if (e->sd[i].slot == slot)
            return e->sd[i].ms;
    return sys->shutdown_ms;
}

static void
shutdown_arm(tr_ctx *ctx, struct tr__actor *c)
{
    struct tr__ext *e = tr__ext_get(ctx->a);
    int64_t ms = shutdown_ms_of(ctx->sys, e, c->slot);
    if (e == NULL || ms < 0) // no memory, or an infinite deadline
        return;
    if (e->sd_owner == NULL) {
        tr__timer_init(&e->sd_timer, shutdown_fire);
        e->sd_owner = ctx->a;
        e->sd_sys = ctx->sys;
    }
    struct tr__loop *l = tr__loop_current();
    tr__loop_timer_cancel(l, &e->sd_timer);
    tr__loop_timer_arm(l, &e->sd_timer, ms);
}

// Records a child's own shutdown deadline. Returns 0 or TR_ENOMEM.
static int
shutdown_note(struct tr__actor *p, uint32_t slot, int64_t ms)
{
    struct tr__ext *e = tr__ext_get(p);
    if (e == NULL)
        return TR_ENOMEM;
    if (tr__grow(&e->sd, &e->capsd, e->nsd, sizeof *e->sd, 4) != 0)
        return TR_ENOMEM;
    e->sd[e->nsd++] = (struct tr__sdchild){slot, ms};
    return 0;
}

static void
shutdown_forget(struct tr__actor *p, uint32_t slot)
{
    struct tr__ext *e = p->ext;
    for (uint32_t i = 0; e != NULL && i < e->nsd; i++) {
        if (e->sd[i].slot == slot) {
            e->sd[i] = e->sd[--e->nsd];
            return;
        }
    }
}

// Advances a stopping actor. Returns TR__RUN_AGAIN to be retried (only when
// memory for a signal was short), else TR__RUN_DONE.
static int
stop_progress(tr_ctx *ctx)
{
    struct tr__actor *a = ctx->a;
    if (a->child_last != 0) {
        struct tr__actor *c = tr__slot_actor(ctx->sys, a->child_last);
        bool kill = has_flags(a, TR__A_KILLED);
        if (!has_flags(a, TR__A_STOP_SENT) ||
            (kill && !has_flags(a, TR__A_KILL_SENT))) {
            struct tr_msg *m = tr__sig_shutdown_alloc(ctx->self, kill);
            if (m == NULL)
                return TR__RUN_AGAIN;
            if (!has_flags(a, TR__A_STOP_SENT) && !kill)
                shutdown_arm(ctx, c);
            set_flags(a, TR__A_STOP_SENT | (kill ? TR__A_KILL_SENT : 0), true);
            tr__actor_signal(ctx->sys, c, m);
        }
        return TR__RUN_DONE; // woken again by CHILD_DOWN
    }
    struct tr_msg *down = NULL;
    if (a->parent != 0) {
        down = tr__msg_alloc(TR__SIG_CHILD_DOWN, sizeof a, true);
        if (down == NULL)
            return TR__RUN_AGAIN;
        memcpy(down->data, &a, sizeof a);
    }
    const tr_behavior *beh = tr__actor_beh(a);
    if (has_flags(a, TR__A_INIT_OK) && beh->stop != NULL)
        beh->stop(ctx, a->reason);
    set_phase(a, TR__PH_DEAD);
    tr__jobs_cancel(ctx); // before the kill: see offload.c
    tr__actor_kill(ctx->sys, a);
    tr__req_fini(ctx); // requests and timers die with their owner
    tr__later_fini(ctx);
    if (a->ext != NULL) {
        struct tr__ext *e = a->ext;
        tr__free(e->sd, e->capsd * sizeof *e->sd);
    }
    tr__watch_fini(ctx, a->reason);
    if (a->parent != 0)
        tr__actor_signal(ctx->sys, tr__slot_actor(ctx->sys, a->parent), down);
    else
        root_unlink(ctx->sys, a);
    return TR__RUN_DONE;
}

// Frees a message the turn took: to the loop's own pool without a call
// (sh is the loop's shard, NULL on a blocking-actor thread).
static inline void
turn_free(struct tr__shard *sh, struct tr_msg *m)
{
    if (sh != NULL)
        tr__msg_free_own(&sh->loop.pool, m);
    else
        tr__msg_free(m);
}

// What the run does with a message it popped.
enum { MSG_DELIVER, MSG_TAKEN, MSG_DROPPED };

// Takes `m` off the mailbox's books: gives a bounded mailbox its place
// back (and drops it under drop-oldest), and consumes the runtime's own
// messages (replies, job results, stale DOWNs). Returns MSG_DELIVER when
// the user gets `m`.
static inline int
msg_admit(tr_ctx *ctx, struct tr__shard *sh, struct tr_msg *m, bool bounded)
{
    struct tr__actor *a = ctx->a;
    if (TR_UNLIKELY(bounded) && m->type < TR_MSG_SYSTEM) {
        struct tr__bound *bd = tr__bound_of(a);
        uint32_t before = bound_leave(bd);
        if (TR_UNLIKELY(a->ext != NULL) && before - 1 <= bd->cap / 2)
            writable_tell(ctx);
        if (TR_UNLIKELY(bd->high != 0) && before - 1 <= bd->low &&
            atomic_load_explicit(&bd->alarm, memory_order_relaxed))
            alarm_edge(ctx->sys, sh, a, before - 1, false);
        if (bd->policy == TR_OVERFLOW_DROP_OLDEST && before > bd->cap) {
            atomic_fetch_add_explicit(&bd->dropped, 1, memory_order_relaxed);
            tr__count(ctx->sys, sh, dropped);
            turn_free(sh, m); // the oldest goes
            return MSG_DROPPED;
        }
    }
    if (TR_UNLIKELY(m->req_id & TR__REQ_REPLY)) {
        tr__req_reply(ctx, m);
        turn_free(sh, m);
    } else if (TR_UNLIKELY(m->type == TR__MSG_JOB)) {
        tr__job_done(ctx, m);
        turn_free(sh, m);
    } else if (TR_UNLIKELY(m->type == TR_MSG_DOWN) &&
               (!tr__watch_accept(ctx, m) || tr__req_down(ctx, m))) {
        turn_free(sh, m); // demonitored, or a responder's monitor
    } else {
        return MSG_DELIVER;
    }
    return MSG_TAKEN;
}

// astat_popped books messages the actor took off its mailbox, and
// astat_busy a timed turn that began at t0, counted `scale` times. Relaxed
// loads and stores: only the actor's runner writes these.
static inline void
astat_popped(struct tr__actor *a, unsigned n)
{
    if (!has_flags(a, TR__A_STATS))
        return;
    struct tr__astat *st = tr__astat_of(a);
    atomic_store_explicit(
        &st->popped,
        atomic_load_explicit(&st->popped, memory_order_relaxed) + n,
        memory_order_relaxed);
}

static __attribute__((noinline, cold)) void
astat_busy(struct tr__actor *a, int64_t t0, unsigned scale)
{
    if (!has_flags(a, TR__A_STATS))
        return;
    struct tr__astat *st = tr__astat_of(a);
    int64_t d = tr__now_ns() - t0;
    atomic_store_explicit(
        &st->busy_us,
        atomic_load_explicit(&st->busy_us, memory_order_relaxed) +
            (uint32_t)((uint64_t)(d > 0 ? d : 0) * scale / 1000),
        memory_order_relaxed);
}

// One turn of an actor: signals, laters, then messages up to the budget.
// Inlined twice: on a loop (`blocking` false: sh is the loop's shard) and
// on a blocking-actor thread (sh NULL; the handler may call tr_receive,
// which uses the mailbox's own tail, so the cached one is stored back
// around each handler).
static inline __attribute__((always_inline)) int
actor_turn(struct tr__actor *a, tr_system *sys, struct tr__shard *sh,
           bool blocking)
{
    tr_ctx ctx = {
        .a = a, .sys = sys, .shard = sh, .self = tr__actor_ref(sys, a)};
    // A blocking actor's turns are all timed (they are long, and no loop
    // samples them); a loop's are when the loop times this run.
    int64_t t0 = blocking ? tr__now_ns() : 0;

    if (!tr__stack_empty(&a->sig))
        handle_signals(&ctx);
    if (tr__later_busy(a) && tr__actor_phase(a) == TR__PH_RUN) {
        tr__later_run(&ctx);
        check_exit(&ctx);
    }
    unsigned handled = 0;
    bool bounded = has_flags(a, TR__A_BOUNDED);
    struct tr__node *out = a->mbox.out; // stored back after the run
    // For the watchdog, relaxed stores to the loop's shard: the behaviour's
    // name once a turn (tr_become stores it again), the type per message.
    if (!blocking)
        atomic_store_explicit(&sh->cur_name, tr__actor_beh(a)->name,
                              memory_order_relaxed);
    while (tr__actor_phase(a) == TR__PH_RUN) {
        struct tr__node *n = tr__mbox_pop_at(&a->mbox, &out);
        if (n == NULL)
            break;
        struct tr_msg *m = tr__msg_of(n);
        if (!blocking)
            atomic_store_explicit(&sh->cur_type, m->type, memory_order_relaxed);
        int what = msg_admit(&ctx, sh, m, bounded);
        if (what == MSG_DROPPED) {
            astat_popped(a, 1); // rare: drop-oldest under overload
            continue;
        }
        if (what == MSG_DELIVER) {
            if (blocking)
                a->mbox.out = out;
            deliver(&ctx, m, blocking);
            if (blocking) {
                out = a->mbox.out;
                if (ctx.lent != NULL) {
                    tr__msg_free(ctx.lent);
                    ctx.lent = NULL;
                }
            }
        }
        check_exit(&ctx);
        if (!tr__stack_empty(&a->sig))
            handle_signals(&ctx);
        if (++handled + ctx.sent >= sys->budget)
            break;
    }
    a->mbox.out = out;
    if (handled != 0) {
        if (!blocking) // a relaxed load and store, own shard
            atomic_store_explicit(
                &sh->c.handled,
                atomic_load_explicit(&sh->c.handled, memory_order_relaxed) +
                    handled,
                memory_order_relaxed);
        astat_popped(a, handled);
    }
    if (blocking)
        astat_busy(a, t0, 1);
    else if (TR_UNLIKELY(sh->loop.timed_ns != 0))
        astat_busy(a, sh->loop.timed_ns, sh->loop.sample_mask + 1);
    unsigned ph = tr__actor_phase(a);
    if (ph == TR__PH_STOPPING) {
        if (stop_progress(&ctx) == TR__RUN_AGAIN)
            return TR__RUN_AGAIN;
        ph = tr__actor_phase(a);
    }
    if (ph == TR__PH_DEAD) {
        // The schedule flag stays set: nobody posts a dead actor.
        tr__actor_release(sys, a); // its own reference
        return TR__RUN_DONE;
    }
    if (ph == TR__PH_RUN && (!tr__mbox_empty(&a->mbox) || tr__later_busy(a)))
        return TR__RUN_AGAIN;
    // seq_cst clear, then re-check: pairs with producers' push + fetch_or.
    atomic_fetch_and(&a->word, ~TR__A_SCHED);
    if (!tr__stack_empty(&a->sig) ||
        (ph == TR__PH_RUN && !tr__mbox_empty(&a->mbox))) {
        if (!(atomic_fetch_or(&a->word, TR__A_SCHED) & TR__A_SCHED))
            return TR__RUN_AGAIN;
    }
    return TR__RUN_DONE;
}

static int
actor_run(struct tr__sched *s)
{
    struct tr__shard *sh = (struct tr__shard *)tr__loop_current();
    return actor_turn((struct tr__actor *)s, sh->sys, sh, false);
}

// A blocking actor's turn, on one of the system's blocking-actor threads.
static int
blocking_run(struct tr__sched *s)
{
    tr_system *sys = tr__container_of(tr__pool_current(), tr_system, bpool);
    return actor_turn((struct tr__actor *)s, sys, NULL, true);
}

// Clears the schedule flag and sets PARKED in one step: a producer that
// then finds the flag clear wakes the parked thread instead of queueing
// the actor on a pool thread.
static void
park_begin(struct tr__actor *a)
{
    uint32_t w = atomic_load(&a->word);
    while (!atomic_compare_exchange_weak(&a->word, &w,
                                         (w | TR__A_PARKED) & ~TR__A_SCHED))
        ;
}

// Takes the schedule flag back and clears PARKED in one step. If a
// producer set the flag meanwhile, it decided to wake us (it saw PARKED)
// and the turn is still ours.
static void
park_end(struct tr__actor *a)
{
    uint32_t w = atomic_load(&a->word);
    while (!atomic_compare_exchange_weak(&a->word, &w,
                                         (w | TR__A_SCHED) & ~TR__A_PARKED))
        ;
}

int
tr_receive(tr_ctx *ctx, const tr_msg **out, int64_t timeout_ms)
{
    if (out == NULL || ctx->cur == NULL || !tr__ctx_blocking(ctx))
        return TR_EINVAL;
    *out = NULL;
    struct tr__actor *a = ctx->a;
    struct tr__bound *bd = tr__bound_of(a);
    if (ctx->lent != NULL) {
        tr__msg_free(ctx->lent);
        ctx->lent = NULL;
    }
    int64_t end = timeout_ms < 0 ? -1 : tr__now_ns() + timeout_ms * 1000000;
    for (;;) {
        check_exit(ctx);
        if (!tr__stack_empty(&a->sig))
            handle_signals(ctx);
        if (tr__actor_phase(a) != TR__PH_RUN)
            return TR_ECLOSED;
        struct tr__node *n = tr__mbox_pop(&a->mbox);
        if (n != NULL) {
            struct tr_msg *m = tr__msg_of(n);
            astat_popped(a, 1);
            if (msg_admit(ctx, NULL, m, true) != MSG_DELIVER)
                continue;
            ctx->lent = m;
            ctx->cur = m;
            *out = m;
            return 0;
        }
        if (end >= 0 && tr__now_ns() >= end)
            return TR_ETIMEDOUT;
        // Read the futex word before parking: any wake after this changes
        // it, so the wait below cannot miss one.
        uint32_t seq = atomic_load(&bd->park);
        park_begin(a);
        // seq_cst clear, then re-check: pairs with producers' push and
        // fetch_or, as at the end of a turn.
        if (tr__mbox_empty(&a->mbox) && tr__stack_empty(&a->sig))
            tr__futex_wait(&bd->park, seq, end);
        park_end(a);
    }
}

// ---------------------------------------------------------------------------
// Allocation and freeing

int
tr__actor_alloc(struct tr__actor **out, tr_system *sys, const tr_behavior *b,
                uint32_t word, const struct tr__bound *bound)
{
    size_t ssz = b != NULL ? state_bytes(b->state_size) : 0;
    size_t pre = bound != NULL ? sizeof *bound : 0;
    if (sys->actor_stats && !(word & TR__A_INBOX))
        word |= TR__A_STATS;
    size_t extra = tr__actor_extra(word);
    char *mem = tr__alloc(pre + sizeof(struct tr__actor) + extra + ssz);
    if (mem == NULL)
        return TR_ENOMEM;
    struct tr__actor *a = (struct tr__actor *)(void *)(mem + pre);
    if (bound != NULL) {
        struct tr__bound *bd = tr__bound_of(a);
        atomic_init(&bd->in, 0);
        atomic_init(&bd->out, 0);
        atomic_init(&bd->waiters, 0);
        bd->cap = bound->cap;
        bd->policy = bound->policy;
        bd->wait_ms = bound->wait_ms;
        bd->high = bound->high;
        bd->low = bound->low;
        atomic_init(&bd->alarm, 0);
        atomic_init(&bd->park, 0);
        bd->alarm_to = bound->alarm_to;
        atomic_init(&bd->refused, 0);
        atomic_init(&bd->dropped, 0);
        word |= TR__A_BOUNDED;
    }
    a->sched.run = actor_run;
    atomic_init(&a->sched.node.next, NULL);
    tr__mbox_init(&a->mbox);
    tr__stack_init(&a->sig);
    atomic_init(&a->beh, b);
    a->parent = a->child_last = a->sib_prev = a->sib_next = 0;
    a->ext = NULL;
    atomic_init(&a->word, word);
    a->slot = a->gen = 0;
    a->state_size = (uint32_t)ssz;
    a->reason = 0;
    if (word & TR__A_STATS) {
        struct tr__astat *st = tr__astat_of(a);
        atomic_init(&st->pushed_local, 0);
        atomic_init(&st->pushed_far, 0);
        atomic_init(&st->popped, 0);
        atomic_init(&st->busy_us, 0);
    }
    if (ssz != 0)
        memset((char *)(a + 1) + extra, 0, ssz);
    tr__count(sys, tr__cur_shard(sys), created);
    *out = a;
    return 0;
}

void
tr__actor_free(tr_system *sys, struct tr__actor *a)
{
    struct tr__shard *sh = tr__cur_shard(sys);
    size_t extra = tr__actor_extra(atomic_load(&a->word));
    struct tr__node *n;
    while ((n = tr__mbox_pop(&a->mbox)) != NULL) {
        // The runtime's own messages (a DOWN to a watcher that is itself
        // stopping, say) are not counted: dead letters are user messages.
        if (tr__msg_of(n)->type < TR_MSG_SYSTEM)
            tr__count(sys, sh, dead);
        else if (tr__msg_of(n)->type == TR__MSG_JOB)
            tr__job_orphan(tr__msg_of(n));
        tr__msg_free(tr__msg_of(n));
    }
    n = tr__stack_take(&a->sig);
    tr_ref self =
        n != NULL && a->slot != 0 ? tr__actor_ref(sys, a) : TR_REF_NONE;
    while (n != NULL) {
        struct tr__node *next =
            atomic_load_explicit(&n->next, memory_order_relaxed);
        tr__watch_orphan(sys, self, tr__msg_of(n));
        tr__msg_free(tr__msg_of(n));
        n = next;
    }
    if (has_flags(a, TR__A_INBOX))
        tr__inbox_destroy(a->ext);
    if (a->slot != 0)
        tr__slots_free(&sys->slots, a->slot);
    if (has_flags(a, TR__A_BOUNDED))
        tr__free(tr__bound_of(a),
                 sizeof(struct tr__bound) + sizeof *a + extra + a->state_size);
    else
        tr__free(a, sizeof *a + extra + a->state_size);
    tr__count(sys, sh, freed);
}

// ---------------------------------------------------------------------------
// Spawning

static int
pick_loop(tr_system *sys, struct tr__actor *parent, const tr_spawn_opts *o,
          unsigned *out)
{
    enum tr_placement p = o != NULL ? o->placement : TR_PLACE_PARENT;
    if (p == TR_PLACE_PARENT && parent != NULL) {
        *out = tr__actor_loop(parent);
    } else if (p == TR_PLACE_PARENT || p == TR_PLACE_ROUND_ROBIN) {
        *out = atomic_fetch_add_explicit(&sys->rr, 1, memory_order_relaxed) %
               sys->nloops;
    } else if (p == TR_PLACE_LOOP && o->loop < sys->nloops) {
        *out = o->loop;
    } else {
        return TR_EINVAL;
    }
    return 0;
}

// Starts the blocking-actor threads with the first blocking actor.
static int
bpool_start(tr_system *sys)
{
    if (atomic_load(&sys->bpool_on))
        return 0;
    pthread_mutex_lock(&sys->bpool_mu);
    int rc = 0;
    if (!atomic_load(&sys->bpool_on)) {
        rc = tr__pool_start(&sys->bpool, sys->bpool_threads, UINT32_MAX);
        if (rc == 0)
            atomic_store(&sys->bpool_on, true);
    }
    pthread_mutex_unlock(&sys->bpool_mu);
    return rc;
}

static int
spawn(tr_ref *out, tr_system *sys, struct tr__actor *parent,
      const tr_behavior *b, const void *arg, size_t len,
      const tr_spawn_opts *opts)
{
    if (out == NULL || b == NULL || b->receive == NULL ||
        b->state_size > UINT32_MAX - 16)
        return TR_EINVAL;
    *out = TR_REF_NONE;
    unsigned loop;
    int rc = pick_loop(sys, parent, opts, &loop);
    if (rc != 0)
        return rc;
    if (parent != NULL) {
        unsigned ph = tr__actor_phase(parent);
        if (ph != TR__PH_RUN && ph != TR__PH_INIT)
            return TR_ECLOSED;
        if (has_flags(parent, TR__A_BLOCKING))
            return TR_EINVAL; // blocking actors have no children
    } else if (atomic_load(&sys->closing)) {
        return TR_ECLOSED;
    }
    bool blocking = opts != NULL && opts->blocking;
    if (blocking && (sys->manual || (rc = bpool_start(sys)) != 0))
        return sys->manual ? TR_EINVAL : rc;
    struct tr__actor *a;
    // Held scheduled through init, so no loop runs it before init returns.
    struct tr__bound bound = {
        .cap = opts != NULL && opts->capacity ? opts->capacity : sys->mbox_cap,
        .policy = opts != NULL && opts->capacity ? opts->overflow
                                                 : sys->mbox_overflow,
        .wait_ms = opts != NULL ? opts->wait_ms : 0,
        .high = opts != NULL ? opts->high_watermark : 0,
        .low = opts != NULL ? opts->low_watermark : 0,
        .alarm_to = opts != NULL ? opts->alarm_to : TR_REF_NONE};
    if (bound.policy > TR_OVERFLOW_WAIT ||
        (bound.high != 0 && bound.low >= bound.high))
        return TR_EINVAL;
    if (blocking && bound.cap == 0) { // always bounded: see tr_receive
        bound.cap = sys->pool_cap;
        bound.policy = TR_OVERFLOW_REFUSE;
    }
    if (bound.high != 0 && bound.cap == 0) { // an alarm needs the count
        bound.cap = UINT32_MAX;
        bound.policy = TR_OVERFLOW_REFUSE;
    }
    // A blocking actor keeps a home loop in its word (for its clock) but
    // none in its slot: it dies on a pool thread, so no loop may take the
    // same-loop fast path to it.
    rc = tr__actor_alloc(&a, sys, b,
                         TR__A_SCHED | (TR__PH_INIT << TR__A_PHASE_SHIFT) |
                             (loop << TR__A_LOOP_SHIFT) |
                             (blocking ? TR__A_BLOCKING : 0),
                         bound.cap != 0 ? &bound : NULL);
    if (rc != 0)
        return rc;
    if (blocking)
        a->sched.run = blocking_run;
    tr_ref self;
    // Two references: the actor's own and its parent's link.
    rc = tr__slots_alloc(&sys->slots, a, blocking ? TR__NO_LOOP : loop, 2,
                         &self);
    if (rc != 0) {
        tr__actor_free(sys, a);
        return rc;
    }
    if (parent != NULL && opts != NULL && opts->shutdown_ms != 0 &&
        (rc = shutdown_note(parent, a->slot, opts->shutdown_ms)) != 0) {
        tr__actor_kill(sys, a);
        tr__actor_release(sys, a);
        tr__actor_release(sys, a);
        return rc;
    }
    if (parent != NULL) {
        a->parent = parent->slot;
        link_child(sys, &parent->child_last, a);
    } else {
        pthread_mutex_lock(&sys->root_lock);
        if (atomic_load(&sys->closing)) {
            pthread_mutex_unlock(&sys->root_lock);
            tr__actor_kill(sys, a);
            tr__actor_release(sys, a);
            tr__actor_release(sys, a);
            return TR_ECLOSED;
        }
        link_child(sys, &sys->root_last, a);
        pthread_mutex_unlock(&sys->root_lock);
    }

    struct tr__shard *sh = tr__cur_shard(sys);
    tr_ctx ctx = {.a = a, .sys = sys, .shard = sh, .self = self};
    rc = b->init != NULL ? b->init(&ctx, arg, len) : 0;
    if (rc < 0) {
        // Never started: its loop stops its children, skips the stop hook
        // and frees it.
        a->reason = rc;
        set_phase(a, TR__PH_STOPPING);
        actor_post(sys, a, atomic_load(&a->word));
        return rc;
    }
    set_flags(a, TR__A_INIT_OK, true);
    set_phase(a, TR__PH_RUN);
    check_exit(&ctx);
    tr__count(sys, sh, spawned);
    *out = self;
    // Release the flag held through init. Nothing has been consumed yet,
    // so the mailbox is non-empty exactly when its head moved. The laters
    // are read before the release: once released, a signal may schedule
    // the actor, whose loop then owns a->ext (a monitor set by another
    // thread, say the node agent after a tr_register or tr_pg_join in
    // init, allocates it there).
    bool laters = tr__later_busy(a);
    atomic_fetch_and(&a->word, ~TR__A_SCHED);
    if (!tr__stack_empty(&a->sig) || laters || !tr__stack_empty(&a->mbox.in) ||
        tr__actor_phase(a) != TR__PH_RUN) {
        uint32_t old = atomic_fetch_or(&a->word, TR__A_SCHED);
        if (!(old & TR__A_SCHED))
            actor_post(sys, a, old);
    }
    return 0;
}

int
tr_spawn(tr_ref *out, tr_ctx *ctx, const tr_behavior *b, const void *arg,
         size_t len, const tr_spawn_opts *opts)
{
    assert(ctx != NULL);
    return spawn(out, ctx->sys, ctx->a, b, arg, len, opts);
}

int
tr_system_spawn(tr_ref *out, tr_system *sys, const tr_behavior *b,
                const void *arg, size_t len, const tr_spawn_opts *opts)
{
    return spawn(out, sys, NULL, b, arg, len, opts);
}

// ---------------------------------------------------------------------------
// Handler API

tr_ref
tr_self(const tr_ctx *ctx)
{
    return ctx->self;
}

void *
tr_state(const tr_ctx *ctx)
{
    return tr__actor_state(ctx->a);
}

tr_system *
tr_ctx_system(const tr_ctx *ctx)
{
    return ctx->sys;
}

unsigned
tr_ctx_loop(const tr_ctx *ctx)
{
    return tr__actor_loop(ctx->a);
}

tr_ref
tr_parent(const tr_ctx *ctx)
{
    uint32_t p = ctx->a->parent;
    return p != 0 ? tr__actor_ref(ctx->sys, tr__slot_actor(ctx->sys, p))
                  : TR_REF_NONE;
}

int
tr_become(tr_ctx *ctx, const tr_behavior *b)
{
    if (b == NULL || b->receive == NULL ||
        state_bytes(b->state_size) > ctx->a->state_size)
        return TR_EINVAL;
    atomic_store_explicit(&ctx->a->beh, b, memory_order_relaxed);
    if (ctx->shard != NULL) // the watchdog's name for what runs
        atomic_store_explicit(&ctx->shard->cur_name, b->name,
                              memory_order_relaxed);
    return 0;
}

// The fast paths of a send from an actor's handler on a loop (type
// already checked): a small message to an actor on a loop, without stats,
// not an inbox or blocking, from the caller's loop pool without a call.
// Anything else goes to tr__send_full, which handles every case: as a tail
// call, so the fast path saves no registers.

// Fills `m` and queues it on `a`, posting `a` if it was idle: on the
// caller's own loop straight onto the run queue.
static inline __attribute__((always_inline)) void
send_push(tr_ctx *ctx, struct tr__shard *sh, struct tr__actor *a,
          struct tr_msg *m, uint32_t type, const void *data, size_t len,
          uint64_t req_id, int64_t deadline_ns, bool own)
{
    m->type = type;
    m->len = (uint32_t)len;
    m->from = ctx->self;
    m->req_id = req_id;
    m->deadline_ns = deadline_ns;
    tr__copy_small(m->data, data, len);
    tr__mbox_push(&a->mbox, &m->node);
    if (!(atomic_load(&a->word) & TR__A_SCHED)) {
        uint32_t old = atomic_fetch_or(&a->word, TR__A_SCHED);
        if (!(old & TR__A_SCHED)) {
            if (own)
                tr__loop_post_own(&sh->loop, &a->sched);
            else
                tr__loop_post(&ctx->sys->shards[old >> TR__A_LOOP_SHIFT].loop,
                              &a->sched);
        }
    }
    tr__count(ctx->sys, sh, sent);
}

// The general path, with six arguments, so that calling it is a jump.
static __attribute__((noinline)) int
send_slow(tr_ctx *ctx, tr_ref to, uint32_t type, const void *data, size_t len,
          uint64_t req_id)
{
    return tr__send_full(ctx->sys, ctx->self, to, type, data, len, req_id, 0);
}

// To an actor on another loop (`to` is local): a reference from the
// lookup to the end, as tr__send_full takes, and the bounded mailbox's
// admission. A ref that names nobody, an inbox or a blocking actor goes
// the general way.
static __attribute__((noinline)) int
send_far(tr_ctx *ctx, tr_ref to, uint32_t type, const void *data, size_t len,
         uint64_t req_id)
{
    struct tr__shard *sh = ctx->shard;
    tr_system *sys = ctx->sys;
    struct tr__actor *a = tr__slots_acquire(&sys->slots, to);
    if (a == NULL)
        return send_slow(ctx, to, type, data, len, req_id);
    uint32_t aw = atomic_load_explicit(&a->word, memory_order_relaxed);
    int rc;
    if (aw & (TR__A_STATS | TR__A_INBOX | TR__A_BLOCKING)) {
        tr__actor_release(sys, a);
        return send_slow(ctx, to, type, data, len, req_id);
    }
    if ((aw & TR__A_BOUNDED) && (rc = bound_admit(sys, sh, a)) != 0)
        goto out; // refused (TR_EFULL) or dropped
    struct tr_msg *m = tr__msg_take(&sh->loop.pool);
    if (m == NULL && (m = tr__msg_alloc(type, len, true)) == NULL) {
        if (aw & TR__A_BOUNDED)
            bound_unadmit(tr__bound_of(a));
        rc = TR_ENOMEM;
        goto out;
    }
    send_push(ctx, sh, a, m, type, data, len, req_id, 0, false);
    rc = 0;
out:
    tr__actor_release(sys, a);
    return rc == TR__DROPPED ? 0 : rc;
}

// To a bounded actor on our own loop (it cannot die while we run): the
// admission, then the push. Six arguments, so calling it is a jump.
static __attribute__((noinline)) int
send_own_bounded(tr_ctx *ctx, struct tr__actor *a, uint32_t type,
                 const void *data, size_t len, uint64_t req_id)
{
    struct tr__shard *sh = ctx->shard;
    int rc = bound_admit(ctx->sys, sh, a);
    if (rc != 0)
        return rc == TR__DROPPED ? 0 : rc; // refused (TR_EFULL) or dropped
    struct tr_msg *m = tr__msg_take(&sh->loop.pool);
    if (m == NULL) {
        bound_unadmit(tr__bound_of(a));
        return send_slow(ctx, tr__actor_ref(ctx->sys, a), type, data, len,
                         req_id);
    }
    send_push(ctx, sh, a, m, type, data, len, req_id, 0, true);
    return 0;
}

// With a deadline (a request) only the own-loop path is taken here; the
// others keep six arguments for tr_send and tr_reply, whose deadline is
// the constant 0.
static inline __attribute__((always_inline)) int
send_fast(tr_ctx *ctx, tr_ref to, uint32_t type, const void *data, size_t len,
          uint64_t req_id, int64_t deadline_ns)
{
    struct tr__shard *sh = ctx->shard;
    tr_system *sys = ctx->sys;
    if (TR_UNLIKELY(sh == NULL || len > TR__MSG_SMALL || len > sys->max_msg ||
                    (len != 0 && data == NULL) || TR__REF_NODE(to) != 0))
        goto slow;
    // On our own loop the target cannot die while we run (see actor.h).
    struct tr__actor *a = lookup_own(sys, sh, to);
    if (TR_UNLIKELY(a == NULL)) {
        if (deadline_ns != 0)
            goto slow;
        return send_far(ctx, to, type, data, len, req_id);
    }
    uint32_t aw = atomic_load_explicit(&a->word, memory_order_relaxed);
    if (TR_UNLIKELY(aw & (TR__A_BOUNDED | TR__A_STATS | TR__A_INBOX |
                          TR__A_BLOCKING))) {
        if (aw & (TR__A_STATS | TR__A_INBOX | TR__A_BLOCKING) ||
            deadline_ns != 0)
            goto slow;
        return send_own_bounded(ctx, a, type, data, len, req_id);
    }
    struct tr_msg *m = tr__msg_take(&sh->loop.pool);
    if (TR_UNLIKELY(m == NULL))
        goto slow;
    send_push(ctx, sh, a, m, type, data, len, req_id, deadline_ns, true);
    return 0;
slow:
    if (deadline_ns != 0)
        return tr__send_full(sys, ctx->self, to, type, data, len, req_id,
                             deadline_ns);
    return send_slow(ctx, to, type, data, len, req_id);
}

int
tr__send_ctx(tr_ctx *ctx, tr_ref to, uint32_t type, const void *data,
             size_t len, uint64_t req_id, int64_t deadline_ns)
{
    return send_fast(ctx, to, type, data, len, req_id, deadline_ns);
}

int
tr_send(tr_ctx *ctx, tr_ref to, uint32_t type, const void *data, size_t len)
{
    ctx->sent++;
    if (type >= TR_MSG_SYSTEM)
        return TR_EINVAL;
    return send_fast(ctx, to, type, data, len, 0, 0);
}

int
tr_reply(tr_ctx *ctx, const tr_msg *msg, uint32_t type, const void *data,
         size_t len)
{
    if (tr_ref_is_none(msg->from))
        return TR_ENOACTOR;
    ctx->sent++;
    if (type >= TR_MSG_SYSTEM)
        return TR_EINVAL;
    // A reply to a request carries its id, marked as a reply.
    uint64_t id = tr__is_request(msg) ? msg->req_id | TR__REQ_REPLY : 0;
    return send_fast(ctx, msg->from, type, data, len, id, 0);
}

// Which signals an actor takes: an inbox cannot be stopped, and only a
// bounded mailbox can say when it has room again.
static bool
signal_accepted(struct tr__actor *a, uint32_t type)
{
    if (type == TR__SIG_STOP)
        return !has_flags(a, TR__A_INBOX);
    if (type == TR__SIG_WRITABLE)
        return has_flags(a, TR__A_BOUNDED);
    return true;
}

int
tr__signal_ref(tr_system *sys, tr_ref to, uint32_t type, const void *data,
               size_t len)
{
    if (TR__REF_NODE(to) != 0) {
        const struct tr__transport *t =
            atomic_load_explicit(&sys->transport, memory_order_acquire);
        return t != NULL ? t->signal(sys->transport_arg, to, type, data, len)
                         : TR_EREMOTE;
    }
    bool held;
    struct tr__actor *a = tr__actor_lookup(sys, tr__cur_shard(sys), to, &held);
    if (a == NULL)
        return TR_ENOACTOR;
    int rc = TR_EINVAL;
    if (signal_accepted(a, type)) {
        struct tr_msg *m = tr__msg_alloc(type, len, true);
        rc = TR_ENOMEM;
        if (m != NULL) {
            memcpy(m->data, data, len);
            tr__actor_signal(sys, a, m);
            rc = 0;
        }
    }
    if (held)
        tr__actor_release(sys, a);
    return rc;
}

int
tr_forward(tr_ctx *ctx, tr_ref to, const tr_msg *msg)
{
    if (msg->type >= TR_MSG_SYSTEM)
        return TR_EINVAL;
    ctx->sent++;
    return tr__send_full(ctx->sys, msg->from, to, msg->type,
                         msg->len ? msg->data : NULL, msg->len, msg->req_id,
                         msg->deadline_ns);
}

static int
stop_ref(tr_system *sys, tr_ref who, int reason)
{
    return tr__signal_ref(sys, who, TR__SIG_STOP, &reason, sizeof reason);
}

int
tr_stop(tr_ctx *ctx, tr_ref who, int reason)
{
    return stop_ref(ctx->sys, who, reason);
}

int
tr_system_stop(tr_system *sys, tr_ref who, int reason)
{
    return stop_ref(sys, who, reason);
}

void
tr_exit_text(tr_ctx *ctx, int reason, const char *text)
{
    struct tr__ext *e = tr__ext_get(ctx->a);
    if (e != NULL && text != NULL) {
        size_t n = strlen(text);
        if (n >= sizeof e->exit_text)
            n = sizeof e->exit_text - 1;
        memcpy(e->exit_text, text, n);
        e->exit_text[n] = 0;
    }
    tr_exit(ctx, reason);
}

void
tr_exit(tr_ctx *ctx, int reason)
{
    ctx->exit = true;
    ctx->exit_reason = reason;
}

int
tr_system_send(tr_system *sys, tr_ref to, uint32_t type, const void *data,
               size_t len)
{
    return tr__send(sys, TR_REF_NONE, to, type, data, len, 0);
}
