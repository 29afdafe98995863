// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// troupe/metrics.h: a system's metrics in the Prometheus text format, and
// an HTTP endpoint that serves them (for Prometheus, or troupe-top).
//
// What is exported (names begin with troupe_; every counter ends _total):
// - the system's counters (tr_stats): actors, messages sent, dead letters,
//   refused and dropped messages, requests timed out, ...;
// - per loop (label loop="0".."n-1"): turns, messages handled and sent,
//   wake-ups, timers, stalls; the lag and turn-duration histograms
//   (tr_loop_info.lag and .run) as Prometheus histograms in seconds, with
//   a bucket per power of two from 512 ns to 34 s (each le is the exact
//   upper bound of a tr_hist bucket), plus gauges of their quantiles
//   (label quantile="0.5", "0.9", "0.99", "0.999") and maximum;
// - the blocking pool (tr_pool_info): threads, busy, queue depth and
//   capacity, jobs run and rejected;
// - the deepest and busiest actors (tr_actors_top): mailbox depth,
//   messages handled and estimated busy seconds, labelled with the actor's
//   ref (hex, as in log lines), behaviour name and loop;
// - on a node (troupe/cluster.h): the node's counters and, per peer
//   (label peer="name"), whether it is up and its outbox in bytes.
#ifndef TROUPE_METRICS_H
#define TROUPE_METRICS_H

#include <troupe.h>

#ifdef __cplusplus
extern "C" {
#endif

// tr_metrics_opts tunes the export. Zero-initialise; NULL: defaults.
typedef struct tr_metrics_opts {
    // top_actors is how many actors are listed by mailbox depth, and how
    // many by busy time (the two lists are merged). 0: 10. Each listed
    // actor adds three series; a scrape walks every actor once.
    unsigned top_actors;
} tr_metrics_opts;

// tr_metrics_text writes the system's metrics, in the Prometheus text
// exposition format 0.0.4, to `buf` (NUL-terminated when it fits) and the
// length the text needs, without the NUL, to *len. Returns 0, TR_ELIMIT
// when `size` is not more than *len (call again with a larger buffer; the
// text may differ from one call to the next) or TR_ENOMEM.
// Ownership: `buf`, `len` and `opts` are borrowed. Thread: any (before
// tr_system_close).
TR_API int tr_metrics_text(tr_system *sys, const tr_metrics_opts *opts,
                           char *buf, size_t size, size_t *len);

// tr_metrics_serve starts an HTTP server, on its own threads (nng's), that
// answers GET /metrics with tr_metrics_text. `url` is
// http://host:port[/path] (port 0 picks a free one; the path, when not
// empty or "/", replaces /metrics). It serves until tr_system_close
// begins, which stops it (waiting for a scrape in progress) before it
// stops any actor. One server per system. The per-actor series (deepest
// and busiest actors) need the system opened with tr_config.actor_stats;
// without it they list bounded mailboxes only.
// Returns 0, TR_EINVAL (bad URL, not http), TR_EBUSY (this system serves
// already), TR_ECLOSED (the system is closing), TR_ENOMEM or TR_ESYS (it
// cannot listen: the port is taken, say).
// Ownership: `url` and `opts` are copied. Thread: any.
TR_API int tr_metrics_serve(tr_system *sys, const char *url,
                            const tr_metrics_opts *opts);

// tr_metrics_url writes the URL to scrape, e.g.
// "http://127.0.0.1:40123/metrics" (with the port chosen, if port 0 was
// asked for), to buf. Returns 0, TR_EINVAL (not serving) or TR_ELIMIT (buf
// too small). Thread: any (before tr_system_close).
TR_API int tr_metrics_url(tr_system *sys, char *buf, size_t size);

#ifdef __cplusplus
}
#endif

#endif // TROUPE_METRICS_H
