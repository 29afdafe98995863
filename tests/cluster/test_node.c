// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// Nodes in one process, each its own tr_system, over loopback TCP.
#define _POSIX_C_SOURCE 200809L
#include "tests/actors/probe.h"
#include "tests/cluster/nodes.h"

#include <troupe/cluster.h>
#include <troupe/pack.h>

#include <nng/nng.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

// Spawns a probe on `sys` reporting to `report`, registered as `name`, and
// waits until `other` sees the name; returns the ref as `other` names it.
static tr_ref
remote_probe(tr_system *sys, tr_ref report, const char *name, tr_system *other,
             tr_ref *local)
{
    tr_ref p;
    assert_int_equal(
        tr_system_spawn(&p, sys, &probe, &report, sizeof report, NULL), 0);
    assert_int_equal(tr_register(sys, name, p), 0);
    tr_ref r = TR_REF_NONE;
    TEST_WAIT_UNTIL(tr_whereis(other, name, &r) == 0);
    assert_int_equal(tr_whereis(other, name, &r), 0);
    assert_int_not_equal(r.bits >> 48, 0);
    if (local != NULL)
        *local = p;
    return r;
}

static void
test_call_across_nodes(void **state)
{
    (void)state;
    tr_system *a, *b;
    test_pair_open(&a, &b, NULL);
    tr_ref echo = remote_probe(b, TR_REF_NONE, "echo", a, NULL);
    char node[TR_NODE_NAME_MAX];
    assert_int_equal(tr_ref_node(a, echo, node, sizeof node), 0);
    assert_string_equal(node, "b");
    for (int i = 0; i < 100; i++) {
        tr_msg *reply;
        assert_int_equal(
            tr_call(a, echo, P_ECHO, &i, sizeof i, TEST_WAIT_MS, &reply), 0);
        assert_int_equal(tr_msg_type(reply), P_ECHO);
        assert_int_equal(tr_msg_size(reply), sizeof i);
        assert_memory_equal(tr_msg_data(reply), &i, sizeof i);
        assert_true(tr_ref_eq(tr_msg_sender(reply), echo));
        tr_msg_free(reply);
    }
    tr_node_stats st;
    assert_int_equal(tr_node_stats_get(a, &st), 0);
    assert_int_equal(st.peers_up, 1);
    assert_true(st.msgs_out >= 100 && st.msgs_in >= 100);
    test_close(b);
    test_close(a);
}

// A counter on b checks that a's numbers arrive in order.
struct seq {
    uint64_t next;
    bool broken;
};

enum { SEQ_N = 1, SEQ_GET };

static int
seq_receive(tr_ctx *ctx, const tr_msg *m)
{
    struct seq *s = tr_state(ctx);
    if (tr_msg_type(m) == SEQ_N) {
        uint64_t v;
        memcpy(&v, tr_msg_data(m), sizeof v);
        if (v != s->next)
            s->broken = true;
        s->next = v + 1;
        return 0;
    }
    uint64_t r = s->broken ? UINT64_MAX : s->next;
    return tr_reply(ctx, m, SEQ_GET, &r, sizeof r);
}

static const tr_behavior seq_b = {
    .name = "seq",
    .state_size = sizeof(struct seq),
    .receive = seq_receive,
};

static void
test_fifo_under_load(void **state)
{
    (void)state;
    tr_system *a, *b;
    test_pair_open(&a, &b, NULL);
    tr_ref s;
    assert_int_equal(tr_system_spawn(&s, b, &seq_b, NULL, 0, NULL), 0);
    assert_int_equal(tr_register(b, "seq", s), 0);
    tr_ref rs;
    TEST_WAIT_UNTIL(tr_whereis(a, "seq", &rs) == 0);
    assert_int_equal(tr_whereis(a, "seq", &rs), 0);
    const uint64_t n = 200000;
    uint64_t full = 0;
    for (uint64_t i = 0; i < n;) {
        int rc = tr_system_send(a, rs, SEQ_N, &i, sizeof i);
        if (rc == TR_EFULL) {
            full++;
            sched_yield();
            continue;
        }
        assert_int_equal(rc, 0);
        i++;
    }
    tr_msg *reply;
    assert_int_equal(tr_call(a, rs, SEQ_GET, NULL, 0, TEST_WAIT_MS, &reply), 0);
    uint64_t got;
    memcpy(&got, tr_msg_data(reply), sizeof got);
    tr_msg_free(reply);
    assert_true(got == n);
    tr_node_stats st;
    tr_node_stats_get(a, &st);
    // Batched: far fewer writes than messages.
    assert_true(st.frames_out < n / 2);
    test_close(b);
    test_close(a);
}

static void
test_monitor_and_link_across_nodes(void **state)
{
    (void)state;
    tr_system *a, *b;
    test_pair_open(&a, &b, NULL);
    tr_inbox *ib;
    assert_int_equal(tr_inbox_alloc(&ib, a), 0);
    tr_ref me = tr_inbox_ref(ib);
    tr_ref target = remote_probe(b, TR_REF_NONE, "target", a, NULL);
    tr_ref watcher;
    assert_int_equal(tr_system_spawn(&watcher, a, &probe, &me, sizeof me, NULL),
                     0);
    tr_msg *m;
    assert_int_equal(
        tr_inbox_send(ib, watcher, P_MONITOR, &target, sizeof target), 0);
    m = test_recv(ib, P_MONITOR);
    uint64_t mon;
    memcpy(&mon, tr_msg_data(m), sizeof mon);
    tr_msg_free(m);
    // The target crashes with a reason and a text: both cross over.
    assert_int_equal(
        tr_inbox_send(ib, target, P_EXIT_TEXT, &(int){TR_EBUSY}, sizeof(int)),
        0);
    assert_int_equal(
        tr_inbox_send(ib, target, P_CRASH, &(int){TR_EBUSY}, sizeof(int)), 0);
    m = test_recv(ib, P_GOT_DOWN);
    tr_down d;
    memcpy(&d, tr_msg_data(m), sizeof d);
    tr_msg_free(m);
    assert_true(d.mon == mon);
    assert_true(tr_ref_eq(d.who, target));
    assert_int_equal(d.reason, TR_EBUSY);
    assert_string_equal(d.text, "database unreachable");

    // A link: b's probe dies abnormally, a's linked probe (trapping) hears.
    tr_ref t2 = remote_probe(b, TR_REF_NONE, "t2", a, NULL);
    assert_int_equal(tr_inbox_send(ib, watcher, P_TRAP, NULL, 0), 0);
    tr_msg_free(test_recv(ib, P_ECHO));
    assert_int_equal(tr_inbox_send(ib, watcher, P_LINK, &t2, sizeof t2), 0);
    m = test_recv(ib, P_ECHO);
    int rc;
    memcpy(&rc, tr_msg_data(m), sizeof rc);
    tr_msg_free(m);
    assert_int_equal(rc, 0);
    // The link has reached b once a monitor set after it reports back:
    // b handles a's signals in order. Then stop t2 remotely.
    assert_int_equal(tr_system_stop(a, t2, TR_ECANCELED), 0);
    m = test_recv(ib, P_GOT_EXIT);
    tr_exit_info x;
    memcpy(&x, tr_msg_data(m), sizeof x);
    tr_msg_free(m);
    assert_true(tr_ref_eq(x.who, t2));
    assert_int_equal(x.reason, TR_ECANCELED);
    // A monitor on a ref that is gone gets its DOWN with TR_ENOACTOR.
    assert_int_equal(tr_inbox_send(ib, watcher, P_MONITOR, &t2, sizeof t2), 0);
    tr_msg_free(test_recv(ib, P_MONITOR));
    m = test_recv(ib, P_GOT_DOWN);
    memcpy(&d, tr_msg_data(m), sizeof d);
    tr_msg_free(m);
    assert_int_equal(d.reason, TR_ENOACTOR);
    tr_inbox_free(ib);
    test_close(b);
    test_close(a);
}

// A slow responder on b; a's request is pending when b goes away.
static int
sink_receive(tr_ctx *ctx, const tr_msg *m)
{
    (void)ctx;
    (void)m;
    return 0; // never replies
}

static const tr_behavior sink_b = {.name = "sink", .receive = sink_receive};

// An actor on a that asks `target` (arg) once, with a 10 s deadline, and
// reports the outcome to the inbox.
struct asker {
    tr_ref target, report;
};

static void
asker_done(tr_ctx *ctx, int status, const tr_msg *reply, void *cookie)
{
    (void)reply;
    (void)cookie;
    struct asker *s = tr_state(ctx);
    tr_send(ctx, s->report, P_ECHO, &status, sizeof status);
}

static int
asker_init(tr_ctx *ctx, const void *arg, size_t len)
{
    struct asker *s = tr_state(ctx);
    assert_int_equal(len, sizeof *s);
    memcpy(s, arg, sizeof *s);
    return tr_request(ctx, NULL, s->target, 1, NULL, 0, 10000, asker_done,
                      NULL);
}

static int
asker_receive(tr_ctx *ctx, const tr_msg *m)
{
    (void)ctx;
    (void)m;
    return TR_EUNHANDLED;
}

static const tr_behavior asker_b = {
    .name = "asker",
    .state_size = sizeof(struct asker),
    .init = asker_init,
    .receive = asker_receive,
};

static void
test_node_loss_fails_fast(void **state)
{
    (void)state;
    tr_system *a, *b;
    test_pair_open(&a, &b, NULL);
    tr_ref sink;
    assert_int_equal(tr_system_spawn(&sink, b, &sink_b, NULL, 0, NULL), 0);
    assert_int_equal(tr_register(b, "sink", sink), 0);
    tr_ref rs;
    TEST_WAIT_UNTIL(tr_whereis(a, "sink", &rs) == 0);
    assert_int_equal(tr_whereis(a, "sink", &rs), 0);
    tr_inbox *ib;
    assert_int_equal(tr_inbox_alloc(&ib, a), 0);
    uint64_t mon;
    assert_int_equal(tr_inbox_monitor(ib, rs, &mon), 0);
    struct asker arg = {rs, tr_inbox_ref(ib)};
    tr_ref asker;
    assert_int_equal(
        tr_system_spawn(&asker, a, &asker_b, &arg, sizeof arg, NULL), 0);
    // The request has reached b once the sink's monitor is known there:
    // wait for b's traffic counter instead of sleeping.
    tr_node_stats st;
    TEST_WAIT_UNTIL(tr_node_stats_get(b, &st) == 0 && st.msgs_in >= 2);
    int64_t t0 = tr_now_ns();
    assert_int_equal(tr_node_disconnect(a, "b"), 0);
    // The monitor fires with noconnection, and the pending request fails
    // with TR_EDOWN at once, not at its 10 s deadline.
    tr_msg *m = test_recv(ib, TR_MSG_DOWN);
    tr_down d;
    memcpy(&d, tr_msg_data(m), sizeof d);
    tr_msg_free(m);
    assert_int_equal(d.reason, TR_ENOCONN);
    assert_true(d.mon == mon);
    m = test_recv(ib, P_ECHO);
    int status;
    memcpy(&status, tr_msg_data(m), sizeof status);
    tr_msg_free(m);
    assert_int_equal(status, TR_EDOWN);
    assert_true(tr_now_ns() - t0 < 5000 * INT64_C(1000000));
    tr_inbox_free(ib);
    test_close(b);
    // Names go with their node.
    tr_ref gone;
    TEST_WAIT_UNTIL(tr_whereis(a, "sink", &gone) != 0);
    assert_int_equal(tr_whereis(a, "sink", &gone), TR_ENOACTOR);
    test_close(a);
}

static void
test_node_events(void **state)
{
    (void)state;
    char url[256];
    tr_system *a = test_node_open("a", NULL, NULL);
    tr_inbox *ib;
    assert_int_equal(tr_inbox_alloc(&ib, a), 0);
    assert_int_equal(tr_node_monitor(a, tr_inbox_ref(ib)), 0);
    assert_int_equal(tr_node_url(a, url, sizeof url), 0);
    tr_system *b = test_node_open("b", url, NULL);
    tr_msg *m = test_recv(ib, TR_MSG_NODEUP);
    tr_node_event ev;
    memcpy(&ev, tr_msg_data(m), sizeof ev);
    tr_msg_free(m);
    assert_string_equal(ev.name, "b");
    assert_int_equal(tr_node_disconnect(a, "b"), 0);
    m = test_recv(ib, TR_MSG_NODEDOWN);
    memcpy(&ev, tr_msg_data(m), sizeof ev);
    tr_msg_free(m);
    assert_string_equal(ev.name, "b");
    assert_int_equal(ev.reason, TR_ENOCONN);
    // b dialled a, so b redials, and a hears it come back.
    tr_msg_free(test_recv(ib, TR_MSG_NODEUP));
    tr_inbox_free(ib);
    test_close(b);
    test_close(a);
}

static void
test_wrong_secret_refused(void **state)
{
    (void)state;
    char url[256];
    tr_system *a = test_node_open("a", NULL, NULL);
    assert_int_equal(tr_node_url(a, url, sizeof url), 0);
    tr_system *c = test_node_open(
        "c", url, &(struct test_node_opts){.key = "not the secret"});
    tr_node_stats st = {0};
    TEST_WAIT_UNTIL(tr_node_stats_get(c, &st) == 0 && st.auth_failures > 0);
    assert_true(st.auth_failures > 0);
    assert_int_equal(tr_node_wait_peers(a, 1, 300), TR_ETIMEDOUT);
    assert_int_equal(tr_node_wait_peers(c, 1, 10), TR_ETIMEDOUT);
    test_close(c);
    test_close(a);
}

// Raw bytes at a node: oversize, truncated and random frames are refused
// and counted; the node keeps serving its peers.
static void
raw_send(const char *url, const void *bytes, size_t len)
{
    nng_stream_dialer *d;
    nng_aio *aio;
    assert_int_equal(nng_stream_dialer_alloc(&d, url), 0);
    assert_int_equal(nng_aio_alloc(&aio, NULL, NULL), 0);
    nng_aio_set_timeout(aio, 5000);
    nng_stream_dialer_dial(d, aio);
    nng_aio_wait(aio);
    assert_int_equal(nng_aio_result(aio), 0);
    nng_stream *s = nng_aio_get_output(aio, 0);
    nng_iov iov = {.iov_buf = (void *)bytes, .iov_len = len};
    nng_aio_set_iov(aio, 1, &iov);
    nng_stream_send(s, aio);
    nng_aio_wait(aio);
    // Wait for the node to hang up on us (or 5 s).
    char sink[64];
    iov = (nng_iov){.iov_buf = sink, .iov_len = sizeof sink};
    nng_aio_set_iov(aio, 1, &iov);
    for (int i = 0; i < 100; i++) {
        nng_stream_recv(s, aio);
        nng_aio_wait(aio);
        if (nng_aio_result(aio) != 0)
            break;
    }
    nng_stream_free(s);
    nng_aio_free(aio);
    nng_stream_dialer_free(d);
}

static void
test_bad_frames_refused(void **state)
{
    (void)state;
    tr_system *a, *b;
    test_pair_open(&a, &b, NULL);
    char url[256];
    assert_int_equal(tr_node_url(a, url, sizeof url), 0);
    tr_node_stats before, after;
    tr_node_stats_get(a, &before);
    raw_send(url, "\xff\xff\xff\xff", 4);             // 4 GiB declared
    raw_send(url, "\x00\x00\x00\x03\xdd\xff\xff", 7); // huge array, cut
    raw_send(url, "\x00\x00\x00\x02\x91\x04", 6);     // a beat before hello
    raw_send(url, "\x00\x00\x00\x00", 4);             // empty frame
    unsigned seed = 7;
    for (int i = 0; i < 20; i++) {
        unsigned char junk[40];
        junk[0] = junk[1] = junk[2] = 0;
        junk[3] = 36;
        for (size_t k = 4; k < sizeof junk; k++)
            junk[k] = (unsigned char)rand_r(&seed);
        raw_send(url, junk, sizeof junk);
    }
    tr_node_stats_get(a, &after);
    assert_true(after.proto_errors >= before.proto_errors + 20);
    assert_int_equal(after.peers_up, 1);
    // Still serving b.
    tr_ref echo = remote_probe(a, TR_REF_NONE, "echo2", b, NULL);
    tr_msg *reply;
    assert_int_equal(tr_call(b, echo, P_ECHO, "x", 1, TEST_WAIT_MS, &reply), 0);
    tr_msg_free(reply);
    test_close(b);
    test_close(a);
}

// A node that already has names when a peer dials it announces them as
// the connection comes up: the dialler must get the listener's WELCOME
// before any of that traffic, or it refuses the connection (and, redialling,
// never joins).
static void
test_join_a_node_with_names(void **state)
{
    (void)state;
    char url[256];
    tr_system *a = test_node_open("a", NULL, NULL);
    tr_ref p;
    assert_int_equal(
        tr_system_spawn(&p, a, &probe, &TR_REF_NONE, sizeof(tr_ref), NULL), 0);
    assert_int_equal(tr_register(a, "early", p), 0);
    assert_int_equal(tr_node_url(a, url, sizeof url), 0);
    tr_system *b = test_node_open("b", url, NULL); // only b dials
    assert_int_equal(tr_node_wait_peers(b, 1, 5000), 0);
    tr_ref r = TR_REF_NONE;
    TEST_WAIT_UNTIL(tr_whereis(b, "early", &r) == 0);
    assert_int_equal(tr_whereis(b, "early", &r), 0);
    tr_msg *reply;
    assert_int_equal(tr_call(b, r, P_ECHO, "x", 1, TEST_WAIT_MS, &reply), 0);
    tr_msg_free(reply);
    tr_node_stats st;
    assert_int_equal(tr_node_stats_get(b, &st), 0);
    assert_int_equal(st.proto_errors, 0);
    assert_int_equal(st.nodes_up, 1);
    test_close(b);
    test_close(a);
}

// Two nodes that dial each other at once keep one connection (the one the
// node whose name sorts first dialled). Whichever came up first, each
// sees the other's names, neither sees the other go down and up again, and
// the losing dial does not come back again and again while the pair is
// connected.
static tr_system *
mutual_node(const char *name)
{
    tr_system *sys;
    tr_config cfg = {.loops = 1};
    assert_int_equal(tr_system_open(&sys, &cfg), 0);
    tr_node_config nc = {
        .name = name,
        .listen = "tcp://127.0.0.1:0",
        .secret = test_secret,
        .secret_len = strlen(test_secret),
        .heartbeat_ms = 200,
        .timeout_ms = 30000,
        .reconnect_min_ms = 10,
        .reconnect_max_ms = 20,
    };
    assert_int_equal(tr_node_start(sys, &nc), 0);
    return sys;
}

// settled: one peer, over one connection (the loser of a mutual dial is
// gone).
static bool
settled(tr_system *sys)
{
    tr_node_stats st;
    tr_node_stats_get(sys, &st);
    return st.peers_up == 1 && st.conns == 1;
}

static uint64_t
beats_in(tr_system *sys)
{
    tr_node_stats st;
    tr_node_stats_get(sys, &st);
    return st.beats_in;
}

static void
test_mutual_dial_keeps_one_connection_and_names(void **state)
{
    (void)state;
    for (int round = 0; round < 20; round++) {
        tr_system *a = mutual_node("a"), *b = mutual_node("b");
        tr_ref pa, pb, r;
        assert_int_equal(
            tr_system_spawn(&pa, a, &probe, &TR_REF_NONE, sizeof(tr_ref), NULL),
            0);
        assert_int_equal(
            tr_system_spawn(&pb, b, &probe, &TR_REF_NONE, sizeof(tr_ref), NULL),
            0);
        assert_int_equal(tr_register(a, "on-a", pa), 0);
        assert_int_equal(tr_register(b, "on-b", pb), 0);
        char ua[256], ub[256];
        assert_int_equal(tr_node_url(a, ua, sizeof ua), 0);
        assert_int_equal(tr_node_url(b, ub, sizeof ub), 0);
        assert_int_equal(tr_node_connect(a, ub), 0);
        assert_int_equal(tr_node_connect(b, ua), 0);
        TEST_WAIT_UNTIL(tr_whereis(a, "on-b", &r) == 0 &&
                        tr_whereis(b, "on-a", &r) == 0 && settled(a) &&
                        settled(b));
        assert_int_equal(tr_whereis(a, "on-b", &r), 0);
        assert_int_equal(tr_whereis(b, "on-a", &r), 0);
        if (round < 3) {
            // While five heartbeats (a second) pass each way, a dial
            // redone every 10-20 ms would open dozens of connections. One
            // may still land per node: a dial already under way.
            tr_node_stats sa, sb;
            tr_node_stats_get(a, &sa);
            tr_node_stats_get(b, &sb);
            TEST_WAIT_UNTIL(beats_in(a) >= sa.beats_in + 5 &&
                            beats_in(b) >= sb.beats_in + 5);
            assert_true(beats_in(a) >= sa.beats_in + 5 &&
                        beats_in(b) >= sb.beats_in + 5);
            tr_node_stats sa1, sb1;
            tr_node_stats_get(a, &sa1);
            tr_node_stats_get(b, &sb1);
            if (sa1.conns_opened - sa.conns_opened > 1 ||
                sb1.conns_opened - sb.conns_opened > 1)
                fail_msg(
                    "round %d: a opened %llu, b %llu connections", round,
                    (unsigned long long)(sa1.conns_opened - sa.conns_opened),
                    (unsigned long long)(sb1.conns_opened - sb.conns_opened));
        }
        // Neither saw the other go down and come back (the connection one
        // end kept closing at the other while its replacement was still in
        // its handshake).
        tr_node_stats sa, sb;
        tr_node_stats_get(a, &sa);
        tr_node_stats_get(b, &sb);
        assert_int_equal(sa.peers_up, 1);
        assert_int_equal(sb.peers_up, 1);
        if (sa.nodes_up != 1 || sb.nodes_up != 1 || sa.nodes_down != 0 ||
            sb.nodes_down != 0)
            fail_msg("round %d: a saw %llu up, %llu down; b %llu up, %llu "
                     "down",
                     round, (unsigned long long)sa.nodes_up,
                     (unsigned long long)sa.nodes_down,
                     (unsigned long long)sb.nodes_up,
                     (unsigned long long)sb.nodes_down);
        test_close(b);
        test_close(a);
    }
}

// b restarts (a new system with the same name): a's refs to the old one
// fail with TR_ENOACTOR and never reach the new process's actors.
static void
test_restart_new_incarnation(void **state)
{
    (void)state;
    tr_system *a, *b;
    test_pair_open(&a, &b, NULL);
    tr_ref old = remote_probe(b, TR_REF_NONE, "svc", a, NULL);
    test_close(b);
    char url[256];
    assert_int_equal(tr_node_url(a, url, sizeof url), 0);
    b = test_node_open("b", url, NULL);
    tr_ref fresh = remote_probe(b, TR_REF_NONE, "svc", a, NULL);
    assert_false(tr_ref_eq(old, fresh));
    assert_int_equal(tr_system_send(a, old, P_ECHO, NULL, 0), TR_ENOACTOR);
    tr_msg *reply;
    assert_int_equal(tr_call(a, fresh, P_ECHO, NULL, 0, TEST_WAIT_MS, &reply),
                     0);
    tr_msg_free(reply);
    test_close(b);
    test_close(a);
}

// c and b each know only a; a tells them of each other and they connect:
// a full mesh, and c reaches b's actors directly.
static void
test_transitive_mesh(void **state)
{
    (void)state;
    char url[256];
    tr_system *a = test_node_open("a", NULL, NULL);
    assert_int_equal(tr_node_url(a, url, sizeof url), 0);
    tr_system *b = test_node_open("b", url, NULL);
    assert_int_equal(tr_node_wait_peers(b, 1, TEST_WAIT_MS), 0);
    tr_system *c = test_node_open("c", url, NULL);
    assert_int_equal(tr_node_wait_peers(c, 2, TEST_WAIT_MS), 0);
    assert_int_equal(tr_node_wait_peers(b, 2, TEST_WAIT_MS), 0);
    assert_int_equal(tr_node_wait_peers(a, 2, TEST_WAIT_MS), 0);
    tr_ref echo = remote_probe(b, TR_REF_NONE, "echo-b", c, NULL);
    char node[TR_NODE_NAME_MAX];
    assert_int_equal(tr_ref_node(c, echo, node, sizeof node), 0);
    assert_string_equal(node, "b");
    tr_msg *reply;
    assert_int_equal(tr_call(c, echo, P_ECHO, "hi", 2, TEST_WAIT_MS, &reply),
                     0);
    tr_msg_free(reply);
    // a ref to b passed by a to c (a third-party ref) names the same actor.
    test_close(c);
    test_close(b);
    test_close(a);
}

// relay forwards every user message to the tr_ref it was given.
static int
relay_init(tr_ctx *ctx, const void *arg, size_t len)
{
    assert_int_equal(len, sizeof(tr_ref));
    memcpy(tr_state(ctx), arg, len);
    return 0;
}

static int
relay_receive(tr_ctx *ctx, const tr_msg *m)
{
    tr_ref to;
    memcpy(&to, tr_state(ctx), sizeof to);
    return tr_forward(ctx, to, m);
}

static const tr_behavior relay_b = {
    .name = "relay",
    .state_size = sizeof(tr_ref),
    .init = relay_init,
    .receive = relay_receive,
};

static tr_ref
relay(tr_system *sys, tr_inbox *ib)
{
    tr_ref to = tr_inbox_ref(ib), r;
    assert_int_equal(tr_system_spawn(&r, sys, &relay_b, &to, sizeof to, NULL),
                     0);
    return r;
}

static size_t
members(tr_system *sys, const char *group)
{
    size_t n = 0;
    assert_int_equal(tr_pg_members(sys, group, NULL, 0, &n), 0);
    return n;
}

static void
test_groups_across_nodes(void **state)
{
    (void)state;
    char url[256];
    tr_system *a = test_node_open("a", NULL, NULL);
    assert_int_equal(tr_node_url(a, url, sizeof url), 0);
    tr_system *b = test_node_open("b", url, NULL);
    tr_system *c = test_node_open("c", url, NULL);
    assert_int_equal(tr_node_wait_peers(a, 2, TEST_WAIT_MS), 0);
    assert_int_equal(tr_node_wait_peers(b, 2, TEST_WAIT_MS), 0);
    assert_int_equal(tr_node_wait_peers(c, 2, TEST_WAIT_MS), 0);
    tr_inbox *ia, *ib, *ic;
    assert_int_equal(tr_inbox_alloc(&ia, a), 0);
    assert_int_equal(tr_inbox_alloc(&ib, b), 0);
    assert_int_equal(tr_inbox_alloc(&ic, c), 0);
    tr_ref a1 = relay(a, ia), a2 = relay(a, ia), b1 = relay(b, ib);
    tr_ref c1 = relay(c, ic);
    assert_int_equal(tr_pg_join(a, "room", a1), 0);
    assert_int_equal(tr_pg_join(a, "room", a2), 0);
    assert_int_equal(tr_pg_join(a, "room", a2), 0); // twice: once
    assert_int_equal(tr_pg_join(b, "room", b1), 0);
    assert_int_equal(tr_pg_join(c, "room", c1), 0);
    assert_int_equal(tr_pg_join(a, "room", (tr_ref){12345}), TR_ENOACTOR);
    TEST_WAIT_UNTIL(members(a, "room") == 4 && members(b, "room") == 4 &&
                    members(c, "room") == 4);
    assert_int_equal(members(a, "room"), 4);
    assert_int_equal(members(c, "room"), 4);
    tr_ref got[8];
    size_t n;
    assert_int_equal(tr_pg_members(b, "room", got, 8, &n), 0);
    assert_int_equal(n, 4);
    assert_true(tr_ref_eq(got[0], b1)); // this node's first

    // One publish: two local deliveries and one copy to each other node.
    size_t delivered;
    assert_int_equal(
        tr_pg_publish(a, TR_REF_NONE, "room", 77, "hi", 2, &delivered), 0);
    assert_int_equal(delivered, 4);
    for (int i = 0; i < 2; i++)
        tr_msg_free(test_recv(ia, 77));
    tr_msg_free(test_recv(ib, 77));
    tr_msg *m = test_recv(ic, 77);
    assert_memory_equal(tr_msg_data(m), "hi", 2);
    tr_msg_free(m);
    tr_node_stats st;
    tr_node_stats_get(a, &st);
    assert_int_equal(st.group_pub_out, 2);

    // Publish order holds at each member.
    for (uint32_t i = 0; i < 1000; i++)
        assert_int_equal(
            tr_pg_publish(b, TR_REF_NONE, "room", 78, &i, sizeof i, NULL), 0);
    for (uint32_t i = 0; i < 1000; i++) {
        m = test_recv(ic, 78);
        uint32_t v;
        memcpy(&v, tr_msg_data(m), sizeof v);
        tr_msg_free(m);
        assert_int_equal(v, i);
    }
    for (int i = 0; i < 2000; i++)
        tr_msg_free(test_recv(ia, 78));
    for (int i = 0; i < 1000; i++)
        tr_msg_free(test_recv(ib, 78));

    // A member that stops leaves everywhere; so do a lost node's members.
    assert_int_equal(tr_system_stop(b, b1, TR_EXIT_NORMAL), 0);
    TEST_WAIT_UNTIL(members(a, "room") == 3 && members(c, "room") == 3);
    assert_int_equal(members(a, "room"), 3);
    assert_int_equal(tr_pg_leave(a, "room", a2), 0);
    assert_int_equal(tr_pg_leave(a, "room", a2), TR_ENOACTOR);
    assert_int_equal(tr_node_disconnect(a, "c"), 0);
    TEST_WAIT_UNTIL(members(a, "room") == 1);
    assert_int_equal(members(a, "room"), 1);
    tr_inbox_free(ia);
    tr_inbox_free(ib);
    tr_inbox_free(ic);
    test_close(c);
    test_close(b);
    test_close(a);
}

static void
test_names_go_with_their_owner(void **state)
{
    (void)state;
    tr_system *a, *b;
    test_pair_open(&a, &b, NULL);
    tr_ref local;
    remote_probe(b, TR_REF_NONE, "svc", a, &local);
    assert_int_equal(tr_register(b, "svc", local), 0); // same owner: fine
    tr_ref other;
    assert_int_equal(tr_system_spawn(&other, b, &probe, NULL, 0, NULL), 0);
    assert_int_equal(tr_register(b, "svc", other), TR_EBUSY);
    assert_int_equal(tr_system_stop(b, local, TR_EXIT_NORMAL), 0);
    tr_ref r;
    TEST_WAIT_UNTIL(tr_whereis(a, "svc", &r) != 0 &&
                    tr_whereis(b, "svc", &r) != 0);
    assert_int_equal(tr_whereis(a, "svc", &r), TR_ENOACTOR);
    assert_int_equal(tr_register(b, "svc", other), 0);
    TEST_WAIT_UNTIL(tr_whereis(a, "svc", &r) == 0);
    assert_int_equal(tr_whereis(a, "svc", &r), 0);
    test_close(b);
    test_close(a);
}

// Two nodes name different actors "x" before they meet: when they do,
// both settle on the same owner (the one on the node whose name sorts
// first), and the loser's node drops its own claim too.
static void
test_name_conflict_settles_the_same_everywhere(void **state)
{
    (void)state;
    tr_system *a = test_node_open("a", NULL, NULL);
    tr_system *b = test_node_open("b", NULL, NULL);
    tr_ref xa, xb;
    assert_int_equal(tr_system_spawn(&xa, a, &probe, NULL, 0, NULL), 0);
    assert_int_equal(tr_system_spawn(&xb, b, &probe, NULL, 0, NULL), 0);
    assert_int_equal(tr_register(a, "x", xa), 0);
    assert_int_equal(tr_register(b, "x", xb), 0);
    char url[256];
    assert_int_equal(tr_node_url(a, url, sizeof url), 0);
    assert_int_equal(tr_node_connect(b, url), 0);
    assert_int_equal(tr_node_wait_peers(b, 1, TEST_WAIT_MS), 0);
    tr_ref ra = TR_REF_NONE, rb = TR_REF_NONE;
    TEST_WAIT_UNTIL(tr_whereis(b, "x", &rb) == 0 && (rb.bits >> 48) != 0);
    assert_int_equal(tr_whereis(a, "x", &ra), 0);
    assert_true(tr_ref_eq(ra, xa)); // a keeps its own
    assert_int_equal(tr_whereis(b, "x", &rb), 0);
    char node[TR_NODE_NAME_MAX];
    assert_int_equal(tr_ref_node(b, rb, node, sizeof node), 0);
    assert_string_equal(node, "a"); // b defers to a's
    test_close(b);
    test_close(a);
}

static tr_spawned
spawned(tr_inbox *ib, uint64_t req)
{
    tr_msg *m = test_recv(ib, TR_MSG_SPAWNED);
    tr_spawned s;
    assert_int_equal(tr_msg_size(m), sizeof s);
    memcpy(&s, tr_msg_data(m), sizeof s);
    tr_msg_free(m);
    assert_true(s.req == req);
    return s;
}

static void
test_remote_spawn(void **state)
{
    (void)state;
    tr_system *a, *b;
    test_pair_open(&a, &b, NULL);
    assert_int_equal(tr_node_behavior(b, "probe", &probe), 0);
    assert_int_equal(tr_node_behavior(b, "probe", &probe), TR_EBUSY);
    tr_inbox *ib;
    assert_int_equal(tr_inbox_alloc(&ib, a), 0);
    tr_ref me = tr_inbox_ref(ib);
    assert_int_equal(
        tr_node_spawn(a, me, 1, "b", "probe", NULL, 0, TEST_WAIT_MS), 0);
    tr_spawned s = spawned(ib, 1);
    assert_int_equal(s.rc, 0);
    char node[TR_NODE_NAME_MAX];
    assert_int_equal(tr_ref_node(a, s.child, node, sizeof node), 0);
    assert_string_equal(node, "b");
    tr_msg *reply;
    assert_int_equal(tr_call(a, s.child, P_ECHO, "x", 1, TEST_WAIT_MS, &reply),
                     0);
    tr_msg_free(reply);
    // Unknown behaviour, unknown node.
    assert_int_equal(
        tr_node_spawn(a, me, 2, "b", "nope", NULL, 0, TEST_WAIT_MS), 0);
    assert_int_equal(spawned(ib, 2).rc, TR_ENOACTOR);
    assert_int_equal(
        tr_node_spawn(a, me, 3, "zz", "probe", NULL, 0, TEST_WAIT_MS), 0);
    assert_int_equal(spawned(ib, 3).rc, TR_ENOCONN);
    // The spawned actor belongs to b's agent: closing b stops it, and a's
    // monitor fires (with its shutdown, or noconnection if the connection
    // went first).
    uint64_t mon;
    assert_int_equal(tr_inbox_monitor(ib, s.child, &mon), 0);
    // In order on the wire: once this answer is back, b has the monitor.
    assert_int_equal(tr_call(a, s.child, P_ECHO, "y", 1, TEST_WAIT_MS, &reply),
                     0);
    tr_msg_free(reply);
    test_close(b);
    tr_msg *m = test_recv(ib, TR_MSG_DOWN);
    tr_down d;
    memcpy(&d, tr_msg_data(m), sizeof d);
    tr_msg_free(m);
    if (d.reason != TR_EXIT_SHUTDOWN && d.reason != TR_ENOCONN)
        fail_msg("reason %d", d.reason);
    tr_inbox_free(ib);
    test_close(a);
}

static tr_system *
tls_node(const char *name, const char *seed, const char *who, const char *ca)
{
    char cert[512], key[512], cafile[512];
    snprintf(cert, sizeof cert, "%s/%s.pem", CERTS_DIR, who);
    snprintf(key, sizeof key, "%s/%s-key.pem", CERTS_DIR, who);
    snprintf(cafile, sizeof cafile, "%s/%s.pem", CERTS_DIR, ca);
    tr_system *sys;
    tr_config cfg = {.loops = 1};
    assert_int_equal(tr_system_open(&sys, &cfg), 0);
    const char *seeds[1] = {seed};
    tr_node_config nc = {
        .name = name,
        .listen = "tls+tcp://127.0.0.1:0",
        .seeds = seeds,
        .nseeds = seed != NULL,
        .secret = test_secret,
        .secret_len = strlen(test_secret),
        .heartbeat_ms = 100,
        .timeout_ms = 5000,
        .reconnect_min_ms = 20,
        .reconnect_max_ms = 200,
        .tls_cert_file = cert,
        .tls_key_file = key,
        .tls_ca_file = cafile,
    };
    assert_int_equal(tr_node_start(sys, &nc), 0);
    return sys;
}

// Mutual TLS: two nodes with certificates from one CA talk; a node whose
// certificate another CA signed is refused (and refuses).
static void
test_tls(void **state)
{
    (void)state;
    char url[256];
    tr_system *a = tls_node("a", NULL, "node", "ca");
    assert_int_equal(tr_node_url(a, url, sizeof url), 0);
    assert_true(strncmp(url, "tls+tcp://127.0.0.1:", 20) == 0);
    tr_system *b = tls_node("b", url, "node", "ca");
    assert_int_equal(tr_node_wait_peers(b, 1, TEST_WAIT_MS), 0);
    tr_ref echo = remote_probe(a, TR_REF_NONE, "echo", b, NULL);
    tr_msg *reply;
    assert_int_equal(tr_call(b, echo, P_ECHO, "s", 1, TEST_WAIT_MS, &reply), 0);
    tr_msg_free(reply);
    tr_system *c = tls_node("c", url, "other", "other-ca");
    assert_int_equal(tr_node_wait_peers(c, 1, 500), TR_ETIMEDOUT);
    tr_node_stats st;
    tr_node_stats_get(a, &st);
    assert_int_equal(st.peers_up, 1);
    test_close(c);
    test_close(b);
    test_close(a);
    // A tls+tcp URL without the files is refused at start.
    tr_system *d;
    assert_int_equal(tr_system_open(&d, NULL), 0);
    tr_node_config nc = {.name = "d",
                         .listen = "tls+tcp://127.0.0.1:0",
                         .secret = test_secret,
                         .secret_len = strlen(test_secret)};
    assert_int_equal(tr_node_start(d, &nc), TR_EINVAL);
    test_close(d);
}

// A raw client that speaks the handshake (against an insecure node),
// names one of its "actors", and then never reads again: a stuck peer.
static nng_stream *
stuck_peer(const char *url, nng_stream_dialer **dp)
{
    nng_aio *aio;
    assert_int_equal(nng_stream_dialer_alloc(dp, url), 0);
    assert_int_equal(nng_aio_alloc(&aio, NULL, NULL), 0);
    nng_aio_set_timeout(aio, 5000);
    nng_stream_dialer_dial(*dp, aio);
    nng_aio_wait(aio);
    assert_int_equal(nng_aio_result(aio), 0);
    nng_stream *s = nng_aio_get_output(aio, 0);
    unsigned char out[256], in[512];
    size_t len = 0;
    static const unsigned char nonce[16];
    for (int step = 0; step < 3; step++) {
        tr_pack p;
        tr_pack_init(&p, NULL, 0);
        if (step == 0) { // HELLO
            tr_pack_array(&p, 7);
            tr_pack_uint(&p, 1);
            tr_pack_uint(&p, 1);
            tr_pack_cstr(&p, "stuck");
            tr_pack_uint(&p, 1);
            tr_pack_cstr(&p, "");
            tr_pack_bin(&p, nonce, sizeof nonce);
            tr_pack_nil(&p);
        } else if (step == 1) { // AUTH (any proof: the node is insecure)
            tr_pack_array(&p, 2);
            tr_pack_uint(&p, 2);
            tr_pack_bin(&p, out, 32);
        } else { // REG "stuck-svc" -> our actor 1
            tr_pack_array(&p, 3);
            tr_pack_uint(&p, 20);
            tr_pack_cstr(&p, "stuck-svc");
            tr_pack_uint(&p, 1);
        }
        len = tr_pack_len(&p);
        out[0] = out[1] = 0;
        out[2] = (unsigned char)(len >> 8);
        out[3] = (unsigned char)len;
        memcpy(out + 4, tr_pack_data(&p), len);
        tr_pack_fini(&p);
        nng_iov iov = {.iov_buf = out, .iov_len = len + 4};
        nng_aio_set_iov(aio, 1, &iov);
        nng_stream_send(s, aio);
        nng_aio_wait(aio);
        assert_int_equal(nng_aio_result(aio), 0);
        if (step == 0) { // the node's HELLO; WELCOME comes later, unread
            iov = (nng_iov){.iov_buf = in, .iov_len = sizeof in};
            nng_aio_set_iov(aio, 1, &iov);
            nng_stream_recv(s, aio);
            nng_aio_wait(aio);
            assert_int_equal(nng_aio_result(aio), 0);
        }
    }
    nng_aio_free(aio);
    return s;
}

// A peer that stops reading fills its outbox: senders to it get TR_EFULL
// at once, and the node's traffic with its other peers goes on.
static void
test_stuck_peer_fills_its_outbox(void **state)
{
    (void)state;
    tr_system *a, *c;
    tr_config cfg = {.loops = 2};
    assert_int_equal(tr_system_open(&a, &cfg), 0);
    tr_node_config nc = {.name = "a",
                         .listen = "tcp://127.0.0.1:0",
                         .insecure = true,
                         .heartbeat_ms = 100,
                         .timeout_ms = 60000, // the stuck peer stays "up"
                         .outbox_bytes = 64 << 10};
    assert_int_equal(tr_node_start(a, &nc), 0);
    char url[256];
    assert_int_equal(tr_node_url(a, url, sizeof url), 0);
    nng_stream_dialer *d;
    nng_stream *s = stuck_peer(url, &d);
    tr_ref stuck;
    TEST_WAIT_UNTIL(tr_whereis(a, "stuck-svc", &stuck) == 0);
    assert_int_equal(tr_whereis(a, "stuck-svc", &stuck), 0);
    // A healthy peer c (insecure too, to join a).
    assert_int_equal(tr_system_open(&c, &cfg), 0);
    const char *seeds[1] = {url};
    tr_node_config nc2 = {.name = "c",
                          .seeds = seeds,
                          .nseeds = 1,
                          .insecure = true,
                          .heartbeat_ms = 100,
                          .timeout_ms = 60000};
    assert_int_equal(tr_node_start(c, &nc2), 0);
    assert_int_equal(tr_node_wait_peers(a, 2, TEST_WAIT_MS), 0);
    tr_ref echo = remote_probe(c, TR_REF_NONE, "echo-c", a, NULL);
    static char big[4096];
    int rc = 0;
    long sent = 0;
    for (int i = 0; i < 100000 && rc == 0; i++) {
        rc = tr_system_send(a, stuck, 1, big, sizeof big);
        if (rc == 0)
            sent++;
        if (i % 256 == 0) // the kernel's buffers fill first, then ours
            sched_yield();
    }
    assert_int_equal(rc, TR_EFULL);
    tr_node_stats st;
    tr_node_stats_get(a, &st);
    assert_true(st.outbox_full >= 1);
    // Bounded: what a holds for the stuck peer is its outbox, not `sent`.
    assert_true(sent * (long)sizeof big < 64L << 20);
    // c is unaffected, in both directions.
    tr_msg *reply;
    for (int i = 0; i < 10; i++) {
        assert_int_equal(tr_call(a, echo, P_ECHO, "k", 1, TEST_WAIT_MS, &reply),
                         0);
        tr_msg_free(reply);
    }
    tr_node_stats_get(a, &st);
    assert_int_equal(st.peers_up, 2);
    nng_stream_free(s);
    nng_stream_dialer_free(d);
    test_close(c);
    test_close(a);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_call_across_nodes),
        cmocka_unit_test(test_fifo_under_load),
        cmocka_unit_test(test_monitor_and_link_across_nodes),
        cmocka_unit_test(test_node_loss_fails_fast),
        cmocka_unit_test(test_node_events),
        cmocka_unit_test(test_wrong_secret_refused),
        cmocka_unit_test(test_bad_frames_refused),
        cmocka_unit_test(test_restart_new_incarnation),
        cmocka_unit_test(test_transitive_mesh),
        cmocka_unit_test(test_groups_across_nodes),
        cmocka_unit_test(test_names_go_with_their_owner),
        cmocka_unit_test(test_name_conflict_settles_the_same_everywhere),
        cmocka_unit_test(test_remote_spawn),
        cmocka_unit_test(test_tls),
        cmocka_unit_test(test_stuck_peer_fills_its_outbox),
        cmocka_unit_test(test_join_a_node_with_names),
        cmocka_unit_test(test_mutual_dial_keeps_one_connection_and_names),
    };
    test_main("cluster/node", tests, argc, argv);
}
