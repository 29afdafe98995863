// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
#include "mailbox/mpsc.h"

#include "tests/test.h"

#include <pthread.h>
#include <stdlib.h>

struct item {
    struct tr__node node; // first: a node pointer is an item pointer
    unsigned producer;
    unsigned seq;
};

static void
test_push_pop_keeps_order(void **state)
{
    (void)state;
    struct tr__mpsc q;
    struct item it[3] = {{.seq = 0}, {.seq = 1}, {.seq = 2}};
    tr__mpsc_init(&q);
    assert_true(tr__mpsc_empty(&q));
    assert_null(tr__mpsc_pop(&q));
    for (int i = 0; i < 3; i++)
        tr__mpsc_push(&q, &it[i].node);
    assert_false(tr__mpsc_empty(&q));
    for (int i = 0; i < 3; i++)
        assert_ptr_equal(tr__mpsc_pop(&q), &it[i].node);
    assert_null(tr__mpsc_pop(&q));
    assert_true(tr__mpsc_empty(&q));
    // Reuse after draining, including a single element (the stub path).
    tr__mpsc_push(&q, &it[1].node);
    assert_false(tr__mpsc_empty(&q));
    assert_ptr_equal(tr__mpsc_pop(&q), &it[1].node);
    assert_true(tr__mpsc_empty(&q));
}

static void
test_mbox_keeps_order_across_refills(void **state)
{
    (void)state;
    struct tr__mbox q;
    struct item it[6];
    for (unsigned i = 0; i < 6; i++)
        it[i].seq = i;
    tr__mbox_init(&q);
    assert_true(tr__mbox_empty(&q));
    assert_null(tr__mbox_pop(&q));
    // One message, the common case: taken, and the mailbox is empty.
    tr__mbox_push(&q, &it[0].node);
    assert_false(tr__mbox_empty(&q));
    assert_ptr_equal(tr__mbox_pop(&q), &it[0].node);
    assert_true(tr__mbox_empty(&q));
    // Pushes that land while the consumer's FIFO still holds some come
    // after all of those.
    for (int i = 1; i <= 3; i++)
        tr__mbox_push(&q, &it[i].node);
    assert_ptr_equal(tr__mbox_pop(&q), &it[1].node);
    tr__mbox_push(&q, &it[4].node);
    tr__mbox_push(&q, &it[5].node);
    assert_false(tr__mbox_empty(&q));
    // A consumer popping a batch keeps the FIFO head in a local.
    struct tr__node *out = q.out;
    for (int i = 2; i <= 5; i++)
        assert_ptr_equal(tr__mbox_pop_at(&q, &out), &it[i].node);
    assert_null(tr__mbox_pop_at(&q, &out));
    q.out = out;
    assert_true(tr__mbox_empty(&q));
}

#define PRODUCERS    4
#define PER_PRODUCER 100000

struct producer {
    struct tr__mpsc *q;
    struct tr__mbox *mb; // instead of q, when set
    struct item *items;
    unsigned id;
};

static void *
produce(void *arg)
{
    struct producer *p = arg;
    for (unsigned i = 0; i < PER_PRODUCER; i++) {
        p->items[i].producer = p->id;
        p->items[i].seq = i;
        if (p->mb != NULL)
            tr__mbox_push(p->mb, &p->items[i].node);
        else
            tr__mpsc_push(p->q, &p->items[i].node);
    }
    return NULL;
}

// Four producers at once, with the consumer taking as they push: nothing
// lost, nothing twice, each producer's items in its order. `mbox` picks
// the mailbox (tr__mbox) instead of tr__mpsc.
static void
many_producers(bool mbox)
{
    struct tr__mpsc q;
    struct tr__mbox mb;
    tr__mpsc_init(&q);
    tr__mbox_init(&mb);
    pthread_t th[PRODUCERS];
    struct producer p[PRODUCERS];
    for (unsigned i = 0; i < PRODUCERS; i++) {
        p[i] = (struct producer){&q, mbox ? &mb : NULL,
                                 calloc(PER_PRODUCER, sizeof(struct item)), i};
        assert_non_null(p[i].items);
        assert_int_equal(pthread_create(&th[i], NULL, produce, &p[i]), 0);
    }
    unsigned next[PRODUCERS] = {0};
    unsigned got = 0;
    int64_t end = tr_now_ns() + (int64_t)TEST_WAIT_MS * 1000000;
    while (got < PRODUCERS * PER_PRODUCER && tr_now_ns() < end) {
        struct tr__node *n = mbox ? tr__mbox_pop(&mb) : tr__mpsc_pop(&q);
        if (n == NULL)
            continue;
        struct item *it = (struct item *)n;
        assert_true(it->producer < PRODUCERS);
        // Per-producer order, and so no loss or duplicate either.
        assert_int_equal(it->seq, next[it->producer]);
        next[it->producer]++;
        got++;
    }
    for (unsigned i = 0; i < PRODUCERS; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(got, PRODUCERS * PER_PRODUCER);
    assert_null(tr__mpsc_pop(&q));
    assert_true(tr__mpsc_empty(&q));
    assert_null(tr__mbox_pop(&mb));
    assert_true(tr__mbox_empty(&mb));
    for (unsigned i = 0; i < PRODUCERS; i++)
        free(p[i].items);
}

static void
test_many_producers_lose_nothing_and_keep_order(void **state)
{
    (void)state;
    many_producers(false);
}

static void
test_mbox_many_producers_lose_nothing_and_keep_order(void **state)
{
    (void)state;
    many_producers(true);
}

struct stack_producer {
    struct tr__stack *s;
    struct item *items;
    unsigned id;
};

static void *
stack_produce(void *arg)
{
    struct stack_producer *p = arg;
    for (unsigned i = 0; i < PER_PRODUCER; i++) {
        p->items[i].producer = p->id;
        p->items[i].seq = i;
        tr__stack_push(p->s, &p->items[i].node);
    }
    return NULL;
}

static void
test_stack_take_returns_push_order(void **state)
{
    (void)state;
    struct tr__stack s;
    tr__stack_init(&s);
    pthread_t th[PRODUCERS];
    struct stack_producer p[PRODUCERS];
    for (unsigned i = 0; i < PRODUCERS; i++) {
        p[i] = (struct stack_producer){
            &s, calloc(PER_PRODUCER, sizeof(struct item)), i};
        assert_non_null(p[i].items);
        assert_int_equal(pthread_create(&th[i], NULL, stack_produce, &p[i]), 0);
    }
    unsigned next[PRODUCERS] = {0};
    unsigned got = 0;
    int64_t end = tr_now_ns() + (int64_t)TEST_WAIT_MS * 1000000;
    while (got < PRODUCERS * PER_PRODUCER && tr_now_ns() < end) {
        struct tr__node *n = tr__stack_take(&s);
        while (n != NULL) {
            struct item *it = (struct item *)n;
            assert_int_equal(it->seq, next[it->producer]);
            next[it->producer]++;
            got++;
            n = atomic_load_explicit(&n->next, memory_order_relaxed);
        }
    }
    for (unsigned i = 0; i < PRODUCERS; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(got, PRODUCERS * PER_PRODUCER);
    assert_true(tr__stack_empty(&s));
    for (unsigned i = 0; i < PRODUCERS; i++)
        free(p[i].items);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_push_pop_keeps_order),
        cmocka_unit_test(test_many_producers_lose_nothing_and_keep_order),
        cmocka_unit_test(test_mbox_keeps_order_across_refills),
        cmocka_unit_test(test_mbox_many_producers_lose_nothing_and_keep_order),
        cmocka_unit_test(test_stack_take_returns_push_order),
    };
    test_main("mailbox/mpsc", tests, argc, argv);
}
