// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// cluster-peer: the node process the multi-process cluster tests start
// (tests/cluster/test_procs.c), through the launcher. It joins the test's
// node and offers two named actors:
//
//   "echo"  replies to a request with its payload (type PEER_ECHO);
//   "sink"  takes a request, tells the requester it has it with a plain
//           PEER_GOT message, and never replies.
//
//   cluster-peer --listen URL --seed URL --secret TEXT
//                [--heartbeat MS] [--timeout MS]
//
// Its node name is TROUPE_NODE_NAME (set by the launcher). On SIGTERM or
// SIGINT it closes its system and exits 0; any setup failure exits 1.
#define _POSIX_C_SOURCE 200809L
#include "tests/cluster/peer.h"

#include <troupe/cluster.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
echo_receive(tr_ctx *ctx, const tr_msg *m)
{
    if (tr_msg_type(m) != PEER_ECHO)
        return TR_EUNHANDLED;
    return tr_reply(ctx, m, PEER_ECHO, tr_msg_data(m), tr_msg_size(m));
}

static const tr_behavior echo_b = {.name = "echo", .receive = echo_receive};

static int
sink_receive(tr_ctx *ctx, const tr_msg *m)
{
    if (!tr_msg_is_request(m))
        return TR_EUNHANDLED;
    (void)tr_send(ctx, tr_msg_sender(m), PEER_GOT, NULL, 0);
    return 0; // and no reply, ever
}

static const tr_behavior sink_b = {.name = "sink", .receive = sink_receive};

static int
fail(const char *what, int rc)
{
    fprintf(stderr, "cluster-peer: %s: %s\n", what, tr_errname(rc));
    return 1;
}

int
main(int argc, char **argv)
{
    const char *listen = NULL, *seed = NULL, *secret = NULL;
    int64_t heartbeat = 100, timeout = 1000;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--listen") == 0)
            listen = argv[i + 1];
        else if (strcmp(argv[i], "--seed") == 0)
            seed = argv[i + 1];
        else if (strcmp(argv[i], "--secret") == 0)
            secret = argv[i + 1];
        else if (strcmp(argv[i], "--heartbeat") == 0)
            heartbeat = atoll(argv[i + 1]);
        else if (strcmp(argv[i], "--timeout") == 0)
            timeout = atoll(argv[i + 1]);
        else
            return fail(argv[i], TR_EINVAL);
    }
    const char *name = getenv("TROUPE_NODE_NAME");
    if (name == NULL || listen == NULL || seed == NULL || secret == NULL)
        return fail("usage", TR_EINVAL);

    // The signals we wait for are blocked before any thread starts, so
    // every thread inherits the mask and sigwait alone takes them.
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);

    tr_system *sys;
    tr_config cfg = {.loops = 1};
    int rc = tr_system_open(&sys, &cfg);
    if (rc != 0)
        return fail("open", rc);
    const char *seeds[1] = {seed};
    tr_node_config nc = {
        .name = name,
        .listen = listen,
        .seeds = seeds,
        .nseeds = 1,
        .secret = secret,
        .secret_len = strlen(secret),
        .heartbeat_ms = heartbeat,
        .timeout_ms = timeout,
        .reconnect_min_ms = 20,
        .reconnect_max_ms = 200,
    };
    tr_ref echo, sink;
    if ((rc = tr_node_start(sys, &nc)) != 0 ||
        (rc = tr_system_spawn(&echo, sys, &echo_b, NULL, 0, NULL)) != 0 ||
        (rc = tr_system_spawn(&sink, sys, &sink_b, NULL, 0, NULL)) != 0 ||
        (rc = tr_register(sys, "echo", echo)) != 0 ||
        (rc = tr_register(sys, "sink", sink)) != 0)
        return fail("start", rc);
    int sig = 0;
    sigwait(&stop, &sig);
    rc = tr_system_close(sys, 5000, NULL);
    return rc == 0 ? 0 : fail("close", rc);
}
