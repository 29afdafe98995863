// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
#include "server.h"

#include <troupe/cluster.h>
#include <troupe/supervisor.h>

#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

struct notify_server {
    notify_config cfg;
    tr_system *sys;
    struct notify_edge *edge;
    struct notify_counters *ctr; // cfg.shards of them
};

int
notify_server_start(notify_server **out, const notify_config *cfg,
                    const char **why)
{
    const char *no = NULL;
    if (why == NULL)
        why = &no;
    notify_server *s = calloc(1, sizeof *s);
    if (s == NULL)
        return TR_ENOMEM;
    s->cfg = *cfg;
    if (s->cfg.shards == 0)
        s->cfg.shards = s->cfg.loops;
    if (s->cfg.seed == 0)
        s->cfg.seed = (uint64_t)time(NULL) ^ (uint64_t)tr_now_ns();
    if ((*why = notify_config_check(&s->cfg)) != NULL || s->cfg.gateways > 64) {
        *why = *why != NULL ? *why : "at most 64 gateways per shard";
        free(s);
        return TR_EINVAL;
    }
    // jansson seeds its hash function on first use: do it before threads.
    json_object_seed(0);
    s->ctr = calloc(s->cfg.shards, sizeof *s->ctr);
    // A gateway holds its thread while it has requests in progress. Actor
    // statistics on: /metrics and troupe-top then show every mailbox's
    // depth, not only the bounded ones'.
    tr_config tc = {.loops = s->cfg.loops,
                    .seed = s->cfg.seed,
                    .blocking_threads = s->cfg.shards * s->cfg.gateways,
                    .actor_stats = true};
    int rc = s->ctr != NULL ? tr_system_open(&s->sys, &tc) : TR_ENOMEM;
    if (rc != 0) {
        *why = "cannot open the actor system";
        free(s->ctr);
        free(s);
        return rc;
    }
    tr_node_config nc = {.name = "notify"}; // no listen, no seeds: no secret
    if ((rc = tr_node_start(s->sys, &nc)) != 0) {
        *why = "cannot start the node (process groups)";
        goto fail;
    }
    if ((rc = notify_edge_start(&s->edge, s->sys, &s->cfg, s->ctr)) != 0) {
        *why = "cannot listen (is the port taken?)";
        s->edge = NULL;
        goto fail;
    }
    // One courier per shard, restarted alone if it crashes (its api and
    // gateways are its children: they restart with it). What a crashed
    // courier had in flight is lost with it: the store is memory.
    tr_child_spec *kids = calloc(s->cfg.shards, sizeof *kids);
    struct notify_shard_arg *args = calloc(s->cfg.shards, sizeof *args);
    if (kids == NULL || args == NULL) {
        free(kids);
        free(args);
        rc = TR_ENOMEM;
        goto fail;
    }
    for (unsigned i = 0; i < s->cfg.shards; i++) {
        args[i] = (struct notify_shard_arg){
            s->cfg, i, notify_edge_port_of(s->edge), &s->ctr[i]};
        kids[i] = (tr_child_spec){
            .id = "courier",
            .behavior = &notify_courier,
            .arg = &args[i],
            .len = sizeof args[i],
            .restart = TR_PERMANENT,
            .opts = {.placement = TR_PLACE_LOOP, .loop = i % s->cfg.loops},
        };
    }
    tr_sup_spec sup = {
        .strategy = TR_ONE_FOR_ONE, .children = kids, .n = s->cfg.shards};
    tr_ref top;
    rc = tr_sup_spawn_top(&top, s->sys, &sup);
    free(kids);
    free(args);
    if (rc != 0) {
        *why = "cannot start the couriers";
        goto fail;
    }
    // Return once every api has registered (they do so in their init, so
    // this should hold already; the edge has been serving since it
    // started, and answers 503 for a shard whose api it cannot find).
    for (unsigned i = 0; i < s->cfg.shards; i++) {
        char name[32];
        tr_ref api;
        notify_api_name(name, sizeof name, i);
        int64_t end = tr_now_ns() + 5000 * 1000000ll;
        while ((rc = tr_whereis(s->sys, name, &api)) != 0 && tr_now_ns() < end)
            sched_yield();
        if (rc != 0)
            tr_log(s->sys, TR_LOG_WARN, "notify_api_missing",
                   "shard=%u name=%s waited_ms=5000", i, name);
    }
    *out = s;
    return 0;
fail:
    if (s->edge != NULL)
        notify_edge_close(s->edge);
    (void)tr_system_close(s->sys, 5000, NULL);
    notify_edge_free(s->edge);
    free(s->ctr);
    free(s);
    return rc;
}

int
notify_server_port(const notify_server *s)
{
    return notify_edge_port(s->edge);
}

tr_system *
notify_server_system(notify_server *s)
{
    return s->sys;
}

struct notify_edge *
notify_server_edge(notify_server *s)
{
    return s->edge;
}

void
notify_server_totals(notify_server *s, struct notify_totals *out)
{
    // Both structs list the same counters in the same order.
    _Static_assert(sizeof(struct notify_totals) / sizeof(uint64_t) ==
                       sizeof(struct notify_counters) / sizeof(uint64_t),
                   "notify_totals mirrors notify_counters");
    uint64_t *o = (uint64_t *)out;
    memset(out, 0, sizeof *out);
    for (unsigned i = 0; i < s->cfg.shards; i++) {
        const _Atomic uint64_t *c = &s->ctr[i].accepted;
        for (size_t k = 0; k < sizeof *out / sizeof(uint64_t); k++)
            o[k] += atomic_load_explicit(&c[k], memory_order_relaxed);
    }
}

int
notify_server_stop(notify_server *s)
{
    notify_edge_close(s->edge);
    tr_stats st;
    int rc = tr_system_close(s->sys, 10000, &st);
    if (rc == 0 && st.actors_live != 0)
        rc = -1;
    if (rc != TR_ETIMEDOUT) {
        notify_edge_free(s->edge);
        free(s->ctr);
        free(s);
    }
    return rc;
}
