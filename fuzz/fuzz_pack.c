// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// fuzz_pack.c: the payload reader (troupe/pack.h) and its length check
// (tr__mp_scan) against any bytes. Per input it checks:
// - tr__mp_scan agrees with a small reference parser written here: it
//   accepts exactly the well-formed MessagePack sequences and counts their
//   top-level objects;
// - tr_unpack_init succeeds exactly when the input is well-formed and
//   nests no deeper than msgpack-c's parser stack, and only if the scan
//   accepted it; a failed reader fails every read with its code;
// - a peek-driven walk reads each object with its reader, and first tries
//   every reader on a copy of the reader: exactly the right ones succeed
//   (integers by range, containers while the reader's depth allows);
// - strings, binaries and refs point inside the input (AddressSanitizer
//   reads every byte), containers hold as many objects as they declare;
// - the walk, written back with tr_pack, parses again and writes back to
//   the very same bytes (the writer and the reader agree).
#include "fuzz.h"

#include "cluster/pack_scan.h"

#include <troupe.h>
#include <troupe/pack.h>

#include <stdbool.h>
#include <string.h>

#include <msgpack.h>
#include <msgpack/unpack_define.h> // MSGPACK_EMBED_STACK_SIZE: the parser depth

// ---------------------------------------------------------------------------
// Reference parser: deliberately written apart from tr__mp_scan (recursive,
// by value ranges), so that a mistake in one shows up as a disagreement.

enum { M_OK, M_BAD, M_DEEP };

#define MODEL_DEPTH 64 // past this, stop modelling: msgpack-c refuses anyway

static uint64_t
rd_be(const unsigned char *p, unsigned n)
{
    uint64_t v = 0;
    while (n-- > 0)
        v = v << 8 | *p++;
    return v;
}

// model_obj parses one object at *pp. `depth` counts the non-empty
// containers around it (msgpack-c pushes only those on its stack), and
// *maxdepth becomes the most a container (empty or not) meets: msgpack-c
// refuses a container header once its stack is full.
static int
model_obj(const unsigned char **pp, const unsigned char *end, unsigned depth,
          unsigned *maxdepth)
{
    const unsigned char *p = *pp;
    if (p == end)
        return M_BAD;
    unsigned b = *p++;
    uint64_t body = 0, count = 0;
    unsigned hdr = 0; // bytes of length or count after the first byte
    if (b < 0x80 || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
        // positive or negative fixint, nil, false, true
    } else if (b < 0x90) {
        count = 2 * (uint64_t)(b - 0x80); // fixmap
    } else if (b < 0xa0) {
        count = b - 0x90; // fixarray
    } else if (b < 0xc0) {
        body = b - 0xa0; // fixstr
    } else if (b == 0xc1) {
        return M_BAD;
    } else if (b <= 0xc6) {
        hdr = 1u << (b - 0xc4); // bin 8, 16, 32
    } else if (b <= 0xc9) {
        hdr = 1u << (b - 0xc7); // ext 8, 16, 32: then a type byte
        body = 1;
    } else if (b == 0xca) {
        body = 4;
    } else if (b == 0xcb) {
        body = 8;
    } else if (b <= 0xd3) {
        body = 1u << ((b - 0xcc) % 4); // uint 8..64, int 8..64
    } else if (b <= 0xd8) {
        body = 1 + (1u << (b - 0xd4)); // fixext 1..16, after a type byte
    } else if (b <= 0xdb) {
        hdr = 1u << (b - 0xd9); // str 8, 16, 32
    } else {
        hdr = b == 0xdc || b == 0xde ? 2 : 4; // array/map 16, 32
    }
    if ((size_t)(end - p) < hdr)
        return M_BAD;
    uint64_t v = rd_be(p, hdr);
    p += hdr;
    if (b >= 0xdc && b <= 0xdf)
        count = b >= 0xde ? 2 * v : v;
    else
        body += v;
    if ((uint64_t)(end - p) < body)
        return M_BAD;
    p += body;
    bool container = (b >= 0x80 && b <= 0x9f) || (b >= 0xdc && b <= 0xdf);
    if (container && depth + 1 > *maxdepth)
        *maxdepth = depth + 1; // msgpack-c checks its stack even for []
    if (count != 0) {
        if (++depth > MODEL_DEPTH)
            return M_DEEP;
        // Each item takes a byte at least, so a huge count with few bytes
        // ends at the first item that finds none.
        for (uint64_t i = 0; i < count; i++) {
            int rc = model_obj(&p, end, depth, maxdepth);
            if (rc != M_OK)
                return rc;
        }
    }
    *pp = p;
    return M_OK;
}

static int
model(const unsigned char *p, size_t len, size_t *objects, unsigned *maxdepth)
{
    const unsigned char *end = p + len;
    *objects = 0;
    *maxdepth = 0;
    while (p != end) {
        int rc = model_obj(&p, end, 0, maxdepth);
        if (rc != M_OK)
            return rc;
        ++*objects;
    }
    return M_OK;
}

// ---------------------------------------------------------------------------
// The walk

enum {
    R_NIL,
    R_BOOL,
    R_INT,
    R_UINT,
    R_U32,
    R_DOUBLE,
    R_STR,
    R_BIN,
    R_REF,
    R_ARRAY,
    R_MAP,
    R_SKIP,
    R_LEAVE,
    R_COUNT
};

#define BIT(r) (1u << (r))

// try_read runs reader `r` on a copy of `u` and says whether it succeeded.
// The copy shares the parse with `u` and is never finished: it is dropped
// with nothing to free. (A test may copy the struct; callers may not rely
// on that.) A failed read must leave the copy failing, and report
// TR_EPROTO.
static bool
try_read(const tr_unpack *u, int r)
{
    tr_unpack c = *u;
    bool b;
    int64_t i;
    uint64_t v;
    uint32_t n;
    double d;
    const char *s;
    const void *bin;
    size_t len;
    tr_ref ref;
    int rc;
    switch (r) {
    case R_NIL:
        rc = tr_unpack_nil(&c);
        break;
    case R_BOOL:
        rc = tr_unpack_bool(&c, &b);
        break;
    case R_INT:
        rc = tr_unpack_int(&c, &i);
        break;
    case R_UINT:
        rc = tr_unpack_uint(&c, &v);
        break;
    case R_U32:
        rc = tr_unpack_u32(&c, &n);
        break;
    case R_DOUBLE:
        rc = tr_unpack_double(&c, &d);
        break;
    case R_STR:
        rc = tr_unpack_str(&c, &s, &len);
        break;
    case R_BIN:
        rc = tr_unpack_bin(&c, &bin, &len);
        break;
    case R_REF:
        rc = tr_unpack_ref(&c, &ref);
        break;
    case R_ARRAY:
        rc = tr_unpack_array(&c, &n);
        break;
    case R_MAP:
        rc = tr_unpack_map(&c, &n);
        break;
    case R_SKIP:
        rc = tr_unpack_skip(&c);
        break;
    default:
        rc = tr_unpack_leave(&c);
        break;
    }
    FUZZ_CHECK(rc == 0 || rc == TR_EPROTO);
    if (rc != 0) {
        // Sticky: nothing more reads, and the error is what fini returns.
        FUZZ_CHECK(tr_unpack_peek(&c) == TR_PACK_END);
        FUZZ_CHECK(tr_unpack_skip(&c) == rc && tr_unpack_leave(&c) == rc);
        FUZZ_CHECK(c.err == rc);
    }
    return rc == 0;
}

static unsigned
try_all(const tr_unpack *u)
{
    unsigned ok = 0;
    for (int r = 0; r < R_COUNT; r++)
        if (try_read(u, r))
            ok |= BIT(r);
    return ok;
}

// Trying every reader on every object costs a dozen reader copies per
// object: do it for the first TRY_OBJECTS objects of an input (plus every
// level's end), then read without trying, which keeps long inputs fast.
#define TRY_OBJECTS 64

struct walk {
    struct fuzz_span in;
    tr_pack *out; // the walk written back
    size_t tried; // objects tried with every reader so far
};

// walk_level reads the objects left at the reader's current level,
// `depth` (0: top), writing each back; returns how many it read.
static size_t
walk_level(struct walk *w, tr_unpack *u, unsigned depth)
{
    size_t seen = 0;
    for (;;) {
        enum tr_pack_type t = tr_unpack_peek(u);
        bool all = t == TR_PACK_END || w->tried++ < TRY_OBJECTS;
        unsigned ok = all ? try_all(u) : 0;
        // want: the readers that must succeed on this object.
        unsigned want = t == TR_PACK_END ? 0 : BIT(R_SKIP);
        if (depth > 0)
            want |= BIT(R_LEAVE);                 // leaving skips the rest
        bool deep = depth + 1 >= TR_UNPACK_DEPTH; // no level left to enter
        bool b;
        int64_t i;
        uint64_t v;
        uint32_t n;
        double d;
        const char *s;
        const void *bin;
        size_t len;
        tr_ref ref;
        switch (t) {
        case TR_PACK_END:
            FUZZ_CHECK(ok == want);
            return seen;
        case TR_PACK_NIL:
            want |= BIT(R_NIL);
            FUZZ_CHECK(tr_unpack_nil(u) == 0);
            tr_pack_nil(w->out);
            break;
        case TR_PACK_BOOL:
            want |= BIT(R_BOOL);
            FUZZ_CHECK(tr_unpack_bool(u, &b) == 0);
            tr_pack_bool(w->out, b);
            break;
        case TR_PACK_INT:
            want |= BIT(R_INT);
            FUZZ_CHECK(tr_unpack_int(u, &i) == 0 && i < 0);
            tr_pack_int(w->out, i);
            break;
        case TR_PACK_UINT:
            FUZZ_CHECK(tr_unpack_uint(u, &v) == 0);
            want |= BIT(R_UINT);
            if (v <= INT64_MAX)
                want |= BIT(R_INT);
            if (v <= UINT32_MAX)
                want |= BIT(R_U32);
            tr_pack_uint(w->out, v);
            break;
        case TR_PACK_DOUBLE:
            want |= BIT(R_DOUBLE);
            FUZZ_CHECK(tr_unpack_double(u, &d) == 0);
            tr_pack_double(w->out, d);
            break;
        case TR_PACK_STR:
            want |= BIT(R_STR);
            FUZZ_CHECK(tr_unpack_str(u, &s, &len) == 0);
            fuzz_inside(w->in, s, len);
            tr_pack_str(w->out, s, len);
            break;
        case TR_PACK_BIN:
            want |= BIT(R_BIN);
            FUZZ_CHECK(tr_unpack_bin(u, &bin, &len) == 0);
            fuzz_inside(w->in, bin, len);
            tr_pack_bin(w->out, bin, len);
            break;
        case TR_PACK_EXT:
            // Only a ref (ext type 1, 8 bytes) has a reader; any other
            // extension is skipped, and written back as nil.
            if (try_read(u, R_REF)) {
                want |= BIT(R_REF);
                FUZZ_CHECK(tr_unpack_ref(u, &ref) == 0);
                tr_pack_ref(w->out, ref);
            } else {
                FUZZ_CHECK(tr_unpack_skip(u) == 0);
                tr_pack_nil(w->out);
            }
            break;
        case TR_PACK_ARRAY:
        case TR_PACK_MAP: {
            bool arr = t == TR_PACK_ARRAY;
            if (deep) {
                FUZZ_CHECK(tr_unpack_skip(u) == 0);
                tr_pack_nil(w->out);
                break;
            }
            want |= BIT(arr ? R_ARRAY : R_MAP);
            FUZZ_CHECK((arr ? tr_unpack_array(u, &n) : tr_unpack_map(u, &n)) ==
                       0);
            if (arr)
                tr_pack_array(w->out, n);
            else
                tr_pack_map(w->out, n);
            size_t items = walk_level(w, u, depth + 1);
            FUZZ_CHECK(items == (arr ? n : 2 * (size_t)n));
            FUZZ_CHECK(tr_unpack_leave(u) == 0);
            break;
        }
        default:
            FUZZ_CHECK(!"tr_unpack_peek gave an unknown type");
        }
        FUZZ_CHECK(!all || ok == want);
        seen++;
    }
}

// walk_all parses `len` bytes at `data`, which must succeed, and walks them
// into `out`; returns the number of top-level objects.
static size_t
walk_all(tr_pack *out, const void *data, size_t len)
{
    tr_unpack u;
    FUZZ_CHECK(tr_unpack_init(&u, data, len) == 0);
    struct walk w = {{data, (const unsigned char *)data + len}, out, 0};
    size_t n = walk_level(&w, &u, 0);
    FUZZ_CHECK(tr_unpack_leave(&u) == TR_EPROTO); // the top has no outside
    FUZZ_CHECK(tr_unpack_fini(&u) == TR_EPROTO);
    return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t objects = 0, want_objects;
    unsigned maxdepth;
    int m = model(data, size, &want_objects, &maxdepth);
    int scan = tr__mp_scan(data, size, &objects);
    FUZZ_CHECK(scan == 0 || scan == TR_EPROTO);
    if (m == M_OK)
        FUZZ_CHECK(scan == 0 && objects == want_objects);
    else if (m == M_BAD)
        FUZZ_CHECK(scan == TR_EPROTO);

    tr_unpack u;
    int rc = tr_unpack_init(&u, data, size);
    FUZZ_CHECK(rc == 0 || rc == TR_EPROTO);
    FUZZ_CHECK(rc != 0 || scan == 0);
    if (m == M_OK)
        FUZZ_CHECK((rc == 0) == (maxdepth <= MSGPACK_EMBED_STACK_SIZE));
    else
        FUZZ_CHECK(rc != 0);
    if (rc != 0) {
        // A failed reader reads nothing, whatever is asked.
        FUZZ_CHECK(tr_unpack_peek(&u) == TR_PACK_END);
        FUZZ_CHECK(try_all(&u) == 0);
        FUZZ_CHECK(tr_unpack_fini(&u) == rc);
        return 0;
    }
    FUZZ_CHECK(tr_unpack_fini(&u) == 0);

    // Walk, write back, walk the copy: the second copy is the first.
    tr_pack one, two;
    unsigned char b1[256], b2[256];
    tr_pack_init(&one, b1, sizeof b1);
    tr_pack_init(&two, b2, sizeof b2);
    size_t n1 = walk_all(&one, data, size);
    FUZZ_CHECK(n1 == objects);
    size_t n2 = walk_all(&two, tr_pack_data(&one), tr_pack_len(&one));
    FUZZ_CHECK(n2 == n1);
    FUZZ_CHECK(
        tr_pack_len(&two) == tr_pack_len(&one) &&
        memcmp(tr_pack_data(&two), tr_pack_data(&one), tr_pack_len(&one)) == 0);
    FUZZ_CHECK(tr_pack_fini(&one) == 0 && tr_pack_fini(&two) == 0);
    return 0;
}
