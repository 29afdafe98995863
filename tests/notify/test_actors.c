// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// examples/notify, its actors without HTTP: a courier (with its api and
// gateways) in a real system, fed submissions directly, answering through
// a port that records what it says. The gateway's latencies are a few
// milliseconds and its randomness is seeded, so the tests are quick; they
// wait on counters and answers, never on time.
#define _POSIX_C_SOURCE 200809L
#include "tests/test.h"

#include "notify.h"

#include <troupe/cluster.h>
#include <troupe/pack.h>

#include <pthread.h>
#include <string.h>

#include <jansson.h>

// --- a port that records answers -------------------------------------------

#define ANSWERS 512

struct answer {
    uint64_t token;
    int status, retry_after;
    char body[512];
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct answer answers[ANSWERS];
static _Atomic int nanswers;
static uint64_t next_token;

static void
record(void *cookie, uint64_t token, int status, int retry_after,
       const char *body, size_t len)
{
    (void)cookie;
    pthread_mutex_lock(&mu);
    int n = atomic_load(&nanswers);
    if (n < ANSWERS) {
        answers[n] = (struct answer){token, status, retry_after, ""};
        memcpy(answers[n].body, body,
               len < sizeof answers[n].body ? len : sizeof answers[n].body - 1);
        atomic_store(&nanswers, n + 1);
    }
    pthread_mutex_unlock(&mu);
}

// answer_for waits for the answer to `token` and returns a copy.
static struct answer
answer_for(uint64_t token)
{
    struct answer a = {0};
    bool found = false;
    int64_t end = tr_now_ns() + (int64_t)TEST_WAIT_MS * 1000000;
    while (!found && tr_now_ns() < end) {
        pthread_mutex_lock(&mu);
        for (int i = 0; i < atomic_load(&nanswers) && !found; i++)
            if (answers[i].token == token) {
                a = answers[i];
                found = true;
            }
        pthread_mutex_unlock(&mu);
        if (!found)
            sched_yield();
    }
    assert_true(found);
    return a;
}

// --- a system with one courier
// ------------------------------------------------

struct rig {
    tr_system *sys;
    tr_ref courier;
    notify_config cfg;
    struct notify_counters ctr;
};

static void
config(notify_config *c)
{
    notify_config_defaults(c);
    c->shards = 1;
    c->seed = 42;
    c->gateways = 2;
    c->streams = 4;
    c->latency_min_ms = 1;
    c->latency_max_ms = 4;
    c->min_attempt_ms = 1;
    c->attempt_ms = 1000;
    c->backoff_ms = 5;
    c->backoff_max_ms = 50;
    c->fail_rate = 0;
    c->rate = 0;
    c->queue = 256;
    c->store = 1024;
}

static void
rig_start(struct rig *r, const notify_config *cfg)
{
    memset(r, 0, sizeof *r);
    r->cfg = *cfg;
    atomic_store(&nanswers, 0);
    json_object_seed(1); // before the threads: jansson seeds on first use
    tr_config tc = {.loops = 2, .blocking_threads = cfg->gateways};
    assert_int_equal(tr_system_open(&r->sys, &tc), 0);
    tr_node_config nc = {.name = "test"};
    assert_int_equal(tr_node_start(r->sys, &nc), 0);
    struct notify_shard_arg a = {r->cfg, 0, {record, NULL}, &r->ctr};
    assert_int_equal(tr_system_spawn(&r->courier, r->sys, &notify_courier, &a,
                                     sizeof a, NULL),
                     0);
}

static void
rig_stop(struct rig *r)
{
    test_close(r->sys);
}

// submit sends one submission to `to` and returns its token.
static uint64_t
submit(struct rig *r, tr_ref to, unsigned kind, const char *name,
       int64_t ttl_ms)
{
    struct notify_submission s = {.token = ++next_token,
                                  .kind = kind,
                                  .name = name,
                                  .name_len = strlen(name),
                                  .title = "hello",
                                  .title_len = 5,
                                  .body = "world",
                                  .body_len = 5,
                                  .ttl_ms = ttl_ms};
    tr_pack p;
    tr_pack_init(&p, NULL, 0);
    assert_int_equal(notify_submission_pack(&p, &s), 0);
    assert_int_equal(tr_system_send(r->sys, to, NOTIFY_SUBMIT, tr_pack_data(&p),
                                    tr_pack_len(&p)),
                     0);
    tr_pack_fini(&p);
    return s.token;
}

// accepted submits and returns the id from the 202.
static uint64_t
accepted(struct rig *r, const char *user, int64_t ttl_ms)
{
    struct answer a = answer_for(submit(r, r->courier, 0, user, ttl_ms));
    assert_int_equal(a.status, 202);
    json_t *j = json_loads(a.body, 0, NULL);
    json_int_t id = 0;
    assert_int_equal(json_unpack(j, "{s:I}", "id", &id), 0);
    json_decref(j);
    return (uint64_t)id;
}

// status GETs `id` and returns the parsed body (the caller's to decref).
static json_t *
status(struct rig *r, uint64_t id)
{
    uint64_t token = ++next_token;
    tr_pack p;
    tr_pack_init(&p, NULL, 0);
    tr_pack_array(&p, 2);
    tr_pack_uint(&p, token);
    tr_pack_uint(&p, id);
    assert_int_equal(tr_system_send(r->sys, r->courier, NOTIFY_GET,
                                    tr_pack_data(&p), tr_pack_len(&p)),
                     0);
    tr_pack_fini(&p);
    struct answer a = answer_for(token);
    assert_int_equal(a.status, 200);
    json_t *j = json_loads(a.body, 0, NULL);
    assert_non_null(j);
    return j;
}

static uint64_t
finished(struct rig *r)
{
    return atomic_load(&r->ctr.delivered) + atomic_load(&r->ctr.failed) +
           atomic_load(&r->ctr.expired);
}

static void
push_state(json_t *j, const char **state, int *attempts, const char **error,
           json_int_t *done_ms)
{
    *error = "";
    *done_ms = -1;
    assert_int_equal(json_unpack(j, "{s:{s:s, s:i, s?s, s?I}}", "push", "state",
                                 state, "attempts", attempts, "last_error",
                                 error, "done_after_ms", done_ms),
                     0);
}

// --- the tests ---------------------------------------------------------------

static void
test_delivers_and_answers_status(void **state)
{
    (void)state;
    struct rig r;
    notify_config c;
    config(&c);
    rig_start(&r, &c);
    uint64_t id = accepted(&r, "alice", 5000);
    TEST_WAIT_UNTIL(finished(&r) == 1);
    json_t *j = status(&r, id);
    const char *st, *err, *ws;
    int attempts;
    json_int_t done;
    push_state(j, &st, &attempts, &err, &done);
    assert_string_equal(st, "delivered");
    assert_int_equal(attempts, 1);
    assert_int_equal(json_unpack(j, "{s:{s:s}}", "ws", "state", &ws), 0);
    assert_string_equal(ws, "no_session");
    json_decref(j);
    assert_int_equal(atomic_load(&r.ctr.delivered), 1);
    assert_int_equal(atomic_load(&r.ctr.live), 0);
    rig_stop(&r);
}

// Every attempt fails and the budget is short: the courier retries with
// backoff until the next attempt could not finish, and ends by the
// deadline.
static void
test_retry_budget_ends_by_the_deadline(void **state)
{
    (void)state;
    struct rig r;
    notify_config c;
    config(&c);
    c.fail_rate = 1;
    c.permanent_rate = 0;
    c.max_attempts = 1000;
    rig_start(&r, &c);
    uint64_t id = accepted(&r, "bob", 300);
    TEST_WAIT_UNTIL(finished(&r) == 1);
    json_t *j = status(&r, id);
    const char *st, *err;
    int attempts;
    json_int_t done;
    push_state(j, &st, &attempts, &err, &done);
    assert_string_equal(st, "expired");
    // Pauses of 5, 10, 20, 40, 50, 50... ms (half random) with 1-4 ms
    // attempts: at least six attempts fit in 300 ms, and at most 300 / 2.5.
    assert_in_range(attempts, 6, 120);
    // The last attempt failed, or ran out of budget while in flight.
    assert_non_null(strstr(err, "budget used up"));
    assert_true(strstr(err, "503 service unavailable") != NULL ||
                strstr(err, "timed out") != NULL);
    // Ends near the deadline: not before the last pause (at most 50 ms)
    // could still fit, not long after it (timers are late on a loaded
    // machine under a sanitizer, but not by a second).
    assert_in_range(done, 300 - 51, 300 + 1000);
    json_decref(j);
    assert_int_equal(atomic_load(&r.ctr.retries), attempts - 1);
    assert_int_equal(atomic_load(&r.ctr.expired), 1);
    rig_stop(&r);
}

static void
test_gives_up_after_max_attempts(void **state)
{
    (void)state;
    struct rig r;
    notify_config c;
    config(&c);
    c.fail_rate = 1;
    c.permanent_rate = 0;
    c.max_attempts = 3;
    rig_start(&r, &c);
    uint64_t id = accepted(&r, "carol", 10000);
    TEST_WAIT_UNTIL(finished(&r) == 1);
    json_t *j = status(&r, id);
    const char *st, *err;
    int attempts;
    json_int_t done;
    push_state(j, &st, &attempts, &err, &done);
    assert_string_equal(st, "failed");
    assert_int_equal(attempts, 3);
    assert_string_equal(err, "gave up after 3 attempts: gateway: 503 service "
                             "unavailable");
    assert_true(done >= 5 / 2 + 10 / 2); // two pauses, at least half each
    json_decref(j);
    rig_stop(&r);
}

static void
test_permanent_failure_is_not_retried(void **state)
{
    (void)state;
    struct rig r;
    notify_config c;
    config(&c);
    c.fail_rate = 1;
    c.permanent_rate = 1;
    rig_start(&r, &c);
    uint64_t id = accepted(&r, "dave", 10000);
    TEST_WAIT_UNTIL(finished(&r) == 1);
    json_t *j = status(&r, id);
    const char *st, *err;
    int attempts;
    json_int_t done;
    push_state(j, &st, &attempts, &err, &done);
    assert_string_equal(st, "failed");
    assert_int_equal(attempts, 1);
    assert_string_equal(err, "gateway: 410 device token unregistered");
    json_decref(j);
    rig_stop(&r);
}

// The gateway is slower than an attempt's deadline: each attempt times
// out (the gateway hears TR_MSG_CANCEL and frees the stream), and the
// notification expires within its budget.
static void
test_slow_gateway_attempts_time_out(void **state)
{
    (void)state;
    struct rig r;
    notify_config c;
    config(&c);
    c.latency_min_ms = c.latency_max_ms = 400;
    c.attempt_ms = 20;
    c.gateways = 1;
    c.streams = 1;
    rig_start(&r, &c);
    uint64_t id = accepted(&r, "erin", 250);
    TEST_WAIT_UNTIL(finished(&r) == 1);
    json_t *j = status(&r, id);
    const char *st, *err;
    int attempts;
    json_int_t done;
    push_state(j, &st, &attempts, &err, &done);
    assert_string_equal(st, "expired");
    assert_true(attempts >= 2);
    assert_non_null(strstr(err, "budget used up"));
    json_decref(j);
    // A second attempt that timed out (rather than being refused at once
    // for want of a stream) shows the gateway dropped the first when its
    // requester gave up: it has one stream, and a 400 ms latency.
    assert_true(atomic_load(&r.ctr.timeouts) >= 2);
    rig_stop(&r);
}

// A full queue answers 503 with Retry-After and queues nothing; what was
// accepted is all delivered.
static void
test_full_queue_sheds_with_503(void **state)
{
    (void)state;
    struct rig r;
    notify_config c;
    config(&c);
    c.queue = 3;
    c.store = 8;
    c.gateways = 1;
    c.streams = 1;
    c.latency_min_ms = c.latency_max_ms = 500; // far longer than 10 sends
    rig_start(&r, &c);
    uint64_t tokens[10];
    for (int i = 0; i < 10; i++)
        tokens[i] = submit(&r, r.courier, 0, "frank", 10000);
    int ok = 0, shed = 0;
    for (int i = 0; i < 10; i++) {
        struct answer a = answer_for(tokens[i]);
        if (a.status == 202) {
            ok++;
        } else {
            assert_int_equal(a.status, 503);
            assert_true(a.retry_after >= 1);
            assert_non_null(strstr(a.body, "queue full"));
            shed++;
        }
    }
    assert_int_equal(ok, 3); // all sent at once: the queue takes 3
    assert_int_equal(shed, 7);
    TEST_WAIT_UNTIL(finished(&r) == 3);
    assert_int_equal(atomic_load(&r.ctr.accepted), 3);
    assert_int_equal(atomic_load(&r.ctr.delivered), 3);
    assert_int_equal(atomic_load(&r.ctr.rejected), 7);
    // With room again, it accepts.
    (void)accepted(&r, "frank", 10000);
    rig_stop(&r);
}

// Many notifications, a third of the attempts failing: every accepted one
// reaches a final state, and the counters add up.
static void
test_nothing_accepted_is_lost(void **state)
{
    (void)state;
    struct rig r;
    notify_config c;
    config(&c);
    c.fail_rate = 0.3;
    c.permanent_rate = 0.1;
    c.max_attempts = 4;
    rig_start(&r, &c);
    char user[16];
    for (int i = 0; i < 200; i++) {
        snprintf(user, sizeof user, "u%d", i % 17);
        (void)submit(&r, r.courier, 0, user, 5000);
    }
    TEST_WAIT_UNTIL(atomic_load(&nanswers) == 200);
    TEST_WAIT_UNTIL(finished(&r) == atomic_load(&r.ctr.accepted));
    assert_int_equal(
        atomic_load(&r.ctr.accepted) + atomic_load(&r.ctr.rejected), 200);
    assert_true(atomic_load(&r.ctr.accepted) > 0);
    assert_true(atomic_load(&r.ctr.failed) > 0);    // some were unlucky
    assert_true(atomic_load(&r.ctr.delivered) > 0); // most were not
    assert_true(atomic_load(&r.ctr.retries) > 0);
    assert_int_equal(atomic_load(&r.ctr.live), 0);
    rig_stop(&r);
}

// The api in front limits each user (or topic) separately: 429 with
// Retry-After.
static void
test_rate_limit_answers_429(void **state)
{
    (void)state;
    struct rig r;
    notify_config c;
    config(&c);
    c.rate = 0.2; // one more every 5 s: none comes back during the test
    c.burst = 2;
    rig_start(&r, &c);
    char name[32];
    tr_ref api;
    notify_api_name(name, sizeof name, 0);
    assert_int_equal(tr_whereis(r.sys, name, &api), 0);
    uint64_t t[4];
    for (int i = 0; i < 4; i++)
        t[i] = submit(&r, api, 0, "gina", 5000);
    uint64_t other = submit(&r, api, 1, "gina", 5000); // a topic: own bucket
    assert_int_equal(answer_for(t[0]).status, 202);
    assert_int_equal(answer_for(t[1]).status, 202);
    for (int i = 2; i < 4; i++) {
        struct answer a = answer_for(t[i]);
        assert_int_equal(a.status, 429);
        assert_in_range(a.retry_after, 1, 5);
        assert_non_null(strstr(a.body, "rate limit"));
    }
    assert_int_equal(answer_for(other).status, 202);
    assert_int_equal(atomic_load(&r.ctr.limited), 2);
    rig_stop(&r);
}

// A member of "u:<user>" gets the notification as JSON; the status says
// how many sessions took it.
static _Atomic int events;
static char event_text[512];

static int
member_receive(tr_ctx *ctx, const tr_msg *m)
{
    (void)ctx;
    if (tr_msg_type(m) != NOTIFY_EVENT)
        return TR_EUNHANDLED;
    size_t n = tr_msg_size(m) < sizeof event_text - 1 ? tr_msg_size(m)
                                                      : sizeof event_text - 1;
    memcpy(event_text, tr_msg_data(m), n);
    event_text[n] = '\0';
    atomic_fetch_add(&events, 1); // release: publishes event_text
    return 0;
}

static const tr_behavior member = {.name = "member", .receive = member_receive};

static void
test_groups_fan_out(void **state)
{
    (void)state;
    struct rig r;
    notify_config c;
    config(&c);
    rig_start(&r, &c);
    tr_ref a, b;
    assert_int_equal(tr_system_spawn(&a, r.sys, &member, NULL, 0, NULL), 0);
    assert_int_equal(tr_system_spawn(&b, r.sys, &member, NULL, 0, NULL), 0);
    assert_int_equal(tr_pg_join(r.sys, "u:hank", a), 0);
    assert_int_equal(tr_pg_join(r.sys, "t:news", b), 0);
    uint64_t id = accepted(&r, "hank", 5000);
    TEST_WAIT_UNTIL(atomic_load(&events) == 1);
    assert_int_equal(atomic_load(&events), 1);
    json_t *ev = json_loads(event_text, 0, NULL);
    const char *user, *title;
    json_int_t eid;
    assert_int_equal(json_unpack(ev, "{s:I, s:s, s:s}", "id", &eid, "user",
                                 &user, "title", &title),
                     0);
    assert_int_equal(eid, id);
    assert_string_equal(user, "hank");
    assert_string_equal(title, "hello");
    assert_int_equal(event_text[strlen(event_text) - 1], '\n');
    json_decref(ev);
    json_t *j = status(&r, id);
    const char *ws;
    int sessions;
    assert_int_equal(json_unpack(j, "{s:{s:s, s:i}}", "ws", "state", &ws,
                                 "sessions", &sessions),
                     0);
    assert_string_equal(ws, "delivered");
    assert_int_equal(sessions, 1);
    json_decref(j);
    // A topic reaches its members.
    assert_int_equal(answer_for(submit(&r, r.courier, 1, "news", 5000)).status,
                     202);
    TEST_WAIT_UNTIL(atomic_load(&events) == 2);
    assert_non_null(strstr(event_text, "\"topic\":\"news\""));
    rig_stop(&r);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_delivers_and_answers_status),
        cmocka_unit_test(test_retry_budget_ends_by_the_deadline),
        cmocka_unit_test(test_gives_up_after_max_attempts),
        cmocka_unit_test(test_permanent_failure_is_not_retried),
        cmocka_unit_test(test_slow_gateway_attempts_time_out),
        cmocka_unit_test(test_full_queue_sheds_with_503),
        cmocka_unit_test(test_nothing_accepted_is_lost),
        cmocka_unit_test(test_rate_limit_answers_429),
        cmocka_unit_test(test_groups_fan_out),
    };
    test_main("notify/actors", tests, argc, argv);
}
