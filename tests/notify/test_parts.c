// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// examples/notify, the parts that need no actors: backoff with jitter,
// the retry plan and its budget, the rate limiter, the status store and
// the submission's payload.
#include "tests/test.h"

#include "limiter.h"
#include "notify.h"
#include "store.h"

#include <troupe/pack.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
test_backoff_doubles_with_equal_jitter(void **state)
{
    (void)state;
    uint64_t rng = 42;
    for (int attempt = 1; attempt <= 8; attempt++) {
        int64_t full = 100ll << (attempt - 1);
        if (full > 1000)
            full = 1000;
        int64_t lo = INT64_MAX, hi = 0;
        for (int i = 0; i < 2000; i++) {
            int64_t p = notify_backoff_ms(attempt, 100, 1000, &rng);
            assert_in_range(p, full - full / 2, full);
            lo = p < lo ? p : lo;
            hi = p > hi ? p : hi;
        }
        // The random half is used: both ends are reached, near enough.
        assert_true(lo <= full - full / 2 + full / 20);
        assert_true(hi >= full - full / 20);
    }
    // No cap: it keeps doubling, and absurd attempt counts do not overflow.
    assert_in_range(notify_backoff_ms(11, 1, 0, &rng), 512, 1024);
    assert_true(notify_backoff_ms(1000, 1000, 0, &rng) > 0);
}

static void
test_plan_ends_on_permanent_errors_and_max_attempts(void **state)
{
    (void)state;
    notify_config c;
    notify_config_defaults(&c);
    c.max_attempts = 3;
    uint64_t rng = 7;
    int64_t at = 0, s = 1000000000, ttl = 60 * s;
    assert_int_equal(notify_plan(1, true, 0, ttl, &c, &rng, &at),
                     NOTIFY_NEXT_FAIL);
    assert_int_equal(notify_plan(3, false, 0, ttl, &c, &rng, &at),
                     NOTIFY_NEXT_FAIL);
    assert_int_equal(notify_plan(2, false, 0, ttl, &c, &rng, &at),
                     NOTIFY_NEXT_RETRY);
    assert_in_range(at, 100 * 1000000, 200 * 1000000); // backoff 2: 100-200
    // 200 ms left: a 100-200 ms pause plus a 50 ms attempt may not fit.
    int retries = 0, expires = 0;
    for (int i = 0; i < 200; i++) {
        enum notify_next n =
            notify_plan(2, false, 0, 200 * 1000000, &c, &rng, &at);
        if (n == NOTIFY_NEXT_RETRY) {
            assert_true(at + c.min_attempt_ms * 1000000 <= 200 * 1000000);
            retries++;
        } else {
            assert_int_equal(n, NOTIFY_NEXT_EXPIRE);
            expires++;
        }
    }
    assert_true(retries > 0 && expires > 0);
}

// Failing at once, every time: the retries stay inside the budget and
// the plan ends them when the next could not finish.
static void
test_retry_budget_is_never_exceeded(void **state)
{
    (void)state;
    notify_config c;
    notify_config_defaults(&c);
    c.max_attempts = 1000;
    c.backoff_ms = 10;
    c.backoff_max_ms = 400;
    c.min_attempt_ms = 5;
    uint64_t rng = 99;
    for (int run = 0; run < 100; run++) {
        int64_t now = 0, deadline = (int64_t)(200 + run * 37) * 1000000;
        int attempts = 1;
        int64_t at;
        enum notify_next n;
        while ((n = notify_plan(attempts, false, now, deadline, &c, &rng,
                                &at)) == NOTIFY_NEXT_RETRY) {
            assert_true(at > now);
            assert_true(at + c.min_attempt_ms * 1000000 <= deadline);
            now = at + 1000000; // the attempt takes 1 ms and fails
            attempts++;
        }
        assert_int_equal(n, NOTIFY_NEXT_EXPIRE);
        assert_true(attempts >= 3);
        assert_true(now <= deadline);
    }
}

// Absurd backoffs, no cap with many attempts, or an absurd min_attempt_ms
// expire: the plan never scales them to ns, where they would overflow.
static void
test_plan_huge_pauses_expire(void **state)
{
    (void)state;
    notify_config c;
    notify_config_defaults(&c);
    c.max_attempts = INT32_MAX;
    uint64_t rng = 5;
    int64_t s = 1000000000, now = 1000 * s, at = -1;
    c.backoff_ms = INT64_MAX / 2;
    c.backoff_max_ms = INT64_MAX;
    assert_int_equal(notify_plan(1, false, now, now + 60 * s, &c, &rng, &at),
                     NOTIFY_NEXT_EXPIRE);
    c.backoff_ms = 1000;
    c.backoff_max_ms = 0; // no cap: 2^99 s, kept near INT64_MAX / 2 ms
    assert_int_equal(notify_plan(100, false, now, now + 60 * s, &c, &rng, &at),
                     NOTIFY_NEXT_EXPIRE);
    c.backoff_max_ms = 5000;
    c.min_attempt_ms = INT64_MAX;
    assert_int_equal(notify_plan(1, false, now, now + 60 * s, &c, &rng, &at),
                     NOTIFY_NEXT_EXPIRE);
    assert_int_equal(at, -1);
    // A deadline already passed expires, even with no pause at all.
    c.backoff_ms = 0;
    c.min_attempt_ms = 0;
    assert_int_equal(notify_plan(1, false, now, now - 1, &c, &rng, &at),
                     NOTIFY_NEXT_EXPIRE);
    // The exact fit still retries: 500-1000 ms plus 50 ms within 1050 ms.
    c.backoff_ms = 1000;
    c.min_attempt_ms = 50;
    assert_int_equal(
        notify_plan(1, false, now, now + 1050 * 1000000, &c, &rng, &at),
        NOTIFY_NEXT_RETRY);
    assert_in_range(at, now + 500 * 1000000, now + 1000 * 1000000);
}

static void
test_limiter_bursts_then_refills(void **state)
{
    (void)state;
    notify_limiter *l;
    int64_t ms = 1000000, t = 5 * ms, retry = 0;
    assert_int_equal(notify_limiter_alloc(&l, 2, 3, 64), 0);
    for (int i = 0; i < 3; i++)
        assert_true(notify_limiter_take(l, "u:ann", 5, t, &retry));
    assert_false(notify_limiter_take(l, "u:ann", 5, t, &retry));
    assert_in_range(retry, 499, 501); // 2 per second: one in 500 ms
    assert_true(notify_limiter_take(l, "u:bob", 5, t, &retry)); // own bucket
    assert_false(notify_limiter_take(l, "u:ann", 5, t + 400 * ms, &retry));
    assert_in_range(retry, 99, 101);
    assert_true(notify_limiter_take(l, "u:ann", 5, t + 500 * ms, &retry));
    // Idle for long, the bucket holds no more than the burst.
    for (int i = 0; i < 3; i++)
        assert_true(
            notify_limiter_take(l, "u:ann", 5, t + 100000 * ms, &retry));
    assert_false(notify_limiter_take(l, "u:ann", 5, t + 100000 * ms, &retry));
    notify_limiter_free(l);
}

static void
test_limiter_memory_is_bounded(void **state)
{
    (void)state;
    notify_limiter *l;
    int64_t ms = 1000000, retry;
    assert_int_equal(notify_limiter_alloc(&l, 1, 1, 16), 0);
    char key[16];
    for (int i = 0; i < 10000; i++) {
        int n = snprintf(key, sizeof key, "u:%d", i);
        assert_true(
            notify_limiter_take(l, key, (size_t)n, (i + 1) * ms, &retry));
    }
    // The key just used is still limited: the oldest buckets made room.
    assert_false(notify_limiter_take(l, key, strlen(key), 10000 * ms, &retry));
    notify_limiter_free(l);
}

static void
test_store_evicts_old_finished_never_live(void **state)
{
    (void)state;
    struct notify_store s;
    assert_int_equal(notify_store_init(&s, 8, 2, 1), 0);
    uint64_t live[3];
    for (int i = 0; i < 3; i++) {
        struct notify_entry *e = notify_store_add(&s);
        assert_non_null(e);
        assert_int_equal(e->id % 2, 1); // ids name their shard
        live[i] = e->id;
    }
    uint64_t first_done = 0;
    for (int i = 0; i < 40; i++) { // many finished ones pass through
        struct notify_entry *e = notify_store_add(&s);
        assert_non_null(e);
        e->push_req = malloc(16); // freed when finished or evicted
        if (first_done == 0)
            first_done = e->id;
        notify_store_finish(&s, e, PUSH_DELIVERED, i);
    }
    for (int i = 0; i < 3; i++) {
        struct notify_entry *e = notify_store_get(&s, live[i]);
        assert_non_null(e);
        assert_int_equal(e->id, live[i]);
        assert_int_equal(e->push, PUSH_QUEUED);
    }
    assert_null(notify_store_get(&s, first_done));  // evicted
    assert_null(notify_store_get(&s, live[0] + 1)); // another shard's
    assert_null(notify_store_get(&s, 0));
    assert_int_equal(s.live, 3);
    // Full of live entries, it refuses instead of evicting one.
    for (int i = 0; i < 5; i++)
        assert_non_null(notify_store_add(&s));
    assert_null(notify_store_add(&s));
    notify_store_fini(&s);
}

static void
test_submission_round_trip_and_bad_bytes(void **state)
{
    (void)state;
    struct notify_submission in = {.token = 1ull << 40 | 5,
                                   .kind = 1,
                                   .name = "news",
                                   .name_len = 4,
                                   .title = "t",
                                   .title_len = 1,
                                   .body = "b\"ody",
                                   .body_len = 5,
                                   .ttl_ms = 1234},
                             out;
    tr_pack p;
    tr_pack_init(&p, NULL, 0);
    assert_int_equal(notify_submission_pack(&p, &in), 0);
    assert_int_equal(notify_submission_unpack(&out, tr_pack_data(&p),
                                              tr_pack_len(&p), 600000),
                     0);
    assert_true(out.token == in.token && out.kind == 1 && out.ttl_ms == 1234);
    assert_memory_equal(out.name, "news", 4);
    assert_memory_equal(out.body, "b\"ody", 5);
    for (size_t cut = 0; cut < tr_pack_len(&p); cut++)
        assert_int_equal(
            notify_submission_unpack(&out, tr_pack_data(&p), cut, 600000),
            TR_EPROTO);
    tr_pack_fini(&p);
    assert_int_equal(notify_submission_unpack(&out, "\xc1\xc1", 2, 600000),
                     TR_EPROTO);
}

// repack packs `in` and unpacks it again, with ttl_max_ms 600000: the
// unpack's result.
static int
repack(const struct notify_submission *in)
{
    struct notify_submission out;
    tr_pack p;
    tr_pack_init(&p, NULL, 0);
    assert_int_equal(notify_submission_pack(&p, in), 0);
    int rc = notify_submission_unpack(&out, tr_pack_data(&p), tr_pack_len(&p),
                                      600000);
    tr_pack_fini(&p);
    return rc;
}

// A well-formed payload whose strings exceed the edge's limits is refused:
// the api copies the name into a key of NOTIFY_NAME_MAX + 2 bytes and the
// courier into its entry's NOTIFY_NAME_MAX, so a longer one would overflow.
static void
test_submission_over_the_limits_is_refused(void **state)
{
    (void)state;
    static char big[NOTIFY_BODY_MAX + 1];
    memset(big, 'x', sizeof big);
    const size_t lens[][3] = {
        {NOTIFY_NAME_MAX, NOTIFY_TITLE_MAX, NOTIFY_BODY_MAX}, // the limits
        {NOTIFY_NAME_MAX + 1, 1, 0},
        {200, 1, 0},
        {0, 1, 0},
        {1, NOTIFY_TITLE_MAX + 1, 0},
        {1, 1, NOTIFY_BODY_MAX + 1},
    };
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        struct notify_submission in = {.token = 9,
                                       .name = big,
                                       .name_len = lens[i][0],
                                       .title = big,
                                       .title_len = lens[i][1],
                                       .body = big,
                                       .body_len = lens[i][2],
                                       .ttl_ms = 1000};
        assert_int_equal(repack(&in), i == 0 ? 0 : TR_EPROTO);
    }
}

// A ttl past the edge's ttl_max_ms is refused as well: the courier turns
// it into a deadline in ns, and a huge one would overflow.
static void
test_submission_ttl_over_the_limit_is_refused(void **state)
{
    (void)state;
    const int64_t ttls[] = {1, 600000, 600001, INT64_MAX, 0, -1};
    for (size_t i = 0; i < sizeof ttls / sizeof ttls[0]; i++) {
        struct notify_submission in = {.token = 9,
                                       .name = "ann",
                                       .name_len = 3,
                                       .title = "t",
                                       .title_len = 1,
                                       .body = "",
                                       .ttl_ms = ttls[i]};
        assert_int_equal(repack(&in), i < 2 ? 0 : TR_EPROTO);
    }
    // And the configuration keeps ttl_max_ms itself within a day.
    notify_config c;
    notify_config_defaults(&c);
    assert_null(notify_config_check(&c));
    c.ttl_max_ms = NOTIFY_TTL_LIMIT_MS;
    assert_null(notify_config_check(&c));
    c.ttl_max_ms = NOTIFY_TTL_LIMIT_MS + 1;
    assert_non_null(notify_config_check(&c));
}

static void
test_names(void **state)
{
    (void)state;
    assert_true(notify_name_ok("alice", 5));
    assert_true(notify_name_ok("a.b-c_d@e", 9));
    assert_false(notify_name_ok("", 0));
    assert_false(notify_name_ok("a b", 3));
    assert_false(notify_name_ok("a/b", 3));
    char long_name[NOTIFY_NAME_MAX + 1];
    memset(long_name, 'x', sizeof long_name);
    assert_true(notify_name_ok(long_name, NOTIFY_NAME_MAX));
    assert_false(notify_name_ok(long_name, NOTIFY_NAME_MAX + 1));
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff_doubles_with_equal_jitter),
        cmocka_unit_test(test_plan_ends_on_permanent_errors_and_max_attempts),
        cmocka_unit_test(test_retry_budget_is_never_exceeded),
        cmocka_unit_test(test_plan_huge_pauses_expire),
        cmocka_unit_test(test_limiter_bursts_then_refills),
        cmocka_unit_test(test_limiter_memory_is_bounded),
        cmocka_unit_test(test_store_evicts_old_finished_never_live),
        cmocka_unit_test(test_submission_round_trip_and_bad_bytes),
        cmocka_unit_test(test_submission_over_the_limits_is_refused),
        cmocka_unit_test(test_submission_ttl_over_the_limit_is_refused),
        cmocka_unit_test(test_names),
    };
    test_main("notify/parts", tests, argc, argv);
}
