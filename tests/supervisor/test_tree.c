// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// A supervised tree of over 100,000 actors, spread over the loops, shut
// down under a deadline: every stop hook runs once, children before
// parents.
#include <troupe/supervisor.h>

#include "tests/test.h"

#include <stdlib.h>
#include <string.h>

#define BREADTH 10
#define DEPTH   5 // node levels: 11,111 nodes, 100,000 leaves below them
#define NODES   111111

// A node starts a supervisor whose children are the next level's nodes,
// or leaves at the bottom. Every node and leaf has an id.
struct node_arg {
    int depth;
    int parent;
};

static _Atomic int next_id, stop_clock;
static int parent_of[NODES + 16], stop_at[NODES + 16];
static _Atomic int stops[NODES + 16];

struct node {
    int id;
};

static const tr_behavior node;

static int
node_init(tr_ctx *ctx, const void *arg, size_t len)
{
    struct node *n = tr_state(ctx);
    struct node_arg a;
    if (len != sizeof a)
        return TR_EINVAL;
    memcpy(&a, arg, sizeof a);
    n->id = atomic_fetch_add(&next_id, 1);
    if (n->id >= NODES)
        return TR_ELIMIT;
    parent_of[n->id] = a.parent;
    if (a.depth == 0)
        return 0; // a leaf
    struct node_arg kids = {a.depth - 1, n->id};
    tr_child_spec k[BREADTH];
    for (int i = 0; i < BREADTH; i++)
        k[i] = (tr_child_spec){.id = "node",
                               .behavior = &node,
                               .arg = &kids,
                               .len = sizeof kids,
                               .restart = TR_PERMANENT,
                               .opts = {.placement = a.depth == DEPTH
                                                         ? TR_PLACE_ROUND_ROBIN
                                                         : TR_PLACE_PARENT}};
    tr_sup_spec s = {.strategy = TR_ONE_FOR_ONE, .children = k, .n = BREADTH};
    tr_ref sup;
    return tr_sup_spawn(&sup, ctx, &s);
}

static int
node_receive(tr_ctx *ctx, const tr_msg *m)
{
    (void)ctx, (void)m;
    return 0;
}

static void
node_stop(tr_ctx *ctx, int reason)
{
    (void)reason;
    struct node *n = tr_state(ctx);
    stop_at[n->id] = atomic_fetch_add(&stop_clock, 1);
    atomic_fetch_add(&stops[n->id], 1);
}

static const tr_behavior node = {
    .name = "node",
    .state_size = sizeof(struct node),
    .init = node_init,
    .receive = node_receive,
    .stop = node_stop,
};

static void
test_supervised_tree_shuts_down_children_first(void **state)
{
    (void)state;
    tr_system *sys;
    tr_config cfg = {.loops = 2};
    assert_int_equal(tr_system_open(&sys, &cfg), 0);
    struct node_arg root = {DEPTH, -1};
    tr_ref r;
    int64_t t0 = tr_now_ns();
    assert_int_equal(tr_system_spawn(&r, sys, &node, &root, sizeof root, NULL),
                     0);
    int64_t t1 = tr_now_ns();
    int nodes = atomic_load(&next_id);
    assert_int_equal(nodes, NODES);
    tr_stats st;
    tr_system_stats(sys, &st);
    // Nodes, plus a supervisor under each node that is not a leaf.
    assert_int_equal(st.actors_live, NODES + (NODES - 100000));
    assert_int_equal(tr_system_close(sys, TEST_WAIT_MS, &st), 0);
    int64_t t2 = tr_now_ns();
    assert_int_equal(st.actors_live, 0);
    assert_int_equal(st.actors_crashed, 0);
    for (int id = 0; id < NODES; id++) {
        assert_int_equal(atomic_load(&stops[id]), 1);
        if (parent_of[id] >= 0)
            assert_true(stop_at[id] < stop_at[parent_of[id]]);
    }
    print_message("%llu actors: start %.0f ms, shutdown %.0f ms\n",
                  (unsigned long long)(NODES + (NODES - 100000)),
                  (t1 - t0) / 1e6, (t2 - t1) / 1e6);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_supervised_tree_shuts_down_children_first),
    };
    test_main("supervisor/tree", tests, argc, argv);
}
