// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// server.h: the whole service in one process, for main and the tests.
#ifndef NOTIFY_SERVER_H
#define NOTIFY_SERVER_H

#include "edge.h"
#include "notify.h"

typedef struct notify_server notify_server;

// notify_server_start opens a system of cfg->loops loops, makes it a node
// of its own (process groups need one; it neither listens nor dials),
// starts serving HTTP and WebSocket (first: the couriers need the edge's
// port to answer through, and a taken port fails before any courier
// starts), then starts one supervised courier per shard (each with its api
// and gateways) and waits up to 5 s for every api to register. Until a
// shard's api has registered, the edge answers that shard's requests 503
// ("shard unavailable", Retry-After: 1). If the wait gives up, it logs
// event=notify_api_missing (warn) and returns 0 all the same: the
// supervisor may still bring the api up.
// Returns 0, or a negative TR_E* code, or a positive nng error code;
// *why (if not NULL) gets a static sentence about the failure.
// Ownership: `cfg` is copied. Thread: any but a loop.
int notify_server_start(notify_server **out, const notify_config *cfg,
                        const char **why);

// notify_server_port is the HTTP/WebSocket port.
int notify_server_port(const notify_server *s);

// notify_server_system is the server's actor system.
tr_system *notify_server_system(notify_server *s);

// notify_server_totals sums the shards' counters into *out.
struct notify_totals {
    uint64_t accepted, rejected, limited, delivered, failed, expired;
    uint64_t attempts, retries, timeouts, ws_delivered, ws_missed, ws_none;
    uint64_t live, waiting;
};
void notify_server_totals(notify_server *s, struct notify_totals *out);

// notify_server_edge gives the edge (for its stats).
struct notify_edge *notify_server_edge(notify_server *s);

// notify_server_stop answers what is in flight (503), stops serving,
// closes the system and frees everything. Returns 0, or TR_ETIMEDOUT if
// the actors did not stop in time, or -1 if an actor leaked.
int notify_server_stop(notify_server *s);

#endif // NOTIFY_SERVER_H
