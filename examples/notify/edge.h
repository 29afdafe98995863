// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// edge.h: the HTTP API and the WebSocket endpoint, on nng's HTTP server.
#ifndef NOTIFY_EDGE_H
#define NOTIFY_EDGE_H

#include "notify.h"

struct notify_edge;

// notify_edge_start serves cfg->host:cfg->port: POST /notify, GET
// /notify/<id>, GET /stats, GET / (a page) and WebSocket /ws on the same
// port. `ctr` are the shards' counters (cfg->shards of them), read by
// /stats. Returns 0 or a negative nng error code.
// Ownership: cfg and ctr must outlive the edge. Thread: any.
int notify_edge_start(struct notify_edge **out, tr_system *sys,
                      const notify_config *cfg, struct notify_counters *ctr);

// notify_edge_port is the port it listens on.
int notify_edge_port(const struct notify_edge *e);

// notify_edge_port_of gives the actors their way to answer.
notify_port notify_edge_port_of(struct notify_edge *e);

// notify_edge_close answers what is in flight with 503, stops accepting,
// and stops the HTTP server (waiting for its connections to close). The
// actors may still call respond: it is ignored. Call before closing the
// system, and notify_edge_free after.
void notify_edge_close(struct notify_edge *e);
void notify_edge_free(struct notify_edge *e);

// What the edge itself counted.
struct notify_edge_stats {
    uint64_t requests;    // HTTP requests to the API
    uint64_t bad;         // answered 400 (malformed JSON, bad fields)
    uint64_t busy;        // answered 503 by the edge: no slot, api full
    uint64_t ws_accepted; // WebSocket sessions started
    uint64_t ws_refused;  // closed at once: bad query, too many sessions
    unsigned sessions;    // live now
    uint32_t in_flight;   // requests waiting for an actor's answer
};
void notify_edge_stats(struct notify_edge *e, struct notify_edge_stats *out);

// notify_rss_kb reads the process's resident set size and its peak, in
// KiB, from /proc/self/status. Returns 0 or -1.
int notify_rss_kb(uint64_t *rss, uint64_t *peak);

// notify_stats_json writes the /stats document (malloc'd, NUL-terminated).
char *notify_stats_json(struct notify_edge *e);

#endif // NOTIFY_EDGE_H
