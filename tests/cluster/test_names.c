// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// cluster/names: the registry at size. Tens of thousands of names
// registered, looked up, unregistered and registered again in mixed order
// on two nodes in this process, with every name checked on both after each
// phase; names going with their owners, with a conflict, and with a peer
// that goes down. Also prints how long 30,000 registrations take (a
// measurement, not an assertion). Every wait is on a condition, with a
// deadline.
#define _POSIX_C_SOURCE 200809L
#include "tests/actors/probe.h"
#include "tests/cluster/nodes.h"

#include <troupe/cluster.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Atomic unsigned conflicts; // event=name_conflict lines, any node

static void
log_count(void *cookie, enum tr_log_level level, const char *line)
{
    (void)cookie;
    (void)level;
    if (strstr(line, "event=name_conflict") != NULL)
        atomic_fetch_add(&conflicts, 1);
}

// 50,000 REGs go out at once: room for them in the outbox.
static const struct test_node_opts opts = {.log_fn = log_count,
                                           .outbox_bytes = 64u << 20};

static void
spawn_owners(tr_system *sys, tr_ref *v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        assert_int_equal(tr_system_spawn(&v[i], sys, &probe, NULL, 0, NULL), 0);
}

static void
key(char *buf, size_t size, const char *prefix, unsigned i)
{
    snprintf(buf, size, "%s%u", prefix, i);
}

// What each name should be: NONE for not registered, else the owner
// (in the registering node's numbering).
struct want {
    const char *prefix;
    unsigned n;
    tr_ref *owner; // [n]
};

// known counts the names of `w` that `sys` resolves (as anything).
static unsigned
known(tr_system *sys, const struct want *w)
{
    unsigned k = 0;
    for (unsigned i = 0; i < w->n; i++) {
        char s[32];
        tr_ref r;
        key(s, sizeof s, w->prefix, i);
        k += tr_whereis(sys, s, &r) == 0;
    }
    return k;
}

// matches is true when `sys` agrees with `w` on every name: each one
// registered resolves, none other does. `home` is the node that
// registered them: there the refs must be the owners themselves;
// elsewhere, names of one owner must share one remote ref.
static bool
matches(tr_system *sys, const struct want *w, bool home)
{
    for (unsigned i = 0; i < w->n; i++) {
        char s[32];
        tr_ref r = TR_REF_NONE;
        key(s, sizeof s, w->prefix, i);
        int rc = tr_whereis(sys, s, &r);
        if (tr_ref_is_none(w->owner[i])) {
            if (rc != TR_ENOACTOR)
                return false;
        } else if (rc != 0) {
            return false;
        } else if (home && !tr_ref_eq(r, w->owner[i])) {
            return false;
        } else if (!home && (r.bits >> 48) == 0) {
            return false;
        }
    }
    return true;
}

// remote_consistent: on a node that is not the names' home, two names
// with one owner resolve to one ref, and two owners to two refs.
static void
remote_consistent(tr_system *sys, const struct want *w, const tr_ref *owners,
                  unsigned nowners)
{
    tr_ref *seen = calloc(nowners, sizeof *seen);
    assert_non_null(seen);
    for (unsigned i = 0; i < w->n; i++) {
        if (tr_ref_is_none(w->owner[i]))
            continue;
        unsigned o = 0;
        while (!tr_ref_eq(owners[o], w->owner[i]))
            o++;
        char s[32];
        tr_ref r;
        key(s, sizeof s, w->prefix, i);
        assert_int_equal(tr_whereis(sys, s, &r), 0);
        if (tr_ref_is_none(seen[o]))
            seen[o] = r;
        assert_true(tr_ref_eq(seen[o], r));
    }
    for (unsigned i = 0; i < nowners; i++)
        for (unsigned j = i + 1; j < nowners; j++)
            assert_true(tr_ref_is_none(seen[i]) ||
                        !tr_ref_eq(seen[i], seen[j]));
    free(seen);
}

// agree waits until both nodes agree with `w`, then checks it.
static void
agree(tr_system *home, tr_system *other, const struct want *w)
{
    assert_true(matches(home, w, true)); // local: at once
    TEST_WAIT_UNTIL(matches(other, w, false));
    assert_true(matches(other, w, false));
}

enum { MANY = 50000, OWNERS = 1000, STRIDE = 7919 }; // STRIDE: prime

// Registers, looks up, unregisters and registers again 50,000 names in
// mixed order, checking every name on both nodes after each phase.
static void
test_many_names(void **state)
{
    (void)state;
    tr_system *a, *b;
    test_pair_open(&a, &b, &opts);
    tr_ref *owners = calloc(OWNERS, sizeof *owners);
    tr_ref *owner = calloc(MANY, sizeof *owner);
    assert_non_null(owners);
    assert_non_null(owner);
    spawn_owners(a, owners, OWNERS);
    struct want w = {"many-", MANY, owner};

    // 1. Register all, in a scattered order (i = j * STRIDE mod MANY).
    for (unsigned j = 0; j < MANY; j++) {
        unsigned i = (unsigned)((uint64_t)j * STRIDE % MANY);
        char s[32];
        key(s, sizeof s, w.prefix, i);
        owner[i] = owners[i % OWNERS];
        assert_int_equal(tr_register(a, s, owner[i]), 0);
    }
    agree(a, b, &w);
    remote_consistent(b, &w, owners, OWNERS);

    // 2. A held name: the same owner again is fine, another is refused.
    char s[32];
    key(s, sizeof s, w.prefix, 17);
    assert_int_equal(tr_register(a, s, owner[17]), 0);
    assert_int_equal(tr_register(a, s, owners[(17 + 1) % OWNERS]), TR_EBUSY);
    assert_int_equal(tr_unregister(a, "many-none"), TR_ENOACTOR);
    assert_int_equal(tr_unregister(b, s), TR_ENOACTOR); // not b's to drop

    // 3. Unregister two names in three, in another scattered order.
    for (unsigned j = 0; j < MANY; j++) {
        unsigned i = (unsigned)((uint64_t)(MANY - 1 - j) * STRIDE % MANY);
        if (i % 3 == 0)
            continue;
        key(s, sizeof s, w.prefix, i);
        assert_int_equal(tr_unregister(a, s), 0);
        owner[i] = TR_REF_NONE;
    }
    agree(a, b, &w);
    assert_int_equal(known(a, &w), (MANY + 2) / 3);

    // 4. Mixed: register the gaps again (other owners) while dropping
    // every other name that stayed.
    for (unsigned i = 0; i < MANY; i++) {
        key(s, sizeof s, w.prefix, i);
        if (i % 3 != 0) {
            owner[i] = owners[(i + 7) % OWNERS];
            assert_int_equal(tr_register(a, s, owner[i]), 0);
        } else if (i % 2 == 0) {
            assert_int_equal(tr_unregister(a, s), 0);
            owner[i] = TR_REF_NONE;
        }
    }
    agree(a, b, &w);
    remote_consistent(b, &w, owners, OWNERS);

    // 5. Owners stop: their names go, here and there.
    for (unsigned o = 0; o < OWNERS; o += 2)
        assert_int_equal(tr_system_stop(a, owners[o], TR_EXIT_NORMAL), 0);
    for (unsigned i = 0; i < MANY; i++) {
        if (tr_ref_is_none(owner[i]))
            continue;
        unsigned o = 0;
        while (!tr_ref_eq(owners[o], owner[i]))
            o++;
        if (o % 2 == 0)
            owner[i] = TR_REF_NONE;
    }
    TEST_WAIT_UNTIL(matches(a, &w, true));
    agree(a, b, &w);

    // 6. Everything else goes by unregister; the table is empty.
    for (unsigned i = 0; i < MANY; i++) {
        if (tr_ref_is_none(owner[i]))
            continue;
        key(s, sizeof s, w.prefix, i);
        assert_int_equal(tr_unregister(a, s), 0);
        owner[i] = TR_REF_NONE;
    }
    agree(a, b, &w);
    assert_int_equal(known(a, &w), 0);
    assert_int_equal(known(b, &w), 0);

    free(owner);
    free(owners);
    test_close(b);
    test_close(a);
}

enum { PEER_NAMES = 20000, CLASH = 300 };

// A peer's names (20,000 of them, among as many of our own) go when the
// peer goes down, and ours stay; names both nodes claimed before they met
// settle on one owner, and the losers stopping does not drop the winner's.
static void
test_peer_down_purges_its_names(void **state)
{
    (void)state;
    tr_system *a = test_node_open("a", NULL, &opts);
    tr_system *b = test_node_open("b", NULL, &opts);
    tr_ref oa[8], ob[8];
    spawn_owners(a, oa, 8);
    spawn_owners(b, ob, 8);
    tr_ref *owner_a = calloc(PEER_NAMES, sizeof *owner_a);
    tr_ref *owner_b = calloc(PEER_NAMES, sizeof *owner_b);
    tr_ref *owner_x = calloc(CLASH, sizeof *owner_x);
    assert_non_null(owner_a);
    assert_non_null(owner_b);
    assert_non_null(owner_x);
    struct want wa = {"on-a-", PEER_NAMES, owner_a};
    struct want wb = {"on-b-", PEER_NAMES, owner_b};
    struct want wx = {"both-", CLASH, owner_x};
    char s[32];
    // Interleaved, so the peer's entries sit between ours in the table.
    for (unsigned i = 0; i < PEER_NAMES; i++) {
        key(s, sizeof s, wa.prefix, i);
        owner_a[i] = oa[i % 8];
        assert_int_equal(tr_register(a, s, owner_a[i]), 0);
        key(s, sizeof s, wb.prefix, i);
        owner_b[i] = ob[i % 8];
        assert_int_equal(tr_register(b, s, owner_b[i]), 0);
    }
    // Both claim these before they meet: a's owners win ("a" < "b").
    for (unsigned i = 0; i < CLASH; i++) {
        key(s, sizeof s, wx.prefix, i);
        owner_x[i] = oa[i % 8];
        assert_int_equal(tr_register(a, s, owner_x[i]), 0);
        assert_int_equal(tr_register(b, s, ob[i % 8]), 0);
    }
    unsigned c0 = atomic_load(&conflicts);
    char url[256];
    assert_int_equal(tr_node_url(a, url, sizeof url), 0);
    assert_int_equal(tr_node_connect(b, url), 0);
    assert_int_equal(tr_node_wait_peers(a, 1, TEST_WAIT_MS), 0);
    assert_int_equal(tr_node_wait_peers(b, 1, TEST_WAIT_MS), 0);
    agree(a, b, &wa);
    agree(b, a, &wb);
    assert_true(matches(a, &wx, true)); // a kept its own
    TEST_WAIT_UNTIL(matches(b, &wx, false));
    assert_true(matches(b, &wx, false)); // b defers to a's
    remote_consistent(b, &wx, oa, 8);
    // Each clash is logged on both nodes (a reconnect, if one happened,
    // logs it again).
    TEST_WAIT_UNTIL(atomic_load(&conflicts) - c0 >= 2 * CLASH);
    assert_true(atomic_load(&conflicts) - c0 >= 2 * CLASH);

    // b's losing owners stop: the names stay a's on b.
    for (unsigned o = 0; o < 8; o++)
        assert_int_equal(tr_system_stop(b, ob[o], TR_EXIT_NORMAL), 0);
    for (unsigned i = 0; i < PEER_NAMES; i++)
        owner_b[i] = TR_REF_NONE;
    TEST_WAIT_UNTIL(matches(b, &wb, true));
    agree(b, a, &wb);
    assert_true(matches(b, &wx, false));

    // Register b's names again under a new owner, then b goes for good.
    tr_ref nb;
    spawn_owners(b, &nb, 1);
    for (unsigned i = 0; i < PEER_NAMES; i += 2) {
        key(s, sizeof s, wb.prefix, i);
        owner_b[i] = nb;
        assert_int_equal(tr_register(b, s, nb), 0);
    }
    agree(b, a, &wb);
    test_close(b);
    for (unsigned i = 0; i < PEER_NAMES; i++)
        owner_b[i] = TR_REF_NONE;
    TEST_WAIT_UNTIL(known(a, &wb) == 0);
    assert_int_equal(known(a, &wb), 0);
    assert_true(matches(a, &wa, true));
    assert_true(matches(a, &wx, true));

    // The table still works after the purge.
    for (unsigned i = 0; i < PEER_NAMES; i += 3) {
        key(s, sizeof s, wa.prefix, i);
        assert_int_equal(tr_unregister(a, s), 0);
        owner_a[i] = TR_REF_NONE;
        key(s, sizeof s, wb.prefix, i);
        owner_b[i] = oa[0];
        assert_int_equal(tr_register(a, s, oa[0]), 0);
    }
    assert_true(matches(a, &wa, true));
    assert_true(matches(a, &wb, true));
    assert_true(matches(a, &wx, true));

    free(owner_x);
    free(owner_b);
    free(owner_a);
    test_close(a);
}

enum { TIMED = 30000 };

static double
ms_since(int64_t t0)
{
    return (double)(tr_now_ns() - t0) / 1e6;
}

// Prints how long 30,000 registrations take (one actor per name, as the
// chat's connections), until the peer knows them all, and how long the
// names take to go when their owners stop. A measurement: nothing here
// asserts a time.
static void
test_register_30000_timing(void **state)
{
    (void)state;
    tr_system *a, *b;
    test_pair_open(&a, &b, &opts);
    tr_ref *owner = calloc(TIMED, sizeof *owner);
    assert_non_null(owner);
    spawn_owners(a, owner, TIMED);
    struct want w = {"nick:guest-", TIMED, owner};
    char s[32];
    int64_t t0 = tr_now_ns();
    for (unsigned i = 0; i < TIMED; i++) {
        key(s, sizeof s, w.prefix, i);
        assert_int_equal(tr_register(a, s, owner[i]), 0);
    }
    double reg = ms_since(t0);
    // REGs arrive in order: the last one known means all are.
    tr_ref r;
    key(s, sizeof s, w.prefix, TIMED - 1);
    TEST_WAIT_UNTIL(tr_whereis(b, s, &r) == 0);
    double peer = ms_since(t0);
    agree(a, b, &w);
    t0 = tr_now_ns();
    for (unsigned i = 0; i < TIMED; i++) {
        key(s, sizeof s, w.prefix, i);
        assert_int_equal(tr_whereis(a, s, &r), 0);
    }
    double look = ms_since(t0);
    t0 = tr_now_ns();
    for (unsigned i = 0; i < TIMED; i++)
        assert_int_equal(tr_system_stop(a, owner[i], TR_EXIT_NORMAL), 0);
    // The last owner's name first: known() is a full pass.
    TEST_WAIT_UNTIL(tr_whereis(a, s, &r) != 0);
    TEST_WAIT_UNTIL(known(a, &w) == 0);
    double down = ms_since(t0);
    TEST_WAIT_UNTIL(known(b, &w) == 0);
    assert_int_equal(known(a, &w), 0);
    assert_int_equal(known(b, &w), 0);
    printf("names: %u tr_register %.1f ms; the peer knows all at %.1f ms; "
           "%u tr_whereis %.1f ms; owners stopped, names gone in %.1f ms\n",
           TIMED, reg, peer, TIMED, look, down);
    free(owner);
    test_close(b);
    test_close(a);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_names),
        cmocka_unit_test(test_peer_down_purges_its_names),
        cmocka_unit_test(test_register_30000_timing),
    };
    test_main("cluster/names", tests, argc, argv);
}
