// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// The launcher API with real processes (tests/launcher/child.c): restarts
// with backoff after kill -9, restart types, intensity, stop order and
// SIGKILL escalation, spawn failures. The test thread drives the launcher
// with tr_launch_run, and children report on a FIFO; every wait has a
// deadline and waits on an event, never a sleep.
#define _GNU_SOURCE // mkdtemp, mkfifo, setenv
#include "util.h"

#include <troupe/launch.h>

#include <libgen.h>

// A recorded event.
struct ev {
    enum tr_launch_event_kind kind;
    char name[16];
    int pid, code, signal, err;
    int64_t delay_ms;
    uint32_t restarts;
    bool stopping;
    int64_t at_ns; // tr_now_ns when it was seen
};

struct rec {
    struct ev ev[512];
    size_t n;
};

static void
record(void *arg, const tr_launch_event *e)
{
    struct rec *r = arg;
    if (r->n == sizeof r->ev / sizeof r->ev[0])
        return;
    struct ev *x = &r->ev[r->n++];
    x->kind = e->kind;
    snprintf(x->name, sizeof x->name, "%s", e->name);
    x->pid = e->pid;
    x->code = e->code;
    x->signal = e->signal;
    x->err = e->err;
    x->delay_ms = e->delay_ms;
    x->restarts = e->restarts;
    x->stopping = e->stopping;
    x->at_ns = tr_now_ns();
}

// count counts the events of `kind` for `name`.
static size_t
count(const struct rec *r, enum tr_launch_event_kind kind, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n; i++)
        n += r->ev[i].kind == kind && strcmp(r->ev[i].name, name) == 0;
    return n;
}

// nth returns the index of the n-th (0-based) event of `kind` for `name`,
// failing the test if there is none.
static size_t
nth(const struct rec *r, enum tr_launch_event_kind kind, const char *name,
    size_t n)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->ev[i].kind == kind && strcmp(r->ev[i].name, name) == 0 &&
            n-- == 0)
            return i;
    fail_msg("no event %s #%zu for %s", tr_launch_event_name(kind), n, name);
    return 0;
}

// RUN_UNTIL drives `l` until `cond` holds, the launcher stops or gives up
// (its last code lands in `rc_`), or TEST_WAIT_MS pass.
#define RUN_UNTIL(l, cond)                                                    \
    do {                                                                      \
        int64_t end_ = tr_now_ns() + (int64_t)TEST_WAIT_MS * 1000000;         \
        while (!(cond) && tr_now_ns() < end_) {                               \
            int rc_ = tr_launch_run((l), (end_ - tr_now_ns()) / 1000000 + 1); \
            if (rc_ != 0 && rc_ != TR_ETIMEDOUT)                              \
                break;                                                        \
        }                                                                     \
    } while (0)

static int
state_of(tr_launch *l, const char *name)
{
    tr_launch_status st;
    assert_int_equal(tr_launch_info(l, name, &st), 0);
    return (int)st.state;
}

static int
pid_of(tr_launch *l, const char *name)
{
    tr_launch_status st;
    assert_int_equal(tr_launch_info(l, name, &st), 0);
    return st.pid;
}

// start_line reads marks until the start line of `name` with `restarts`
// and returns its pid, checking what the environment told the child.
static long
start_line(struct scratch *s, const char *name, unsigned restarts,
           const char *test)
{
    char line[256], who[64], want[64], lpid[32];
    snprintf(who, sizeof who, "start %s ", name);
    snprintf(want, sizeof want, "restarts=%u ", restarts);
    snprintf(lpid, sizeof lpid, "lpid=%ld ", (long)getpid());
    assert_true(MARKS_FIND(s, line, who, want));
    assert_non_null(strstr(line, lpid));
    char t[64];
    snprintf(t, sizeof t, "test=%s", test);
    assert_non_null(strstr(line, t));
    return field_int(line, "pid=");
}

// add adds a child running launch-child with `flags` (NULL-terminated)
// after "--mark FIFO".
static void
add(tr_launch *l, struct scratch *s, const char *name,
    enum tr_launch_restart restart, int64_t shutdown_ms,
    const char *const *flags)
{
    const char *argv[16] = {LAUNCH_CHILD, "--mark", s->fifo};
    size_t n = 3;
    for (size_t i = 0; flags != NULL && flags[i] != NULL && n < 15; i++)
        argv[n++] = flags[i];
    argv[n] = NULL;
    const char *env[] = {"LAUNCH_TEST=yes", "TROUPE_NODE_NAME=overridden",
                         NULL};
    tr_launch_child c = {
        .name = name,
        .argv = argv,
        .env = env,
        .restart = restart,
        .shutdown_ms = shutdown_ms,
    };
    assert_int_equal(tr_launch_add(l, &c), 0);
}

#define FLAGS(...) ((const char *const[]){__VA_ARGS__, NULL})

static tr_launch *
open_launcher(struct rec *r, int64_t min_ms, int64_t max_ms, int intensity,
              int64_t period_ms)
{
    tr_launch *l;
    tr_launch_config cfg = {
        .backoff_min_ms = min_ms,
        .backoff_max_ms = max_ms,
        .intensity = intensity,
        .period_ms = period_ms,
        .on_event = record,
        .arg = r,
        .seed = 42,
    };
    r->n = 0;
    assert_int_equal(tr_launch_open(&l, &cfg), 0);
    return l;
}

static void
test_kill9_restarts_with_backoff(void **state)
{
    (void)state;
    static struct rec r;
    struct scratch s;
    scratch_open(&s);
    tr_launch *l = open_launcher(&r, 40, 1000, -1, 60000);
    const char *names[] = {"a", "b", "c"};
    for (size_t i = 0; i < 3; i++)
        add(l, &s, names[i], TR_LAUNCH_PERMANENT, 0, NULL);
    assert_int_equal(tr_launch_start(l), 0);
    // Started in order, each reporting its own name and restart count 0
    // (the spec's TROUPE_NODE_NAME does not win over the launcher's).
    assert_int_equal(r.n, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(r.ev[i].kind, TR_LAUNCH_STARTED);
        assert_string_equal(r.ev[i].name, names[i]);
        assert_int_equal(r.ev[i].restarts, 0);
    }
    long pa = pid_of(l, "a"), pc = pid_of(l, "c");
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(start_line(&s, names[i], 0, "yes"),
                         pid_of(l, names[i]));

    // Three kill -9s in a row: each restart comes after a backoff twice as
    // long as the last (40, 80, 160 ms, the upper half random).
    for (unsigned k = 1; k <= 3; k++) {
        int old = pid_of(l, "b");
        assert_int_equal(kill(old, SIGKILL), 0);
        RUN_UNTIL(l, count(&r, TR_LAUNCH_STARTED, "b") == k + 1);
        size_t ex = nth(&r, TR_LAUNCH_EXITED, "b", k - 1);
        assert_int_equal(r.ev[ex].pid, old);
        assert_int_equal(r.ev[ex].signal, SIGKILL);
        assert_int_equal(r.ev[ex].code, -1);
        assert_false(r.ev[ex].stopping);
        size_t rs = nth(&r, TR_LAUNCH_RESTARTING, "b", k - 1);
        int64_t d = 40 << (k - 1);
        assert_in_range(r.ev[rs].delay_ms, d / 2, d);
        size_t st = nth(&r, TR_LAUNCH_STARTED, "b", k);
        assert_true(rs > ex && st > rs);
        // The backoff runs from just before the restart event was
        // recorded: allow 1 ms for that.
        assert_true(r.ev[st].at_ns - r.ev[rs].at_ns >=
                    (r.ev[rs].delay_ms - 1) * 1000000);
        assert_int_not_equal(r.ev[st].pid, old);
        assert_int_equal(r.ev[st].restarts, k);
        assert_int_equal(pid_of(l, "b"), r.ev[st].pid);
        assert_int_equal(start_line(&s, "b", k, "yes"), r.ev[st].pid);
    }
    // The others were left alone.
    assert_int_equal(pid_of(l, "a"), pa);
    assert_int_equal(pid_of(l, "c"), pc);
    assert_int_equal(count(&r, TR_LAUNCH_EXITED, "a"), 0);

    assert_int_equal(tr_launch_stop(l), 0);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(state_of(l, names[i]), TR_PROC_DONE);
        size_t ex = nth(&r, TR_LAUNCH_EXITED, names[i],
                        count(&r, TR_LAUNCH_EXITED, names[i]) - 1);
        assert_true(r.ev[ex].stopping);
        assert_int_equal(r.ev[ex].signal, SIGTERM);
    }
    assert_int_equal(tr_launch_run(l, 0), TR_ECLOSED);
    assert_int_equal(tr_launch_close(l), 0);
    scratch_close(&s);
}

static void
test_restart_types(void **state)
{
    (void)state;
    static struct rec r;
    struct scratch s;
    scratch_open(&s);
    tr_launch *l = open_launcher(&r, 10, 20, -1, 60000);
    add(l, &s, "t0", TR_LAUNCH_TRANSIENT, 0, FLAGS("--exit", "0"));
    add(l, &s, "t3", TR_LAUNCH_TRANSIENT, 0, FLAGS("--exit", "3"));
    add(l, &s, "tmp", TR_LAUNCH_TEMPORARY, 0, FLAGS("--crash"));
    add(l, &s, "p0", TR_LAUNCH_PERMANENT, 0, FLAGS("--exit", "0"));
    assert_int_equal(tr_launch_start(l), 0);
    RUN_UNTIL(l, state_of(l, "t0") == TR_PROC_DONE &&
                     state_of(l, "tmp") == TR_PROC_DONE &&
                     count(&r, TR_LAUNCH_STARTED, "t3") >= 2 &&
                     count(&r, TR_LAUNCH_STARTED, "p0") >= 2);
    // transient, status 0: not restarted.
    assert_int_equal(state_of(l, "t0"), TR_PROC_DONE);
    assert_int_equal(r.ev[nth(&r, TR_LAUNCH_EXITED, "t0", 0)].code, 0);
    assert_int_equal(count(&r, TR_LAUNCH_RESTARTING, "t0"), 0);
    assert_int_equal(count(&r, TR_LAUNCH_STARTED, "t0"), 1);
    // temporary, crashed: not restarted either.
    assert_int_equal(state_of(l, "tmp"), TR_PROC_DONE);
    assert_int_equal(r.ev[nth(&r, TR_LAUNCH_EXITED, "tmp", 0)].signal, SIGSEGV);
    assert_int_equal(count(&r, TR_LAUNCH_RESTARTING, "tmp"), 0);
    // transient, status 3, and permanent, status 0: restarted.
    assert_int_equal(r.ev[nth(&r, TR_LAUNCH_EXITED, "t3", 0)].code, 3);
    assert_true(count(&r, TR_LAUNCH_STARTED, "t3") >= 2);
    assert_true(count(&r, TR_LAUNCH_STARTED, "p0") >= 2);
    assert_int_equal(tr_launch_stop(l), 0);
    assert_int_equal(state_of(l, "t3"), TR_PROC_DONE);
    assert_int_equal(state_of(l, "p0"), TR_PROC_DONE);
    assert_int_equal(tr_launch_close(l), 0);
    scratch_close(&s);
}

static void
test_intensity_exceeded_gives_up_and_stops_the_rest(void **state)
{
    (void)state;
    static struct rec r;
    struct scratch s;
    scratch_open(&s);
    // At most 2 restarts in 60 s: the crasher's third exit gives up.
    tr_launch *l = open_launcher(&r, 5, 20, 2, 60000);
    add(l, &s, "s1", TR_LAUNCH_PERMANENT, 0, NULL);
    add(l, &s, "crash", TR_LAUNCH_PERMANENT, 0, FLAGS("--exit", "1"));
    add(l, &s, "s2", TR_LAUNCH_PERMANENT, 0, NULL);
    assert_int_equal(tr_launch_start(l), 0);
    int rc = 0;
    int64_t end = tr_now_ns() + (int64_t)TEST_WAIT_MS * 1000000;
    while ((rc == 0 || rc == TR_ETIMEDOUT) && tr_now_ns() < end)
        rc = tr_launch_run(l, TEST_WAIT_MS);
    assert_int_equal(rc, TR_EINTENSITY);
    assert_int_equal(count(&r, TR_LAUNCH_STARTED, "crash"), 3);
    assert_int_equal(count(&r, TR_LAUNCH_EXITED, "crash"), 3);
    assert_int_equal(count(&r, TR_LAUNCH_RESTARTING, "crash"), 2);
    size_t gu = nth(&r, TR_LAUNCH_GAVE_UP, "crash", 0);
    assert_int_equal(r.ev[gu].restarts, 2);
    // Then the rest stopped, in reverse order.
    size_t x2 = nth(&r, TR_LAUNCH_EXITED, "s2", 0);
    size_t x1 = nth(&r, TR_LAUNCH_EXITED, "s1", 0);
    assert_true(gu < x2 && x2 < x1);
    assert_true(r.ev[x1].stopping && r.ev[x2].stopping);
    assert_int_equal(tr_launch_run(l, 0), TR_EINTENSITY);
    const char *names[] = {"s1", "crash", "s2"};
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(state_of(l, names[i]), TR_PROC_DONE);
    assert_int_equal(tr_launch_close(l), 0);
    scratch_close(&s);
}

static void
test_stop_reverse_order_and_sigkill_after_timeout(void **state)
{
    (void)state;
    static struct rec r;
    struct scratch s;
    scratch_open(&s);
    tr_launch *l = open_launcher(&r, 0, 0, 0, 0);
    add(l, &s, "a", TR_LAUNCH_PERMANENT, 0, FLAGS("--on-term"));
    add(l, &s, "b", TR_LAUNCH_PERMANENT, 300, FLAGS("--ignore-term"));
    add(l, &s, "c", TR_LAUNCH_PERMANENT, 0, FLAGS("--on-term"));
    add(l, &s, "d", TR_LAUNCH_PERMANENT, -1, FLAGS("--on-term"));
    assert_int_equal(tr_launch_start(l), 0);
    const char *names[] = {"a", "b", "c", "d"};
    for (size_t i = 0; i < 4; i++) // their signal setup is in place
        start_line(&s, names[i], 0, "yes");
    assert_int_equal(tr_launch_stop(l), 0);

    // One child after the other, last started first.
    enum tr_launch_event_kind want[] = {
        TR_LAUNCH_STOPPING, TR_LAUNCH_EXITED,                   // d
        TR_LAUNCH_STOPPING, TR_LAUNCH_EXITED,                   // c
        TR_LAUNCH_STOPPING, TR_LAUNCH_KILLED, TR_LAUNCH_EXITED, // b
        TR_LAUNCH_STOPPING, TR_LAUNCH_EXITED,                   // a
    };
    const char *who[] = {"d", "d", "c", "c", "b", "b", "b", "a", "a"};
    assert_int_equal(r.n, 4 + 9);
    for (size_t i = 0; i < 9; i++) {
        assert_int_equal(r.ev[4 + i].kind, want[i]);
        assert_string_equal(r.ev[4 + i].name, who[i]);
    }
    // d: brutal kill; c and a: SIGTERM, handled; b: SIGTERM ignored,
    // SIGKILL after its 300 ms.
    assert_int_equal(r.ev[4].signal, SIGKILL);
    assert_int_equal(r.ev[5].signal, SIGKILL);
    assert_int_equal(r.ev[6].signal, SIGTERM);
    assert_int_equal(r.ev[7].code, 0);
    assert_int_equal(r.ev[8].signal, SIGTERM);
    // Measured from the event, just after the signal went: 1 ms slack.
    int64_t waited_ms = (r.ev[9].at_ns - r.ev[8].at_ns) / 1000000;
    assert_in_range(waited_ms, 299, 5000);
    assert_int_equal(r.ev[10].signal, SIGKILL);
    assert_int_equal(r.ev[12].code, 0);
    char line[256];
    assert_true(MARKS_FIND(&s, line, "term c"));
    assert_true(MARKS_FIND(&s, line, "term a"));
    assert_int_equal(tr_launch_close(l), 0);
    scratch_close(&s);
}

static void
test_spawn_failures(void **state)
{
    (void)state;
    static struct rec r;
    struct scratch s;
    scratch_open(&s);

    // At start: the ones already started are stopped again.
    tr_launch *l = open_launcher(&r, 5, 10, 2, 60000);
    add(l, &s, "a", TR_LAUNCH_PERMANENT, 0, NULL);
    const char *missing[] = {"troupe-no-such-program", NULL};
    tr_launch_child c = {.name = "b", .argv = missing};
    assert_int_equal(tr_launch_add(l, &c), 0);
    assert_int_equal(tr_launch_start(l), TR_ESYS);
    size_t f = nth(&r, TR_LAUNCH_SPAWN_FAILED, "b", 0);
    assert_int_equal(r.ev[f].err, ENOENT);
    assert_true(r.ev[nth(&r, TR_LAUNCH_EXITED, "a", 0)].stopping);
    assert_int_equal(state_of(l, "a"), TR_PROC_DONE);
    assert_int_equal(tr_launch_start(l), TR_EBUSY);
    assert_int_equal(tr_launch_close(l), 0);

    // At a restart: the program is gone; each failure counts as a crash
    // until the intensity gives up.
    char link[256];
    scratch_path(&s, link, sizeof link, "child-link");
    assert_int_equal(symlink(LAUNCH_CHILD, link), 0);
    l = open_launcher(&r, 5, 10, 2, 60000);
    const char *argv[] = {link, "--mark", s.fifo, NULL};
    c = (tr_launch_child){.name = "x", .argv = argv};
    assert_int_equal(tr_launch_add(l, &c), 0);
    assert_int_equal(tr_launch_start(l), 0);
    start_line(&s, "x", 0, "-");
    assert_int_equal(unlink(link), 0);
    assert_int_equal(kill(pid_of(l, "x"), SIGKILL), 0);
    int rc = 0;
    int64_t end = tr_now_ns() + (int64_t)TEST_WAIT_MS * 1000000;
    while ((rc == 0 || rc == TR_ETIMEDOUT) && tr_now_ns() < end)
        rc = tr_launch_run(l, TEST_WAIT_MS);
    assert_int_equal(rc, TR_EINTENSITY);
    assert_int_equal(count(&r, TR_LAUNCH_SPAWN_FAILED, "x"), 2);
    assert_int_equal(r.ev[nth(&r, TR_LAUNCH_SPAWN_FAILED, "x", 1)].err, ENOENT);
    assert_int_equal(count(&r, TR_LAUNCH_GAVE_UP, "x"), 1);
    assert_int_equal(tr_launch_close(l), 0);
    scratch_close(&s);
}

static void
test_path_search_and_config_text(void **state)
{
    (void)state;
    static struct rec r;
    struct scratch s;
    scratch_open(&s);
    // launch-child by its bare name, found through PATH; quoted words
    // and env= reach it as written.
    char dir[256], path[1024];
    snprintf(dir, sizeof dir, "%s", LAUNCH_CHILD);
    const char *old = getenv("PATH");
    snprintf(path, sizeof path, "%s:%s", dirname(dir), old ? old : "/bin");
    char *saved = old != NULL ? strdup(old) : NULL;
    assert_int_equal(setenv("PATH", path, 1), 0);
    char text[512];
    snprintf(text, sizeof text,
             "backoff_min_ms=0\n"
             "node n env=LAUNCH_TEST='two words' -- launch-child --mark %s "
             "--say \"hello world\" --say it\\'s\n",
             s.fifo);
    tr_launch *l = open_launcher(&r, 0, 0, 0, 0);
    tr_launch_diag diag;
    assert_int_equal(tr_launch_load(l, text, strlen(text), &diag), 0);
    assert_int_equal(tr_launch_start(l), 0);
    if (saved != NULL) {
        setenv("PATH", saved, 1);
        free(saved);
    }
    start_line(&s, "n", 0, "two words");
    char line[256];
    assert_true(MARKS_FIND(&s, line, "say n "));
    assert_string_equal(line, "say n hello world");
    assert_true(MARKS_FIND(&s, line, "say n "));
    assert_string_equal(line, "say n it's");
    // backoff_min_ms=0: a restart at once.
    assert_int_equal(kill(pid_of(l, "n"), SIGKILL), 0);
    RUN_UNTIL(l, count(&r, TR_LAUNCH_STARTED, "n") == 2);
    assert_int_equal(r.ev[nth(&r, TR_LAUNCH_RESTARTING, "n", 0)].delay_ms, 0);
    assert_int_equal(tr_launch_close(l), 0); // stops it
    scratch_close(&s);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill9_restarts_with_backoff),
        cmocka_unit_test(test_restart_types),
        cmocka_unit_test(test_intensity_exceeded_gives_up_and_stops_the_rest),
        cmocka_unit_test(test_stop_reverse_order_and_sigkill_after_timeout),
        cmocka_unit_test(test_spawn_failures),
        cmocka_unit_test(test_path_search_and_config_text),
    };
    test_main("launcher/launch", tests, argc, argv);
}
