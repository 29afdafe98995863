// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// test.h: what every test file includes: cmocka and small helpers.
#ifndef TR_TESTS_TEST_H
#define TR_TESTS_TEST_H

#include <troupe.h>

#include <sched.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

// TEST_WAIT_MS bounds every wait in a test: long enough for a loaded
// sanitizer build, short enough that a hang fails the test.
#define TEST_WAIT_MS 20000

// TEST_WAIT_UNTIL yields until `cond` holds or TEST_WAIT_MS has passed;
// the caller then asserts `cond`, so a hang fails instead of sleeping.
#define TEST_WAIT_UNTIL(cond)                                              \
    do {                                                                   \
        int64_t test_end_ = tr_now_ns() + (int64_t)TEST_WAIT_MS * 1000000; \
        while (!(cond) && tr_now_ns() < test_end_)                         \
            sched_yield();                                                 \
    } while (0)

// test_main runs `tests`, passing argv[1] as a name filter if given.
#define test_main(group, tests, argc, argv)                           \
    do {                                                              \
        if ((argc) > 1)                                               \
            cmocka_set_test_filter((argv)[1]);                        \
        return cmocka_run_group_tests_name(group, tests, NULL, NULL); \
    } while (0)

// test_recv takes the next inbox message and checks its type.
static inline tr_msg *
test_recv(tr_inbox *ib, uint32_t type)
{
    tr_msg *m = NULL;
    assert_int_equal(tr_inbox_recv(ib, &m, TEST_WAIT_MS), 0);
    assert_int_equal(tr_msg_type(m), type);
    return m;
}

// test_close closes `sys` and checks nothing leaked.
static inline void
test_close(tr_system *sys)
{
    tr_stats st;
    assert_int_equal(tr_system_close(sys, TEST_WAIT_MS, &st), 0);
    assert_int_equal(st.actors_live, 0);
}

#endif // TR_TESTS_TEST_H
