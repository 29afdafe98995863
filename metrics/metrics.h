// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// metrics.h: the metrics layer's private parts, shared by text.c (the
// Prometheus text) and http.c (the server). The layer sits above actors/
// and cluster/ and reads them through the public API only, plus the
// system's close hook (actors/actor.h) that ties the server's life to the
// system's.
#ifndef TR_METRICS_METRICS_H
#define TR_METRICS_METRICS_H

#include <troupe.h>
#include <troupe/metrics.h>

#include <stdbool.h>
#include <stddef.h>

// tr__mbuf is a growing text buffer. Appends after a failed allocation
// do nothing and leave `oom` set.
struct tr__mbuf {
    char *p;
    size_t len, cap;
    bool oom;
};

// tr__mbuf_free frees the buffer's bytes. Thread: its owner.
void tr__mbuf_free(struct tr__mbuf *b);

// tr__metrics_render appends the system's metrics to `b`, with
// `top_actors` actors per ranking. Returns 0 or TR_ENOMEM. Thread: any.
int tr__metrics_render(struct tr__mbuf *b, tr_system *sys, unsigned top_actors);

#endif // TR_METRICS_METRICS_H
