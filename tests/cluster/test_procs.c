// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// Nodes in separate processes: this test process is node "t", and the
// launcher API runs node "p" (tests/cluster/peer.c) beside it, over ipc://
// sockets in a scratch directory. What a real failure does to a cluster:
// - kill -9 of p: t's monitor fires with TR_ENOCONN and a request pending
//   there ends with TR_EDOWN, long before its deadline; the launcher
//   restarts p, which rejoins as a new incarnation: the old ref gives
//   TR_ENOACTOR and the new one, found by name, answers.
// - SIGSTOP of p: a frozen process looks dead within the heartbeat
//   timeout; after SIGCONT it reconnects as the same incarnation (the same
//   ref) and answers again.
// Every wait is bounded; the launcher is driven from the test thread.
#define _GNU_SOURCE // mkdtemp, mkfifo
#include "tests/launcher/util.h"

#include "tests/cluster/peer.h"

#include <troupe/cluster.h>
#include <troupe/launch.h>

static const char secret[] = "procs secret";

enum {
    HEARTBEAT_MS = 100,
    TIMEOUT_MS = 1000,
    BOUND_MS = 5000, // detection must come well within this
    ASK_MS = 10000,  // the pending request's deadline
    A_STATUS = 100,  // asker -> inbox: the request's outcome (int)
};

#define MS(ns) ((ns) / 1000000)

// If a check fails, cmocka aborts: stopped children must not be left
// frozen. The launcher's children die with this process (PDEATHSIG), and
// SIGKILL reaches a stopped process too.
struct rig {
    struct scratch s;
    char url_t[256], url_p[256];
    tr_system *sys;
    tr_launch *l;
    tr_inbox *ib;
    tr_ref echo, sink; // as t names them
};

// DRIVE_UNTIL waits for `cond`, running the launcher meanwhile (so a
// restart that falls due happens), for at most TEST_WAIT_MS.
#define DRIVE_UNTIL(r, cond)                                          \
    do {                                                              \
        int64_t end_ = tr_now_ns() + (int64_t)TEST_WAIT_MS * 1000000; \
        while (!(cond) && tr_now_ns() < end_)                         \
            (void)tr_launch_run((r)->l, 5);                           \
    } while (0)

static void
rig_open(struct rig *r)
{
    scratch_open(&r->s);
    snprintf(r->url_t, sizeof r->url_t, "ipc://%s/t", r->s.dir);
    snprintf(r->url_p, sizeof r->url_p, "ipc://%s/p", r->s.dir);

    tr_config cfg = {.loops = 2};
    assert_int_equal(tr_system_open(&r->sys, &cfg), 0);
    const char *seeds[1] = {r->url_p};
    tr_node_config nc = {
        .name = "t",
        .listen = r->url_t,
        .seeds = seeds,
        .nseeds = 1,
        .secret = secret,
        .secret_len = strlen(secret),
        .heartbeat_ms = HEARTBEAT_MS,
        .timeout_ms = TIMEOUT_MS,
        .reconnect_min_ms = 20,
        .reconnect_max_ms = 200,
    };
    assert_int_equal(tr_node_start(r->sys, &nc), 0);
    assert_int_equal(tr_inbox_alloc(&r->ib, r->sys), 0);

    tr_launch_config lc = {
        .backoff_min_ms = 50,
        .backoff_max_ms = 200,
        .intensity = -1,
    };
    assert_int_equal(tr_launch_open(&r->l, &lc), 0);
    char hb[16], to[16];
    snprintf(hb, sizeof hb, "%d", HEARTBEAT_MS);
    snprintf(to, sizeof to, "%d", TIMEOUT_MS);
    const char *argv[] = {CLUSTER_PEER, "--listen",  r->url_p, "--seed",
                          r->url_t,     "--secret",  secret,   "--heartbeat",
                          hb,           "--timeout", to,       NULL};
    tr_launch_child ch = {.name = "p", .argv = argv, .shutdown_ms = 5000};
    assert_int_equal(tr_launch_add(r->l, &ch), 0);
    assert_int_equal(tr_launch_start(r->l), 0);

    // p is up once its names have reached t.
    DRIVE_UNTIL(r, tr_whereis(r->sys, "echo", &r->echo) == 0 &&
                       tr_whereis(r->sys, "sink", &r->sink) == 0);
    assert_int_equal(tr_whereis(r->sys, "echo", &r->echo), 0);
    assert_int_equal(tr_whereis(r->sys, "sink", &r->sink), 0);
    char node[TR_NODE_NAME_MAX];
    assert_int_equal(tr_ref_node(r->sys, r->echo, node, sizeof node), 0);
    assert_string_equal(node, "p");
}

static void
rig_close(struct rig *r)
{
    tr_inbox_free(r->ib);
    // SIGTERM: p closes its system and exits 0.
    assert_int_equal(tr_launch_stop(r->l), 0);
    assert_int_equal(tr_launch_close(r->l), 0);
    test_close(r->sys);
    scratch_close(&r->s);
}

static pid_t
pid_of(struct rig *r)
{
    tr_launch_status st;
    assert_int_equal(tr_launch_info(r->l, "p", &st), 0);
    assert_int_equal(st.state, TR_PROC_RUNNING);
    return (pid_t)st.pid;
}

// echo_ok: a round trip to `echo` answers with the payload.
static void
echo_ok(struct rig *r, tr_ref echo, int v)
{
    tr_msg *reply;
    assert_int_equal(
        tr_call(r->sys, echo, PEER_ECHO, &v, sizeof v, TEST_WAIT_MS, &reply),
        0);
    assert_int_equal(tr_msg_size(reply), sizeof v);
    assert_memory_equal(tr_msg_data(reply), &v, sizeof v);
    tr_msg_free(reply);
}

// An actor of t that asks `target` once, with ASK_MS to answer, and
// reports to `report`: PEER_GOT when the target says it has the request,
// then A_STATUS with the request's outcome.
struct asker {
    tr_ref target, report;
};

static void
asker_done(tr_ctx *ctx, int status, const tr_msg *reply, void *cookie)
{
    (void)reply;
    (void)cookie;
    struct asker *s = tr_state(ctx);
    tr_send(ctx, s->report, A_STATUS, &status, sizeof status);
}

static int
asker_init(tr_ctx *ctx, const void *arg, size_t len)
{
    struct asker *s = tr_state(ctx);
    if (len != sizeof *s)
        return TR_EINVAL;
    memcpy(s, arg, sizeof *s);
    return tr_request(ctx, NULL, s->target, PEER_ASK, NULL, 0, ASK_MS,
                      asker_done, NULL);
}

static int
asker_receive(tr_ctx *ctx, const tr_msg *m)
{
    struct asker *s = tr_state(ctx);
    if (tr_msg_type(m) != PEER_GOT)
        return TR_EUNHANDLED;
    return tr_send(ctx, s->report, PEER_GOT, NULL, 0);
}

static const tr_behavior asker_b = {
    .name = "asker",
    .state_size = sizeof(struct asker),
    .init = asker_init,
    .receive = asker_receive,
};

// watch_and_ask monitors `echo` from the inbox and leaves a request
// pending at `sink`, waiting until p has it. Returns the monitor's id.
static uint64_t
watch_and_ask(struct rig *r)
{
    uint64_t mon;
    assert_int_equal(tr_inbox_monitor(r->ib, r->echo, &mon), 0);
    struct asker a = {r->sink, tr_inbox_ref(r->ib)};
    tr_ref asker;
    assert_int_equal(
        tr_system_spawn(&asker, r->sys, &asker_b, &a, sizeof a, NULL), 0);
    tr_msg_free(test_recv(r->ib, PEER_GOT));
    return mon;
}

// expect_loss takes the DOWN of monitor `mon` and the pending request's
// outcome, in whichever order they come, checks them, and returns how
// long after t0 (tr_now_ns) the later of the two came, in ms.
static int64_t
expect_loss(struct rig *r, uint64_t mon, int64_t t0)
{
    bool down = false, status = false;
    int64_t last = 0;
    while (!down || !status) {
        tr_msg *m = NULL;
        assert_int_equal(tr_inbox_recv(r->ib, &m, TEST_WAIT_MS), 0);
        last = tr_now_ns();
        if (tr_msg_type(m) == TR_MSG_DOWN) {
            tr_down d;
            assert_int_equal(tr_msg_size(m), sizeof d);
            memcpy(&d, tr_msg_data(m), sizeof d);
            assert_true(d.mon == mon);
            assert_true(tr_ref_eq(d.who, r->echo));
            assert_int_equal(d.reason, TR_ENOCONN);
            assert_false(down);
            down = true;
        } else {
            assert_int_equal(tr_msg_type(m), A_STATUS);
            int st;
            memcpy(&st, tr_msg_data(m), sizeof st);
            assert_int_equal(st, TR_EDOWN);
            assert_false(status);
            status = true;
        }
        tr_msg_free(m);
    }
    int64_t ms = MS(last - t0);
    assert_true(ms < BOUND_MS);
    assert_true(ms < ASK_MS); // the request ended long before its deadline
    return ms;
}

static void
test_kill9_fires_monitors_and_restart_rejoins(void **state)
{
    (void)state;
    struct rig r;
    rig_open(&r);
    echo_ok(&r, r.echo, 1);
    uint64_t mon = watch_and_ask(&r);

    pid_t pid = pid_of(&r);
    int64_t t0 = tr_now_ns();
    assert_int_equal(kill(pid, SIGKILL), 0);
    int64_t detect = expect_loss(&r, mon, t0);
    // Names go with their node.
    tr_ref gone;
    assert_int_equal(tr_whereis(r.sys, "echo", &gone), TR_ENOACTOR);

    // The launcher restarts p, which rejoins under a new incarnation.
    tr_ref old = r.echo, fresh = TR_REF_NONE;
    DRIVE_UNTIL(&r, tr_whereis(r.sys, "echo", &fresh) == 0);
    assert_int_equal(tr_whereis(r.sys, "echo", &fresh), 0);
    int64_t rejoin = MS(tr_now_ns() - t0);
    tr_launch_status st;
    assert_int_equal(tr_launch_info(r.l, "p", &st), 0);
    assert_int_equal(st.restarts, 1);
    assert_true(st.pid != pid);
    assert_false(tr_ref_eq(old, fresh));
    char node[TR_NODE_NAME_MAX];
    assert_int_equal(tr_ref_node(r.sys, fresh, node, sizeof node), 0);
    assert_string_equal(node, "p");
    // The old ref is stale for good: sends, calls and monitors say so,
    // and nothing reaches the new process's actors through it.
    assert_int_equal(tr_system_send(r.sys, old, PEER_ECHO, NULL, 0),
                     TR_ENOACTOR);
    tr_msg *reply = NULL;
    assert_int_equal(
        tr_call(r.sys, old, PEER_ECHO, NULL, 0, TEST_WAIT_MS, &reply),
        TR_EDOWN);
    uint64_t mon2;
    assert_int_equal(tr_inbox_monitor(r.ib, old, &mon2), 0);
    tr_msg *m = test_recv(r.ib, TR_MSG_DOWN);
    tr_down d;
    memcpy(&d, tr_msg_data(m), sizeof d);
    tr_msg_free(m);
    assert_true(d.mon == mon2);
    assert_int_equal(d.reason, TR_ENOACTOR);
    r.echo = fresh;
    echo_ok(&r, fresh, 2);
    print_message("kill -9: DOWN and TR_EDOWN after %lld ms, rejoined as a "
                  "new incarnation after %lld ms\n",
                  (long long)detect, (long long)rejoin);
    rig_close(&r);
}

static void
test_sigstop_looks_dead_and_sigcont_reconnects(void **state)
{
    (void)state;
    struct rig r;
    rig_open(&r);
    echo_ok(&r, r.echo, 1);
    uint64_t mon = watch_and_ask(&r);

    pid_t pid = pid_of(&r);
    int64_t t0 = tr_now_ns();
    assert_int_equal(kill(pid, SIGSTOP), 0);
    int64_t detect = expect_loss(&r, mon, t0);
    // Silence, not a closed socket, brought it down: a heartbeat miss, no
    // sooner than the timeout less the time since p was last heard (a
    // beat, normally; more on a loaded sanitizer run, hence the margin).
    assert_true(detect >= TIMEOUT_MS / 2);
    tr_node_stats ns;
    assert_int_equal(tr_node_stats_get(r.sys, &ns), 0);
    assert_true(ns.heartbeat_miss >= 1);
    tr_ref gone;
    assert_int_equal(tr_whereis(r.sys, "echo", &gone), TR_ENOACTOR);

    int64_t t1 = tr_now_ns();
    assert_int_equal(kill(pid, SIGCONT), 0);
    tr_ref again = TR_REF_NONE;
    DRIVE_UNTIL(&r, tr_whereis(r.sys, "echo", &again) == 0);
    assert_int_equal(tr_whereis(r.sys, "echo", &again), 0);
    int64_t rejoin = MS(tr_now_ns() - t1);
    // The same process, the same incarnation: the same ref works again.
    assert_true(tr_ref_eq(again, r.echo));
    tr_launch_status st;
    assert_int_equal(tr_launch_info(r.l, "p", &st), 0);
    assert_int_equal(st.restarts, 0);
    assert_int_equal(st.pid, pid);
    echo_ok(&r, r.echo, 2);
    // And it can be watched again.
    uint64_t mon2;
    assert_int_equal(tr_inbox_monitor(r.ib, r.echo, &mon2), 0);
    echo_ok(&r, r.echo, 3);
    print_message("SIGSTOP: DOWN and TR_EDOWN after %lld ms (timeout %d ms); "
                  "reconnected %lld ms after SIGCONT\n",
                  (long long)detect, TIMEOUT_MS, (long long)rejoin);
    rig_close(&r);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill9_fires_monitors_and_restart_rejoins),
        cmocka_unit_test(test_sigstop_looks_dead_and_sigcont_reconnects),
    };
    test_main("cluster/procs", tests, argc, argv);
}
