// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// supervisor.c: OTP-style supervisors, written against the public API only
// (include/troupe.h): children are spawned as the supervisor's own
// children and monitored; DOWN messages drive the restarts.
//
// Design notes
// - Group restarts (one_for_all, rest_for_one) stop the siblings with
//   tr_stop, wait for every one of their DOWNs, then start the group again
//   in spec order: a new instance never overlaps the old one.
// - Intensity: the times of the last `intensity` restarts are kept in a
//   ring; a restart that would be the (intensity+1)-th within period_ms
//   makes the supervisor exit with TR_EINTENSITY instead, which stops its
//   children (the ownership tree) and shows its parent the reason.
// - Backoff is per child: consecutive restarts of a child wait longer
//   (doubling, capped, equal jitter); a child that ran for period_ms
//   starts again from the first pause. The pause is a timer message to the
//   supervisor itself.
// - Shutdown needs no code here: the supervisor does not trap exits, so
//   when its parent stops it the runtime stops its children newest first,
//   each within its shutdown_ms, then forced.
#include <troupe/supervisor.h>

#include <stdlib.h>
#include <string.h>

#define SUP_RESTART 0xFFFE0100u // to itself: uint32 child index, backoff over

enum { ST_RUNNING, ST_RESTARTING, ST_STOPPED, ST_GROUP_STOPPING };

struct child {
    tr_child_spec spec; // spec.arg points at `arg` below
    void *arg;
    tr_ref ref;
    uint64_t mon;
    int state;
    uint32_t restarts;
    uint32_t streak;    // restarts in a row, for backoff
    int64_t started_ns; // last (re)start, on the system clock
};

struct sup {
    enum tr_strategy strategy;
    int intensity;
    int64_t period_ns, backoff_ms, backoff_max_ms;
    struct child *kids;
    size_t n, cap;
    int64_t *ring; // times of the last `intensity` restarts
    size_t ring_next;
    size_t pending;    // group restart: DOWNs still awaited
    size_t group_from; // group restart: first index to start again
    uint64_t rng;
};

static void
sup_free(struct sup *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->kids[i].arg);
    free(s->kids);
    free(s->ring);
}

static int
kid_add(struct sup *s, const tr_child_spec *spec, const void *arg, size_t len)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        struct child *k = realloc(s->kids, cap * sizeof *k);
        if (k == NULL)
            return TR_ENOMEM;
        s->kids = k;
        s->cap = cap;
    }
    struct child *c = &s->kids[s->n];
    memset(c, 0, sizeof *c);
    c->spec = *spec;
    if (len != 0) {
        if ((c->arg = malloc(len)) == NULL)
            return TR_ENOMEM;
        memcpy(c->arg, arg, len);
    }
    c->spec.arg = c->arg;
    c->spec.len = len;
    s->n++;
    return 0;
}

static int
kid_start(tr_ctx *ctx, struct child *c)
{
    int rc = tr_spawn(&c->ref, ctx, c->spec.behavior, c->spec.arg, c->spec.len,
                      &c->spec.opts);
    if (rc == 0)
        rc = tr_monitor(ctx, c->ref, &c->mon);
    if (rc != 0) {
        c->ref = TR_REF_NONE;
        c->state = ST_RESTARTING;
        return rc;
    }
    c->state = ST_RUNNING;
    c->started_ns = tr_ctx_now_ns(ctx);
    return 0;
}

static int
sup_init(tr_ctx *ctx, const void *arg, size_t len)
{
    struct sup *s = tr_state(ctx);
    const tr_sup_spec *spec;
    if (len != sizeof spec)
        return TR_EINVAL;
    memcpy(&spec, arg, sizeof spec);
    s->strategy = spec->strategy;
    s->intensity = spec->intensity > 0 ? spec->intensity : 3;
    s->period_ns = (spec->period_ms > 0 ? spec->period_ms : 5000) * 1000000;
    s->backoff_ms = spec->backoff_ms;
    s->backoff_max_ms = spec->backoff_max_ms;
    s->rng = (uint64_t)tr_ctx_now_ns(ctx) ^ tr_self(ctx).bits ^
             0x9E3779B97F4A7C15ull;
    s->ring = calloc((size_t)s->intensity, sizeof *s->ring);
    int rc = s->ring == NULL ? TR_ENOMEM : 0;
    for (size_t i = 0; rc == 0 && i < spec->n; i++)
        rc = kid_add(s, &spec->children[i], spec->children[i].arg,
                     spec->children[i].len);
    if (s->strategy != TR_SIMPLE_ONE_FOR_ONE) {
        // Ordered start: a child whose init fails fails the supervisor.
        for (size_t i = 0; rc == 0 && i < s->n; i++)
            rc = kid_start(ctx, &s->kids[i]);
    }
    if (rc != 0)
        sup_free(s); // the stop hook does not run after a failed init
    return rc;
}

static void
sup_stop(tr_ctx *ctx, int reason)
{
    (void)reason;
    sup_free(tr_state(ctx));
}

static struct child *
kid_by_mon(struct sup *s, uint64_t mon, size_t *idx)
{
    for (size_t i = 0; i < s->n; i++) {
        if (s->kids[i].mon == mon) {
            *idx = i;
            return &s->kids[i];
        }
    }
    return NULL;
}

// Records a restart; false when it would exceed the intensity. The ring
// holds the last `intensity` restart times, the oldest at ring_next: the
// limit is reached exactly when that oldest one is still in the window.
// O(1), whatever the intensity.
static bool
intensity_ok(tr_ctx *ctx, struct sup *s)
{
    int64_t now = tr_ctx_now_ns(ctx);
    int64_t oldest = s->ring[s->ring_next];
    if (oldest != 0 && now - oldest < s->period_ns)
        return false;
    s->ring[s->ring_next] = now != 0 ? now : 1;
    s->ring_next = (s->ring_next + 1) % (size_t)s->intensity;
    return true;
}

static int64_t
backoff_pause(struct sup *s, struct child *c)
{
    if (s->backoff_ms <= 0 || c->streak == 0)
        return 0;
    int64_t pause = s->backoff_ms;
    for (uint32_t i = 1; i < c->streak && pause < INT64_MAX / 4; i++)
        pause *= 2;
    if (s->backoff_max_ms > 0 && pause > s->backoff_max_ms)
        pause = s->backoff_max_ms;
    s->rng ^= s->rng << 13;
    s->rng ^= s->rng >> 7;
    s->rng ^= s->rng << 17;
    int64_t half = pause / 2;
    return half + (int64_t)(s->rng % (uint64_t)(half + 1));
}

static void child_down(tr_ctx *ctx, struct sup *s, size_t i, int reason);

// Starts the children from `from` on that wait for it, in spec order.
static void
start_from(tr_ctx *ctx, struct sup *s, size_t from, bool group)
{
    for (size_t i = from; i < s->n; i++) {
        struct child *c = &s->kids[i];
        if (c->state != ST_RESTARTING)
            continue;
        c->restarts++;
        int rc = kid_start(ctx, c);
        if (rc != 0) {
            // A failed restart counts as the child stopping again.
            child_down(ctx, s, i, rc);
            return;
        }
        if (!group)
            return;
    }
}

static void
schedule_restart(tr_ctx *ctx, struct sup *s, size_t i)
{
    struct child *c = &s->kids[i];
    int64_t pause = backoff_pause(s, c);
    if (pause > 0) {
        uint32_t idx = (uint32_t)i;
        if (tr_send_after(ctx, tr_self(ctx), SUP_RESTART, &idx, sizeof idx,
                          pause, NULL) == 0)
            return;
    }
    start_from(ctx, s, i,
               s->strategy == TR_ONE_FOR_ALL || s->strategy == TR_REST_FOR_ONE);
}

static void
child_down(tr_ctx *ctx, struct sup *s, size_t i, int reason)
{
    struct child *c = &s->kids[i];
    c->ref = TR_REF_NONE;
    c->mon = 0;
    bool abnormal = reason < 0 || reason == TR_EXIT_KILLED;
    bool restart = c->spec.restart == TR_PERMANENT ||
                   (c->spec.restart == TR_TRANSIENT && abnormal);
    if (!restart) {
        c->state = ST_STOPPED;
        if (s->strategy == TR_SIMPLE_ONE_FOR_ONE) { // forget it
            free(c->arg);
            s->kids[i] = s->kids[--s->n];
        }
        return;
    }
    if (!intensity_ok(ctx, s)) {
        tr_exit(ctx, TR_EINTENSITY); // escalate: the parent sees why
        return;
    }
    int64_t now = tr_ctx_now_ns(ctx);
    c->streak = now - c->started_ns >= s->period_ns ? 1 : c->streak + 1;
    c->state = ST_RESTARTING;
    if (s->strategy == TR_ONE_FOR_ONE || s->strategy == TR_SIMPLE_ONE_FOR_ONE) {
        schedule_restart(ctx, s, i);
        return;
    }
    // one_for_all / rest_for_one: stop the group, newest first, then start
    // it again in order once every DOWN is in.
    size_t from = s->strategy == TR_ONE_FOR_ALL ? 0 : i;
    for (size_t j = s->n; j-- > from;) {
        struct child *k = &s->kids[j];
        if (k->state != ST_RUNNING)
            continue;
        if (k->spec.restart == TR_TEMPORARY) {
            k->state = ST_STOPPED; // stopped, and not to come back
            tr_demonitor(ctx, k->mon);
            tr_stop(ctx, k->ref, TR_EXIT_SHUTDOWN);
            k->mon = 0;
            k->ref = TR_REF_NONE;
            continue;
        }
        k->state = ST_GROUP_STOPPING;
        tr_stop(ctx, k->ref, TR_EXIT_SHUTDOWN);
        s->pending++;
    }
    s->group_from = from;
    if (s->pending == 0)
        schedule_restart(ctx, s, from);
}

static int
reply_children(tr_ctx *ctx, struct sup *s, const tr_msg *m)
{
    size_t n = s->n ? s->n : 1;
    tr_sup_child *out = calloc(n, sizeof *out);
    if (out == NULL)
        return tr_reply(ctx, m, TR_SUP_WHICH_CHILDREN, NULL, 0);
    for (size_t i = 0; i < s->n; i++) {
        struct child *c = &s->kids[i];
        out[i].id = c->spec.id;
        out[i].ref = c->state == ST_RUNNING ? c->ref : TR_REF_NONE;
        out[i].state = c->state == ST_RUNNING   ? TR_CHILD_RUNNING
                       : c->state == ST_STOPPED ? TR_CHILD_STOPPED
                                                : TR_CHILD_RESTARTING;
        out[i].restarts = c->restarts;
    }
    int rc = tr_reply(ctx, m, TR_SUP_WHICH_CHILDREN, out, s->n * sizeof *out);
    free(out);
    return rc;
}

static int
sup_receive(tr_ctx *ctx, const tr_msg *m)
{
    struct sup *s = tr_state(ctx);
    switch (tr_msg_type(m)) {
    case TR_MSG_DOWN: {
        tr_down d;
        memcpy(&d, tr_msg_data(m), sizeof d);
        size_t i;
        struct child *c = kid_by_mon(s, d.mon, &i);
        if (c == NULL)
            return 0;
        if (c->state == ST_GROUP_STOPPING) {
            c->state = ST_RESTARTING;
            c->ref = TR_REF_NONE;
            c->mon = 0;
            if (--s->pending == 0)
                schedule_restart(ctx, s, s->group_from);
            return 0;
        }
        child_down(ctx, s, i, d.reason);
        return 0;
    }
    case SUP_RESTART: {
        uint32_t i;
        memcpy(&i, tr_msg_data(m), sizeof i);
        if (i < s->n)
            start_from(ctx, s, i,
                       s->strategy == TR_ONE_FOR_ALL ||
                           s->strategy == TR_REST_FOR_ONE);
        return 0;
    }
    case TR_SUP_START_CHILD: {
        tr_sup_started r = {TR_EINVAL, TR_REF_NONE};
        if (s->strategy == TR_SIMPLE_ONE_FOR_ONE && s->n > 0) {
            r.rc = kid_add(s, &s->kids[0].spec, tr_msg_data(m), tr_msg_size(m));
            if (r.rc == 0) {
                struct child *c = &s->kids[s->n - 1];
                c->state = ST_RUNNING;
                r.rc = kid_start(ctx, c);
                if (r.rc == 0) {
                    r.child = c->ref;
                } else { // not started: forget it
                    free(c->arg);
                    s->n--;
                }
            }
        }
        return tr_reply(ctx, m, TR_SUP_START_CHILD, &r, sizeof r);
    }
    case TR_SUP_WHICH_CHILDREN:
        return reply_children(ctx, s, m);
    default:
        return TR_EUNHANDLED;
    }
}

static const tr_behavior sup_behavior = {
    .name = "supervisor",
    .state_size = sizeof(struct sup),
    .init = sup_init,
    .receive = sup_receive,
    .stop = sup_stop,
};

static int
check_spec(const tr_sup_spec *spec)
{
    if (spec == NULL || (spec->n != 0 && spec->children == NULL) ||
        spec->intensity < 0 ||
        (spec->strategy == TR_SIMPLE_ONE_FOR_ONE && spec->n != 1))
        return TR_EINVAL;
    for (size_t i = 0; i < spec->n; i++)
        if (spec->children[i].behavior == NULL ||
            (spec->children[i].len != 0 && spec->children[i].arg == NULL))
            return TR_EINVAL;
    return 0;
}

int
tr_sup_spawn(tr_ref *out, tr_ctx *ctx, const tr_sup_spec *spec)
{
    int rc = check_spec(spec);
    if (rc != 0)
        return rc;
    // A supervisor waits for its own children: no deadline of its own.
    tr_spawn_opts o = {.shutdown_ms = -1};
    return tr_spawn(out, ctx, &sup_behavior, &spec, sizeof spec, &o);
}

int
tr_sup_spawn_top(tr_ref *out, tr_system *sys, const tr_sup_spec *spec)
{
    int rc = check_spec(spec);
    if (rc != 0)
        return rc;
    return tr_system_spawn(out, sys, &sup_behavior, &spec, sizeof spec, NULL);
}
