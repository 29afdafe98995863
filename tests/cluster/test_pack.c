// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
#define _POSIX_C_SOURCE 200809L
#include "tests/test.h"

#include "cluster/pack_scan.h"

#include <troupe/pack.h>

#include <stdlib.h>
#include <string.h>

static void
test_round_trip(void **state)
{
    (void)state;
    unsigned char buf[16]; // small: forces the move to the heap
    tr_pack p;
    tr_pack_init(&p, buf, sizeof buf);
    tr_pack_array(&p, 10);
    tr_pack_nil(&p);
    tr_pack_bool(&p, true);
    tr_pack_int(&p, -5);
    tr_pack_int(&p, INT64_MIN);
    tr_pack_uint(&p, UINT64_MAX);
    tr_pack_double(&p, 2.5);
    tr_pack_cstr(&p, "héllo");
    tr_pack_bin(&p, "\0\1\2", 3);
    tr_pack_ref(&p, (tr_ref){0x0001000200000003u});
    tr_pack_map(&p, 1);
    tr_pack_cstr(&p, "k");
    tr_pack_uint(&p, 7);
    assert_true(tr_pack_len(&p) > sizeof buf);
    const unsigned char *data = tr_pack_data(&p);
    size_t len = tr_pack_len(&p);

    tr_unpack u;
    assert_int_equal(tr_unpack_init(&u, data, len), 0);
    uint32_t n;
    bool b;
    int64_t i;
    uint64_t v;
    double d;
    const char *s;
    const void *bin;
    size_t sl;
    tr_ref r;
    assert_int_equal(tr_unpack_peek(&u), TR_PACK_ARRAY);
    assert_int_equal(tr_unpack_array(&u, &n), 0);
    assert_int_equal(n, 10);
    assert_int_equal(tr_unpack_nil(&u), 0);
    assert_int_equal(tr_unpack_bool(&u, &b), 0);
    assert_true(b);
    assert_int_equal(tr_unpack_int(&u, &i), 0);
    assert_int_equal(i, -5);
    assert_int_equal(tr_unpack_int(&u, &i), 0);
    assert_true(i == INT64_MIN);
    assert_int_equal(tr_unpack_uint(&u, &v), 0);
    assert_true(v == UINT64_MAX);
    assert_int_equal(tr_unpack_double(&u, &d), 0);
    assert_true(d == 2.5);
    assert_int_equal(tr_unpack_str(&u, &s, &sl), 0);
    assert_int_equal(sl, strlen("héllo"));
    assert_memory_equal(s, "héllo", sl);
    // Strings point into the input, not into a copy.
    assert_true((const unsigned char *)s > data &&
                (const unsigned char *)s < data + len);
    assert_int_equal(tr_unpack_bin(&u, &bin, &sl), 0);
    assert_int_equal(sl, 3);
    assert_memory_equal(bin, "\0\1\2", 3);
    assert_int_equal(tr_unpack_ref(&u, &r), 0);
    assert_true(r.bits == 0x0001000200000003u);
    assert_int_equal(tr_unpack_map(&u, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(tr_unpack_str(&u, &s, &sl), 0);
    assert_int_equal(tr_unpack_u32(&u, &n), 0);
    assert_int_equal(n, 7);
    assert_int_equal(tr_unpack_peek(&u), TR_PACK_END);
    assert_int_equal(tr_unpack_leave(&u), 0);
    assert_int_equal(tr_unpack_leave(&u), 0);
    assert_int_equal(tr_unpack_peek(&u), TR_PACK_END);
    assert_int_equal(tr_unpack_fini(&u), 0);
    assert_int_equal(tr_pack_fini(&p), 0);
}

static void
test_errors_stick_and_ranges_hold(void **state)
{
    (void)state;
    tr_pack p;
    tr_pack_init(&p, NULL, 0);
    tr_pack_uint(&p, (uint64_t)1 << 33); // past u32
    tr_pack_int(&p, -1);
    tr_pack_uint(&p, (uint64_t)INT64_MAX + 1);
    tr_unpack u;
    assert_int_equal(tr_unpack_init(&u, tr_pack_data(&p), tr_pack_len(&p)), 0);
    uint32_t n;
    uint64_t v;
    int64_t i;
    assert_int_equal(tr_unpack_u32(&u, &n), TR_EPROTO);
    // Sticky: every later read fails, even a right one.
    assert_int_equal(tr_unpack_uint(&u, &v), TR_EPROTO);
    assert_int_equal(tr_unpack_fini(&u), TR_EPROTO);

    assert_int_equal(tr_unpack_init(&u, tr_pack_data(&p), tr_pack_len(&p)), 0);
    assert_int_equal(tr_unpack_uint(&u, &v), 0);
    assert_int_equal(tr_unpack_uint(&u, &v), TR_EPROTO); // -1 is not a uint
    assert_int_equal(tr_unpack_fini(&u), TR_EPROTO);

    assert_int_equal(tr_unpack_init(&u, tr_pack_data(&p), tr_pack_len(&p)), 0);
    assert_int_equal(tr_unpack_skip(&u), 0);
    assert_int_equal(tr_unpack_int(&u, &i), 0);
    assert_int_equal(i, -1);
    assert_int_equal(tr_unpack_int(&u, &i), TR_EPROTO); // > INT64_MAX
    assert_int_equal(tr_unpack_fini(&u), TR_EPROTO);
    // Reading past the end, or leaving the top level, is an error.
    assert_int_equal(tr_unpack_init(&u, "\x01", 1), 0);
    assert_int_equal(tr_unpack_skip(&u), 0);
    assert_int_equal(tr_unpack_skip(&u), TR_EPROTO);
    assert_int_equal(tr_unpack_fini(&u), TR_EPROTO);
    assert_int_equal(tr_unpack_init(&u, "", 0), 0);
    assert_int_equal(tr_unpack_peek(&u), TR_PACK_END);
    assert_int_equal(tr_unpack_leave(&u), TR_EPROTO);
    assert_int_equal(tr_unpack_fini(&u), TR_EPROTO);
    assert_int_equal(tr_pack_fini(&p), 0);
}

// Hostile inputs: each must be refused before msgpack-c allocates for it.
static void
test_hostile_headers_refused(void **state)
{
    (void)state;
    static const struct {
        const char *bytes;
        size_t len;
    } bad[] = {
        {"\xdd\xff\xff\xff\xff", 5}, // array32 of 2^32-1, no items
        {"\xdf\xff\xff\xff\xff", 5}, // map32 likewise
        {"\xdc\x00\x05\x01\x02", 5}, // array16 of 5, two items
        {"\x92\x01", 2},             // truncated fixarray
        {"\xdb\xff\xff\xff\xff"
         "ab",
         7}, // str32 longer than the input
        {"\xc6\x00\x00\x00\x09"
         "abc",
         8},                         // bin32 likewise
        {"\xc9\x00\x00\x00\x01", 5}, // ext32 missing type and body
        {"\xc1", 1},                 // never-used byte
        {"\xcf\x01\x02", 3},         // truncated uint64
        {"\xd8\x01", 2},             // truncated fixext16
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(tr__mp_scan(bad[i].bytes, bad[i].len, NULL),
                         TR_EPROTO);
        tr_unpack u;
        assert_int_equal(tr_unpack_init(&u, bad[i].bytes, bad[i].len),
                         TR_EPROTO);
        assert_int_equal(tr_unpack_peek(&u), TR_PACK_END);
        assert_int_equal(tr_unpack_fini(&u), TR_EPROTO);
    }
    size_t n;
    assert_int_equal(tr__mp_scan("\x01\x92\x01\xa1x\xc0", 6, &n), 0);
    assert_int_equal(n, 3);
}

// Deeper nesting than msgpack-c's parser stack is refused, not a crash.
static void
test_deep_nesting_refused(void **state)
{
    (void)state;
    unsigned char deep[4096];
    memset(deep, 0x91, sizeof deep); // [[[[...
    deep[sizeof deep - 1] = 0x01;
    tr_unpack u;
    assert_int_equal(tr_unpack_init(&u, deep, sizeof deep), TR_EPROTO);
    assert_int_equal(tr_unpack_fini(&u), TR_EPROTO);
    // Within the parser's depth but past the reader's: entering fails.
    unsigned char mid[TR_UNPACK_DEPTH + 1];
    memset(mid, 0x91, sizeof mid);
    mid[sizeof mid - 1] = 0x01;
    assert_int_equal(tr_unpack_init(&u, mid, sizeof mid), 0);
    uint32_t n;
    int rc = 0;
    for (int i = 0; i < TR_UNPACK_DEPTH && rc == 0; i++)
        rc = tr_unpack_array(&u, &n);
    assert_int_equal(rc, TR_EPROTO);
    assert_int_equal(tr_unpack_fini(&u), TR_EPROTO);
}

// Random bytes: never a crash, and whatever parses reads back cleanly.
static void
test_random_bytes(void **state)
{
    (void)state;
    unsigned seed = 12345;
    unsigned char buf[64];
    for (int round = 0; round < 20000; round++) {
        size_t len = (size_t)(rand_r(&seed) % sizeof buf);
        for (size_t i = 0; i < len; i++)
            buf[i] = (unsigned char)rand_r(&seed);
        tr_unpack u;
        if (tr_unpack_init(&u, buf, len) == 0)
            while (tr_unpack_peek(&u) != TR_PACK_END)
                tr_unpack_skip(&u);
        tr_unpack_fini(&u);
    }
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_errors_stick_and_ranges_hold),
        cmocka_unit_test(test_hostile_headers_refused),
        cmocka_unit_test(test_deep_nesting_refused),
        cmocka_unit_test(test_random_bytes),
    };
    test_main("cluster/pack", tests, argc, argv);
}
