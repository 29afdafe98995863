// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// nodes.h: cluster nodes for tests, each its own tr_system in this
// process, over loopback TCP: two loops, a 100 ms heartbeat, a timeout for
// sanitizer builds on a loaded machine, quick redials.
#ifndef TR_TESTS_NODES_H
#define TR_TESTS_NODES_H

#include "tests/test.h"

#include <troupe/cluster.h>

#include <string.h>

static const char test_secret[] = "test secret";

// What a test may change; every field may be left 0 (NULL: all of them).
struct test_node_opts {
    const char *key;     // the cluster secret (test_secret)
    tr_log_fn log_fn;    // the system's log sink (the default's)
    size_t outbox_bytes; // per peer (the node's default)
};

// test_node_open starts node `name`, dialling `seed` unless it is NULL.
static inline tr_system *
test_node_open(const char *name, const char *seed,
               const struct test_node_opts *o)
{
    static const struct test_node_opts none;
    if (o == NULL)
        o = &none;
    const char *key = o->key != NULL ? o->key : test_secret;
    tr_system *sys;
    tr_config cfg = {.loops = 2, .log_fn = o->log_fn};
    assert_int_equal(tr_system_open(&sys, &cfg), 0);
    const char *seeds[1] = {seed};
    tr_node_config nc = {
        .name = name,
        .listen = "tcp://127.0.0.1:0",
        .seeds = seeds,
        .nseeds = seed != NULL,
        .secret = key,
        .secret_len = strlen(key),
        .heartbeat_ms = 100,
        .timeout_ms = 5000, // sanitizer builds on a loaded machine
        .reconnect_min_ms = 20,
        .reconnect_max_ms = 200,
        .outbox_bytes = o->outbox_bytes,
    };
    assert_int_equal(tr_node_start(sys, &nc), 0);
    return sys;
}

// test_pair_open starts nodes "a" and "b", b dialling a, and waits until
// each sees the other.
static inline void
test_pair_open(tr_system **a, tr_system **b, const struct test_node_opts *o)
{
    char url[256];
    *a = test_node_open("a", NULL, o);
    assert_int_equal(tr_node_url(*a, url, sizeof url), 0);
    *b = test_node_open("b", url, o);
    assert_int_equal(tr_node_wait_peers(*a, 1, TEST_WAIT_MS), 0);
    assert_int_equal(tr_node_wait_peers(*b, 1, TEST_WAIT_MS), 0);
}

#endif
