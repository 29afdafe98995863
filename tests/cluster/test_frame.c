// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// The envelope decoder alone: every kind decodes, every malformed variant
// is refused.
#define _POSIX_C_SOURCE 200809L
#include "tests/test.h"

#include "cluster/frame.h"

#include <stdlib.h>
#include <string.h>

struct fx {
    tr_pack p;
    unsigned char buf[512];
};

static tr_pack *
begin(struct fx *x, unsigned kind, unsigned items)
{
    tr_pack_init(&x->p, x->buf, sizeof x->buf);
    tr_pack_array(&x->p, items + 1);
    tr_pack_uint(&x->p, kind);
    return &x->p;
}

static int
decode(struct fx *x, struct tr__frame *f)
{
    tr_unpack u;
    int rc = tr__frame_decode(f, &u, tr_pack_data(&x->p), tr_pack_len(&x->p));
    tr_unpack_fini(&u);
    tr_pack_fini(&x->p);
    return rc;
}

static void
test_each_kind_decodes(void **state)
{
    (void)state;
    struct fx x;
    struct tr__frame f;
    unsigned char nonce[NONCE_BYTES] = {1}, mac[MAC_BYTES] = {2};

    tr_pack *p = begin(&x, K_HELLO, 6);
    tr_pack_uint(p, WIRE_VER);
    tr_pack_cstr(p, "node-a");
    tr_pack_uint(p, 42);
    tr_pack_cstr(p, "tcp://127.0.0.1:1");
    tr_pack_bin(p, nonce, sizeof nonce);
    tr_pack_bin(p, mac, sizeof mac);
    assert_int_equal(decode(&x, &f), 0);
    assert_int_equal(f.kind, K_HELLO);
    assert_true(f.hello.inc == 42);
    assert_int_equal(f.hello.proof_len, MAC_BYTES);

    p = begin(&x, K_MSG, 6);
    tr_pack_uint(p, 7);
    tr_pack_uint(p, 5);                       // the sender's
    tr_pack_uint(p, (UINT64_C(1) << 48) | 9); // the receiver's
    tr_pack_uint(p, 3);
    tr_pack_int(p, 1000);
    tr_pack_bin(p, "abc", 3);
    assert_int_equal(decode(&x, &f), 0);
    assert_int_equal(f.msg.type, 7);
    assert_int_equal(f.msg.from.kind, WREF_SENDER);
    assert_int_equal(f.msg.to.kind, WREF_RECEIVER);
    assert_true(f.msg.to.id == 9);
    assert_int_equal(f.msg.len, 3);

    p = begin(&x, K_SIG, 6);
    tr_pack_uint(p, S_DOWN);
    tr_pack_uint(p, (UINT64_C(1) << 48) | 1);
    tr_pack_array(p, 3); // a third node's actor
    tr_pack_cstr(p, "node-c");
    tr_pack_uint(p, 8);
    tr_pack_uint(p, 77);
    tr_pack_uint(p, 12);
    tr_pack_int(p, -4);
    tr_pack_cstr(p, "gone");
    assert_int_equal(decode(&x, &f), 0);
    assert_int_equal(f.sig.who.kind, WREF_THIRD);
    assert_int_equal(f.sig.who.name_len, 6);
    assert_int_equal(f.sig.reason, -4);

    p = begin(&x, K_PEERS, 1);
    tr_pack_array(p, 2);
    for (int i = 0; i < 2; i++) {
        tr_pack_array(p, 3);
        tr_pack_cstr(p, i ? "x" : "y");
        tr_pack_uint(p, 1);
        tr_pack_cstr(p, "ipc:///tmp/x");
    }
    assert_int_equal(decode(&x, &f), 0);
    assert_int_equal(f.peers.n, 2);

    p = begin(&x, K_PUB, 4);
    tr_pack_cstr(p, "room");
    tr_pack_nil(p);
    tr_pack_uint(p, 1);
    tr_pack_bin(p, "hi", 2);
    assert_int_equal(decode(&x, &f), 0);

    p = begin(&x, K_BEAT, 0);
    assert_int_equal(decode(&x, &f), 0);
}

static void
test_malformed_refused(void **state)
{
    (void)state;
    struct fx x;
    struct tr__frame f;
    // Unknown kind; one item too many; one too few.
    begin(&x, 99, 0);
    assert_int_equal(decode(&x, &f), TR_EPROTO);
    tr_pack *p = begin(&x, K_BEAT, 1);
    tr_pack_nil(p);
    assert_int_equal(decode(&x, &f), TR_EPROTO);
    begin(&x, K_AUTH, 0);
    tr_pack_fini(&x.p);
    tr_pack_init(&x.p, x.buf, sizeof x.buf);
    tr_pack_array(&x.p, 1);
    tr_pack_uint(&x.p, K_AUTH);
    assert_int_equal(decode(&x, &f), TR_EPROTO);
    // A reserved message type; a negative time left; a ref past 49 bits.
    for (int bad = 0; bad < 3; bad++) {
        p = begin(&x, K_MSG, 6);
        tr_pack_uint(p, bad == 0 ? TR_MSG_SYSTEM : 1);
        tr_pack_uint(p, bad == 2 ? UINT64_C(1) << 50 : 1);
        tr_pack_uint(p, 1);
        tr_pack_uint(p, 0);
        tr_pack_int(p, bad == 1 ? -1 : 0);
        tr_pack_bin(p, "", 0);
        assert_int_equal(decode(&x, &f), TR_EPROTO);
    }
    // A name with a space; a short nonce.
    p = begin(&x, K_HELLO, 6);
    tr_pack_uint(p, 1);
    tr_pack_cstr(p, "bad name");
    tr_pack_uint(p, 1);
    tr_pack_cstr(p, "");
    tr_pack_bin(p, "0123456789abcdef", NONCE_BYTES);
    tr_pack_nil(p);
    assert_int_equal(decode(&x, &f), TR_EPROTO);
    p = begin(&x, K_HELLO, 6);
    tr_pack_uint(p, 1);
    tr_pack_cstr(p, "ok");
    tr_pack_uint(p, 1);
    tr_pack_cstr(p, "");
    tr_pack_bin(p, "short", 5);
    tr_pack_nil(p);
    assert_int_equal(decode(&x, &f), TR_EPROTO);
    // A registry entry for another node's actor; an exit text too long.
    p = begin(&x, K_REG, 2);
    tr_pack_cstr(p, "svc");
    tr_pack_uint(p, (UINT64_C(1) << 48) | 1);
    assert_int_equal(decode(&x, &f), TR_EPROTO);
    p = begin(&x, K_SIG, 6);
    tr_pack_uint(p, S_EXIT);
    tr_pack_uint(p, 1);
    tr_pack_uint(p, 1);
    tr_pack_uint(p, 0);
    tr_pack_int(p, 0);
    tr_pack_cstr(p, "0123456789012345678901234567890123456789012345678");
    assert_int_equal(decode(&x, &f), TR_EPROTO);
    // Trailing bytes after the envelope.
    p = begin(&x, K_BEAT, 0);
    tr_pack_nil(p);
    assert_int_equal(decode(&x, &f), TR_EPROTO);
}

static void
test_random_frames(void **state)
{
    (void)state;
    unsigned seed = 99;
    unsigned char buf[96];
    for (int i = 0; i < 50000; i++) {
        size_t len = (size_t)(rand_r(&seed) % sizeof buf);
        for (size_t k = 0; k < len; k++)
            buf[k] = (unsigned char)rand_r(&seed);
        if (len > 1 && (i & 1)) { // often a plausible head
            buf[0] = (unsigned char)(0x90 | (rand_r(&seed) % 8));
            buf[1] = (unsigned char)(rand_r(&seed) % 32);
        }
        struct tr__frame f;
        tr_unpack u;
        (void)tr__frame_decode(&f, &u, buf, len);
        tr_unpack_fini(&u);
    }
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_kind_decodes),
        cmocka_unit_test(test_malformed_refused),
        cmocka_unit_test(test_random_frames),
    };
    test_main("cluster/frame", tests, argc, argv);
}
