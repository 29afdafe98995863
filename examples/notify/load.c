// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// notify-load: floods a notify server past its capacity over loopback and
// prints, once a second, what the clients got (202 accepted, 503 shed, 429
// rate-limited) and what the server says (/stats: delivered, failed,
// expired, live, RSS and peak RSS). After the flood it waits for the
// server to finish what it accepted, then compares: every 202 must end
// delivered, failed or expired; the rest is "lost".
//
//   notify-load [--host H] [--port N] [--seconds N] [--clients N]
//               [--users N] [--ttl-ms N] [--drain-s N]
//
// Exit status 0 when nothing accepted was lost.
//
//   notify-load [--host H] [--port N] [--seconds N] --watch QUERY
//
// instead opens a WebSocket (/ws?QUERY, e.g. "user=alice&topic=news") and
// prints each line the server sends, for --seconds (0: until killed).
#define _POSIX_C_SOURCE 200809L
#include "client.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <nng/nng.h>

struct opts {
    const char *host;
    int port;
    int seconds;
    int clients;
    int users;
    long long ttl_ms;
    int drain_s;
    const char *watch;
};

static struct opts o = {"127.0.0.1", 8080, 10, 32, 10000, 0, 60, NULL};
static atomic_bool flooding = true;
static _Atomic uint64_t n202, n503, n429, nother, nerr;

static int64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
sleep_until(int64_t t)
{
    int64_t d = t - now_ns();
    if (d <= 0)
        return;
    struct timespec ts = {d / 1000000000, d % 1000000000};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static void *
client(void *arg)
{
    uint64_t rng = (uint64_t)(uintptr_t)arg * 0x9e3779b97f4a7c15ull + 1;
    notify_http *c;
    if (notify_http_open(&c, o.host, o.port) != 0) {
        atomic_fetch_add(&nerr, 1);
        return NULL;
    }
    char body[256];
    while (atomic_load(&flooding)) {
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        int n = snprintf(body, sizeof body,
                         "{\"user\":\"u%d\",\"title\":\"flood\","
                         "\"body\":\"load test\"",
                         (int)(rng % (uint64_t)o.users));
        if (o.ttl_ms > 0)
            n += snprintf(body + n, sizeof body - (size_t)n, ",\"ttl_ms\":%lld",
                          o.ttl_ms);
        n += snprintf(body + n, sizeof body - (size_t)n, "}");
        int status = 0, ra;
        int rv = notify_http_do(c, "POST", "/notify", body, (size_t)n, 10000,
                                &status, NULL, &ra);
        if (rv != 0)
            atomic_fetch_add(&nerr, 1);
        else if (status == 202)
            atomic_fetch_add(&n202, 1);
        else if (status == 503)
            atomic_fetch_add(&n503, 1);
        else if (status == 429)
            atomic_fetch_add(&n429, 1);
        else
            atomic_fetch_add(&nother, 1);
    }
    notify_http_close(c);
    return NULL;
}

// stop_clients ends the flood and joins the *n client threads that were
// started (none again on a second call).
static void
stop_clients(pthread_t *th, int *n)
{
    atomic_store(&flooding, false);
    for (int i = 0; i < *n; i++)
        pthread_join(th[i], NULL);
    *n = 0;
}

struct server_stats {
    long long accepted, rejected, delivered, failed, expired, live, busy;
    long long rss_kb, peak_kb;
};

static int
get_stats(notify_http *c, struct server_stats *s)
{
    int status = 0, ra;
    char *text = NULL;
    int rv =
        notify_http_do(c, "GET", "/stats", NULL, 0, 5000, &status, &text, &ra);
    if (rv != 0 || status != 200) {
        free(text);
        return -1;
    }
    json_t *j = json_loads(text, 0, NULL);
    free(text);
    int bad = json_unpack(
        j, "{s:I, s:I, s:I, s:I, s:I, s:I, s:{s:I}, s:I, s:I}", "accepted",
        &s->accepted, "rejected", &s->rejected, "delivered", &s->delivered,
        "failed", &s->failed, "expired", &s->expired, "live", &s->live, "edge",
        "busy", &s->busy, "rss_kb", &s->rss_kb, "peak_rss_kb", &s->peak_kb);
    json_decref(j);
    return bad ? -1 : 0;
}

static bool
parse(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (strcmp(k, "--host") == 0)
            o.host = v;
        else if (strcmp(k, "--port") == 0)
            o.port = atoi(v);
        else if (strcmp(k, "--seconds") == 0)
            o.seconds = atoi(v);
        else if (strcmp(k, "--clients") == 0)
            o.clients = atoi(v);
        else if (strcmp(k, "--users") == 0)
            o.users = atoi(v);
        else if (strcmp(k, "--ttl-ms") == 0)
            o.ttl_ms = atoll(v);
        else if (strcmp(k, "--drain-s") == 0)
            o.drain_s = atoi(v);
        else if (strcmp(k, "--watch") == 0)
            o.watch = v;
        else
            return false;
    }
    return argc % 2 == 1 && o.clients > 0 && o.clients <= 1024 && o.users > 0 &&
           (o.seconds > 0 || o.watch != NULL);
}

// watch prints what a WebSocket session receives.
static int
watch(void)
{
    notify_ws *w;
    int rv = notify_ws_open(&w, o.host, o.port, o.watch);
    if (rv != 0) {
        fprintf(stderr, "notify-load: WebSocket: %s\n", nng_strerror(rv));
        return 1;
    }
    int64_t end =
        o.seconds > 0 ? now_ns() + (int64_t)o.seconds * 1000000000 : INT64_MAX;
    char line[4096];
    while (now_ns() < end) {
        rv = notify_ws_line(w, line, sizeof line, 200);
        if (rv == NNG_ETIMEDOUT)
            continue;
        if (rv != 0)
            break;
        printf("%s\n", line);
        fflush(stdout);
    }
    notify_ws_close(w);
    return rv == 0 || rv == NNG_ETIMEDOUT ? 0 : 1;
}

int
main(int argc, char **argv)
{
    if (!parse(argc, argv)) {
        fprintf(stderr, "usage: notify-load [--host H] [--port N] "
                        "[--seconds N] [--clients N] [--users N] "
                        "[--ttl-ms N] [--drain-s N]\n"
                        "       notify-load [--host H] [--port N] "
                        "[--seconds N] --watch QUERY\n");
        return 2;
    }
    if (o.watch != NULL)
        return watch();
    notify_http *mon;
    if (notify_http_open(&mon, o.host, o.port) != 0) {
        fprintf(stderr, "notify-load: cannot reach http://%s:%d\n", o.host,
                o.port);
        return 1;
    }
    struct server_stats s0 = {0}, s = {0};
    if (get_stats(mon, &s0) != 0) {
        fprintf(stderr, "notify-load: GET /stats failed\n");
        return 1;
    }
    printf("notify-load: %d clients, %d users, %d s flood on %s:%d\n",
           o.clients, o.users, o.seconds, o.host, o.port);
    printf("%5s %9s %9s %9s %9s | %10s %8s %8s %7s %9s %9s\n", "t", "202/s",
           "503/s", "429/s", "err/s", "delivered", "failed", "expired", "live",
           "rss_KiB", "peak_KiB");
    pthread_t *th = calloc((size_t)o.clients, sizeof *th);
    if (th == NULL) {
        fprintf(stderr, "notify-load: out of memory\n");
        notify_http_close(mon);
        return 1;
    }
    // Only the threads that started are joined, on every way out below.
    int started = 0;
    while (started < o.clients &&
           pthread_create(&th[started], NULL, client,
                          (void *)(uintptr_t)(started + 1)) == 0)
        started++;
    if (started < o.clients) {
        fprintf(stderr, "notify-load: cannot start client thread %d\n",
                started + 1);
        stop_clients(th, &started);
        free(th);
        notify_http_close(mon);
        return 1;
    }
    int64_t t0 = now_ns();
    uint64_t p202 = 0, p503 = 0, p429 = 0, perr = 0;
    long long peak_rss = 0;
    uint64_t sent202 = 0;
    bool stats_failed = false;
    for (int t = 1;; t++) {
        sleep_until(t0 + (int64_t)t * 1000000000);
        if (t == o.seconds) {
            stop_clients(th, &started);
            sent202 = atomic_load(&n202);
            printf("-- flood over: %llu accepted; waiting for the server to "
                   "finish them\n",
                   (unsigned long long)(sent202));
        }
        uint64_t a = atomic_load(&n202), b = atomic_load(&n503),
                 c = atomic_load(&n429),
                 e = atomic_load(&nerr) + atomic_load(&nother);
        if (get_stats(mon, &s) != 0) {
            fprintf(stderr, "notify-load: GET /stats failed\n");
            stats_failed = true;
            break;
        }
        if (s.rss_kb > peak_rss)
            peak_rss = s.rss_kb;
        printf("%4ds %9llu %9llu %9llu %9llu | %10lld %8lld %8lld %7lld %9lld "
               "%9lld\n",
               t, (unsigned long long)(a - p202),
               (unsigned long long)(b - p503), (unsigned long long)(c - p429),
               (unsigned long long)(e - perr), s.delivered - s0.delivered,
               s.failed - s0.failed, s.expired - s0.expired, s.live, s.rss_kb,
               s.peak_kb);
        fflush(stdout);
        p202 = a, p503 = b, p429 = c, perr = e;
        if (t > o.seconds && (s.live == 0 || t > o.seconds + o.drain_s))
            break;
    }
    stop_clients(th, &started); // a /stats failure can end the flood early
    sent202 = atomic_load(&n202);
    free(th);
    notify_http_close(mon);
    long long done = (s.delivered - s0.delivered) + (s.failed - s0.failed) +
                     (s.expired - s0.expired);
    long long server_acc = s.accepted - s0.accepted;
    long long lost = (long long)sent202 - done - s.live;
    double secs = (double)o.seconds;
    printf("notify-load: sent %llu requests in %d s: %llu accepted (%.0f/s), "
           "%llu shed with 503 (%.0f/s), %llu rate-limited, %llu errors\n",
           (unsigned long long)(sent202 + atomic_load(&n503) +
                                atomic_load(&n429) + atomic_load(&nother) +
                                atomic_load(&nerr)),
           o.seconds, (unsigned long long)sent202, (double)sent202 / secs,
           (unsigned long long)atomic_load(&n503),
           (double)atomic_load(&n503) / secs,
           (unsigned long long)atomic_load(&n429),
           (unsigned long long)(atomic_load(&nerr) + atomic_load(&nother)));
    printf("notify-load: server accepted %lld: delivered %lld, failed %lld, "
           "expired %lld, still live %lld; lost %lld; server RSS %lld KiB "
           "(highest sampled %lld KiB, process peak %lld KiB)\n",
           server_acc, s.delivered - s0.delivered, s.failed - s0.failed,
           s.expired - s0.expired, s.live, lost, s.rss_kb, peak_rss, s.peak_kb);
    return !stats_failed && lost == 0 && server_acc == (long long)sent202 ? 0
                                                                          : 1;
}
