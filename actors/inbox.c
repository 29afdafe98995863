// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// inbox.c: mailboxes for threads that are not actors.
//
// An inbox is an actor record with no behaviour and no loop: it has a slot
// (so a ref), a mailbox and the same schedule flag. "Posting" it signals a
// condition variable instead of queueing it on a loop. The receiver clears
// the flag under the mutex, re-checks the mailbox and waits; a producer that
// finds the flag clear takes the mutex to signal, so it cannot slip between
// the receiver's check and its wait.
#define _POSIX_C_SOURCE 200809L
#include "actor.h"

#include <errno.h>
#include <string.h>
#include <time.h>

struct tr_inbox {
    struct tr__actor *a;
    tr_system *sys;
    tr_ref ref;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

int
tr_inbox_alloc(tr_inbox **out, tr_system *sys)
{
    if (out == NULL || sys == NULL)
        return TR_EINVAL;
    if (atomic_load(&sys->closing))
        return TR_ECLOSED;
    tr_inbox *ib = tr__zalloc(sizeof *ib);
    if (ib == NULL)
        return TR_ENOMEM;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&ib->mu, NULL);
    pthread_cond_init(&ib->cv, &ca);
    pthread_condattr_destroy(&ca);
    ib->sys = sys;
    int rc = tr__actor_alloc(&ib->a, sys, NULL,
                             TR__A_INBOX | (TR__PH_RUN << TR__A_PHASE_SHIFT) |
                                 (TR__NO_LOOP << TR__A_LOOP_SHIFT),
                             NULL);
    if (rc != 0) {
        tr__inbox_destroy(ib);
        return rc;
    }
    ib->a->ext = ib;
    rc = tr__slots_alloc(&sys->slots, ib->a, TR__NO_LOOP, 1, &ib->ref);
    if (rc != 0) {
        tr__actor_free(sys, ib->a); // also destroys ib
        return rc;
    }
    atomic_fetch_add(&sys->inboxes, 1);
    *out = ib;
    return 0;
}

void
tr__inbox_destroy(tr_inbox *ib)
{
    pthread_cond_destroy(&ib->cv);
    pthread_mutex_destroy(&ib->mu);
    tr__free(ib, sizeof *ib);
}

void
tr__inbox_wake(struct tr__actor *a)
{
    tr_inbox *ib = a->ext;
    pthread_mutex_lock(&ib->mu);
    pthread_cond_signal(&ib->cv);
    pthread_mutex_unlock(&ib->mu);
}

void
tr_inbox_free(tr_inbox *ib)
{
    if (ib == NULL)
        return;
    tr_system *sys = ib->sys;
    atomic_fetch_or(&ib->a->word, TR__A_SCHED); // never woken again
    tr__actor_kill(sys, ib->a);
    atomic_fetch_sub(&sys->inboxes, 1);
    tr__actor_release(sys, ib->a); // unread messages become dead letters
}

tr_ref
tr_inbox_ref(const tr_inbox *ib)
{
    return ib->ref;
}

int
tr_inbox_send(tr_inbox *ib, tr_ref to, uint32_t type, const void *data,
              size_t len)
{
    return tr__send(ib->sys, ib->ref, to, type, data, len, 0);
}

int
tr_inbox_monitor(tr_inbox *ib, tr_ref who, uint64_t *mon)
{
    uint64_t id =
        atomic_fetch_add_explicit(&ib->sys->mon_ids, 1, memory_order_relaxed) +
        1;
    struct tr__watch w = {ib->ref, id};
    int rc = tr__signal_ref(ib->sys, who, TR__SIG_MONITOR, &w, sizeof w);
    if (rc == TR_ENOACTOR) {
        tr_down d = {.who = who, .mon = id, .reason = TR_ENOACTOR};
        rc = tr__send_any(ib->sys, who, ib->ref, TR_MSG_DOWN, &d, sizeof d, 0);
    }
    if (rc == 0 && mon != NULL)
        *mon = id;
    return rc;
}

int
tr_inbox_recv(tr_inbox *ib, tr_msg **out, int64_t timeout_ms)
{
    struct tr__actor *a = ib->a;
    int64_t end =
        timeout_ms < 0 ? INT64_MAX : tr__now_ns() + timeout_ms * 1000000;
    int rc = 0;
    pthread_mutex_lock(&ib->mu);
    for (;;) {
        struct tr__node *n = tr__mbox_pop(&a->mbox);
        if (n != NULL) {
            *out = tr__msg_of(n);
            break;
        }
        // seq_cst clear then re-check: pairs with the producer's push and
        // fetch_or (see actors/actor.c).
        atomic_fetch_and(&a->word, ~TR__A_SCHED);
        if (!tr__mbox_empty(&a->mbox))
            continue; // a push landed meanwhile
        if (tr__now_ns() >= end) {
            rc = TR_ETIMEDOUT;
            break;
        }
        if (end == INT64_MAX) {
            pthread_cond_wait(&ib->cv, &ib->mu);
        } else {
            struct timespec ts = {.tv_sec = end / 1000000000,
                                  .tv_nsec = end % 1000000000};
            pthread_cond_timedwait(&ib->cv, &ib->mu, &ts);
        }
    }
    pthread_mutex_unlock(&ib->mu);
    return rc;
}

void
tr_msg_free(tr_msg *m)
{
    if (m != NULL)
        tr__msg_free(m);
}

int
tr_call(tr_system *sys, tr_ref to, uint32_t type, const void *data, size_t len,
        int64_t timeout_ms, tr_msg **reply)
{
    if (sys->manual || tr__cur_shard(sys) != NULL || reply == NULL ||
        type >= TR_MSG_SYSTEM || timeout_ms <= 0)
        return TR_EINVAL;
    *reply = NULL;
    tr_inbox *ib;
    int rc = tr_inbox_alloc(&ib, sys);
    if (rc != 0)
        return rc;
    uint64_t mon = 0;
    int64_t deadline = tr_system_now_ns(sys) + timeout_ms * 1000000;
    const uint64_t id = 1; // the inbox is new: one request, one id
    rc = tr_inbox_monitor(ib, to, &mon);
    if (rc == 0)
        rc = tr__send_full(sys, ib->ref, to, type, data, len, id, deadline);
    if (rc == TR_ENOACTOR)
        rc = TR_EDOWN;
    while (rc == 0) {
        int64_t left = (deadline - tr_system_now_ns(sys) + 999999) / 1000000;
        tr_msg *m;
        if (left <= 0 || tr_inbox_recv(ib, &m, left) != 0) {
            struct tr__cancel c = {ib->ref, id};
            (void)tr__signal_ref(sys, to, TR__SIG_CANCEL, &c, sizeof c);
            tr__count(sys, (struct tr__shard *)NULL, timeouts);
            rc = TR_ETIMEDOUT;
            break;
        }
        if (m->req_id == (id | TR__REQ_REPLY) && tr_ref_eq(m->from, to)) {
            *reply = m;
            break;
        }
        tr_down d;
        bool down = m->type == TR_MSG_DOWN && m->len == sizeof d &&
                    memcpy(&d, m->data, sizeof d) && d.mon == mon;
        tr_msg_free(m);
        if (down)
            rc = TR_EDOWN;
    }
    if (mon != 0)
        (void)tr__signal_ref(sys, to, TR__SIG_DEMONITOR, &mon, sizeof mon);
    tr_inbox_free(ib);
    return rc;
}
