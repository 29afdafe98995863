// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// frame.c: the envelope decoder (frame.h). Every field is read with its
// type and bounds checked; an envelope with fewer or more items than its
// kind has, or a value out of range, is TR_EPROTO.
#include "frame.h"

#include <troupe.h>

#include <string.h>

#define MASK48 ((UINT64_C(1) << 48) - 1)
#define HERE48 (UINT64_C(1) << 48)

static int
str(tr_unpack *u, struct wstr *s, size_t min, size_t max)
{
    if (tr_unpack_str(u, &s->p, &s->len) != 0 || s->len < min || s->len > max ||
        memchr(s->p, '\0', s->len) != NULL)
        return TR_EPROTO;
    return 0;
}

static bool
printable(struct wstr s)
{
    for (size_t i = 0; i < s.len; i++)
        if (s.p[i] <= ' ' || s.p[i] > '~')
            return false;
    return true;
}

static int
node_name(tr_unpack *u, struct wstr *s)
{
    if (str(u, s, 1, TR_NODE_NAME_MAX - 1) != 0 || !printable(*s))
        return TR_EPROTO;
    return 0;
}

static int
wref(tr_unpack *u, struct wref *r)
{
    *r = (struct wref){0};
    uint64_t v;
    switch (tr_unpack_peek(u)) {
    case TR_PACK_NIL:
        r->kind = WREF_NONE;
        return tr_unpack_nil(u);
    case TR_PACK_UINT:
        if (tr_unpack_uint(u, &v) != 0 || v > (MASK48 | HERE48))
            return TR_EPROTO;
        r->kind = (v & HERE48) ? WREF_RECEIVER : WREF_SENDER;
        r->id = v & MASK48;
        return 0;
    case TR_PACK_ARRAY: {
        uint32_t k;
        struct wstr name;
        if (tr_unpack_array(u, &k) != 0 || k != 3 || node_name(u, &name) != 0 ||
            tr_unpack_uint(u, &r->inc) != 0 || tr_unpack_uint(u, &v) != 0 ||
            v > MASK48 || tr_unpack_leave(u) != 0)
            return TR_EPROTO;
        r->kind = WREF_THIRD;
        r->name = name.p;
        r->name_len = name.len;
        r->id = v;
        return 0;
    }
    default:
        return TR_EPROTO;
    }
}

static int
bin_or_nil(tr_unpack *u, const void **p, size_t *len)
{
    if (tr_unpack_peek(u) == TR_PACK_NIL) {
        *p = NULL;
        *len = 0;
        return tr_unpack_nil(u);
    }
    return tr_unpack_bin(u, p, len);
}

static int
i32(tr_unpack *u, int32_t *out)
{
    int64_t v;
    if (tr_unpack_int(u, &v) != 0 || v < INT32_MIN || v > INT32_MAX)
        return TR_EPROTO;
    *out = (int32_t)v;
    return 0;
}

// Items after the kind, per kind.
static int
items_of(unsigned kind)
{
    switch (kind) {
    case K_HELLO:
        return 6;
    case K_AUTH:
        return 1;
    case K_WELCOME:
    case K_BEAT:
        return 0;
    case K_PEERS:
        return 1;
    case K_MSG:
    case K_SIG:
        return 6;
    case K_REG:
    case K_JOIN:
    case K_LEAVE:
        return 2;
    case K_UNREG:
        return 1;
    case K_PUB:
        return 4;
    case K_SPAWN:
        return 5;
    case K_SPAWNED:
        return 3;
    default:
        return -1;
    }
}

static int
body(struct tr__frame *f, tr_unpack *u)
{
    size_t nl;
    switch (f->kind) {
    case K_HELLO: {
        const void *nonce;
        if (tr_unpack_uint(u, &f->hello.ver) != 0 ||
            node_name(u, &f->hello.name) != 0 ||
            tr_unpack_uint(u, &f->hello.inc) != 0 ||
            str(u, &f->hello.url, 0, URL_MAX - 1) != 0 ||
            tr_unpack_bin(u, &nonce, &nl) != 0 || nl != NONCE_BYTES ||
            bin_or_nil(u, &f->hello.proof, &f->hello.proof_len) != 0)
            return TR_EPROTO;
        f->hello.nonce = nonce;
        return 0;
    }
    case K_AUTH:
        return tr_unpack_bin(u, &f->auth.proof, &f->auth.len);
    case K_WELCOME:
    case K_BEAT:
        return 0;
    case K_PEERS: {
        uint32_t n;
        if (tr_unpack_array(u, &n) != 0 || n > PEERS_MAX)
            return TR_EPROTO;
        for (uint32_t i = 0; i < n; i++) {
            uint32_t k;
            struct wpeer *p = &f->peers.v[i];
            if (tr_unpack_array(u, &k) != 0 || k != 3 ||
                node_name(u, &p->name) != 0 ||
                tr_unpack_uint(u, &p->inc) != 0 ||
                str(u, &p->url, 1, URL_MAX - 1) != 0 || tr_unpack_leave(u) != 0)
                return TR_EPROTO;
        }
        f->peers.n = n;
        return tr_unpack_leave(u);
    }
    case K_MSG: {
        uint64_t type;
        if (tr_unpack_uint(u, &type) != 0 || type >= TR_MSG_SYSTEM ||
            wref(u, &f->msg.from) != 0 || wref(u, &f->msg.to) != 0 ||
            tr_unpack_uint(u, &f->msg.req_id) != 0 ||
            tr_unpack_int(u, &f->msg.left) != 0 || f->msg.left < 0 ||
            tr_unpack_bin(u, &f->msg.data, &f->msg.len) != 0)
            return TR_EPROTO;
        f->msg.type = (uint32_t)type;
        return 0;
    }
    case K_SIG: {
        uint64_t sig;
        if (tr_unpack_uint(u, &sig) != 0 || sig < S_LINK || sig > S_STOP ||
            wref(u, &f->sig.to) != 0 || wref(u, &f->sig.who) != 0 ||
            tr_unpack_uint(u, &f->sig.id) != 0 || i32(u, &f->sig.reason) != 0 ||
            tr_unpack_str(u, &f->sig.text.p, &f->sig.text.len) != 0 ||
            f->sig.text.len >= TR_EXIT_TEXT)
            return TR_EPROTO;
        f->sig.sig = (unsigned)sig;
        return 0;
    }
    case K_REG:
    case K_JOIN:
    case K_LEAVE:
        if (str(u, &f->name.key, 1, KEY_MAX) != 0 ||
            wref(u, &f->name.ref) != 0 || f->name.ref.kind != WREF_SENDER)
            return TR_EPROTO; // a node speaks only for its own actors
        return 0;
    case K_UNREG:
        return str(u, &f->name.key, 1, KEY_MAX);
    case K_PUB: {
        uint64_t type;
        if (str(u, &f->pub.group, 1, KEY_MAX) != 0 ||
            wref(u, &f->pub.from) != 0 || tr_unpack_uint(u, &type) != 0 ||
            type >= TR_MSG_SYSTEM ||
            tr_unpack_bin(u, &f->pub.data, &f->pub.len) != 0)
            return TR_EPROTO;
        f->pub.type = (uint32_t)type;
        return 0;
    }
    case K_SPAWN:
        if (tr_unpack_uint(u, &f->spawn.req) != 0 ||
            str(u, &f->spawn.behavior, 1, KEY_MAX) != 0 ||
            wref(u, &f->spawn.from) != 0 ||
            str(u, &f->spawn.parent, 0, KEY_MAX) != 0 ||
            tr_unpack_bin(u, &f->spawn.arg, &f->spawn.len) != 0)
            return TR_EPROTO;
        return 0;
    case K_SPAWNED:
        if (tr_unpack_uint(u, &f->spawned.req) != 0 ||
            i32(u, &f->spawned.rc) != 0 || wref(u, &f->spawned.ref) != 0)
            return TR_EPROTO;
        return 0;
    default:
        return TR_EPROTO;
    }
}

int
tr__frame_decode(struct tr__frame *f, tr_unpack *u, const void *data,
                 size_t len)
{
    memset(f, 0, offsetof(struct tr__frame, hello));
    uint32_t n;
    uint64_t kind;
    if (tr_unpack_init(u, data, len) != 0 || tr_unpack_array(u, &n) != 0 ||
        n == 0 || tr_unpack_uint(u, &kind) != 0 || kind > 255)
        return TR_EPROTO;
    f->kind = (unsigned)kind;
    int want = items_of(f->kind);
    if (want < 0 || n != (uint32_t)want + 1 || body(f, u) != 0 ||
        tr_unpack_peek(u) != TR_PACK_END || tr_unpack_leave(u) != 0 ||
        tr_unpack_peek(u) != TR_PACK_END)
        return TR_EPROTO;
    return 0;
}
