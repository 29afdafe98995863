// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// hello: a first tour of troupe. A counter actor takes a million adds from
// main and from actors on every loop, a tree of greeters shows ownership
// (stopping the root stops the whole tree, children first, every stop hook
// once), and the system closes with a deadline and reports what leaked:
// nothing.
//
//   hello [greeters]   (default 10000)
#include <troupe.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MSG_ADD = 1, MSG_GET, MSG_TOTAL, MSG_FLOOD, MSG_DONE };

// --- a counter: the README's example -----------------------------------
struct counter {
    int64_t total;
};

static int
counter_receive(tr_ctx *ctx, const tr_msg *m)
{
    struct counter *c = tr_state(ctx);
    switch (tr_msg_type(m)) {
    case MSG_ADD:
        c->total += *(const int64_t *)tr_msg_data(m);
        return 0;
    case MSG_GET:
        return tr_reply(ctx, m, MSG_TOTAL, &c->total, sizeof c->total);
    default:
        return TR_EUNHANDLED;
    }
}

static const tr_behavior counter = {
    .name = "counter",
    .state_size = sizeof(struct counter),
    .receive = counter_receive,
};

// --- an adder: sends `n` adds of 1 to the counter, then tells main -------
struct adder_job {
    tr_ref counter, report;
    int n;
};

static int
adder_receive(tr_ctx *ctx, const tr_msg *m)
{
    struct adder_job job;
    memcpy(&job, tr_msg_data(m), sizeof job);
    int64_t one = 1;
    for (int i = 0; i < job.n; i++) {
        int rc = tr_send(ctx, job.counter, MSG_ADD, &one, sizeof one);
        if (rc != 0)
            return rc;
    }
    return tr_send(ctx, job.report, MSG_DONE, NULL, 0);
}

static const tr_behavior adder = {.name = "adder", .receive = adder_receive};

// --- greeters: a tree; each stop hook counts itself ---------------------
static atomic_int greeters_stopped;

static const tr_behavior greeter;

static int
greeter_init(tr_ctx *ctx, const void *arg, size_t len)
{
    (void)len;
    int n = *(const int *)arg; // actors in this subtree, this one included
    int kids = n - 1 < 10 ? n - 1 : 10;
    int rest = n - 1;
    for (int i = 0; i < kids; i++) {
        int share = rest / (kids - i);
        rest -= share;
        tr_spawn_opts o = {.placement = TR_PLACE_ROUND_ROBIN};
        tr_ref child;
        int rc = tr_spawn(&child, ctx, &greeter, &share, sizeof share, &o);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int
greeter_receive(tr_ctx *ctx, const tr_msg *m)
{
    (void)ctx, (void)m;
    return 0;
}

static void
greeter_stop(tr_ctx *ctx, int reason)
{
    (void)ctx, (void)reason;
    atomic_fetch_add(&greeters_stopped, 1);
}

static const tr_behavior greeter = {
    .name = "greeter",
    .init = greeter_init,
    .receive = greeter_receive,
    .stop = greeter_stop,
};

static double
ms_since(int64_t t0)
{
    return (double)(tr_now_ns() - t0) / 1e6;
}

static int
fail(const char *what, int rc)
{
    fprintf(stderr, "hello: %s: %s (%s)\n", what, tr_strerror(rc),
            tr_errname(rc));
    return 1;
}

int
main(int argc, char **argv)
{
    int greeters = argc > 1 ? atoi(argv[1]) : 10000;
    if (greeters < 1)
        greeters = 1;
    tr_system *sys;
    int rc = tr_system_open(&sys, NULL);
    if (rc != 0)
        return fail("open", rc);
    unsigned loops = tr_system_loops(sys);
    printf("troupe hello: %u loops\n", loops);

    tr_inbox *ib;
    tr_ref c;
    if ((rc = tr_inbox_alloc(&ib, sys)) != 0 ||
        (rc = tr_system_spawn(&c, sys, &counter, NULL, 0, NULL)) != 0)
        return fail("start", rc);

    // 1. A million adds: half from main, half from one adder per loop.
    int64_t t0 = tr_now_ns(), one = 1;
    int from_main = 500000, per_adder = 500000 / (int)loops;
    for (int i = 0; i < from_main; i++)
        if ((rc = tr_system_send(sys, c, MSG_ADD, &one, sizeof one)) != 0)
            return fail("send", rc);
    for (unsigned l = 0; l < loops; l++) {
        tr_spawn_opts o = {.placement = TR_PLACE_LOOP, .loop = l};
        tr_ref a;
        struct adder_job job = {c, tr_inbox_ref(ib), per_adder};
        if ((rc = tr_system_spawn(&a, sys, &adder, NULL, 0, &o)) != 0 ||
            (rc = tr_system_send(sys, a, 1, &job, sizeof job)) != 0)
            return fail("adder", rc);
    }
    tr_msg *m;
    for (unsigned l = 0; l < loops; l++) {
        if ((rc = tr_inbox_recv(ib, &m, 30000)) != 0)
            return fail("waiting for adders", rc);
        tr_msg_free(m);
    }
    // Per-pair FIFO: this GET arrives after main's adds; the adders said
    // DONE after sending theirs.
    if ((rc = tr_inbox_send(ib, c, MSG_GET, NULL, 0)) != 0 ||
        (rc = tr_inbox_recv(ib, &m, 30000)) != 0)
        return fail("get", rc);
    int64_t total = *(const int64_t *)tr_msg_data(m),
            want = from_main + (int64_t)per_adder * loops;
    tr_msg_free(m);
    printf("counter: total %lld of %lld adds in %.1f ms (%s)\n",
           (long long)total, (long long)want, ms_since(t0),
           total == want ? "checked" : "WRONG");

    // 2. A tree of greeters, spread over the loops.
    t0 = tr_now_ns();
    tr_ref root;
    if ((rc = tr_system_spawn(&root, sys, &greeter, &greeters, sizeof greeters,
                              NULL)) != 0)
        return fail("greeters", rc);
    printf("greeters: spawned a tree of %d in %.1f ms\n", greeters,
           ms_since(t0));
    t0 = tr_now_ns();
    tr_system_stop(sys, root, TR_EXIT_NORMAL);
    while (atomic_load(&greeters_stopped) < greeters &&
           tr_now_ns() - t0 < 30000000000LL)
        tr_inbox_recv(ib, &m, 1); // a short, bounded wait
    printf("greeters: stopped all %d, children first, in %.1f ms\n",
           atomic_load(&greeters_stopped), ms_since(t0));
    int64_t one_more = 1;
    rc = tr_system_send(sys, root, MSG_ADD, &one_more, sizeof one_more);
    printf("greeters: a send to the stopped root gets %s\n", tr_errname(rc));

    // 3. Close with a deadline; the counter is stopped for us.
    tr_inbox_free(ib);
    tr_stats st;
    t0 = tr_now_ns();
    if ((rc = tr_system_close(sys, 10000, &st)) != 0)
        return fail("close", rc);
    printf("closed in %.1f ms: %llu actors spawned, %llu messages, %llu "
           "live, %llu dead letters\n",
           ms_since(t0), (unsigned long long)st.actors_spawned,
           (unsigned long long)st.msgs_sent, (unsigned long long)st.actors_live,
           (unsigned long long)st.dead_letters);
    return total == want && st.actors_live == 0 &&
                   atomic_load(&greeters_stopped) == greeters
               ? 0
               : 1;
}
