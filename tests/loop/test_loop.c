// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// The loop alone, with hand-made schedulables: no actors involved.
#include "loop/loop.h"

#include "tests/test.h"

#include <pthread.h>

struct job {
    struct tr__sched s; // first
    _Atomic unsigned runs;
    unsigned again; // runs to ask for before finishing
    _Atomic bool on_loop;
    struct tr__loop *loop;
};

static int
job_run(struct tr__sched *s)
{
    struct job *j = (struct job *)s;
    unsigned again = j->again; // read before the count lets main go on
    atomic_store(&j->on_loop, tr__loop_current() == j->loop);
    unsigned n = atomic_fetch_add(&j->runs, 1) + 1;
    return n < again ? TR__RUN_AGAIN : TR__RUN_DONE;
}

static void
wait_runs(struct job *j, unsigned n)
{
    TEST_WAIT_UNTIL(atomic_load(&j->runs) >= n);
    assert_int_equal(atomic_load(&j->runs), n);
}

static void
test_posted_job_runs_on_its_loop_until_done(void **state)
{
    (void)state;
    struct tr__loop l;
    assert_int_equal(tr__loop_start(&l, 0, -1, 0), 0);
    struct job j = {.s.run = job_run, .again = 5, .loop = &l};
    assert_null(tr__loop_current());
    tr__loop_post(&l, &j.s);
    wait_runs(&j, 5);
    assert_true(atomic_load(&j.on_loop));
    // Posting again after it finished runs it again (the loop slept).
    j.again = 6;
    tr__loop_post(&l, &j.s);
    wait_runs(&j, 6);
    tr__loop_stop(&l);
    tr__loop_fini(&l);
}

struct poster {
    struct tr__loop *l;
    struct job *jobs;
    unsigned n;
};

static void *
post_all(void *arg)
{
    struct poster *p = arg;
    for (unsigned i = 0; i < p->n; i++)
        tr__loop_post(p->l, &p->jobs[i].s);
    return NULL;
}

static void
test_posts_from_many_threads_all_run_once(void **state)
{
    (void)state;
    enum { THREADS = 4, JOBS = 2000 };
    static struct job jobs[THREADS][JOBS];
    struct tr__loop l;
    assert_int_equal(tr__loop_start(&l, 0, -1, 0), 0);
    pthread_t th[THREADS];
    struct poster p[THREADS];
    for (unsigned t = 0; t < THREADS; t++) {
        for (unsigned i = 0; i < JOBS; i++)
            jobs[t][i] = (struct job){.s.run = job_run, .again = 1, .loop = &l};
        p[t] = (struct poster){&l, jobs[t], JOBS};
        assert_int_equal(pthread_create(&th[t], NULL, post_all, &p[t]), 0);
    }
    for (unsigned t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);
    for (unsigned t = 0; t < THREADS; t++)
        for (unsigned i = 0; i < JOBS; i++)
            wait_runs(&jobs[t][i], 1);
    tr__loop_stop(&l);
    tr__loop_fini(&l);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_posted_job_runs_on_its_loop_until_done),
        cmocka_unit_test(test_posts_from_many_threads_all_run_once),
    };
    test_main("loop/loop", tests, argc, argv);
}
