// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// Loop health and logging: the log sink and its threshold, the watchdog's
// report of a handler that holds its loop, the loop and pool metrics.
#define _POSIX_C_SOURCE 200809L
#include "tests/test.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

// A sink that keeps the lines it gets (called from any thread).
struct capture {
    pthread_mutex_t mu;
    char lines[16][512];
    _Atomic int n;
};

static void
capture_fn(void *cookie, enum tr_log_level level, const char *line)
{
    struct capture *c = cookie;
    (void)level;
    pthread_mutex_lock(&c->mu);
    int i = atomic_load(&c->n);
    if (i < 16) {
        strncpy(c->lines[i], line, sizeof c->lines[i] - 1);
        atomic_store(&c->n, i + 1);
    }
    pthread_mutex_unlock(&c->mu);
}

// Returns the first captured line containing `what`, or NULL.
static const char *
capture_find(struct capture *c, const char *what)
{
    const char *found = NULL;
    pthread_mutex_lock(&c->mu);
    for (int i = 0; i < atomic_load(&c->n) && found == NULL; i++)
        if (strstr(c->lines[i], what) != NULL)
            found = c->lines[i];
    pthread_mutex_unlock(&c->mu);
    return found;
}

static struct capture cap = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void
test_log_sink_and_threshold(void **state)
{
    (void)state;
    atomic_store(&cap.n, 0);
    tr_system *sys;
    tr_config cfg = {.loops = 1,
                     .log_fn = capture_fn,
                     .log_cookie = &cap,
                     .log_level = TR_LOG_WARN};
    assert_int_equal(tr_system_open(&sys, &cfg), 0);
    assert_false(tr_log_enabled(sys, TR_LOG_INFO));
    assert_true(tr_log_enabled(sys, TR_LOG_ERROR));
    tr_log(sys, TR_LOG_INFO, "skipped", "k=%d", 1);
    tr_log(sys, TR_LOG_WARN, "custom", "k=%d name=%s", 5, "x");
    tr_log(sys, TR_LOG_ERROR, "bare", NULL);
    assert_int_equal(atomic_load(&cap.n), 2);
    assert_string_equal(cap.lines[0], "level=warn event=custom k=5 name=x");
    assert_string_equal(cap.lines[1], "level=error event=bare");
    test_close(sys);
    tr_config bad = {.log_level = TR_LOG_OFF + 1};
    assert_int_equal(tr_system_open(&sys, &bad), TR_EINVAL);
}

// A handler that sleeps 200 ms on its loop: the mistake the watchdog is for.
static _Atomic int sleeping;

static int
sleeper_receive(tr_ctx *ctx, const tr_msg *m)
{
    (void)ctx;
    (void)m;
    atomic_store(&sleeping, 1);
    struct timespec ts = {0, 200 * 1000000};
    while (nanosleep(&ts, &ts) != 0)
        ;
    return 0;
}

static const tr_behavior sleeper = {.name = "sleeper",
                                    .receive = sleeper_receive};

static void
test_watchdog_names_the_behavior_and_message(void **state)
{
    (void)state;
    atomic_store(&cap.n, 0);
    tr_system *sys;
    tr_config cfg = {.loops = 2, .log_fn = capture_fn, .log_cookie = &cap};
    assert_int_equal(tr_system_open(&sys, &cfg), 0);
    tr_ref s;
    tr_spawn_opts o = {.placement = TR_PLACE_LOOP, .loop = 1};
    assert_int_equal(tr_system_spawn(&s, sys, &sleeper, NULL, 0, &o), 0);
    assert_int_equal(tr_system_send(sys, s, 7, NULL, 0), 0);
    // Reported while it is held, then again when the loop moves on.
    TEST_WAIT_UNTIL(capture_find(&cap, "event=loop_recovered") != NULL);
    const char *stall = capture_find(&cap, "event=loop_stalled");
    assert_non_null(stall);
    assert_non_null(strstr(stall, "level=warn "));
    assert_non_null(strstr(stall, " loop=1 "));
    assert_non_null(strstr(stall, " behavior=sleeper "));
    assert_non_null(strstr(stall, " msg_type=7 "));
    const char *rec = capture_find(&cap, "event=loop_recovered");
    assert_non_null(strstr(rec, "loop=1 held_ms="));
    tr_stats st;
    tr_system_stats(sys, &st);
    assert_int_equal(st.loop_stalls, 1);
    test_close(sys);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_sink_and_threshold),
        cmocka_unit_test(test_watchdog_names_the_behavior_and_message),
    };
    test_main("actors/health", tests, argc, argv);
}
