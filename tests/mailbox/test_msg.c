// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// Message pools: a loop frees another loop's messages in batches. The
// test plays both loops on one thread by switching tr__msgpool_self.
#include "mailbox/msg.h"

#include "tests/test.h"

#include <string.h>

// Counts the nodes on a pool's returned stack.
static unsigned
returned(struct tr__msgpool *p)
{
    unsigned n = 0;
    for (struct tr__node *x = atomic_load(&p->returned.top); x != NULL;
         x = atomic_load_explicit(&x->next, memory_order_relaxed))
        n++;
    return n;
}

#define N (TR__RET_BATCH + 1)

static void
test_returns_are_batched_and_flushed(void **state)
{
    (void)state;
    struct tr__msgpool a, b;
    tr__msgpool_init(&a);
    tr__msgpool_init(&b);
    struct tr_msg *m[N];
    tr__msgpool_self = &a;
    for (int i = 0; i < N; i++) {
        m[i] = tr__msg_alloc(1, 8, true);
        assert_non_null(m[i]);
        assert_ptr_equal(m[i]->pool, &a);
    }
    // On b's loop: a's messages wait until a batch is full...
    tr__msgpool_self = &b;
    for (int i = 0; i < TR__RET_BATCH - 1; i++)
        tr__msg_free(m[i]);
    assert_int_equal(returned(&a), 0);
    tr__msg_free(m[TR__RET_BATCH - 1]);
    assert_int_equal(returned(&a), TR__RET_BATCH);
    // ... or until b flushes (before it idles or stops).
    tr__msg_free(m[TR__RET_BATCH]);
    assert_int_equal(returned(&a), TR__RET_BATCH);
    tr__msgpool_flush(&b);
    assert_int_equal(returned(&a), N);
    assert_int_equal(b.nfree, 0);
    // Back on a's loop, every one of them is reused before the allocator
    // is asked for more.
    tr__msgpool_self = &a;
    struct tr_msg *again[N];
    for (int i = 0; i < N; i++) {
        again[i] = tr__msg_alloc(2, 8, true);
        assert_non_null(again[i]);
        bool seen = false;
        for (int j = 0; j < N && !seen; j++)
            seen = again[i] == m[j];
        assert_true(seen);
    }
    memcpy(m, again, sizeof m);
    for (int i = 0; i < N; i++)
        tr__msg_free(m[i]);
    assert_int_equal(a.nfree, N);
    tr__msgpool_self = NULL;
    tr__msgpool_fini(&a);
    tr__msgpool_fini(&b);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_returns_are_batched_and_flushed),
    };
    test_main("mailbox/msg", tests, argc, argv);
}
