// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// notify: a notification service. See README.md.
//
//   notify [--port N] [--seconds N] [--quiet] [knobs...]   (--help lists them)
//
// It serves until SIGINT or SIGTERM (or --seconds), printing one line of
// counters per second, then answers what is in flight, stops, and prints
// the totals.
#define _POSIX_C_SOURCE 200809L
#include "server.h"

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void
usage(FILE *f)
{
    fprintf(f,
            "usage: notify [options]\n"
            "  --port N            HTTP and WebSocket port (8080; 0: any)\n"
            "  --seconds N         stop after N seconds (0: at SIGINT)\n"
            "  --quiet             no line per second\n"
            "  --loops N           loop threads (2)\n"
            "  --shards N          api+courier shards (one per loop)\n"
            "  --gateways N        gateway connections per shard (4)\n"
            "  --streams N         requests per gateway connection (8)\n"
            "  --latency MIN-MAX   gateway latency, ms (50-500)\n"
            "  --fail-rate P       share of attempts that fail (0.10)\n"
            "  --permanent-rate P  share of failures that are permanent "
            "(0.10)\n"
            "  --seed N            random seed (0: from the clock)\n"
            "  --attempt-ms N      one attempt's deadline (450)\n"
            "  --backoff-ms N      first retry pause (100)\n"
            "  --backoff-max-ms N  longest retry pause (5000)\n"
            "  --max-attempts N    attempts per notification (8)\n"
            "  --ttl-ms N          default budget per notification (30000)\n"
            "  --rate R            notifications per second per user (10; 0: "
            "no limit)\n"
            "  --burst N           rate-limit burst (20)\n"
            "  --queue N           live notifications per shard (1024)\n"
            "  --store N           status entries per shard (8192)\n"
            "  --api-queue N       api mailbox per shard (256)\n"
            "  --pending N         HTTP requests in flight (1024)\n"
            "  --pending-ms N      503 for a request unanswered this long "
            "(10000)\n"
            "  --sessions N        WebSocket sessions (1024)\n");
}

// parse_args fills `c`; false (after a message) on a bad option.
static bool
parse_args(int argc, char **argv, notify_config *c, int *seconds, bool *quiet)
{
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (strcmp(o, "--quiet") == 0) {
            *quiet = true;
            continue;
        }
        if (strcmp(o, "--help") == 0 || strcmp(o, "-h") == 0) {
            usage(stdout);
            exit(0);
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "notify: %s needs a value\n", o);
            return false;
        }
        const char *v = argv[++i];
        char *end = NULL;
        double d = strtod(v, &end);
        bool num = end != v && *end == '\0' && d >= 0;
        if (strcmp(o, "--latency") == 0) {
            long long lo, hi;
            if (sscanf(v, "%lld-%lld", &lo, &hi) != 2) {
                fprintf(stderr, "notify: --latency wants MIN-MAX\n");
                return false;
            }
            c->latency_min_ms = lo;
            c->latency_max_ms = hi;
        } else if (!num) {
            fprintf(stderr, "notify: %s wants a number >= 0\n", o);
            return false;
        } else if (d > INT_MAX && strcmp(o, "--seed") != 0) {
            // Every field below holds INT_MAX, and converting a double
            // that does not fit is undefined; no knob needs more. (The
            // seed is read as an integer of its own.)
            fprintf(stderr, "notify: %s is out of range (at most %d)\n", o,
                    INT_MAX);
            return false;
        } else if (strcmp(o, "--port") == 0) {
            c->port = (int)d;
        } else if (strcmp(o, "--seconds") == 0) {
            *seconds = (int)d;
        } else if (strcmp(o, "--loops") == 0) {
            c->loops = (unsigned)d;
        } else if (strcmp(o, "--shards") == 0) {
            c->shards = (unsigned)d;
        } else if (strcmp(o, "--gateways") == 0) {
            c->gateways = (unsigned)d;
        } else if (strcmp(o, "--streams") == 0) {
            c->streams = (unsigned)d;
        } else if (strcmp(o, "--fail-rate") == 0) {
            c->fail_rate = d;
        } else if (strcmp(o, "--permanent-rate") == 0) {
            c->permanent_rate = d;
        } else if (strcmp(o, "--seed") == 0) {
            c->seed = strtoull(v, NULL, 10);
        } else if (strcmp(o, "--attempt-ms") == 0) {
            c->attempt_ms = (int64_t)d;
        } else if (strcmp(o, "--backoff-ms") == 0) {
            c->backoff_ms = (int64_t)d;
        } else if (strcmp(o, "--backoff-max-ms") == 0) {
            c->backoff_max_ms = (int64_t)d;
        } else if (strcmp(o, "--max-attempts") == 0) {
            c->max_attempts = (int)d;
        } else if (strcmp(o, "--ttl-ms") == 0) {
            c->ttl_ms = (int64_t)d;
        } else if (strcmp(o, "--rate") == 0) {
            c->rate = d;
        } else if (strcmp(o, "--burst") == 0) {
            c->burst = (uint32_t)d;
        } else if (strcmp(o, "--queue") == 0) {
            c->queue = (uint32_t)d;
        } else if (strcmp(o, "--store") == 0) {
            c->store = (uint32_t)d;
        } else if (strcmp(o, "--api-queue") == 0) {
            c->api_queue = (uint32_t)d;
        } else if (strcmp(o, "--pending") == 0) {
            c->pending = (uint32_t)d;
        } else if (strcmp(o, "--pending-ms") == 0) {
            c->pending_ms = (int64_t)d;
        } else if (strcmp(o, "--sessions") == 0) {
            c->sessions = (uint32_t)d;
        } else {
            fprintf(stderr, "notify: unknown option %s (try --help)\n", o);
            return false;
        }
    }
    return true;
}

static void
sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && !stop)
        ;
}

int
main(int argc, char **argv)
{
    notify_config cfg;
    notify_config_defaults(&cfg);
    int seconds = 0;
    bool quiet = false;
    if (!parse_args(argc, argv, &cfg, &seconds, &quiet)) {
        usage(stderr);
        return 2;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    notify_server *srv;
    const char *why = NULL;
    int rc = notify_server_start(&srv, &cfg, &why);
    if (rc != 0) {
        fprintf(stderr, "notify: %s (%d)\n", why != NULL ? why : "cannot start",
                rc);
        return 1;
    }
    printf("notify: listening on http://%s:%d (WebSocket /ws); "
           "POST /notify, GET /notify/<id>, GET /stats\n",
           cfg.host, notify_server_port(srv));
    fflush(stdout);
    int64_t t0 = tr_now_ns();
    for (int tick = 1; !stop && (seconds == 0 || tick <= seconds); tick++) {
        sleep_ms(1000);
        if (quiet || stop)
            continue;
        struct notify_totals t;
        struct notify_edge_stats es;
        uint64_t rss = 0, peak = 0;
        notify_server_totals(srv, &t);
        notify_edge_stats(notify_server_edge(srv), &es);
        (void)notify_rss_kb(&rss, &peak);
        printf("t=%.0fs accepted=%llu busy=%llu rejected=%llu limited=%llu "
               "delivered=%llu failed=%llu expired=%llu live=%llu "
               "retries=%llu sessions=%u rss=%lluKiB\n",
               (double)(tr_now_ns() - t0) / 1e9, (unsigned long long)t.accepted,
               (unsigned long long)es.busy, (unsigned long long)t.rejected,
               (unsigned long long)t.limited, (unsigned long long)t.delivered,
               (unsigned long long)t.failed, (unsigned long long)t.expired,
               (unsigned long long)t.live, (unsigned long long)t.retries,
               es.sessions, (unsigned long long)rss);
        fflush(stdout);
    }
    struct notify_totals t;
    notify_server_totals(srv, &t);
    rc = notify_server_stop(srv);
    printf("notify: accepted %llu, delivered %llu, failed %llu, expired %llu, "
           "unfinished at exit %llu; stop %s\n",
           (unsigned long long)t.accepted, (unsigned long long)t.delivered,
           (unsigned long long)t.failed, (unsigned long long)t.expired,
           (unsigned long long)t.live, rc == 0 ? "clean" : tr_strerror(rc));
    return rc == 0 ? 0 : 1;
}
