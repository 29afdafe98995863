// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// probe.h: a test actor that does what its messages say and reports its
// stop to an inbox. Its init argument is the tr_ref to report to.
#ifndef TR_TESTS_PROBE_H
#define TR_TESTS_PROBE_H

#include "tests/test.h"

#include <string.h>

enum {
    P_ECHO = 1, // reply P_ECHO with the same payload
    P_CRASH,    // return the int payload as an error
    P_EXIT,     // tr_exit with the int payload, then reply P_ECHO
    P_BECOME,   // become probe_b
    P_WHO,      // reply P_WHO with the behaviour's letter
    P_WHERE,    // reply P_WHERE with the loop index (unsigned)
    P_SPAWN,    // spawn a probe child (payload: tr_spawn_opts), reply P_SPAWNED
    P_SPAWNED,  // payload: int rc, tr_ref child
    P_STOPPED,  // sent by the stop hook: int reason
    P_BLOCK,    // set *(_Atomic int *) payload to 2, spin until it is 0
    P_MONITOR,  // tr_monitor the tr_ref payload, reply P_MONITOR with the id
    P_DEMONITOR, // tr_demonitor the uint64_t payload, reply P_ECHO with rc
    P_LINK,      // tr_link the tr_ref payload, reply P_ECHO with the rc
    P_UNLINK,    // tr_unlink the tr_ref payload, reply P_ECHO with the rc
    P_TRAP,      // tr_trap_exit(true), reply P_ECHO
    P_GOT_DOWN,  // to the report ref: a tr_down the probe received
    P_GOT_EXIT,  // to the report ref: a tr_exit_info the probe received
    P_EXIT_TEXT, // tr_exit_text(int payload, "database unreachable")
};

struct probe {
    tr_ref report;
};

static int probe_receive_b(tr_ctx *ctx, const tr_msg *m);
static int probe_receive(tr_ctx *ctx, const tr_msg *m);

static int
probe_init(tr_ctx *ctx, const void *arg, size_t len)
{
    struct probe *p = tr_state(ctx);
    if (len == sizeof(tr_ref))
        memcpy(&p->report, arg, sizeof p->report);
    return 0;
}

static void
probe_stop(tr_ctx *ctx, int reason)
{
    struct probe *p = tr_state(ctx);
    if (!tr_ref_is_none(p->report))
        tr_send(ctx, p->report, P_STOPPED, &reason, sizeof reason);
}

static const tr_behavior probe_b = {
    .name = "probe-b",
    .state_size = sizeof(struct probe),
    .receive = probe_receive_b,
    .stop = probe_stop,
};

static const tr_behavior probe = {
    .name = "probe",
    .state_size = sizeof(struct probe),
    .init = probe_init,
    .receive = probe_receive,
    .stop = probe_stop,
};

static int
probe_int(const tr_msg *m)
{
    int v = 0;
    if (tr_msg_size(m) == sizeof v)
        memcpy(&v, tr_msg_data(m), sizeof v);
    return v;
}

static int
probe_common(tr_ctx *ctx, const tr_msg *m, char who)
{
    switch (tr_msg_type(m)) {
    case P_ECHO:
        return tr_reply(ctx, m, P_ECHO, tr_msg_data(m), tr_msg_size(m));
    case P_CRASH:
        return probe_int(m);
    case P_EXIT:
        tr_exit(ctx, probe_int(m));
        return tr_reply(ctx, m, P_ECHO, NULL, 0);
    case P_BECOME:
        return tr_become(ctx, &probe_b);
    case P_WHO:
        return tr_reply(ctx, m, P_WHO, &who, 1);
    case P_WHERE: {
        unsigned l = tr_ctx_loop(ctx);
        return tr_reply(ctx, m, P_WHERE, &l, sizeof l);
    }
    case P_SPAWN: {
        struct {
            int rc;
            tr_ref child;
        } out = {0};
        tr_spawn_opts o;
        memcpy(&o, tr_msg_data(m), sizeof o);
        struct probe *p = tr_state(ctx);
        out.rc =
            tr_spawn(&out.child, ctx, &probe, &p->report, sizeof p->report, &o);
        return tr_reply(ctx, m, P_SPAWNED, &out, sizeof out);
    }
    case P_BLOCK: {
        _Atomic int *flag;
        memcpy(&flag, tr_msg_data(m), sizeof flag);
        atomic_store(flag, 2); // tells the test it is stuck now
        while (atomic_load(flag))
            ;
        return 0;
    }
    case P_MONITOR: {
        tr_ref r;
        uint64_t id = 0;
        memcpy(&r, tr_msg_data(m), sizeof r);
        int rc = tr_monitor(ctx, r, &id);
        if (rc != 0)
            return rc;
        return tr_reply(ctx, m, P_MONITOR, &id, sizeof id);
    }
    case P_DEMONITOR: {
        uint64_t id;
        memcpy(&id, tr_msg_data(m), sizeof id);
        int rc = tr_demonitor(ctx, id);
        return tr_reply(ctx, m, P_ECHO, &rc, sizeof rc);
    }
    case P_LINK:
    case P_UNLINK: {
        tr_ref r;
        memcpy(&r, tr_msg_data(m), sizeof r);
        int rc = tr_msg_type(m) == P_LINK ? tr_link(ctx, r) : tr_unlink(ctx, r);
        return tr_reply(ctx, m, P_ECHO, &rc, sizeof rc);
    }
    case P_EXIT_TEXT:
        tr_exit_text(ctx, probe_int(m), "database unreachable");
        return 0;
    case P_TRAP:
        tr_trap_exit(ctx, true);
        return tr_reply(ctx, m, P_ECHO, NULL, 0);
    case TR_MSG_DOWN:
    case TR_MSG_EXIT: {
        struct probe *p = tr_state(ctx);
        return tr_send(ctx, p->report,
                       tr_msg_type(m) == TR_MSG_DOWN ? P_GOT_DOWN : P_GOT_EXIT,
                       tr_msg_data(m), tr_msg_size(m));
    }
    default:
        return TR_EUNHANDLED;
    }
}

static int
probe_receive(tr_ctx *ctx, const tr_msg *m)
{
    return probe_common(ctx, m, 'a');
}

static int
probe_receive_b(tr_ctx *ctx, const tr_msg *m)
{
    return probe_common(ctx, m, 'b');
}

// probe_spawn starts a top-level probe reporting to `ib`.
static inline tr_ref
probe_spawn(tr_system *sys, tr_inbox *ib, const tr_spawn_opts *o)
{
    tr_ref r, rep = tr_inbox_ref(ib);
    assert_int_equal(tr_system_spawn(&r, sys, &probe, &rep, sizeof rep, o), 0);
    return r;
}

// probe_stopped waits for a P_STOPPED report and returns its reason.
static inline int
probe_stopped(tr_inbox *ib)
{
    tr_msg *m = test_recv(ib, P_STOPPED);
    int reason = probe_int(m);
    tr_msg_free(m);
    return reason;
}

#endif // TR_TESTS_PROBE_H
