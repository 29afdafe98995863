// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// timer.c: the timing wheel (see timer.h).
#include "timer.h"

#include <string.h>

#define SHIFT(l) (6 * (l))

void
tr__wheel_init(struct tr__wheel *w, int64_t now)
{
    memset(w, 0, sizeof *w);
    w->now = now;
}

static void
list_push(struct tr__timer **head, struct tr__timer *t)
{
    t->prev = NULL;
    t->next = *head;
    if (*head != NULL)
        (*head)->prev = t;
    *head = t;
}

void
tr__wheel_arm(struct tr__wheel *w, struct tr__timer *t, int64_t due)
{
    t->due = due;
    w->count++;
    if (due <= w->now) {
        t->where = TR__WHEEL_DUE;
        list_push(&w->due, t);
        return;
    }
    uint64_t delta = (uint64_t)(due - w->now);
    int l = 0;
    while (l < TR__WHEEL_LEVELS - 1 && delta >= (1ull << SHIFT(l + 1)))
        l++;
    unsigned s;
    if (delta >= (1ull << SHIFT(TR__WHEEL_LEVELS)))    // beyond the wheel:
        s = (unsigned)((w->now >> SHIFT(l)) - 1) & 63; // the farthest slot
    else
        s = (unsigned)(due >> SHIFT(l)) & 63;
    t->where = (uint16_t)(1 + l * 64 + s);
    list_push(&w->slot[l][s], t);
    w->bits[l] |= 1ull << s;
}

static struct tr__timer **
head_of(struct tr__wheel *w, const struct tr__timer *t)
{
    return t->where == TR__WHEEL_DUE
               ? &w->due
               : &w->slot[(t->where - 1) / 64][(t->where - 1) % 64];
}

void
tr__wheel_cancel(struct tr__wheel *w, struct tr__timer *t)
{
    if (t->where == TR__WHEEL_NONE)
        return;
    struct tr__timer **head = head_of(w, t);
    if (t->prev != NULL)
        t->prev->next = t->next;
    else
        *head = t->next;
    if (t->next != NULL)
        t->next->prev = t->prev;
    if (*head == NULL && t->where != TR__WHEEL_DUE)
        w->bits[(t->where - 1) / 64] &= ~(1ull << ((t->where - 1) % 64));
    t->next = t->prev = NULL;
    t->where = TR__WHEEL_NONE;
    w->count--;
}

// Takes the whole list at *head, clearing the slot.
static struct tr__timer *
take(struct tr__wheel *w, int l, unsigned s)
{
    struct tr__timer *list = w->slot[l][s];
    w->slot[l][s] = NULL;
    w->bits[l] &= ~(1ull << s);
    return list;
}

// Fires timers one at a time from a list that fire() may also change.
static size_t
fire_due(struct tr__wheel *w)
{
    size_t n = 0;
    struct tr__timer *t;
    while ((t = w->due) != NULL) {
        tr__wheel_cancel(w, t);
        t->fire(t);
        n++;
    }
    return n;
}

size_t
tr__wheel_advance(struct tr__wheel *w, int64_t target)
{
    size_t fired = fire_due(w);
    while (w->now < target) {
        int64_t next = tr__wheel_next(w);
        if (next > target) {
            w->now = target;
            break;
        }
        w->now = next;
        // Cascade every level whose slot boundary this tick is, highest
        // first, so its timers land in the lower slots cascaded next.
        int top = 0;
        while (top + 1 < TR__WHEEL_LEVELS &&
               (next & ((1ll << SHIFT(top + 1)) - 1)) == 0)
            top++;
        for (int l = top; l >= 1; l--) {
            struct tr__timer *t = take(w, l, (unsigned)(next >> SHIFT(l)) & 63);
            while (t != NULL) {
                struct tr__timer *n = t->next;
                w->count--;
                tr__wheel_arm(w, t, t->due);
                t = n;
            }
        }
        // Level 0's slot for this tick holds only timers due now.
        struct tr__timer *t = take(w, 0, (unsigned)next & 63);
        while (t != NULL) {
            struct tr__timer *n = t->next;
            t->where = TR__WHEEL_DUE;
            list_push(&w->due, t);
            t = n;
        }
        fired += fire_due(w);
    }
    return fired;
}

// The first tick after `now` at which level l's slot s comes round.
static int64_t
slot_tick(int64_t now, int l, unsigned s)
{
    int64_t base = now >> SHIFT(l);
    int64_t round = base & ~(int64_t)63;
    int64_t tick = (round + s) << SHIFT(l);
    if (tick <= now)
        tick = (round + 64 + s) << SHIFT(l);
    return tick;
}

int64_t
tr__wheel_next(const struct tr__wheel *w)
{
    if (w->due != NULL)
        return w->now;
    if (w->count == 0)
        return INT64_MAX;
    int64_t best = INT64_MAX;
    for (int l = 0; l < TR__WHEEL_LEVELS; l++) {
        uint64_t b = w->bits[l];
        if (b == 0)
            continue;
        unsigned cur = (unsigned)(w->now >> SHIFT(l)) & 63;
        // The first occupied slot after the current one, else the first
        // one of the next round.
        uint64_t after = cur == 63 ? 0 : b & ~((2ull << cur) - 1);
        unsigned s = (unsigned)__builtin_ctzll(after != 0 ? after : b);
        int64_t tick = slot_tick(w->now, l, s);
        if (tick < best)
            best = tick;
    }
    return best;
}
