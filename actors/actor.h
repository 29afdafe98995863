// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// actor.h: private structures of the actor layer: actor records, the slot
// table behind refs, per-loop shards and the system.
//
// Design notes
// - A ref is node:16 | slot:24 | gen:24. The slot table never shrinks while
//   the system is open, so any ref can be looked up safely; a slot's word
//   holds gen:24 | loop:8 | alive:1 | refs:31. Lookup takes a reference with
//   a CAS that fails unless gen matches and alive is set; the last release
//   of a dead actor frees it. References are held by: the actor itself
//   while alive, its parent's link (until the parent handles CHILD_DOWN),
//   and any thread in the middle of a call on the ref.
// - Fast path: an alive actor on the caller's own loop cannot die while the
//   caller runs (death happens only on the actor's loop), so such a send
//   skips the reference count.
// - An actor's `word` holds its schedule flag (producers set it with
//   fetch_or; the one that finds it clear posts the actor to its loop), its
//   phase and flags (written only by whoever runs the actor, with RMWs so
//   producers' bits survive) and its loop index (constant).
// - A dead actor keeps its schedule flag set forever, so nobody posts it.
// - The children list is owned by the parent's loop; top-level actors hang
//   off the system's root, guarded by root_lock.
#ifndef TR_ACTORS_ACTOR_H
#define TR_ACTORS_ACTOR_H

#include "../base/log.h"
#include "../loop/loop.h"
#include "../loop/pool.h"
#include "../mailbox/msg.h"

#include <troupe.h>

#include <assert.h>
#include <pthread.h>

// Slot table.
#define TR__SLOT_BITS  24
#define TR__GEN_BITS   24
#define TR__CHUNK_BITS 12
#define TR__CHUNK      (1u << TR__CHUNK_BITS)
#define TR__NCHUNKS    (1u << (TR__SLOT_BITS - TR__CHUNK_BITS))
#define TR__GEN_MASK   ((1u << TR__GEN_BITS) - 1)
#define TR__SLOT_MASK  ((1u << TR__SLOT_BITS) - 1)

#define TR__W_REFS      0x7FFFFFFFull
#define TR__W_ALIVE     (1ull << 31)
#define TR__W_LOOPSHIFT 32
#define TR__W_GENSHIFT  40
#define TR__NO_LOOP     0xFFu // inboxes

struct tr__actor;

struct tr__slot {
    _Atomic uint64_t word;   // see design notes; any thread
    struct tr__actor *actor; // written under lock before word is published;
                             // when free: next free slot index
};

struct tr__slots {
    _Atomic(struct tr__slot *) chunk[TR__NCHUNKS]; // set once, release
    pthread_mutex_t lock;                          // guards the fields below
    uint32_t free_head;                            // 0: none
    uint32_t fresh;                                // next never-used slot
};

// Actor word.
#define TR__A_SCHED       1u
#define TR__A_PARKED      2u // blocking actor waiting in tr_receive
#define TR__A_BLOCKING    4u // runs on the blocking-actor threads
#define TR__A_STATS       8u // a struct tr__astat follows the record
#define TR__A_PHASE_SHIFT 8
#define TR__A_PHASE_MASK  (0xFFu << TR__A_PHASE_SHIFT)
#define TR__A_INIT_OK     (1u << 16) // init succeeded: the stop hook will run
#define TR__A_INBOX       (1u << 17)
#define TR__A_STOP_SENT   (1u << 18) // STOP sent to child_last
#define TR__A_TRAP        (1u << 19) // exit signals arrive as TR_MSG_EXIT
#define TR__A_KILLED      (1u << 20) // killed: its children are killed too
#define TR__A_ASKED       (1u << 21) // got a graceful shutdown request
#define TR__A_KILL_SENT   (1u << 22) // KILL sent to child_last
#define TR__A_BOUNDED     (1u << 23) // a struct tr__bound precedes the record
#define TR__A_LOOP_SHIFT  24

enum { TR__PH_INIT, TR__PH_RUN, TR__PH_STOPPING, TR__PH_DEAD };

struct tr__actor {
    struct tr__sched sched; // loop link and run function
    struct tr__mbox mbox;   // user messages
    struct tr__stack sig;   // system signals, handled first
    // Written by the owner loop (tr_become), read by anyone (alarms,
    // tr_actors_top): relaxed, through tr__actor_beh.
    const tr_behavior *_Atomic beh;
    void *ext; // inbox: its tr_inbox; else NULL or its struct tr__ext
    // Tree links are slot indices (0: none), half the size of pointers.
    // A linked slot cannot be recycled: the parent's link holds a
    // reference on the child, and a parent outlives its children.
    uint32_t parent;       // 0: top level; constant
    uint32_t child_last;   // newest child; owner loop
    uint32_t sib_prev;     // older sibling; parent's loop (root: root_lock)
    uint32_t sib_next;     // newer sibling; likewise
    _Atomic uint32_t word; // flag, phase, flags, loop (see notes)
    uint32_t slot;         // constant once published
    uint32_t gen;          // the slot's generation for this actor: constant
    uint32_t state_size;   // bytes after the record, 16-aligned
    int32_t reason;        // exit reason once stopping
};

// tr__bound sits just before a bounded actor's record, in the same
// allocation, so unbounded actors pay nothing for it.
struct tr__bound {
    // User messages queued: in - out (mod 2^32). Producers add to `in`
    // (an atomic RMW: there are many); only the consumer moves `out`, with
    // a plain store, so taking a message costs no RMW. `out` is the futex
    // word that TR_OVERFLOW_WAIT senders sleep on.
    _Atomic uint32_t in, out;
    _Atomic uint16_t waiters; // senders blocked in TR_OVERFLOW_WAIT
    uint8_t policy;           // enum tr_overflow
    uint8_t unused;
    uint32_t cap;
    int64_t wait_ms;
    _Atomic uint64_t refused, dropped;
    uint32_t high, low;     // overload watermarks (0: none)
    _Atomic uint32_t alarm; // 1 while raised
    _Atomic uint32_t park;  // blocking actors: futex word of tr_receive
    tr_ref alarm_to;
};

static inline struct tr__bound *
tr__bound_of(struct tr__actor *a)
{
    return (struct tr__bound *)(void *)((char *)a - sizeof(struct tr__bound));
}

// tr__bound_queued is how many user messages a bounded mailbox holds.
// Read from any thread: a moment's value (out may run ahead of the `in`
// read first, which counts as empty).
static inline uint32_t
tr__bound_queued(struct tr__bound *bd)
{
    uint32_t in = atomic_load_explicit(&bd->in, memory_order_acquire);
    uint32_t out = atomic_load_explicit(&bd->out, memory_order_acquire);
    return (int32_t)(in - out) > 0 ? in - out : 0;
}

// 96 bytes, a jemalloc size class: with its 16-byte slot, an idle actor
// costs the runtime 112 bytes (128 with tr_config.actor_stats, whose
// counters follow the record: 112 is a size class too).
static_assert(sizeof(struct tr__actor) == 96, "actor record grew");

// tr__astat follows the record of every actor of a system opened with
// tr_config.actor_stats (TR__A_STATS), in the same allocation, before the
// state: the per-actor counters tr_actors_top reads from any thread.
// - Mailbox depth is pushed - popped. A producer on the actor's own loop
//   (the same-loop fast path) adds to `pushed_local` with a relaxed load
//   and store, as the loops' own counters do; any other thread uses
//   `pushed_far` with an atomic add (it already pays a reference count
//   and the exchange on the mailbox's head). Both count before the push,
//   so a message is counted pushed before it can be popped. The runner
//   adds the messages a turn took to `popped` once, when the turn ends.
// - `busy_us` estimates the time the actor held a thread: a loop times one
//   turn in sample_every (see loop.h), and a timed actor turn adds its
//   duration times sample_every; a blocking actor's turns are all timed.
// - 32-bit counters, so the record and these stay in one 112-byte size
//   class: depth is a difference, right across wrap-around; `popped`
//   (messages handled) wraps after 2^32 and `busy_us` after 71 minutes of
//   busy time, which a reader of rates (deltas) does not notice.
struct tr__astat {
    _Atomic uint32_t pushed_local; // owner loop's producers; relaxed
    _Atomic uint32_t pushed_far;   // other threads; atomic add
    _Atomic uint32_t popped;       // owner; relaxed, once per turn
    _Atomic uint32_t busy_us;      // owner; relaxed, timed turns only
};

static_assert(sizeof(struct tr__astat) % 16 == 0, "state must stay aligned");

static inline struct tr__astat *
tr__astat_of(struct tr__actor *a)
{
    return (struct tr__astat *)(void *)(a + 1);
}

static inline const tr_behavior *
tr__actor_beh(struct tr__actor *a)
{
    return atomic_load_explicit(&a->beh, memory_order_relaxed);
}

// Counters with one writer each (a loop), read by anyone: relaxed.
struct tr__counters {
    _Atomic uint64_t sent, dead, unhandled, spawned, crashed, created, freed;
    _Atomic uint64_t late;             // replies that found no pending request
    _Atomic uint64_t refused, dropped; // bounded mailboxes
    _Atomic uint64_t alarms;
    _Atomic uint64_t stalls;    // loop held past the watchdog threshold
    _Atomic uint64_t abandoned; // requests pending at their requester's end
    _Atomic uint64_t timeouts;  // requests that passed their deadline
    _Atomic uint64_t handled;   // messages taken by actors (loops only)
};

struct tr__shard {
    struct tr__loop loop; // first: a loop pointer is a shard pointer
    struct tr__counters c;
    tr_system *sys;
    uint64_t rng; // xorshift state; owner loop only
    // What the loop is running, for the watchdog: owner writes, relaxed.
    _Atomic(const char *) cur_name;
    _Atomic uint32_t cur_type;
};

struct tr_system {
    struct tr__shard *shards;
    unsigned nloops;
    unsigned budget;
    size_t max_msg;
    int64_t shutdown_ms; // default shutdown deadline of a child
    uint32_t mbox_cap;   // default mailbox capacity (0: unbounded)
    enum tr_overflow mbox_overflow;
    bool manual;
    bool actor_stats; // tr_config.actor_stats: actors get a tr__astat
    _Atomic unsigned rr;
    struct tr__counters ext; // counts from threads that are not loops
    _Atomic int64_t inboxes;
    _Atomic uint64_t mon_ids; // last monitor id handed out
    _Atomic bool closing;
    pthread_mutex_t root_lock;
    pthread_cond_t root_cv; // signalled when a top-level actor goes
    uint32_t root_last;     // newest top-level actor; root_lock
    uint32_t root_signal;   // asked to shut down by close; root_lock
    int64_t root_kill_at;   // then killed at this time (0: not to be)
    struct tr__pool pool;   // the blocking pool
    struct tr__log log;     // read-only after open
    // Blocking actors: their own threads, started with the first one.
    struct tr__pool bpool;
    _Atomic bool bpool_on;
    pthread_mutex_t bpool_mu; // guards starting bpool
    unsigned bpool_threads;
    uint32_t pool_cap;           // tr_config.pool_queue
    _Atomic uint64_t bk_refused; // sends refused by full blocking actors
    // Loop watchdog: a thread that reports handlers holding a loop.
    bool debug;
    pthread_mutex_t dbg_mu;        // guards warned
    const tr_behavior *warned[64]; // behaviours warned about unhandled
    unsigned nwarned;
    int64_t watchdog_ms; // 0: off
    pthread_t watchdog;
    bool watchdog_on;
    pthread_mutex_t wd_mu;
    pthread_cond_t wd_cv;
    bool wd_quit;
    // The cluster layer's transport, when this system is a node: sends to
    // refs of other nodes go through it (set once, before any such send).
    const struct tr__transport *_Atomic transport;
    void *transport_arg;
    struct tr__hook *hooks; // run when close begins; root_lock
    bool hooks_ran;         // root_lock
    struct tr__slots slots; // last: large
};

struct tr_ctx {
    struct tr__actor *a;
    tr_system *sys;
    struct tr__shard *shard; // the calling thread's, NULL off the loops
    tr_ref self;
    unsigned sent;            // this turn, counted against the budget
    const struct tr_msg *cur; // the message being handled, or NULL
    struct tr_msg *lent;      // tr_receive's last message, freed after
    bool exit;
    int exit_reason;
};

// Internal signal types (on the signal lane only).
#define TR__SIG_STOP       (TR_MSG_SYSTEM + 1)  // int reason
#define TR__SIG_CHILD_DOWN (TR_MSG_SYSTEM + 2)  // struct tr__actor *child
#define TR__SIG_LINK       (TR_MSG_SYSTEM + 3)  // tr_ref from
#define TR__SIG_UNLINK     (TR_MSG_SYSTEM + 4)  // tr_ref from
#define TR__SIG_EXIT       (TR_MSG_SYSTEM + 5)  // tr_exit_info
#define TR__SIG_MONITOR    (TR_MSG_SYSTEM + 6)  // struct tr__watch (watcher)
#define TR__SIG_DEMONITOR  (TR_MSG_SYSTEM + 7)  // uint64_t id
#define TR__SIG_CANCEL     (TR_MSG_SYSTEM + 8)  // struct tr__cancel
#define TR__SIG_SHUTDOWN   (TR_MSG_SYSTEM + 9)  // tr_ref from: graceful stop
#define TR__SIG_KILL       (TR_MSG_SYSTEM + 10) // stop now, not trappable
#define TR__SIG_WRITABLE   (TR_MSG_SYSTEM + 11) // tr_ref: notify when room
// On the user lane, from a pool thread: an offloaded job is done.
#define TR__MSG_JOB (TR_MSG_SYSTEM + 0x200) // struct tr_job *

// A reply's req_id is the request's with this bit set.
#define TR__REQ_REPLY (1ull << 63)

// tr__is_request is true for a request that wants a reply (not a reply,
// not a plain message): tr_msg_is_request, inline.
static inline bool
tr__is_request(const struct tr_msg *m)
{
    return m->req_id != 0 && !(m->req_id & TR__REQ_REPLY);
}

struct tr__cancel {
    tr_ref requester;
    uint64_t req;
};

// tr__later is work an actor arranged for later: a timer that, when it
// fires, queues the later on the actor's done list and schedules it; the
// actor's next run calls run() in its context. Used by user timers,
// request deadlines and retry backoff. Owned by the actor's loop.
struct tr__later {
    struct tr__timer t;            // first
    struct tr__later *prev, *next; // the owner's list of live laters
    struct tr__later *dnext;       // done or pending-arm list
    struct tr__actor *owner;
    tr_system *sys;
    void (*run)(tr_ctx *ctx, struct tr__later *l);
    void (*drop)(tr_system *sys, struct tr__later *l); // owner died
    int64_t at_ns; // due, on the loop's clock
    uint64_t id;   // user timers: the handle
    uint8_t state; // TR__LATER_*
};

enum { TR__LATER_IDLE, TR__LATER_ARMED, TR__LATER_PENDING, TR__LATER_DONE };

struct tr__req;

// tr__watch is one monitor or link: the other side and the monitor's id.
struct tr__watch {
    tr_ref who;
    uint64_t id; // 0 for links
};

struct tr__wset {
    struct tr__watch *v;
    uint32_t n, cap;
};

// tr__ext holds what only some actors use, allocated on first use and
// freed when the actor dies. Owned by the actor's loop.
struct tr__reqmon {
    tr_ref to;        // a responder
    uint64_t mon;     // our monitor on it
    uint32_t pending; // requests to it in flight
};

#define TR__REQMONS 8 // responders whose monitor is kept between requests

struct tr__ext {
    // Requests first: a client touches these on every request and reply.
    struct tr__req **reqs; // pending requests by id, chained
    uint32_t nreqs, req_buckets;
    uint64_t next_req;                 // last request id
    struct tr__req *dq_head, *dq_tail; // pending requests by deadline
    struct tr__req *spare;             // freed entries, for reuse
    uint32_t nspare;
    uint32_t nreqmon;
    struct tr__reqmon reqmon[TR__REQMONS];
    struct tr__later dq; // armed no later than dq_head
    // Laters: timers, deadlines.
    struct tr__later *laters;           // live laters, doubly linked
    struct tr__later *done, *done_tail; // fired, to run
    struct tr__later *pending;          // to arm on the actor's own loop
    uint64_t next_timer;                // last user timer id
    // Monitors and links.
    struct tr__wset watchers; // monitors on this actor: {watcher, id}
    struct tr__wset mons;     // this actor's monitors: {target, id}
    struct tr__wset links;    // linked actors
    struct tr__wset writable; // to tell when the mailbox has room
    struct tr_job *jobs;      // offloaded, not yet done (doubly linked)
    // Shutdown of child_last: a deadline, then KILL (owner loop).
    struct tr__timer sd_timer;
    struct tr__actor *sd_owner;
    tr_system *sd_sys;
    struct tr__sdchild {
        uint32_t slot;
        int64_t ms;
    } * sd; // custom deadlines
    uint32_t nsd, capsd;
    char exit_text[TR_EXIT_TEXT]; // tr_exit_text
};

static inline unsigned
tr__actor_phase(struct tr__actor *a)
{
    return (atomic_load_explicit(&a->word, memory_order_relaxed) &
            TR__A_PHASE_MASK) >>
           TR__A_PHASE_SHIFT;
}

static inline unsigned
tr__actor_loop(struct tr__actor *a)
{
    return atomic_load_explicit(&a->word, memory_order_relaxed) >>
           TR__A_LOOP_SHIFT;
}

// tr__actor_extra is the size of what follows the record before the state.
static inline size_t
tr__actor_extra(uint32_t word)
{
    return (word & TR__A_STATS) ? sizeof(struct tr__astat) : 0;
}

static inline void *
tr__actor_state(struct tr__actor *a)
{
    uint32_t w = atomic_load_explicit(&a->word, memory_order_relaxed);
    return a->state_size ? (void *)((char *)(a + 1) + tr__actor_extra(w))
                         : NULL;
}

static inline tr_ref
tr__ref_make(uint32_t slot, uint32_t gen)
{
    return (tr_ref){((uint64_t)slot << TR__GEN_BITS) | gen};
}

// tr__cur_shard returns the calling thread's shard if it is one of `sys`'s
// loops, else NULL. Thread: any.
static inline struct tr__shard *
tr__cur_shard(tr_system *sys)
{
    struct tr__shard *sh = (struct tr__shard *)tr__loop_current();
    return sh != NULL && sh->sys == sys ? sh : NULL;
}

// tr__count adds one to a counter: a relaxed store on the caller's own
// shard, an atomic add off the loops.
#define tr__count(sys, sh, field)                                            \
    do {                                                                     \
        if ((sh) != NULL)                                                    \
            atomic_store_explicit(                                           \
                &(sh)->c.field,                                              \
                atomic_load_explicit(&(sh)->c.field, memory_order_relaxed) + \
                    1,                                                       \
                memory_order_relaxed);                                       \
        else                                                                 \
            atomic_fetch_add_explicit(&(sys)->ext.field, 1,                  \
                                      memory_order_relaxed);                 \
    } while (0)

// tr__slot_actor returns the actor bound to a slot index that the caller
// knows is linked (see struct tr__actor).
#define tr__slot_actor(sys, idx) (tr__slots_get(&(sys)->slots, (idx))->actor)

// slots.c
int tr__slots_init(struct tr__slots *t);
void tr__slots_fini(struct tr__slots *t);
// tr__slots_alloc binds a fresh slot to `a` with `refs` references, alive,
// and sets a->slot and a->gen before publishing it. Returns 0 or
// TR_ELIMIT/TR_ENOMEM. Thread: any.
int tr__slots_alloc(struct tr__slots *t, struct tr__actor *a, unsigned loop,
                    uint32_t refs, tr_ref *out);
// tr__slots_free recycles a slot whose actor is dead and unreferenced.
void tr__slots_free(struct tr__slots *t, uint32_t slot);
// tr__slots_get returns the slot of index `slot`, or NULL if its chunk was
// never allocated. Thread: any.
static inline struct tr__slot *
tr__slots_get(struct tr__slots *t, uint32_t slot)
{
    // acquire: pairs with the release that published the chunk.
    struct tr__slot *c = atomic_load_explicit(
        &t->chunk[(slot & TR__SLOT_MASK) >> TR__CHUNK_BITS],
        memory_order_acquire);
    return c != NULL ? &c[slot & (TR__CHUNK - 1)] : NULL;
}
// tr__slots_acquire returns the actor named by `r` with a reference held,
// or NULL. Thread: any.
struct tr__actor *tr__slots_acquire(struct tr__slots *t, tr_ref r);

// actor.c
// tr__actor_lookup returns the live actor named by `r`, setting *held when
// it took a reference (release it with tr__actor_release), or NULL.
struct tr__actor *tr__actor_lookup(tr_system *sys, struct tr__shard *sh,
                                   tr_ref r, bool *held);
void tr__actor_release(tr_system *sys, struct tr__actor *a);
// tr__actor_signal queues signal `m` on `a` and schedules it. Thread: any.
void tr__actor_signal(tr_system *sys, struct tr__actor *a, struct tr_msg *m);
// tr__actor_kill marks `a` dead in the slot table (new lookups fail).
void tr__actor_kill(tr_system *sys, struct tr__actor *a);
tr_ref tr__actor_ref(tr_system *sys, struct tr__actor *a);
int tr__send(tr_system *sys, tr_ref from, tr_ref to, uint32_t type,
             const void *data, size_t len, uint64_t req_id);
// tr__send_any is tr__send without the check for reserved types, for the
// runtime's own user-lane messages (DOWN, EXIT).
int tr__send_any(tr_system *sys, tr_ref from, tr_ref to, uint32_t type,
                 const void *data, size_t len, uint64_t req_id);
// tr__send_full is tr__send_any with a deadline in the header.
int tr__send_full(tr_system *sys, tr_ref from, tr_ref to, uint32_t type,
                  const void *data, size_t len, uint64_t req_id,
                  int64_t deadline_ns);
// tr__send_ctx is tr__send_full from ctx's actor (type already checked),
// through tr_send's fast path when the target is on the caller's loop.
int tr__send_ctx(tr_ctx *ctx, tr_ref to, uint32_t type, const void *data,
                 size_t len, uint64_t req_id, int64_t deadline_ns);
// tr__transport is how actors/ reaches actors of other nodes without
// knowing the cluster layer (DESIGN.md: the arrows point down). cluster/
// registers one with tr__transport_set when a system becomes a node.
// send carries user messages and TR_MSG_DOWN (payload tr_down); signal
// carries TR__SIG_* signals (their payloads as documented above). Both run
// on the sender's thread, must not block, and return 0 or a TR_E* code.
// close runs once in tr_system_close, after every actor has stopped and
// before the loops stop.
struct tr__transport {
    int (*send)(void *arg, tr_ref from, tr_ref to, uint32_t type,
                const void *data, size_t len, uint64_t req_id,
                int64_t deadline_ns);
    int (*signal)(void *arg, tr_ref to, uint32_t type, const void *data,
                  size_t len);
    void (*close)(void *arg);
};

// tr__transport_set registers `t` (static storage) with `arg`. Returns 0,
// or TR_EBUSY if one is registered already. Thread: any.
int tr__transport_set(tr_system *sys, const struct tr__transport *t, void *arg);

// tr__hook lets a layer above actors/ (the metrics server) tie something
// to the system's life: `close` runs once, on the thread that calls
// tr_system_close, when the close begins (before any actor is asked to
// stop), newest hook first. Caller storage, untouched after `close`.
struct tr__hook {
    void (*close)(void *arg);
    void *arg;
    const void *key; // names the hook's owner, for tr__hook_find
    struct tr__hook *next;
};

// tr__hook_add registers `h`. Returns 0, TR_EBUSY (a hook with that key is
// registered) or TR_ECLOSED (the close has begun). Thread: any.
int tr__hook_add(tr_system *sys, struct tr__hook *h);

// tr__hook_find returns the arg of the hook registered with `key`, or
// NULL. Thread: any, until the close begins.
void *tr__hook_find(tr_system *sys, const void *key);

#define TR__REF_NODE(r) ((unsigned)((r).bits >> 48))

// tr__signal_ref queues a signal with payload `data` on the actor named by
// `to`. Returns 0, TR_ENOACTOR, TR_ENOMEM, TR_EREMOTE or TR_EINVAL (a
// signal the target does not take: STOP to an inbox, WRITABLE to an
// unbounded mailbox).
int tr__signal_ref(tr_system *sys, tr_ref to, uint32_t type, const void *data,
                   size_t len);
void tr__begin_stop(tr_ctx *ctx, int reason);
struct tr_msg *tr__sig_stop_alloc(int reason);
// tr__sig_shutdown_alloc makes a graceful shutdown request from `from`
// (TR_REF_NONE: the system), or a KILL when `kill`.
struct tr_msg *tr__sig_shutdown_alloc(tr_ref from, bool kill);
// tr__actor_alloc allocates a record (with a tr__bound before it when
// `bound` is not NULL).
int tr__actor_alloc(struct tr__actor **out, tr_system *sys,
                    const tr_behavior *b, uint32_t word,
                    const struct tr__bound *bound);
// tr__actor_free frees a dead, unreferenced actor, or one never published
// (slot 0): unread messages count as dead letters.
void tr__actor_free(tr_system *sys, struct tr__actor *a);

// watch.c
// tr__wset_add appends to a growable set. Returns 0 or TR_ENOMEM.
int tr__wset_add(struct tr__wset *s, tr_ref who, uint64_t id);
// tr__watch_signal handles a link or monitor signal on a live actor.
void tr__watch_signal(tr_ctx *ctx, struct tr_msg *m);
// tr__watch_accept is false for a DOWN whose monitor was removed.
bool tr__watch_accept(tr_ctx *ctx, const struct tr_msg *m);
// tr__ext_get returns the actor's ext block, allocating it, or NULL.
struct tr__ext *tr__ext_get(struct tr__actor *a);
void tr__actor_schedule(tr_system *sys, struct tr__actor *a);

// later.c
// tr__later_arm arms `l` (owned by ctx's actor) for at_ns on the actor's
// loop clock; from another thread (an init) it is armed on the actor's
// next run.
void tr__later_arm(tr_ctx *ctx, struct tr__later *l, int64_t at_ns);
// tr__later_forget disarms `l` and takes it off every list; the caller
// frees it.
void tr__later_forget(struct tr__actor *a, struct tr__later *l);
// tr__later_run arms pending laters and runs the done ones.
void tr__later_run(tr_ctx *ctx);
// tr__later_busy is true when done laters wait to run.
static inline bool
tr__later_busy(struct tr__actor *a)
{
    struct tr__ext *e = a->ext;
    return e != NULL && (e->done != NULL || e->pending != NULL);
}
// tr__later_fini drops every later of a dying actor.
void tr__later_fini(tr_ctx *ctx);
int64_t tr__ctx_now(const tr_ctx *ctx);

// request.c
// tr__req_reply handles a reply in the requester's run; frees nothing.
void tr__req_reply(tr_ctx *ctx, const struct tr_msg *m);
// tr__req_down is true if the DOWN was for a responder's monitor, whose
// requests it then fails.
bool tr__req_down(tr_ctx *ctx, const struct tr_msg *m);
// tr__req_fini ends a dying actor's requests: no callbacks, the responders
// are told; frees the entries kept for reuse.
void tr__req_fini(tr_ctx *ctx);
// tr__req_cancel handles a CANCEL signal for a request this actor got.
void tr__req_cancel(tr_ctx *ctx, const struct tr__cancel *c);

// tr__watch_fini tells watchers and links that the actor stopped with
// `reason`, drops its own monitors and frees its tr__ext.
void tr__watch_fini(tr_ctx *ctx, int reason);
// tr__watch_orphan answers a signal found on a dead actor `dead`: a
// monitor gets its DOWN, a link its exit signal, both with TR_ENOACTOR.
void tr__watch_orphan(tr_system *sys, tr_ref dead, struct tr_msg *m);

// tr__ctx_blocking is true in a blocking actor's callbacks.
static inline bool
tr__ctx_blocking(const tr_ctx *ctx)
{
    return (atomic_load_explicit(&ctx->a->word, memory_order_relaxed) &
            TR__A_BLOCKING) != 0;
}

// offload.c
// tr__jobs_cancel flags every job of a dying actor (before it is marked
// dead, so no job is freed under it).
void tr__jobs_cancel(tr_ctx *ctx);
// tr__job_done handles TR__MSG_JOB in the owner's run.
void tr__job_done(tr_ctx *ctx, const struct tr_msg *m);
// tr__job_orphan frees a job whose TR__MSG_JOB was never read.
void tr__job_orphan(const struct tr_msg *m);

// inbox.c
void tr__inbox_wake(struct tr__actor *a);
void tr__inbox_destroy(tr_inbox *ib);

#endif // TR_ACTORS_ACTOR_H
