// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// The timing wheel alone, on a virtual clock.
#include "loop/timer.h"

#include "tests/test.h"

#include <stdlib.h>
#include <string.h>

struct rec {
    struct tr__timer t; // first
    struct tr__wheel *w;
    int64_t fired_at; // -1: not yet
    int fires;
    int64_t period; // > 0: re-arm
};

static void
rec_fire(struct tr__timer *t)
{
    struct rec *r = (struct rec *)t;
    r->fired_at = r->w->now;
    r->fires++;
    if (r->period > 0)
        tr__wheel_arm(r->w, t, r->w->now + r->period);
}

static uint64_t rng = 88172645463325252ull;

static uint64_t
rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void
test_fires_at_due_never_early(void **state)
{
    (void)state;
    enum { N = 100000 };
    struct tr__wheel w;
    tr__wheel_init(&w, 1000);
    struct rec *r = calloc(N, sizeof *r);
    assert_non_null(r);
    for (int i = 0; i < N; i++) {
        tr__timer_init(&r[i].t, rec_fire);
        r[i].w = &w;
        r[i].fired_at = -1;
        // Spread over every level: up to about 4.6 hours, many short.
        uint64_t span = 1ull << (rnd() % 25);
        tr__wheel_arm(&w, &r[i].t, 1000 + (int64_t)(rnd() % span));
    }
    assert_int_equal(w.count, N);
    // Cancel every third.
    for (int i = 0; i < N; i += 3)
        tr__wheel_cancel(&w, &r[i].t);
    int64_t now = 1000;
    size_t fired = 0;
    while (w.count > 0) {
        int64_t step = 1 + (int64_t)(rnd() % 5000);
        now += step;
        fired += tr__wheel_advance(&w, now);
        assert_int_equal(w.now, now);
        // Everything due by now has fired, nothing due later has.
        for (int i = 1; i < N; i += 97) {
            if (i % 3 == 0)
                continue;
            if (r[i].t.due <= now)
                assert_int_equal(r[i].fires, 1);
            else
                assert_int_equal(r[i].fires, 0);
        }
    }
    for (int i = 0; i < N; i++) {
        if (i % 3 == 0) {
            assert_int_equal(r[i].fires, 0);
            continue;
        }
        assert_int_equal(r[i].fires, 1);
        assert_true(r[i].fired_at >= r[i].t.due); // never early
    }
    assert_int_equal(fired, N - (N + 2) / 3);
    free(r);
}

static void
test_exact_tick_by_tick(void **state)
{
    (void)state;
    enum { N = 5000 };
    struct tr__wheel w;
    tr__wheel_init(&w, 0);
    struct rec *r = calloc(N, sizeof *r);
    assert_non_null(r);
    for (int i = 0; i < N; i++) {
        tr__timer_init(&r[i].t, rec_fire);
        r[i].w = &w;
        tr__wheel_arm(&w, &r[i].t, (int64_t)(rnd() % 300000));
    }
    for (int64_t now = 0; w.count > 0; now += 1 + (int64_t)(rnd() % 3)) {
        int64_t next = tr__wheel_next(&w);
        assert_true(next >= w.now);
        tr__wheel_advance(&w, now);
    }
    // Advanced in steps of at most three ticks: at most two late.
    for (int i = 0; i < N; i++) {
        assert_int_equal(r[i].fires, 1);
        assert_in_range(r[i].fired_at - r[i].t.due, 0, 2);
    }
    free(r);
}

static void
test_due_now_and_periodic(void **state)
{
    (void)state;
    struct tr__wheel w;
    tr__wheel_init(&w, 50);
    struct rec a = {.w = &w}, b = {.w = &w, .period = 10};
    tr__timer_init(&a.t, rec_fire);
    tr__timer_init(&b.t, rec_fire);
    tr__wheel_arm(&w, &a.t, 20); // already due
    assert_int_equal(tr__wheel_next(&w), 50);
    tr__wheel_advance(&w, 50);
    assert_int_equal(a.fires, 1);
    assert_int_equal(a.fired_at, 50);
    tr__wheel_arm(&w, &b.t, 60);
    tr__wheel_advance(&w, 105);
    assert_int_equal(b.fires, 5); // 60, 70, 80, 90, 100
    assert_int_equal(tr__wheel_next(&w), 110);
    tr__wheel_cancel(&w, &b.t);
    tr__wheel_cancel(&w, &b.t); // twice is harmless
    assert_int_equal(w.count, 0);
    assert_int_equal(tr__wheel_next(&w), INT64_MAX);
}

static void
test_far_timer_is_never_early(void **state)
{
    (void)state;
    struct tr__wheel w;
    tr__wheel_init(&w, 7);
    struct rec a = {.w = &w};
    tr__timer_init(&a.t, rec_fire);
    int64_t due = 7 + (1ll << 37); // beyond the wheel's 2^36 ticks
    tr__wheel_arm(&w, &a.t, due);
    int64_t now = 7;
    while (a.fires == 0) {
        int64_t next = tr__wheel_next(&w);
        assert_true(next > now && next <= due);
        now = next;
        tr__wheel_advance(&w, now);
    }
    assert_int_equal(a.fired_at, due);
}

static void
test_zeroed_timer_is_unarmed(void **state)
{
    (void)state;
    struct tr__wheel w;
    tr__wheel_init(&w, 0);
    struct rec a = {.w = &w};
    tr__timer_init(&a.t, rec_fire);
    tr__wheel_arm(&w, &a.t, 5); // in level 0, slot 5
    struct tr__timer z;
    memset(&z, 0, sizeof z);           // never armed: cancelling it must not
    assert_false(tr__timer_armed(&z)); // touch the wheel
    tr__wheel_cancel(&w, &z);
    assert_int_equal(w.count, 1);
    tr__wheel_advance(&w, 10);
    assert_int_equal(a.fires, 1);
}

static void
test_million_armed_and_cancelled(void **state)
{
    (void)state;
    enum { N = 1000000 };
    struct tr__wheel w;
    tr__wheel_init(&w, 0);
    struct rec *r = calloc(N, sizeof *r);
    assert_non_null(r);
    for (int i = 0; i < N; i++) {
        tr__timer_init(&r[i].t, rec_fire);
        r[i].w = &w;
        tr__wheel_arm(&w, &r[i].t, 1 + (int64_t)(rnd() % 1000000));
    }
    for (int i = 0; i < N; i++)
        tr__wheel_cancel(&w, &r[i].t);
    assert_int_equal(w.count, 0);
    for (int l = 0; l < TR__WHEEL_LEVELS; l++)
        assert_int_equal(w.bits[l], 0);
    assert_int_equal(tr__wheel_advance(&w, 2000000), 0);
    free(r);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fires_at_due_never_early),
        cmocka_unit_test(test_exact_tick_by_tick),
        cmocka_unit_test(test_due_now_and_periodic),
        cmocka_unit_test(test_far_timer_is_never_early),
        cmocka_unit_test(test_zeroed_timer_is_unarmed),
        cmocka_unit_test(test_million_armed_and_cancelled),
    };
    test_main("loop/timer", tests, argc, argv);
}
