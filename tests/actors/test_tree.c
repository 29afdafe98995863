// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// The ownership tree: a tree of 111,111 actors stops child-first, newest
// sibling first, every stop hook exactly once, nothing left behind; and
// stopping one subtree leaves the rest running.
#include "tests/test.h"

#include <stdlib.h>
#include <string.h>

#define BREADTH 10
#define DEPTH   5 // levels below the root: 1 + 10 + ... + 10^5 nodes
#define NODES   111111

struct tree_arg {
    int depth;
    int parent;  // node id, -1 for the root
    int index;   // position among its siblings, in spawn order
    bool spread; // children round-robin over the loops
};

// Filled by actors, read by the test thread after tr_system_close.
static _Atomic int next_id;
static _Atomic int stop_clock;
static int parent_of[NODES], index_of[NODES], stop_at[NODES];
static _Atomic int stops[NODES];

struct node {
    int id;
};

static const tr_behavior node;

static int
node_init(tr_ctx *ctx, const void *arg, size_t len)
{
    struct node *n = tr_state(ctx);
    struct tree_arg a;
    if (len != sizeof a)
        return TR_EINVAL;
    memcpy(&a, arg, sizeof a);
    n->id = atomic_fetch_add(&next_id, 1);
    if (n->id >= NODES)
        return TR_ELIMIT;
    parent_of[n->id] = a.parent;
    index_of[n->id] = a.index;
    if (a.depth == 0)
        return 0;
    tr_spawn_opts o = {.placement =
                           a.spread ? TR_PLACE_ROUND_ROBIN : TR_PLACE_PARENT};
    for (int i = 0; i < BREADTH; i++) {
        struct tree_arg c = {a.depth - 1, n->id, i, false};
        tr_ref r;
        int rc = tr_spawn(&r, ctx, &node, &c, sizeof c, &o);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int
node_receive(tr_ctx *ctx, const tr_msg *m)
{
    struct node *n = tr_state(ctx);
    // Answer with the id, so the test can find subtrees.
    return tr_reply(ctx, m, 1, &n->id, sizeof n->id);
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
reset(void)
{
    atomic_store(&next_id, 0);
    atomic_store(&stop_clock, 0);
    for (int i = 0; i < NODES; i++)
        atomic_store(&stops[i], 0);
}

// Checks every node stopped once, after all its children, and each after
// its newer siblings.
static void
check_order(void)
{
    int *last_kid = malloc(NODES * sizeof *last_kid); // newest seen so far
    assert_non_null(last_kid);
    for (int i = 0; i < NODES; i++)
        last_kid[i] = -1;
    for (int id = 0; id < NODES; id++) {
        assert_int_equal(atomic_load(&stops[id]), 1);
        int p = parent_of[id];
        if (p < 0)
            continue;
        assert_true(stop_at[id] < stop_at[p]);
        int k = last_kid[p];
        if (k >= 0) {
            // Siblings were numbered in spawn order, so ids grow with index.
            assert_true(index_of[id] > index_of[k]);
            assert_true(stop_at[id] < stop_at[k]);
        }
        last_kid[p] = id;
    }
    free(last_kid);
}

static void
run_tree(unsigned loops, bool spread)
{
    reset();
    tr_system *sys;
    tr_config cfg = {.loops = loops};
    assert_int_equal(tr_system_open(&sys, &cfg), 0);
    struct tree_arg root = {DEPTH, -1, 0, spread};
    tr_ref r;
    int64_t t0 = tr_now_ns();
    assert_int_equal(tr_system_spawn(&r, sys, &node, &root, sizeof root, NULL),
                     0);
    int64_t t1 = tr_now_ns();
    assert_int_equal(atomic_load(&next_id), NODES);
    tr_stats st;
    tr_system_stats(sys, &st);
    assert_int_equal(st.actors_spawned, NODES);
    assert_int_equal(tr_system_close(sys, TEST_WAIT_MS, &st), 0);
    int64_t t2 = tr_now_ns();
    assert_int_equal(st.actors_live, 0);
    assert_int_equal(atomic_load(&stop_clock), NODES);
    check_order();
    print_message("%d actors on %u loops: spawn %.0f ms, stop %.0f ms\n", NODES,
                  loops, (t1 - t0) / 1e6, (t2 - t1) / 1e6);
}

static void
test_tree_one_loop(void **state)
{
    (void)state;
    run_tree(1, false);
}

static void
test_tree_spread_over_loops(void **state)
{
    (void)state;
    run_tree(3, true);
}

static void
test_stopping_a_subtree_leaves_the_rest(void **state)
{
    (void)state;
    reset();
    tr_system *sys;
    tr_config cfg = {.loops = 2};
    assert_int_equal(tr_system_open(&sys, &cfg), 0);
    tr_inbox *ib;
    assert_int_equal(tr_inbox_alloc(&ib, sys), 0);
    // Two small top-level trees: depth 2 is 1 + 10 + 100 nodes each.
    struct tree_arg a = {2, -1, 0, true};
    tr_ref t1, t2;
    assert_int_equal(tr_system_spawn(&t1, sys, &node, &a, sizeof a, NULL), 0);
    assert_int_equal(tr_system_spawn(&t2, sys, &node, &a, sizeof a, NULL), 0);
    assert_int_equal(tr_system_stop(sys, t1, TR_EXIT_NORMAL), 0);
    // The other tree still answers while the first goes.
    assert_int_equal(tr_inbox_send(ib, t2, 1, NULL, 0), 0);
    tr_msg_free(test_recv(ib, 1));
    int64_t end = tr_now_ns() + (int64_t)TEST_WAIT_MS * 1000000;
    tr_stats st;
    do {
        tr_system_stats(sys, &st);
    } while (st.actors_live != 111 + 1 && tr_now_ns() < end && !sched_yield());
    assert_int_equal(st.actors_live, 111 + 1); // tree 2 and the inbox
    assert_int_equal(atomic_load(&stop_clock), 111);
    for (int id = 0; id < 111; id++)
        assert_int_equal(atomic_load(&stops[id]), 1);
    for (int id = 111; id < 222; id++)
        assert_int_equal(atomic_load(&stops[id]), 0);
    assert_int_equal(tr_inbox_send(ib, t1, 1, NULL, 0), TR_ENOACTOR);
    tr_inbox_free(ib);
    test_close(sys);
    assert_int_equal(atomic_load(&stop_clock), 222);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tree_one_loop),
        cmocka_unit_test(test_tree_spread_over_loops),
        cmocka_unit_test(test_stopping_a_subtree_leaves_the_rest),
    };
    test_main("actors/tree", tests, argc, argv);
}
