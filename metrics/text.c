// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// text.c: a system's metrics in the Prometheus text exposition format
// 0.0.4 (see troupe/metrics.h for what is exported).
//
// Design notes
// - Each family is written whole, HELP and TYPE first, then its samples
//   (all loops', all peers'), as the format requires: a family's samples
//   are never interleaved with another's.
// - Histogram buckets are cumulative counts of a tr_hist snapshot at the
//   tr_hist bucket bounds 2^k - 1 ns (k = 9..35): each le is exact, not
//   rounded; the +Inf bucket is the snapshot's count, which equals the
//   sum of its buckets (hist.h), so +Inf == _count always holds.
// - Label values are escaped (backslash, double quote, newline); names
//   and HELP texts are constants here.
#define _POSIX_C_SOURCE 200809L
#include "metrics.h"

#include "../base/base.h"

#include <troupe/cluster.h>

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define HIST_K_MIN 9  // first bucket: le = 511 ns
#define HIST_K_MAX 35 // last finite bucket: le = 2^35 - 1 ns, about 34 s

void
tr__mbuf_free(struct tr__mbuf *b)
{
    tr__free(b->p, b->cap);
    *b = (struct tr__mbuf){0};
}

static bool
mbuf_reserve(struct tr__mbuf *b, size_t more)
{
    if (b->oom)
        return false;
    if (b->len + more < b->cap)
        return true;
    size_t cap = b->cap != 0 ? b->cap : 4096;
    while (b->len + more >= cap)
        cap *= 2;
    char *p = tr__alloc(cap);
    if (p == NULL) {
        b->oom = true;
        return false;
    }
    if (b->len != 0)
        memcpy(p, b->p, b->len);
    tr__free(b->p, b->cap);
    b->p = p;
    b->cap = cap;
    return true;
}

static void put(struct tr__mbuf *b, const char *fmt, ...) TR_PRINTF(2, 3);

static void
put(struct tr__mbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !mbuf_reserve(b, (size_t)n + 1))
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

// Appends `s` as a label value: backslash, double quote and newline are
// escaped, as the format asks.
static void
put_label(struct tr__mbuf *b, const char *s)
{
    for (; s != NULL && *s != 0; s++) {
        if (!mbuf_reserve(b, 3))
            return;
        if (*s == '\\' || *s == '"') {
            b->p[b->len++] = '\\';
            b->p[b->len++] = *s;
        } else if (*s == '\n') {
            b->p[b->len++] = '\\';
            b->p[b->len++] = 'n';
        } else {
            b->p[b->len++] = *s;
        }
    }
    if (mbuf_reserve(b, 1))
        b->p[b->len] = 0;
}

static void
family(struct tr__mbuf *b, const char *name, const char *type, const char *help)
{
    put(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
one(struct tr__mbuf *b, const char *name, const char *type, const char *help,
    uint64_t v)
{
    family(b, name, type, help);
    put(b, "%s %" PRIu64 "\n", name, v);
}

static double
secs(uint64_t ns)
{
    return (double)ns / 1e9;
}

static void
system_families(struct tr__mbuf *b, tr_system *sys)
{
    tr_stats st;
    tr_system_stats(sys, &st);
    one(b, "troupe_loops", "gauge", "Loop threads.", tr_system_loops(sys));
    one(b, "troupe_actors", "gauge",
        "Actors spawned and not yet freed, inboxes included.", st.actors_live);
    one(b, "troupe_actors_spawned_total", "counter", "Spawns that succeeded.",
        st.actors_spawned);
    one(b, "troupe_actors_crashed_total", "counter",
        "Actors that stopped with a negative reason.", st.actors_crashed);
    one(b, "troupe_messages_sent_total", "counter",
        "Messages queued into a mailbox.", st.msgs_sent);
    one(b, "troupe_dead_letters_total", "counter",
        "User messages left unread by an actor that died.", st.dead_letters);
    one(b, "troupe_messages_unhandled_total", "counter",
        "Messages a behaviour returned TR_EUNHANDLED for.", st.unhandled);
    one(b, "troupe_late_replies_total", "counter",
        "Replies that came after their request had ended.", st.late_replies);
    one(b, "troupe_messages_refused_total", "counter",
        "Sends refused with TR_EFULL by a full mailbox.", st.msgs_refused);
    one(b, "troupe_messages_dropped_total", "counter",
        "Messages dropped by a mailbox's overflow policy.", st.msgs_dropped);
    one(b, "troupe_mailbox_alarms_total", "counter",
        "Mailbox overload alarms raised.", st.mailbox_alarms);
    one(b, "troupe_requests_abandoned_total", "counter",
        "Requests still pending when their requester stopped.",
        st.requests_abandoned);
    one(b, "troupe_requests_timed_out_total", "counter",
        "Requests that passed their deadline.", st.requests_timed_out);
    family(b, "troupe_timer_late_max_seconds", "gauge",
           "The latest any timer fired, past its due time.");
    put(b, "troupe_timer_late_max_seconds %.9g\n",
        secs(st.timer_late_max_ns > 0 ? (uint64_t)st.timer_late_max_ns : 0));
}

struct loop_counter {
    const char *name, *help;
    size_t off; // of a uint64_t in tr_loop_info
};

static const struct loop_counter loop_counters[] = {
    {"troupe_loop_turns_total", "Turns started (an actor's run each).",
     offsetof(tr_loop_info, runs)},
    {"troupe_loop_messages_handled_total",
     "Messages actors on the loop took from their mailboxes.",
     offsetof(tr_loop_info, msgs_handled)},
    {"troupe_loop_messages_sent_total", "Messages sent from the loop.",
     offsetof(tr_loop_info, msgs_sent)},
    {"troupe_loop_wakeups_total", "Sleeps ended by another thread's post.",
     offsetof(tr_loop_info, wakeups)},
    {"troupe_loop_timers_fired_total", "Timers that fired on the loop.",
     offsetof(tr_loop_info, timers_fired)},
    {"troupe_loop_stalls_total",
     "Watchdog reports of a handler holding the loop.",
     offsetof(tr_loop_info, stalls)},
};

static void
hist_family(struct tr__mbuf *b, const char *name, const char *help,
            const tr_loop_info *li, unsigned n, size_t off)
{
    family(b, name, "histogram", help);
    for (unsigned l = 0; l < n; l++) {
        const tr_hist *h =
            (const tr_hist *)(const void *)((const char *)&li[l] + off);
        uint64_t cum = 0;
        unsigned k = HIST_K_MIN;
        for (unsigned i = 0; i < TR_HIST_BUCKETS && k <= HIST_K_MAX; i++) {
            cum += h->bucket[i];
            if (tr_hist_bucket_max_ns(i) == (1ull << k) - 1) {
                // %.12g: 2^35 - 1 ns is 34.359738367 s, 11 digits, so
                // every bound prints exactly.
                put(b, "%s_bucket{loop=\"%u\",le=\"%.12g\"} %" PRIu64 "\n",
                    name, l, secs((1ull << k) - 1), cum);
                k++;
            }
        }
        put(b, "%s_bucket{loop=\"%u\",le=\"+Inf\"} %" PRIu64 "\n", name, l,
            h->count);
        put(b, "%s_sum{loop=\"%u\"} %.9g\n", name, l, secs(h->sum_ns));
        put(b, "%s_count{loop=\"%u\"} %" PRIu64 "\n", name, l, h->count);
    }
}

static const double quantiles[] = {0.5, 0.9, 0.99, 0.999};

static void
hist_gauges(struct tr__mbuf *b, const char *what, const tr_loop_info *li,
            unsigned n, size_t off)
{
    char name[64];
    snprintf(name, sizeof name, "troupe_loop_%s_quantile_seconds", what);
    family(b, name, "gauge",
           "Upper estimate of a quantile of the histogram of the same "
           "name (within 12.5%), since the system started.");
    for (unsigned l = 0; l < n; l++) {
        const tr_hist *h =
            (const tr_hist *)(const void *)((const char *)&li[l] + off);
        for (size_t q = 0; q < sizeof quantiles / sizeof *quantiles; q++)
            put(b, "%s{loop=\"%u\",quantile=\"%g\"} %.9g\n", name, l,
                quantiles[q], secs(tr_hist_quantile(h, quantiles[q])));
    }
    snprintf(name, sizeof name, "troupe_loop_%s_max_seconds", what);
    family(b, name, "gauge",
           "The largest value of the histogram of the same name.");
    for (unsigned l = 0; l < n; l++) {
        const tr_hist *h =
            (const tr_hist *)(const void *)((const char *)&li[l] + off);
        put(b, "%s{loop=\"%u\"} %.9g\n", name, l, secs(h->max_ns));
    }
}

static int
loop_families(struct tr__mbuf *b, tr_system *sys)
{
    unsigned n = tr_system_loops(sys);
    tr_loop_info *li = tr__alloc(n * sizeof *li);
    if (li == NULL)
        return TR_ENOMEM;
    for (unsigned l = 0; l < n; l++)
        (void)tr_loop_stats(sys, l, &li[l]);
    for (size_t c = 0; c < sizeof loop_counters / sizeof *loop_counters; c++) {
        family(b, loop_counters[c].name, "counter", loop_counters[c].help);
        for (unsigned l = 0; l < n; l++) {
            uint64_t v;
            memcpy(&v, (const char *)&li[l] + loop_counters[c].off, sizeof v);
            put(b, "%s{loop=\"%u\"} %" PRIu64 "\n", loop_counters[c].name, l,
                v);
        }
    }
    hist_family(b, "troupe_loop_lag_seconds",
                "Time from runnable to running (sampled).", li, n,
                offsetof(tr_loop_info, lag));
    hist_gauges(b, "lag", li, n, offsetof(tr_loop_info, lag));
    hist_family(b, "troupe_loop_run_seconds",
                "Durations of actor turns: handlers for up to a budget of "
                "messages (sampled).",
                li, n, offsetof(tr_loop_info, run));
    hist_gauges(b, "run", li, n, offsetof(tr_loop_info, run));
    tr__free(li, n * sizeof *li);
    return 0;
}

static void
pool_families(struct tr__mbuf *b, tr_system *sys)
{
    tr_pool_info p;
    (void)tr_pool_stats(sys, &p);
    one(b, "troupe_pool_threads", "gauge", "Blocking pool job threads.",
        p.threads);
    one(b, "troupe_pool_threads_busy", "gauge", "Job threads running a job.",
        p.busy);
    one(b, "troupe_pool_queued_jobs", "gauge", "Jobs waiting for a thread.",
        p.queued);
    one(b, "troupe_pool_queue_capacity", "gauge",
        "Bound of the job queue (tr_config.pool_queue).", p.queue_cap);
    one(b, "troupe_pool_jobs_total", "counter", "Offloaded jobs started.",
        p.jobs_run);
    one(b, "troupe_pool_jobs_rejected_total", "counter",
        "tr_offload calls refused with TR_EBUSY (queue full).",
        p.jobs_rejected);
    one(b, "troupe_pool_actor_threads", "gauge", "Blocking-actor threads.",
        p.actor_threads);
    one(b, "troupe_pool_actor_threads_busy", "gauge",
        "Blocking-actor threads in an actor's turn.", p.actors_busy);
    one(b, "troupe_pool_actors_runnable", "gauge",
        "Blocking actors waiting for a thread.", p.actors_runnable);
    one(b, "troupe_pool_actor_sends_refused_total", "counter",
        "Sends refused with TR_EBUSY by a full blocking actor.",
        p.actors_refused);
}

static void
actor_labels(struct tr__mbuf *b, const tr_actor_info *a)
{
    put(b, "{actor=\"%" PRIx64 "\",behavior=\"", a->ref.bits);
    put_label(b, a->name);
    if (a->loop == TR_LOOP_BLOCKING)
        put(b, "\",loop=\"blocking\"}");
    else
        put(b, "\",loop=\"%u\"}", a->loop);
}

static int
actor_families(struct tr__mbuf *b, tr_system *sys, unsigned top)
{
    size_t cap = 2 * (size_t)top, n = 0, nb = 0;
    tr_actor_info *v = tr__alloc(cap * sizeof *v);
    if (v == NULL)
        return TR_ENOMEM;
    (void)tr_actors_top(sys, TR_TOP_QUEUED, v, top, &n);
    (void)tr_actors_top(sys, TR_TOP_BUSY, v + n, top, &nb);
    // Merge: the busiest that are not among the deepest already. The end
    // is fixed before the loop: n grows as entries are kept.
    size_t end = n + nb;
    for (size_t i = n; i < end; i++) {
        bool dup = false;
        for (size_t j = 0; j < n && !dup; j++)
            dup = tr_ref_eq(v[j].ref, v[i].ref);
        if (!dup)
            v[n++] = v[i];
    }
    family(b, "troupe_actor_mailbox_depth", "gauge",
           "Messages in the mailbox of the deepest and busiest actors.");
    for (size_t i = 0; i < n; i++) {
        put(b, "troupe_actor_mailbox_depth");
        actor_labels(b, &v[i]);
        put(b, " %" PRIu32 "\n", v[i].queued);
    }
    family(b, "troupe_actor_messages_total", "counter",
           "Messages the actor took from its mailbox.");
    for (size_t i = 0; i < n; i++) {
        put(b, "troupe_actor_messages_total");
        actor_labels(b, &v[i]);
        put(b, " %" PRIu64 "\n", v[i].handled);
    }
    family(b, "troupe_actor_busy_seconds_total", "counter",
           "Estimated time the actor held a thread (sampled turns).");
    for (size_t i = 0; i < n; i++) {
        put(b, "troupe_actor_busy_seconds_total");
        actor_labels(b, &v[i]);
        put(b, " %.9g\n", secs(v[i].busy_ns));
    }
    tr__free(v, cap * sizeof *v);
    return 0;
}

struct node_counter {
    const char *name, *help;
    size_t off; // of a uint64_t in tr_node_stats
};

static const struct node_counter node_counters[] = {
    {"troupe_node_ups_total", "Peer-up events.",
     offsetof(tr_node_stats, nodes_up)},
    {"troupe_node_downs_total", "Peer-down events.",
     offsetof(tr_node_stats, nodes_down)},
    {"troupe_node_messages_out_total", "Envelopes queued to peers.",
     offsetof(tr_node_stats, msgs_out)},
    {"troupe_node_messages_in_total", "Envelopes received and decoded.",
     offsetof(tr_node_stats, msgs_in)},
    {"troupe_node_frames_out_total", "Writes to peers (batches).",
     offsetof(tr_node_stats, frames_out)},
    {"troupe_node_bytes_out_total", "Bytes written to peers.",
     offsetof(tr_node_stats, bytes_out)},
    {"troupe_node_bytes_in_total", "Bytes read from peers.",
     offsetof(tr_node_stats, bytes_in)},
    {"troupe_node_outbox_full_total",
     "Sends refused with TR_EFULL by a full outbox.",
     offsetof(tr_node_stats, outbox_full)},
    {"troupe_node_dropped_in_total",
     "Messages received for a gone or full actor.",
     offsetof(tr_node_stats, dropped_in)},
    {"troupe_node_auth_failures_total", "Peers refused for a wrong secret.",
     offsetof(tr_node_stats, auth_failures)},
    {"troupe_node_protocol_errors_total", "Peers disconnected for bad frames.",
     offsetof(tr_node_stats, proto_errors)},
    {"troupe_node_heartbeat_misses_total",
     "Peers declared down by heartbeat timeout.",
     offsetof(tr_node_stats, heartbeat_miss)},
    {"troupe_node_group_published_out_total",
     "Group messages sent to other nodes.",
     offsetof(tr_node_stats, group_pub_out)},
    {"troupe_node_group_published_in_total",
     "Group messages received from other nodes.",
     offsetof(tr_node_stats, group_pub_in)},
    {"troupe_node_group_delivered_total",
     "Group messages put in local mailboxes.",
     offsetof(tr_node_stats, group_delivered)},
    {"troupe_node_group_dropped_total",
     "Group messages missed by a gone or full member.",
     offsetof(tr_node_stats, group_dropped)},
    {"troupe_node_connections_opened_total",
     "Connections begun, dialled or accepted.",
     offsetof(tr_node_stats, conns_opened)},
    {"troupe_node_heartbeats_in_total", "Heartbeats received.",
     offsetof(tr_node_stats, beats_in)},
};

static int
node_families(struct tr__mbuf *b, tr_system *sys)
{
    tr_node_stats ns;
    if (tr_node_stats_get(sys, &ns) != 0)
        return 0; // not a node
    char me[TR_NODE_NAME_MAX] = "";
    (void)tr_ref_node(sys, TR_REF_NONE, me, sizeof me);
    family(b, "troupe_node_info", "gauge", "This node, by name: always 1.");
    put(b, "troupe_node_info{node=\"");
    put_label(b, me);
    put(b, "\"} 1\n");
    one(b, "troupe_node_peers_up", "gauge",
        "Peers connected and authenticated.", ns.peers_up);
    one(b, "troupe_node_connections", "gauge",
        "Connections open, handshaking or up.", ns.conns);
    for (size_t c = 0; c < sizeof node_counters / sizeof *node_counters; c++) {
        uint64_t v;
        memcpy(&v, (const char *)&ns + node_counters[c].off, sizeof v);
        one(b, node_counters[c].name, "counter", node_counters[c].help, v);
    }
    tr_node_peer few[16], *p = few;
    size_t cap = 16, n = 0;
    if (tr_node_peers(sys, few, cap, &n) != 0)
        n = 0;
    if (n > cap) { // many peers: ask again with room for them all, and some
        cap = n + 16;
        p = tr__alloc(cap * sizeof *p);
        if (p == NULL)
            return TR_ENOMEM;
        if (tr_node_peers(sys, p, cap, &n) != 0)
            n = 0;
        if (n > cap)
            n = cap;
    }
    family(b, "troupe_peer_up", "gauge",
           "1 while the peer is connected and authenticated, else 0.");
    for (size_t i = 0; i < n; i++) {
        put(b, "troupe_peer_up{peer=\"");
        put_label(b, p[i].name);
        put(b, "\"} %d\n", p[i].up ? 1 : 0);
    }
    family(b, "troupe_peer_outbox_bytes", "gauge",
           "Bytes queued to the peer and not yet written.");
    for (size_t i = 0; i < n; i++) {
        put(b, "troupe_peer_outbox_bytes{peer=\"");
        put_label(b, p[i].name);
        put(b, "\"} %zu\n", p[i].outbox_bytes);
    }
    if (p != few)
        tr__free(p, cap * sizeof *p);
    return 0;
}

int
tr__metrics_render(struct tr__mbuf *b, tr_system *sys, unsigned top)
{
    system_families(b, sys);
    int rc = loop_families(b, sys);
    pool_families(b, sys);
    if (rc == 0)
        rc = actor_families(b, sys, top != 0 ? top : 10);
    if (rc == 0)
        rc = node_families(b, sys);
    return rc != 0 ? rc : b->oom ? TR_ENOMEM : 0;
}

int
tr_metrics_text(tr_system *sys, const tr_metrics_opts *opts, char *buf,
                size_t size, size_t *len)
{
    if (sys == NULL || len == NULL || (size != 0 && buf == NULL))
        return TR_EINVAL;
    struct tr__mbuf b = {0};
    int rc = tr__metrics_render(&b, sys, opts != NULL ? opts->top_actors : 0);
    if (rc == 0) {
        *len = b.len;
        if (b.len < size) {
            memcpy(buf, b.p, b.len);
            buf[b.len] = 0;
        } else {
            rc = TR_ELIMIT;
        }
    }
    tr__mbuf_free(&b);
    return rc;
}
