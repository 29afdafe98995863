// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// tree: a supervision tree from the command line. Every inner node is a
// one_for_one supervisor and every leaf an idle worker; the program crashes
// random leaves, then a whole subtree, then makes one supervisor exceed its
// restart intensity so that its parent restarts it, and prints what was
// restarted and how long each step took. Then it stops the tree, closes
// the system and shows that nothing leaked.
//
//   tree [depth] [breadth] [crashes] [seed]
//
// depth levels of supervisors (2 or more) with breadth children each, so
// breadth^depth workers; default 5 x 10 = 100,000 workers, 122,221 actors
// in all, and 1,000 crashed leaves. The tree may have up to 1,000,000
// actors (`tree 2 999` is exactly that).
//
// A supervisor's children are actor behaviours, so each supervisor below
// the root is started by an adapter: an actor whose init calls
// tr_sup_spawn and which exits with its supervisor's reason when the
// supervisor stops. Adapters are actors too, and are counted.
//
// main waits only on conditions with deadlines: counters that the actors'
// hooks bump, polled between short tr_inbox_recv timeouts, and the root's
// DOWN. Durations end at the last start or stop an actor recorded, so the
// polling does not round them.
#include <troupe.h>
#include <troupe/supervisor.h>

#include <inttypes.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ACTORS 1000000
#define WAIT_MS    30000  // the deadline of every wait
#define PERIOD_MS  5000   // supervisors' intensity period
#define CRASH      (-100) // a deliberate crash: no TR_E* code
#define MSG_CRASH  1      // main to a worker or adapter: crash
#define MSG_ESCAL  2      // adapter to main: int32 reason, its sup failed

// node_arg places a node: workers are leaves at level == depth, numbered
// left to right; a subtree's first leaf is `first`.
struct node_arg {
    uint32_t level, depth, breadth;
    int32_t intensity;
    uint64_t first;
    tr_ref report; // main's inbox
};

// Counters bumped by the hooks (any loop), read by main.
static atomic_uint_fast64_t leaf_starts, leaf_stops, node_starts;
static atomic_int_fast64_t last_event_ns; // latest start or stop, tr_now_ns
static _Atomic uint64_t *leaf_ref;        // each leaf's current tr_ref

static void
event(void)
{
    int64_t now = tr_now_ns();
    int_fast64_t t = atomic_load(&last_event_ns);
    while (t < now && !atomic_compare_exchange_weak(&last_event_ns, &t, now))
        ;
}

// --- workers: idle leaves that crash on MSG_CRASH ------------------------
static int
worker_init(tr_ctx *ctx, const void *arg, size_t len)
{
    if (len != sizeof(struct node_arg))
        return TR_EINVAL;
    memcpy(tr_state(ctx), arg, len);
    const struct node_arg *a = arg;
    atomic_store(&leaf_ref[a->first], tr_self(ctx).bits);
    atomic_fetch_add(&leaf_starts, 1);
    event();
    return 0;
}

static int
worker_receive(tr_ctx *ctx, const tr_msg *m)
{
    (void)ctx;
    return tr_msg_type(m) == MSG_CRASH ? CRASH : TR_EUNHANDLED;
}

static void
worker_stop(tr_ctx *ctx, int reason)
{
    (void)ctx, (void)reason;
    atomic_fetch_add(&leaf_stops, 1);
    event();
}

static const tr_behavior worker = {
    .name = "worker",
    .state_size = sizeof(struct node_arg),
    .init = worker_init,
    .receive = worker_receive,
    .stop = worker_stop,
};

// --- supervisors, and adapters that start them ---------------------------
static const tr_behavior adapter;

// sup_start starts the supervisor of the node `a` describes, with its
// `breadth` children, as a child of ctx (or at top level when ctx is NULL).
static int
sup_start(tr_ref *out, tr_ctx *ctx, tr_system *sys, const struct node_arg *a)
{
    tr_child_spec *kids = calloc(a->breadth, sizeof *kids);
    struct node_arg *args = calloc(a->breadth, sizeof *args);
    if (kids == NULL || args == NULL) {
        free(kids);
        free(args);
        return TR_ENOMEM;
    }
    uint64_t leaves = 1; // under each child
    for (uint32_t l = a->level + 1; l < a->depth; l++)
        leaves *= a->breadth;
    for (uint32_t i = 0; i < a->breadth; i++) {
        args[i] = *a;
        args[i].level = a->level + 1;
        args[i].first = a->first + i * leaves;
        kids[i] = (tr_child_spec){
            .id = args[i].level == a->depth ? "worker" : "adapter",
            .behavior = args[i].level == a->depth ? &worker : &adapter,
            .arg = &args[i],
            .len = sizeof args[i],
            .restart = TR_PERMANENT,
        };
    }
    tr_sup_spec spec = {.strategy = TR_ONE_FOR_ONE,
                        .intensity = a->intensity,
                        .period_ms = PERIOD_MS,
                        .children = kids,
                        .n = a->breadth};
    int rc = ctx != NULL ? tr_sup_spawn(out, ctx, &spec)
                         : tr_sup_spawn_top(out, sys, &spec);
    free(kids); // the supervisor copied the specs and their args
    free(args);
    return rc;
}

static int
adapter_init(tr_ctx *ctx, const void *arg, size_t len)
{
    if (len != sizeof(struct node_arg))
        return TR_EINVAL;
    memcpy(tr_state(ctx), arg, len);
    atomic_fetch_add(&node_starts, 1); // before any leaf below starts
    event();
    tr_ref sup;
    int rc = sup_start(&sup, ctx, NULL, arg);
    return rc != 0 ? rc : tr_monitor(ctx, sup, NULL);
}

// adapter_receive: the one monitor is on its supervisor. When that stops
// (it only does on its own when it gave up: intensity), the adapter tells
// main and exits with the same reason, so its parent restarts the subtree.
static int
adapter_receive(tr_ctx *ctx, const tr_msg *m)
{
    if (tr_msg_type(m) == MSG_CRASH)
        return CRASH;
    if (tr_msg_type(m) != TR_MSG_DOWN)
        return TR_EUNHANDLED;
    const struct node_arg *a = tr_state(ctx);
    tr_down d;
    memcpy(&d, tr_msg_data(m), sizeof d);
    (void)tr_send(ctx, a->report, MSG_ESCAL, &d.reason, sizeof d.reason);
    tr_exit(ctx, d.reason);
    return 0;
}

static const tr_behavior adapter = {
    .name = "adapter",
    .state_size = sizeof(struct node_arg),
    .init = adapter_init,
    .receive = adapter_receive,
};

// --- main's side -----------------------------------------------------------
struct app {
    tr_system *sys;
    tr_inbox *ib;
    int escalations; // MSG_ESCAL received
    int32_t escalated_reason;
    bool down; // the root's DOWN received
    int32_t down_reason;
};

// take takes one message (or times out after `ms`) and notes what it says.
static void
take(struct app *app, int64_t ms)
{
    tr_msg *m;
    if (tr_inbox_recv(app->ib, &m, ms) != 0)
        return;
    if (tr_msg_type(m) == MSG_ESCAL) {
        memcpy(&app->escalated_reason, tr_msg_data(m), sizeof(int32_t));
        app->escalations++;
    } else if (tr_msg_type(m) == TR_MSG_DOWN) {
        tr_down d;
        memcpy(&d, tr_msg_data(m), sizeof d);
        app->down = true;
        app->down_reason = d.reason;
    }
    tr_msg_free(m);
}

// wait_counts waits until the counters reach their targets, WAIT_MS at
// most. Returns true if they did.
static bool
wait_counts(struct app *app, uint64_t leaves, uint64_t nodes)
{
    int64_t until = tr_now_ns() + (int64_t)WAIT_MS * 1000000;
    while (atomic_load(&leaf_starts) < leaves ||
           atomic_load(&node_starts) < nodes) {
        if (tr_now_ns() > until)
            return false;
        take(app, 1);
    }
    return atomic_load(&leaf_starts) == leaves &&
           atomic_load(&node_starts) == nodes;
}

// live polls stats.actors_live (approximate while the system runs) until
// it is `want`, WAIT_MS at most, and returns the last value read.
static uint64_t
live(struct app *app, uint64_t want)
{
    tr_stats st;
    int64_t until = tr_now_ns() + (int64_t)WAIT_MS * 1000000;
    for (;;) {
        tr_system_stats(app->sys, &st);
        if (st.actors_live == want || tr_now_ns() > until)
            return st.actors_live;
        take(app, 1);
    }
}

// ms_to_last_event is the time from t0 to the latest start or stop.
static double
ms_to_last_event(int64_t t0)
{
    return (double)(atomic_load(&last_event_ns) - t0) / 1e6;
}

static uint64_t rng;

static uint64_t
rnd(uint64_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng % n;
}

// reason_name names an exit reason.
static const char *
reason_name(int reason)
{
    switch (reason) {
    case TR_EXIT_NORMAL:
        return "normal";
    case TR_EXIT_SHUTDOWN:
        return "shutdown";
    case TR_EXIT_KILLED:
        return "killed";
    case CRASH:
        return "crash";
    default:
        return tr_errname(reason);
    }
}

static int
fail(const char *what, int rc)
{
    fprintf(stderr, "tree: %s: %s\n", what, rc != 0 ? tr_errname(rc) : "");
    return 1;
}

// which_children asks a supervisor for its children; *n gets their count.
static tr_sup_child *
which_children(struct app *app, tr_ref sup, size_t *n)
{
    tr_msg *m;
    if (tr_call(app->sys, sup, TR_SUP_WHICH_CHILDREN, NULL, 0, WAIT_MS, &m) !=
        0)
        return NULL;
    *n = tr_msg_size(m) / sizeof(tr_sup_child);
    tr_sup_child *c = *n > 0 ? malloc(*n * sizeof *c) : NULL;
    if (c != NULL)
        memcpy(c, tr_msg_data(m), *n * sizeof *c);
    tr_msg_free(m);
    return c;
}

static bool
arg_u64(int argc, char **argv, int i, uint64_t lo, uint64_t hi, uint64_t *out)
{
    if (argc <= i)
        return true;
    char *end;
    unsigned long long v = strtoull(argv[i], &end, 10);
    if (*argv[i] == '\0' || *end != '\0' || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

int
main(int argc, char **argv)
{
    uint64_t depth = 5, breadth = 10, crashes = 1000;
    uint64_t seed = (uint64_t)tr_now_ns();
    if (argc > 5 || !arg_u64(argc, argv, 1, 2, 20, &depth) ||
        !arg_u64(argc, argv, 2, 2, MAX_ACTORS, &breadth) ||
        !arg_u64(argc, argv, 3, 0, MAX_ACTORS, &crashes) ||
        !arg_u64(argc, argv, 4, 1, UINT64_MAX, &seed)) {
        fputs("usage: tree [depth >= 2] [breadth >= 2] [crashes] [seed]\n",
              stderr);
        return 2;
    }
    rng = seed;
    // Supervisors: 1 + b + ... + b^(depth-1); workers b^depth.
    uint64_t sups = 0, level = 1;
    for (uint64_t l = 0; l < depth && level <= MAX_ACTORS; l++) {
        sups += level;
        level *= breadth;
    }
    uint64_t workers = level, adapters = sups - 1;
    uint64_t actors = workers + sups + adapters;
    if (workers > MAX_ACTORS || actors > MAX_ACTORS) {
        fprintf(stderr, "tree: %" PRIu64 " x %" PRIu64 " is over %d actors\n",
                depth, breadth, MAX_ACTORS);
        return 2;
    }
    if (crashes > workers)
        crashes = workers;
    leaf_ref = calloc(workers, sizeof *leaf_ref);
    uint32_t *order = malloc(workers * sizeof *order); // leaves to crash
    if (leaf_ref == NULL || order == NULL)
        return fail("out of memory", TR_ENOMEM);

    struct app app = {0};
    int rc = tr_system_open(&app.sys, NULL);
    if (rc != 0 || (rc = tr_inbox_alloc(&app.ib, app.sys)) != 0)
        return fail("open", rc);
    tr_stats st;
    tr_system_stats(app.sys, &st);
    uint64_t base = st.actors_live; // main's inbox
    printf("tree: depth %" PRIu64 " x breadth %" PRIu64
           ", %u loops, seed %" PRIu64 "\n",
           depth, breadth, tr_system_loops(app.sys), seed);

    // 1. Build. tr_sup_spawn_top returns with the whole tree started: each
    // init runs inside its parent's spawn.
    int32_t intensity = breadth < 3 ? 3 : (int32_t)breadth;
    struct node_arg top = {.level = 0,
                           .depth = (uint32_t)depth,
                           .breadth = (uint32_t)breadth,
                           .intensity = intensity,
                           .report = tr_inbox_ref(app.ib)};
    int64_t t0 = tr_now_ns();
    tr_ref root;
    if ((rc = sup_start(&root, NULL, app.sys, &top)) != 0)
        return fail("build", rc);
    double build_ms = (double)(tr_now_ns() - t0) / 1e6;
    bool ok = wait_counts(&app, workers, adapters) &&
              live(&app, base + actors) == base + actors;
    printf("build     %" PRIu64 " actors (%" PRIu64 " supervisors, %" PRIu64
           " adapters, %" PRIu64 " workers) in %.1f ms%s\n",
           actors, sups, adapters, workers, build_ms, ok ? "" : ": WRONG");

    // 2. Crash `crashes` distinct random leaves at once. Each bottom
    // supervisor loses at most `breadth` leaves: within its intensity.
    for (uint64_t i = 0; i < workers; i++)
        order[i] = (uint32_t)i;
    uint64_t sent = 0;
    t0 = tr_now_ns();
    for (uint64_t i = 0; i < crashes; i++) {
        uint64_t j = i + rnd(workers - i);
        uint32_t k = order[j];
        order[j] = order[i];
        order[i] = k;
        tr_ref r = {atomic_load(&leaf_ref[k])};
        if (tr_system_send(app.sys, r, MSG_CRASH, NULL, 0) == 0)
            sent++;
    }
    uint64_t want_leaves = workers + crashes, want_nodes = adapters;
    bool crashed_ok = wait_counts(&app, want_leaves, want_nodes);
    ok = ok && crashed_ok && sent == crashes;
    printf("crash     %" PRIu64 " random leaves: %" PRIu64
           " restarted in %.1f ms\n",
           crashes, atomic_load(&leaf_starts) - workers,
           crashes > 0 ? ms_to_last_event(t0) : 0.0);

    // 3. Crash a whole subtree: one of the root's children, an adapter.
    // It stops its supervisor and everything below, children first; the
    // root starts it again, which rebuilds the subtree.
    size_t n;
    tr_sup_child *kids = which_children(&app, root, &n);
    if (kids == NULL || n != breadth)
        return fail("which_children", TR_EINVAL);
    uint64_t pick = rnd(breadth);
    uint64_t sub_leaves = workers / breadth, sub_nodes = adapters / breadth;
    uint64_t stops0 = atomic_load(&leaf_stops);
    t0 = tr_now_ns();
    rc = tr_system_send(app.sys, kids[pick].ref, MSG_CRASH, NULL, 0);
    free(kids);
    want_leaves += sub_leaves;
    want_nodes += sub_nodes;
    ok = ok && rc == 0 && wait_counts(&app, want_leaves, want_nodes);
    printf("subtree   root's child %" PRIu64 " crashed: %" PRIu64
           " actors (%" PRIu64 " workers) stopped and rebuilt in %.1f ms\n",
           pick, 2 * sub_nodes + sub_leaves, atomic_load(&leaf_stops) - stops0,
           ms_to_last_event(t0));

    // 4. Escalation: crash one leaf again and again. Its supervisor
    // restarts it `intensity` times within PERIOD_MS, then gives up with
    // TR_EINTENSITY; the adapter above follows, and its own supervisor
    // starts the whole bottom subtree again.
    uint64_t first = rnd(workers / breadth) * breadth;
    uint64_t nodes0 = atomic_load(&node_starts), single = 0, tries = 0;
    bool waited = true;
    while (waited && atomic_load(&node_starts) == nodes0 &&
           tries++ <= (uint64_t)intensity) {
        uint64_t old = atomic_load(&leaf_ref[first]);
        t0 = tr_now_ns(); // the last crash's time, once the loop ends
        tr_system_send(app.sys, (tr_ref){old}, MSG_CRASH, NULL, 0);
        int64_t until = t0 + (int64_t)WAIT_MS * 1000000;
        while (atomic_load(&node_starts) == nodes0 &&
               atomic_load(&leaf_ref[first]) == old &&
               (waited = tr_now_ns() < until))
            take(&app, 1);
        if (waited && atomic_load(&node_starts) == nodes0)
            single++; // restarted alone
    }
    want_leaves += single + breadth;
    want_nodes += 1;
    ok = ok && waited && wait_counts(&app, want_leaves, want_nodes);
    while (app.escalations == 0 && tr_now_ns() - t0 < WAIT_MS * 1000000LL)
        take(&app, 1);
    ok = ok && app.escalations == 1;
    printf("escalate  leaf %" PRIu64 " crashed %" PRIu64 " times: %" PRIu64
           " restarts, then its supervisor quit (%s);\n"
           "          the level above restarted it with %" PRIu64
           " leaves in %.2f ms\n",
           first, tries, single, reason_name(app.escalated_reason), breadth,
           ms_to_last_event(t0));

    // 5. What the supervisors restarted.
    uint64_t root_restarts = 0;
    if ((kids = which_children(&app, root, &n)) != NULL) {
        for (size_t i = 0; i < n; i++)
            root_restarts += kids[i].restarts;
        free(kids);
    }
    printf("restarts  %" PRIu64 " workers, %" PRIu64 " subtrees (%" PRIu64
           " by the root, as its which_children says)\n",
           atomic_load(&leaf_starts) - workers,
           atomic_load(&node_starts) - adapters, root_restarts);

    // 6. Stop the tree: one tr_system_stop, then the root's DOWN.
    uint64_t mon;
    if ((rc = tr_inbox_monitor(app.ib, root, &mon)) != 0)
        return fail("monitor", rc);
    t0 = tr_now_ns();
    tr_system_stop(app.sys, root, TR_EXIT_SHUTDOWN);
    while (!app.down && tr_now_ns() - t0 < WAIT_MS * 1000000LL)
        take(&app, WAIT_MS);
    double stop_ms = (double)(tr_now_ns() - t0) / 1e6;
    uint64_t left = live(&app, base) - base;
    ok = ok && app.down && left == 0 &&
         atomic_load(&leaf_stops) == atomic_load(&leaf_starts);
    printf("shutdown  %" PRIu64 " actors in %.1f ms, root DOWN: %s; %" PRIu64
           " worker stops for %" PRIu64 " starts\n",
           actors, stop_ms, app.down ? reason_name(app.down_reason) : "none",
           atomic_load(&leaf_stops), atomic_load(&leaf_starts));

    // 7. Close, and show that nothing leaked.
    tr_inbox_free(app.ib);
    t0 = tr_now_ns();
    if ((rc = tr_system_close(app.sys, WAIT_MS, &st)) != 0)
        return fail("close", rc);
    // The dead letters are DOWNs: a child stopped with its supervisor
    // sends its DOWN to a watcher that is stopping too, which never reads
    // it, so one per actor stopped from above.
    printf("closed    actors_live %" PRIu64 "; %" PRIu64 " spawned, %" PRIu64
           " crashed, %" PRIu64 " msgs, %" PRIu64 " dead letters\n",
           st.actors_live, st.actors_spawned, st.actors_crashed, st.msgs_sent,
           st.dead_letters);
    free(leaf_ref);
    free(order);
    ok = ok && st.actors_live == 0;
    if (!ok)
        fputs("tree: a check failed (see above)\n", stderr);
    return ok ? 0 : 1;
}
