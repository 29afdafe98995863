// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// fuzz_frame.c: the envelope decoder (cluster/frame.h) against any bytes.
// Per input it checks:
// - tr__frame_decode returns 0 or TR_EPROTO, and accepts only what
//   tr__mp_scan accepts;
// - on success, every field holds what docs/wire.md allows (known kind,
//   string lengths and characters, ref kinds and ids, message types,
//   signal numbers), and every string and payload lies inside the input
//   (AddressSanitizer reads each byte);
// - the frame written back with tr_pack (as a node would send it) decodes
//   to the same frame, and writing that back gives the same bytes.
#include "fuzz.h"

#include "cluster/frame.h"
#include "cluster/pack_scan.h"

#include <troupe.h>
#include <troupe/pack.h>

#include <stdbool.h>
#include <string.h>

#define MASK48 ((UINT64_C(1) << 48) - 1)
#define HERE48 (UINT64_C(1) << 48)

// ---------------------------------------------------------------------------
// Invariants of a decoded frame

static bool
no_nul(const char *p, size_t len)
{
    return len == 0 || memchr(p, '\0', len) == NULL;
}

static void
check_str(struct fuzz_span in, struct wstr s, size_t min, size_t max)
{
    fuzz_inside(in, s.p, s.len);
    FUZZ_CHECK(s.len >= min && s.len <= max);
    FUZZ_CHECK(no_nul(s.p, s.len));
}

static void
check_name(struct fuzz_span in, const char *p, size_t len)
{
    check_str(in, (struct wstr){p, len}, 1, TR_NODE_NAME_MAX - 1);
    for (size_t i = 0; i < len; i++)
        FUZZ_CHECK(p[i] > ' ' && p[i] <= '~');
}

static void
check_ref(struct fuzz_span in, const struct wref *r)
{
    FUZZ_CHECK(r->id <= MASK48);
    switch (r->kind) {
    case WREF_NONE:
    case WREF_SENDER:
    case WREF_RECEIVER:
        FUZZ_CHECK(r->kind != WREF_NONE || r->id == 0);
        FUZZ_CHECK(r->name == NULL && r->name_len == 0 && r->inc == 0);
        break;
    case WREF_THIRD:
        check_name(in, r->name, r->name_len);
        break;
    default:
        FUZZ_CHECK(!"unknown ref kind");
    }
}

static void
check_frame(struct fuzz_span in, const struct tr__frame *f)
{
    switch (f->kind) {
    case K_HELLO:
        check_name(in, f->hello.name.p, f->hello.name.len);
        check_str(in, f->hello.url, 0, URL_MAX - 1);
        fuzz_inside(in, f->hello.nonce, NONCE_BYTES);
        FUZZ_CHECK(f->hello.nonce != NULL);
        FUZZ_CHECK(f->hello.proof != NULL || f->hello.proof_len == 0);
        fuzz_inside(in, f->hello.proof, f->hello.proof_len);
        break;
    case K_AUTH:
        fuzz_inside(in, f->auth.proof, f->auth.len);
        break;
    case K_WELCOME:
    case K_BEAT:
        break;
    case K_PEERS:
        FUZZ_CHECK(f->peers.n <= PEERS_MAX);
        for (unsigned i = 0; i < f->peers.n; i++) {
            const struct wpeer *p = &f->peers.v[i];
            check_name(in, p->name.p, p->name.len);
            check_str(in, p->url, 1, URL_MAX - 1);
        }
        break;
    case K_MSG:
        FUZZ_CHECK(f->msg.type < TR_MSG_SYSTEM);
        check_ref(in, &f->msg.from);
        check_ref(in, &f->msg.to);
        FUZZ_CHECK(f->msg.left >= 0);
        fuzz_inside(in, f->msg.data, f->msg.len);
        break;
    case K_SIG:
        FUZZ_CHECK(f->sig.sig >= S_LINK && f->sig.sig <= S_STOP);
        check_ref(in, &f->sig.to);
        check_ref(in, &f->sig.who);
        // The text may hold a NUL: receivers copy it by length.
        fuzz_inside(in, f->sig.text.p, f->sig.text.len);
        FUZZ_CHECK(f->sig.text.len < TR_EXIT_TEXT);
        break;
    case K_REG:
    case K_JOIN:
    case K_LEAVE:
        check_str(in, f->name.key, 1, KEY_MAX);
        check_ref(in, &f->name.ref);
        FUZZ_CHECK(f->name.ref.kind == WREF_SENDER);
        break;
    case K_UNREG:
        check_str(in, f->name.key, 1, KEY_MAX);
        break;
    case K_PUB:
        check_str(in, f->pub.group, 1, KEY_MAX);
        check_ref(in, &f->pub.from);
        FUZZ_CHECK(f->pub.type < TR_MSG_SYSTEM);
        fuzz_inside(in, f->pub.data, f->pub.len);
        break;
    case K_SPAWN:
        check_str(in, f->spawn.behavior, 1, KEY_MAX);
        check_ref(in, &f->spawn.from);
        check_str(in, f->spawn.parent, 0, KEY_MAX);
        fuzz_inside(in, f->spawn.arg, f->spawn.len);
        break;
    case K_SPAWNED:
        check_ref(in, &f->spawned.ref);
        break;
    default:
        FUZZ_CHECK(!"decoded an unknown kind");
    }
}

// ---------------------------------------------------------------------------
// Writing a frame back, as docs/wire.md lays it out

static void
put_ref(tr_pack *p, const struct wref *r)
{
    switch (r->kind) {
    case WREF_NONE:
        tr_pack_nil(p);
        break;
    case WREF_SENDER:
        tr_pack_uint(p, r->id);
        break;
    case WREF_RECEIVER:
        tr_pack_uint(p, r->id | HERE48);
        break;
    default:
        tr_pack_array(p, 3);
        tr_pack_str(p, r->name, r->name_len);
        tr_pack_uint(p, r->inc);
        tr_pack_uint(p, r->id);
        break;
    }
}

static void
put_str(tr_pack *p, struct wstr s)
{
    tr_pack_str(p, s.p, s.len);
}

static void
encode(tr_pack *p, const struct tr__frame *f)
{
    switch (f->kind) {
    case K_HELLO:
        tr_pack_array(p, 7);
        tr_pack_uint(p, f->kind);
        tr_pack_uint(p, f->hello.ver);
        put_str(p, f->hello.name);
        tr_pack_uint(p, f->hello.inc);
        put_str(p, f->hello.url);
        tr_pack_bin(p, f->hello.nonce, NONCE_BYTES);
        if (f->hello.proof == NULL)
            tr_pack_nil(p);
        else
            tr_pack_bin(p, f->hello.proof, f->hello.proof_len);
        break;
    case K_AUTH:
        tr_pack_array(p, 2);
        tr_pack_uint(p, f->kind);
        tr_pack_bin(p, f->auth.proof, f->auth.len);
        break;
    case K_PEERS:
        tr_pack_array(p, 2);
        tr_pack_uint(p, f->kind);
        tr_pack_array(p, f->peers.n);
        for (unsigned i = 0; i < f->peers.n; i++) {
            tr_pack_array(p, 3);
            put_str(p, f->peers.v[i].name);
            tr_pack_uint(p, f->peers.v[i].inc);
            put_str(p, f->peers.v[i].url);
        }
        break;
    case K_MSG:
        tr_pack_array(p, 7);
        tr_pack_uint(p, f->kind);
        tr_pack_uint(p, f->msg.type);
        put_ref(p, &f->msg.from);
        put_ref(p, &f->msg.to);
        tr_pack_uint(p, f->msg.req_id);
        tr_pack_int(p, f->msg.left);
        tr_pack_bin(p, f->msg.data, f->msg.len);
        break;
    case K_SIG:
        tr_pack_array(p, 7);
        tr_pack_uint(p, f->kind);
        tr_pack_uint(p, f->sig.sig);
        put_ref(p, &f->sig.to);
        put_ref(p, &f->sig.who);
        tr_pack_uint(p, f->sig.id);
        tr_pack_int(p, f->sig.reason);
        put_str(p, f->sig.text);
        break;
    case K_REG:
    case K_JOIN:
    case K_LEAVE:
        tr_pack_array(p, 3);
        tr_pack_uint(p, f->kind);
        put_str(p, f->name.key);
        put_ref(p, &f->name.ref);
        break;
    case K_UNREG:
        tr_pack_array(p, 2);
        tr_pack_uint(p, f->kind);
        put_str(p, f->name.key);
        break;
    case K_PUB:
        tr_pack_array(p, 5);
        tr_pack_uint(p, f->kind);
        put_str(p, f->pub.group);
        put_ref(p, &f->pub.from);
        tr_pack_uint(p, f->pub.type);
        tr_pack_bin(p, f->pub.data, f->pub.len);
        break;
    case K_SPAWN:
        tr_pack_array(p, 6);
        tr_pack_uint(p, f->kind);
        tr_pack_uint(p, f->spawn.req);
        put_str(p, f->spawn.behavior);
        put_ref(p, &f->spawn.from);
        put_str(p, f->spawn.parent);
        tr_pack_bin(p, f->spawn.arg, f->spawn.len);
        break;
    case K_SPAWNED:
        tr_pack_array(p, 4);
        tr_pack_uint(p, f->kind);
        tr_pack_uint(p, f->spawned.req);
        tr_pack_int(p, f->spawned.rc);
        put_ref(p, &f->spawned.ref);
        break;
    default: // WELCOME, BEAT
        tr_pack_array(p, 1);
        tr_pack_uint(p, f->kind);
        break;
    }
}

// ---------------------------------------------------------------------------
// Comparing two decoded frames: the same values, wherever they point

static bool
same_bytes(const void *a, size_t alen, const void *b, size_t blen)
{
    return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

static bool
same_str(struct wstr a, struct wstr b)
{
    return same_bytes(a.p, a.len, b.p, b.len);
}

static bool
same_ref(const struct wref *a, const struct wref *b)
{
    return a->kind == b->kind && a->id == b->id && a->inc == b->inc &&
           same_bytes(a->name, a->name_len, b->name, b->name_len);
}

static bool
same_frame(const struct tr__frame *a, const struct tr__frame *b)
{
    if (a->kind != b->kind)
        return false;
    switch (a->kind) {
    case K_HELLO:
        return a->hello.ver == b->hello.ver &&
               same_str(a->hello.name, b->hello.name) &&
               a->hello.inc == b->hello.inc &&
               same_str(a->hello.url, b->hello.url) &&
               same_bytes(a->hello.nonce, NONCE_BYTES, b->hello.nonce,
                          NONCE_BYTES) &&
               (a->hello.proof == NULL) == (b->hello.proof == NULL) &&
               same_bytes(a->hello.proof, a->hello.proof_len, b->hello.proof,
                          b->hello.proof_len);
    case K_AUTH:
        return same_bytes(a->auth.proof, a->auth.len, b->auth.proof,
                          b->auth.len);
    case K_PEERS:
        if (a->peers.n != b->peers.n)
            return false;
        for (unsigned i = 0; i < a->peers.n; i++)
            if (!same_str(a->peers.v[i].name, b->peers.v[i].name) ||
                a->peers.v[i].inc != b->peers.v[i].inc ||
                !same_str(a->peers.v[i].url, b->peers.v[i].url))
                return false;
        return true;
    case K_MSG:
        return a->msg.type == b->msg.type &&
               same_ref(&a->msg.from, &b->msg.from) &&
               same_ref(&a->msg.to, &b->msg.to) &&
               a->msg.req_id == b->msg.req_id && a->msg.left == b->msg.left &&
               same_bytes(a->msg.data, a->msg.len, b->msg.data, b->msg.len);
    case K_SIG:
        return a->sig.sig == b->sig.sig && same_ref(&a->sig.to, &b->sig.to) &&
               same_ref(&a->sig.who, &b->sig.who) && a->sig.id == b->sig.id &&
               a->sig.reason == b->sig.reason &&
               same_str(a->sig.text, b->sig.text);
    case K_REG:
    case K_JOIN:
    case K_LEAVE:
        return same_str(a->name.key, b->name.key) &&
               same_ref(&a->name.ref, &b->name.ref);
    case K_UNREG:
        return same_str(a->name.key, b->name.key);
    case K_PUB:
        return same_str(a->pub.group, b->pub.group) &&
               same_ref(&a->pub.from, &b->pub.from) &&
               a->pub.type == b->pub.type &&
               same_bytes(a->pub.data, a->pub.len, b->pub.data, b->pub.len);
    case K_SPAWN:
        return a->spawn.req == b->spawn.req &&
               same_str(a->spawn.behavior, b->spawn.behavior) &&
               same_ref(&a->spawn.from, &b->spawn.from) &&
               same_str(a->spawn.parent, b->spawn.parent) &&
               same_bytes(a->spawn.arg, a->spawn.len, b->spawn.arg,
                          b->spawn.len);
    case K_SPAWNED:
        return a->spawned.req == b->spawned.req &&
               a->spawned.rc == b->spawned.rc &&
               same_ref(&a->spawned.ref, &b->spawned.ref);
    default:
        return true; // WELCOME, BEAT: nothing but the kind
    }
}

// ---------------------------------------------------------------------------

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_span in = {data, data + size};
    struct tr__frame f;
    tr_unpack u;
    int rc = tr__frame_decode(&f, &u, data, size);
    FUZZ_CHECK(rc == 0 || rc == TR_EPROTO);
    if (rc != 0) {
        tr_unpack_fini(&u);
        return 0;
    }
    FUZZ_CHECK(tr__mp_scan(data, size, NULL) == 0);
    check_frame(in, &f);

    // Write it back, decode that, and write that back.
    unsigned char b1[512], b2[512];
    tr_pack one, two;
    tr_pack_init(&one, b1, sizeof b1);
    tr_pack_init(&two, b2, sizeof b2);
    encode(&one, &f);
    FUZZ_CHECK(tr_pack_len(&one) <= size); // the shortest encodings
    struct tr__frame g;
    tr_unpack v;
    FUZZ_CHECK(
        tr__frame_decode(&g, &v, tr_pack_data(&one), tr_pack_len(&one)) == 0);
    struct fuzz_span back = {tr_pack_data(&one),
                             (const unsigned char *)tr_pack_data(&one) +
                                 tr_pack_len(&one)};
    check_frame(back, &g);
    FUZZ_CHECK(same_frame(&f, &g));
    encode(&two, &g);
    FUZZ_CHECK(
        tr_pack_len(&two) == tr_pack_len(&one) &&
        memcmp(tr_pack_data(&two), tr_pack_data(&one), tr_pack_len(&one)) == 0);
    FUZZ_CHECK(tr_unpack_fini(&v) == 0);
    FUZZ_CHECK(tr_unpack_fini(&u) == 0);
    FUZZ_CHECK(tr_pack_fini(&one) == 0 && tr_pack_fini(&two) == 0);
    return 0;
}
