// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// chat: a chat server. One port serves the page at / and the WebSocket
// endpoint /ws speaking shared CHAT.md. Run it alone, or as several
// cluster nodes whose users share rooms (see README.md).
//
//   chat [--port 8080] [--host 127.0.0.1] [--bots N] [--node NAME]
//        [--listen URL --seed URL ... --secret S] [limits...]
#define _GNU_SOURCE // SCHED_BATCH
#include "chat.h"

#include <troupe/cluster.h>
#include <troupe/metrics.h>

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef CHAT_WWW_DIR
#define CHAT_WWW_DIR "www"
#endif

#define MAX_LIST 16

static void
usage(void)
{
    fprintf(stderr,
            "usage: chat [options]\n"
            "  --host H             address to serve on (127.0.0.1; * = all)\n"
            "  --port P             HTTP and WebSocket port (8080; 0 = any)\n"
            "  --www DIR            the page's files (%s)\n"
            "  --bots N             demo bots chatting in lobby (0)\n"
            "  --seconds S          stop after S seconds (0 = at SIGINT)\n"
            "  --stats-ms MS        print a stats line this often (10000)\n"
            "  --quiet              no line per connection\n"
            "  --loops N            troupe loop threads (0 = one per CPU)\n"
            "  --sched batch|other  the threads' scheduling policy (batch:\n"
            "                       no preemption among them on wake-up)\n"
            "  --metrics URL        serve Prometheus metrics (the node's\n"
            "                       counters included) at URL, e.g.\n"
            "                       http://127.0.0.1:9101/metrics (none)\n"
            "limits:\n"
            "  --max-conns N        connections on this node (10000)\n"
            "  --max-rooms N        rooms homed on this node (10000)\n"
            "  --rooms-per-client N (50)\n"
            "  --rate N --burst N   frames per second per client (20, 40)\n"
            "  --outbox N           events queued per client (1000)\n"
            "  --ping-ms MS --idle-ms MS  keepalive and idle close (30000, "
            "90000)\n"
            "  --origin O           an allowed Origin (repeat; default "
            "http://<Host>)\n"
            "cluster:\n"
            "  --node NAME          this node's name (n1)\n"
            "  --listen URL         where peers reach this node (tcp://h:p)\n"
            "  --seed URL           a node to join (repeat)\n"
            "  --secret S           the cluster secret (or CHAT_SECRET)\n",
            CHAT_WWW_DIR);
}

static unsigned
num(const char *s)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (*s == 0 || *end != 0 || v > 100000000ul) {
        fprintf(stderr, "chat: not a number: %s\n", s);
        exit(2);
    }
    return (unsigned)v;
}

int
main(int argc, char **argv)
{
    struct chat_config cfg = {.verbose = true};
    tr_config tc = {0};
    const char *host = "127.0.0.1", *www = CHAT_WWW_DIR, *listen = NULL;
    const char *metrics = NULL;
    const char *secret = getenv("CHAT_SECRET");
    const char *seeds[MAX_LIST], *origins[MAX_LIST];
    unsigned nseeds = 0, norigins = 0, bots = 0, seconds = 0;
    unsigned stats_ms = 10000;
    int port = 8080;
    bool batch = true;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--quiet") == 0) {
            cfg.verbose = false;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0 || v == NULL) {
            usage();
            return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0 ? 0 : 2;
        }
        i++;
        if (strcmp(a, "--host") == 0)
            host = v;
        else if (strcmp(a, "--port") == 0)
            port = (int)num(v);
        else if (strcmp(a, "--www") == 0)
            www = v;
        else if (strcmp(a, "--bots") == 0)
            bots = num(v);
        else if (strcmp(a, "--seconds") == 0)
            seconds = num(v);
        else if (strcmp(a, "--stats-ms") == 0)
            stats_ms = num(v);
        else if (strcmp(a, "--max-conns") == 0)
            cfg.max_conns = num(v);
        else if (strcmp(a, "--max-rooms") == 0)
            cfg.max_rooms = num(v);
        else if (strcmp(a, "--rooms-per-client") == 0)
            cfg.rooms_per_conn = num(v);
        else if (strcmp(a, "--rate") == 0)
            cfg.rate_per_s = num(v);
        else if (strcmp(a, "--burst") == 0)
            cfg.rate_burst = num(v);
        else if (strcmp(a, "--outbox") == 0)
            cfg.outbox_max = num(v);
        else if (strcmp(a, "--ping-ms") == 0)
            cfg.ping_ms = num(v);
        else if (strcmp(a, "--idle-ms") == 0)
            cfg.idle_ms = num(v);
        else if (strcmp(a, "--origin") == 0 && norigins < MAX_LIST)
            origins[norigins++] = v;
        else if (strcmp(a, "--metrics") == 0)
            metrics = v;
        else if (strcmp(a, "--loops") == 0)
            tc.loops = num(v);
        else if (strcmp(a, "--sched") == 0 &&
                 (strcmp(v, "batch") == 0 || strcmp(v, "other") == 0))
            batch = strcmp(v, "batch") == 0;
        else if (strcmp(a, "--node") == 0)
            cfg.node = v;
        else if (strcmp(a, "--listen") == 0)
            listen = v;
        else if (strcmp(a, "--seed") == 0 && nseeds < MAX_LIST)
            seeds[nseeds++] = v;
        else if (strcmp(a, "--secret") == 0)
            secret = v;
        else {
            usage();
            return 2;
        }
    }
    if (norigins > 0) {
        cfg.origins = origins;
        cfg.norigins = norigins;
    }
    if ((listen != NULL || nseeds > 0) && (secret == NULL || !*secret)) {
        fprintf(stderr, "chat: a cluster node needs --secret (or "
                        "CHAT_SECRET)\n");
        return 2;
    }

    // Signals are taken by sigtimedwait below, so block them before any
    // thread starts (threads inherit the mask).
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    // SCHED_BATCH, before any thread starts (threads inherit it). nng
    // completes every write on one of its task threads, so a loop writing
    // a room's message to 100 sockets wakes a task thread per write; under
    // the default policy each woken thread may preempt the loop in the
    // middle of its fan-out. Batch threads are not preferred on wake-up:
    // the loop finishes its turn and the completions run after. Measured
    // on 2 cores at 100,000 deliveries/s: p99 27 ms instead of 38-76, and
    // a tenth less CPU (bench/RESULTS.md). Unprivileged; Linux only.
    struct sched_param sp = {0};
    if (batch && sched_setscheduler(0, SCHED_BATCH, &sp) != 0)
        perror("chat: SCHED_BATCH");

    tr_system *sys;
    int rc = tr_system_open(&sys, &tc);
    if (rc != 0) {
        fprintf(stderr, "chat: %s\n", tr_strerror(rc));
        return 1;
    }
    static struct chat_server srv;
    chat_server_init(&srv, sys, &cfg);
    // A node even when alone: the registry (nicknames, rooms) and the
    // process groups (rooms' members) live in the cluster layer. A node
    // that neither listens nor dials needs no secret.
    tr_node_config nc = {.name = srv.cfg.node,
                         .listen = listen,
                         .seeds = seeds,
                         .nseeds = nseeds,
                         .secret = secret,
                         .secret_len = secret != NULL ? strlen(secret) : 0};
    if ((rc = tr_node_start(sys, &nc)) != 0) {
        fprintf(stderr, "chat: cannot start node %s: %s\n", srv.cfg.node,
                tr_strerror(rc));
        tr_system_close(sys, 5000, NULL);
        return 1;
    }
    if (metrics != NULL && (rc = tr_metrics_serve(sys, metrics, NULL)) != 0) {
        fprintf(stderr, "chat: cannot serve metrics at %s: %s\n", metrics,
                tr_strerror(rc));
        tr_system_close(sys, 5000, NULL);
        return 1;
    }
    struct chat_ws *ws;
    if ((rc = chat_ws_start(&ws, &srv, host, &port, www)) != 0) {
        fprintf(stderr, "chat: cannot serve on %s:%d: %s\n", host, port,
                rc > 0 ? "nng error (address in use?)" : tr_strerror(rc));
        tr_system_close(sys, 5000, NULL);
        return 1;
    }
    const char *shown = strcmp(host, "*") == 0 || !*host ? "127.0.0.1" : host;
    printf("chat: node %s serving http://%s:%d/ (page) and ws://%s:%d/ws\n",
           srv.cfg.node, shown, port, shown, port);
    if (listen != NULL) {
        char url[256];
        if (tr_node_url(sys, url, sizeof url) == 0)
            printf("chat: cluster node %s listens at %s\n", srv.cfg.node, url);
    }
    if (metrics != NULL) {
        char url[256];
        if (tr_metrics_url(sys, url, sizeof url) == 0)
            printf("chat: metrics at %s\n", url);
    }
    for (unsigned i = 0; i < nseeds; i++)
        printf("chat: joining %s\n", seeds[i]);
    printf("chat: open http://%s:%d/ in a browser (Ctrl-C stops)\n", shown,
           port);
    fflush(stdout);
    if (bots > 0 && (rc = chat_bots_start(&srv, bots)) != 0)
        fprintf(stderr, "chat: bots: %s\n", tr_strerror(rc));

    int64_t start = tr_now_ns(), last = start;
    uint64_t said0 = 0, out0 = 0;
    for (;;) {
        struct timespec ts = {0, 100 * 1000000};
        if (sigtimedwait(&sigs, NULL, &ts) > 0)
            break;
        int64_t now = tr_now_ns();
        if (seconds > 0 && now - start >= (int64_t)seconds * 1000000000)
            break;
        if (stats_ms > 0 && now - last >= (int64_t)stats_ms * 1000000) {
            uint64_t said = atomic_load(&srv.said);
            uint64_t out = atomic_load(&srv.events_out);
            double dt = (double)(now - last) / 1e9;
            tr_node_stats ns = {0};
            tr_node_stats_get(sys, &ns);
            printf("chat: stats connections=%u rooms=%u peers=%llu "
                   "said/s=%.1f events_out/s=%.1f slow_closed=%llu "
                   "flood_closed=%llu\n",
                   atomic_load(&srv.conns), atomic_load(&srv.rooms),
                   (unsigned long long)ns.peers_up, (double)(said - said0) / dt,
                   (double)(out - out0) / dt,
                   (unsigned long long)atomic_load(&srv.slow_closed),
                   (unsigned long long)atomic_load(&srv.flood_closed));
            fflush(stdout);
            said0 = said;
            out0 = out;
            last = now;
        }
    }
    printf("chat: stopping\n");
    chat_ws_stop(ws);
    tr_stats st;
    rc = tr_system_close(sys, 5000, &st);
    printf("chat: stopped (%s, actors left %llu)\n", tr_strerror(rc),
           (unsigned long long)st.actors_live);
    return rc == 0 ? 0 : 1;
}
