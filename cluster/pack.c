// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// pack.c: troupe/pack.h over msgpack-c.
//
// Design notes
// - Writing goes through msgpack-c's packer with our own write callback
//   (append to a buffer that starts in the caller's storage).
// - Reading uses msgpack-c's unpacker, which allocates its object tree in a
//   zone *as it reads each container header*: a five-byte input declaring
//   an array of 2^32 items asks for ~100 GB. So before msgpack-c sees the
//   bytes, tr__mp_scan walks the headers once and refuses any input whose
//   declared item counts exceed the bytes left (each item takes at least
//   one byte). That bounds the tree by the input's size. It checks lengths
//   only; msgpack-c still does the parsing (and the depth limit).
#include "pack_scan.h"

#include "../base/base.h"

#include <troupe/pack.h>

#include <msgpack.h>

#include <string.h>

// ---------------------------------------------------------------------------
// Scan

static uint64_t
be(const unsigned char *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

int
tr__mp_scan(const void *data, size_t len, size_t *objects)
{
    const unsigned char *p = data, *end = p + len;
    uint64_t pending = 0; // items declared by containers, not yet seen
    size_t top = 0;
    while (p < end) {
        if (pending == 0)
            top++;
        else
            pending--;
        unsigned b = *p++;
        uint64_t items = 0, skip = 0;
        unsigned lenlen = 0;
        if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
            ;
        else if (b <= 0x8f)
            items = 2 * (uint64_t)(b & 0x0f);
        else if (b <= 0x9f)
            items = b & 0x0f;
        else if (b <= 0xbf)
            skip = b & 0x1f;
        else {
            switch (b) {
            case 0xc4:
            case 0xd9:
                lenlen = 1;
                break; // bin8, str8
            case 0xc5:
            case 0xda:
                lenlen = 2;
                break;
            case 0xc6:
            case 0xdb:
                lenlen = 4;
                break;
            case 0xc7:
                lenlen = 1;
                skip = 1;
                break; // ext8: len, type
            case 0xc8:
                lenlen = 2;
                skip = 1;
                break;
            case 0xc9:
                lenlen = 4;
                skip = 1;
                break;
            case 0xca:
                skip = 4;
                break; // float32
            case 0xcb:
                skip = 8;
                break;
            case 0xcc:
            case 0xd0:
                skip = 1;
                break;
            case 0xcd:
            case 0xd1:
                skip = 2;
                break;
            case 0xce:
            case 0xd2:
                skip = 4;
                break;
            case 0xcf:
            case 0xd3:
                skip = 8;
                break;
            case 0xd4:
                skip = 2;
                break; // fixext1: type + 1
            case 0xd5:
                skip = 3;
                break;
            case 0xd6:
                skip = 5;
                break;
            case 0xd7:
                skip = 9;
                break;
            case 0xd8:
                skip = 17;
                break;
            case 0xdc:
            case 0xdd:
            case 0xde:
            case 0xdf: {
                unsigned n = b == 0xdc || b == 0xde ? 2 : 4;
                if ((size_t)(end - p) < n)
                    return TR_EPROTO;
                items = be(p, n) * (b >= 0xde ? 2 : 1);
                p += n;
                break;
            }
            default: // 0xc1 is never used
                return TR_EPROTO;
            }
        }
        if (lenlen != 0) {
            if ((size_t)(end - p) < lenlen)
                return TR_EPROTO;
            skip += be(p, lenlen);
            p += lenlen;
        }
        if (skip > (uint64_t)(end - p))
            return TR_EPROTO;
        p += skip;
        pending += items;
        if (pending > (uint64_t)(end - p))
            return TR_EPROTO;
    }
    if (pending != 0)
        return TR_EPROTO;
    if (objects != NULL)
        *objects = top;
    return 0;
}

// ---------------------------------------------------------------------------
// Writer

#define PACK_MAX ((size_t)UINT32_MAX)

static int
pack_write(void *arg, const char *buf, size_t n)
{
    tr_pack *p = arg;
    if (p->err != 0)
        return -1;
    if (n > p->cap - p->len) {
        if (n > PACK_MAX - p->len) {
            p->err = TR_EMSGSIZE;
            return -1;
        }
        size_t cap = p->cap < 256 ? 256 : p->cap;
        while (cap - p->len < n)
            cap = cap > PACK_MAX / 2 ? PACK_MAX : cap * 2;
        unsigned char *nb = tr__alloc(cap);
        if (nb == NULL) {
            p->err = TR_ENOMEM;
            return -1;
        }
        if (p->len != 0)
            memcpy(nb, p->buf, p->len);
        if (p->own != NULL)
            tr__free(p->own, p->cap);
        p->buf = p->own = nb;
        p->cap = cap;
    }
    memcpy(p->buf + p->len, buf, n);
    p->len += n;
    return 0;
}

void
tr_pack_init(tr_pack *p, void *buf, size_t cap)
{
    *p = (tr_pack){.buf = buf, .cap = buf != NULL ? cap : 0};
}

int
tr_pack_fini(tr_pack *p)
{
    int err = p->err;
    if (p->own != NULL)
        tr__free(p->own, p->cap);
    *p = (tr_pack){0};
    return err;
}

void
tr_pack_reset(tr_pack *p)
{
    p->len = 0;
    p->err = 0;
}

// Each writer runs one msgpack-c packer call on a packer aimed at `p`.
#define PACK(p, call)                               \
    do {                                            \
        msgpack_packer pk_;                         \
        msgpack_packer_init(&pk_, (p), pack_write); \
        if ((p)->err == 0)                          \
            (void)(call);                           \
        return (p)->err;                            \
    } while (0)

int
tr_pack_nil(tr_pack *p)
{
    PACK(p, msgpack_pack_nil(&pk_));
}

int
tr_pack_bool(tr_pack *p, bool v)
{
    PACK(p, v ? msgpack_pack_true(&pk_) : msgpack_pack_false(&pk_));
}

int
tr_pack_int(tr_pack *p, int64_t v)
{
    PACK(p, msgpack_pack_int64(&pk_, v));
}

int
tr_pack_uint(tr_pack *p, uint64_t v)
{
    PACK(p, msgpack_pack_uint64(&pk_, v));
}

int
tr_pack_double(tr_pack *p, double v)
{
    PACK(p, msgpack_pack_double(&pk_, v));
}

int
tr_pack_str(tr_pack *p, const char *s, size_t len)
{
    if (len > PACK_MAX && p->err == 0)
        p->err = TR_EMSGSIZE;
    PACK(p, (msgpack_pack_str(&pk_, len) == 0 && len != 0)
                ? msgpack_pack_str_body(&pk_, s, len)
                : 0);
}

int
tr_pack_cstr(tr_pack *p, const char *s)
{
    return tr_pack_str(p, s, strlen(s));
}

int
tr_pack_bin(tr_pack *p, const void *data, size_t len)
{
    if (len > PACK_MAX && p->err == 0)
        p->err = TR_EMSGSIZE;
    PACK(p, (msgpack_pack_bin(&pk_, len) == 0 && len != 0)
                ? msgpack_pack_bin_body(&pk_, data, len)
                : 0);
}

int
tr_pack_array(tr_pack *p, uint32_t n)
{
    PACK(p, msgpack_pack_array(&pk_, n));
}

int
tr_pack_map(tr_pack *p, uint32_t n)
{
    PACK(p, msgpack_pack_map(&pk_, n));
}

#define REF_EXT 1 // the ext type of tr_pack_ref: 8 bytes, big-endian

int
tr_pack_ref(tr_pack *p, tr_ref r)
{
    unsigned char b[8];
    for (unsigned i = 0; i < 8; i++)
        b[i] = (unsigned char)(r.bits >> (56 - 8 * i));
    PACK(p, msgpack_pack_ext(&pk_, sizeof b, REF_EXT) == 0
                ? msgpack_pack_ext_body(&pk_, b, sizeof b)
                : 0);
}

// ---------------------------------------------------------------------------
// Reader

int
tr_unpack_init(tr_unpack *u, const void *data, size_t len)
{
    *u = (tr_unpack){0};
    size_t n;
    int rc = tr__mp_scan(data, len, &n);
    if (rc != 0)
        return u->err = rc;
    if (n == 0) {
        u->cur[0][0] = u->cur[0][1] = NULL;
        return 0;
    }
    // The tree takes at most one object per input byte (the scan's bound)
    // plus the top-level array: start the zone at a size that fits small
    // payloads in one chunk.
    msgpack_zone *z = msgpack_zone_new(len * 2 < 4096 ? 4096 : len * 2);
    msgpack_object *top =
        z != NULL ? msgpack_zone_malloc(z, n * sizeof *top) : NULL;
    if (top == NULL) {
        if (z != NULL)
            msgpack_zone_free(z);
        return u->err = TR_ENOMEM;
    }
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        msgpack_unpack_return r = msgpack_unpack(data, len, &off, z, &top[i]);
        if (r != MSGPACK_UNPACK_SUCCESS && r != MSGPACK_UNPACK_EXTRA_BYTES) {
            // msgpack-c also says NOMEM for nesting deeper than its parser
            // stack (32): with sizes already bounded by the scan, that is
            // the likely cause, and either way the input is refused.
            msgpack_zone_free(z);
            return u->err = TR_EPROTO;
        }
    }
    if (off != len) {
        msgpack_zone_free(z);
        return u->err = TR_EPROTO;
    }
    u->zone = z;
    u->top = top;
    u->cur[0][0] = top;
    u->cur[0][1] = top + n;
    return 0;
}

int
tr_unpack_fini(tr_unpack *u)
{
    int err = u->err;
    if (u->zone != NULL)
        msgpack_zone_free(u->zone);
    *u = (tr_unpack){0};
    return err;
}

static const msgpack_object *
peek_obj(const tr_unpack *u)
{
    if (u->err != 0)
        return NULL;
    const msgpack_object *o = u->cur[u->depth][0];
    return o != u->cur[u->depth][1] ? o : NULL;
}

// next returns the next object if it has type `t`, consuming it; else it
// sets the sticky error and returns NULL.
static const msgpack_object *
next(tr_unpack *u, msgpack_object_type t)
{
    const msgpack_object *o = peek_obj(u);
    if (o == NULL || o->type != t) {
        if (u->err == 0)
            u->err = TR_EPROTO;
        return NULL;
    }
    u->cur[u->depth][0] = o + 1;
    return o;
}

enum tr_pack_type
tr_unpack_peek(const tr_unpack *u)
{
    const msgpack_object *o = peek_obj(u);
    if (o == NULL)
        return TR_PACK_END;
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        return TR_PACK_NIL;
    case MSGPACK_OBJECT_BOOLEAN:
        return TR_PACK_BOOL;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        return TR_PACK_UINT;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return TR_PACK_INT;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        return TR_PACK_DOUBLE;
    case MSGPACK_OBJECT_STR:
        return TR_PACK_STR;
    case MSGPACK_OBJECT_BIN:
        return TR_PACK_BIN;
    case MSGPACK_OBJECT_ARRAY:
        return TR_PACK_ARRAY;
    case MSGPACK_OBJECT_MAP:
        return TR_PACK_MAP;
    default:
        return TR_PACK_EXT;
    }
}

static int
fail(tr_unpack *u)
{
    if (u->err == 0)
        u->err = TR_EPROTO;
    return u->err;
}

int
tr_unpack_nil(tr_unpack *u)
{
    return next(u, MSGPACK_OBJECT_NIL) != NULL ? 0 : u->err;
}

int
tr_unpack_bool(tr_unpack *u, bool *v)
{
    const msgpack_object *o = next(u, MSGPACK_OBJECT_BOOLEAN);
    if (o == NULL)
        return u->err;
    *v = o->via.boolean;
    return 0;
}

int
tr_unpack_int(tr_unpack *u, int64_t *v)
{
    const msgpack_object *o = peek_obj(u);
    if (o != NULL && o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *v = o->via.i64;
    } else if (o != NULL && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
               o->via.u64 <= INT64_MAX) {
        *v = (int64_t)o->via.u64;
    } else {
        return fail(u);
    }
    u->cur[u->depth][0] = o + 1;
    return 0;
}

int
tr_unpack_uint(tr_unpack *u, uint64_t *v)
{
    const msgpack_object *o = next(u, MSGPACK_OBJECT_POSITIVE_INTEGER);
    if (o == NULL)
        return u->err;
    *v = o->via.u64;
    return 0;
}

int
tr_unpack_u32(tr_unpack *u, uint32_t *v)
{
    const msgpack_object *o = peek_obj(u);
    if (o == NULL || o->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
        o->via.u64 > UINT32_MAX)
        return fail(u);
    *v = (uint32_t)o->via.u64;
    u->cur[u->depth][0] = o + 1;
    return 0;
}

int
tr_unpack_double(tr_unpack *u, double *v)
{
    const msgpack_object *o = peek_obj(u);
    if (o == NULL || (o->type != MSGPACK_OBJECT_FLOAT64 &&
                      o->type != MSGPACK_OBJECT_FLOAT32))
        return fail(u);
    *v = o->via.f64;
    u->cur[u->depth][0] = o + 1;
    return 0;
}

int
tr_unpack_str(tr_unpack *u, const char **s, size_t *len)
{
    const msgpack_object *o = next(u, MSGPACK_OBJECT_STR);
    if (o == NULL)
        return u->err;
    *s = o->via.str.ptr;
    *len = o->via.str.size;
    return 0;
}

int
tr_unpack_bin(tr_unpack *u, const void **data, size_t *len)
{
    const msgpack_object *o = next(u, MSGPACK_OBJECT_BIN);
    if (o == NULL)
        return u->err;
    *data = o->via.bin.ptr;
    *len = o->via.bin.size;
    return 0;
}

int
tr_unpack_ref(tr_unpack *u, tr_ref *r)
{
    const msgpack_object *o = peek_obj(u);
    if (o == NULL || o->type != MSGPACK_OBJECT_EXT ||
        o->via.ext.type != REF_EXT || o->via.ext.size != 8)
        return fail(u);
    r->bits = be((const unsigned char *)o->via.ext.ptr, 8);
    u->cur[u->depth][0] = o + 1;
    return 0;
}

static int
enter(tr_unpack *u, msgpack_object_type t, uint32_t *n)
{
    if (u->depth + 1 >= TR_UNPACK_DEPTH)
        return fail(u);
    const msgpack_object *o = next(u, t);
    if (o == NULL)
        return u->err;
    const msgpack_object *first;
    uint32_t count;
    if (t == MSGPACK_OBJECT_ARRAY) {
        first = o->via.array.ptr;
        count = o->via.array.size;
    } else {
        // A map's pairs are laid out key, value, key, ...: read them as a
        // flat run of 2n objects.
        _Static_assert(sizeof(msgpack_object_kv) == 2 * sizeof(msgpack_object),
                       "msgpack_object_kv is two objects");
        first = (const msgpack_object *)o->via.map.ptr;
        count = o->via.map.size;
    }
    u->depth++;
    u->cur[u->depth][0] = first;
    u->cur[u->depth][1] =
        first + (t == MSGPACK_OBJECT_ARRAY ? count : 2 * (size_t)count);
    *n = count;
    return 0;
}

int
tr_unpack_array(tr_unpack *u, uint32_t *n)
{
    return enter(u, MSGPACK_OBJECT_ARRAY, n);
}

int
tr_unpack_map(tr_unpack *u, uint32_t *n)
{
    return enter(u, MSGPACK_OBJECT_MAP, n);
}

int
tr_unpack_leave(tr_unpack *u)
{
    if (u->err != 0)
        return u->err;
    if (u->depth == 0)
        return fail(u);
    u->depth--;
    return 0;
}

int
tr_unpack_skip(tr_unpack *u)
{
    const msgpack_object *o = peek_obj(u);
    if (o == NULL)
        return fail(u);
    u->cur[u->depth][0] = o + 1;
    return 0;
}
