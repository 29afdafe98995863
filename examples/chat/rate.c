// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// rate.c: the per-connection rate limit of CHAT.md: a token bucket (every
// frame takes a token; `rate` tokens a second, at most `burst` saved) and
// a flood detector (more than CHAT_REFUSED_MAX refusals within
// CHAT_REFUSED_WIN_S seconds). Pure: time comes in as an argument, so the
// tests drive it with any clock.
#define _POSIX_C_SOURCE 200809L
#include "chat.h"

void
chat_rate_init(struct chat_rate *r, unsigned rate, unsigned burst,
               int64_t now_ns)
{
    *r = (struct chat_rate){
        .tokens = burst, .last_ns = now_ns, .rate = rate, .burst = burst};
}

enum chat_rate_verdict
chat_rate_take(struct chat_rate *r, int64_t now_ns)
{
    if (now_ns > r->last_ns) {
        r->tokens += (double)(now_ns - r->last_ns) * r->rate / 1e9;
        if (r->tokens > r->burst)
            r->tokens = r->burst;
        r->last_ns = now_ns;
    }
    if (r->tokens >= 1.0) {
        r->tokens -= 1.0;
        return CHAT_RATE_OK;
    }
    // Refused: remember when, in a ring of the last MAX + 1 refusals. When
    // the ring is full and its oldest entry is within the window, this is
    // refusal number MAX + 1 in the window: a flood.
    enum { N = CHAT_REFUSED_MAX + 1 };
    int64_t win = (int64_t)CHAT_REFUSED_WIN_S * 1000000000;
    unsigned slot = (r->head + r->nrefused) % N;
    if (r->nrefused == N) {
        slot = r->head;
        r->head = (r->head + 1) % N;
    } else {
        r->nrefused++;
    }
    r->refused[slot] = now_ns;
    if (r->nrefused == N && now_ns - r->refused[r->head] < win)
        return CHAT_RATE_FLOOD;
    return CHAT_RATE_REFUSE;
}
