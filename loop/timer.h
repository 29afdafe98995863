// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// timer.h: a hierarchical timing wheel (one per loop), millisecond ticks.
//
// Design notes
// - Six levels of 64 slots; a slot at level l spans 64^l ticks, so the
//   wheel covers 64^6 ms (about two years); a timer due later is parked in
//   the top level and re-filed each time it cascades, never fired early.
// - A timer due at tick d sits in the level where d - now first fits, in
//   the slot d's bits name there; when `now` reaches a multiple of 64^l,
//   that level's slot is cascaded (re-filed into lower levels). Arm and
//   cancel are O(1): a doubly linked list per slot and a 64-bit occupancy
//   word per level.
// - Timers due at or before `now` go to a "due" list fired by the next
//   advance, so a zero delay fires on the next loop turn, not a tick later.
// - Never early: a timer fires only once the wheel's `now` has reached its
//   due tick, and the owner computes the due tick by rounding up.
// - Only the owner thread touches a wheel. fire() gets the timer already
//   unlinked, and may re-arm or free it, or arm and cancel others.
#ifndef TR_LOOP_TIMER_H
#define TR_LOOP_TIMER_H

#include "../base/base.h"

#include <stdbool.h>

#define TR__WHEEL_LEVELS 6
#define TR__WHEEL_NONE   0      // not armed: a zeroed timer is unarmed
#define TR__WHEEL_DUE    0xFFFF // on the due list

struct tr__timer {
    struct tr__timer *next, *prev;
    int64_t due;                       // absolute tick (ms)
    void (*fire)(struct tr__timer *t); // called by tr__wheel_advance
    uint16_t where; // 1 + level * 64 + slot, TR__WHEEL_NONE or TR__WHEEL_DUE
};

struct tr__wheel {
    struct tr__timer *slot[TR__WHEEL_LEVELS][64];
    uint64_t bits[TR__WHEEL_LEVELS];
    struct tr__timer *due; // due at or before now
    int64_t now;           // every timer due at or before now has fired
    size_t count;          // armed timers
};

void tr__wheel_init(struct tr__wheel *w, int64_t now);

// tr__timer_init makes `t` an unarmed timer that calls `fire`.
static inline void
tr__timer_init(struct tr__timer *t, void (*fire)(struct tr__timer *t))
{
    t->next = t->prev = NULL;
    t->fire = fire;
    t->where = TR__WHEEL_NONE;
}

static inline bool
tr__timer_armed(const struct tr__timer *t)
{
    return t->where != TR__WHEEL_NONE;
}

// tr__wheel_arm arms `t` (which must not be armed) for tick `due`.
void tr__wheel_arm(struct tr__wheel *w, struct tr__timer *t, int64_t due);

// tr__wheel_cancel disarms `t`; an unarmed timer is left alone.
void tr__wheel_cancel(struct tr__wheel *w, struct tr__timer *t);

// tr__wheel_advance moves `now` to `target` (if later), firing every timer
// due by then. Returns how many fired.
size_t tr__wheel_advance(struct tr__wheel *w, int64_t target);

// tr__wheel_next returns the earliest tick at which an advance may fire
// something or must cascade, INT64_MAX when no timer is armed.
int64_t tr__wheel_next(const struct tr__wheel *w);

#endif // TR_LOOP_TIMER_H
