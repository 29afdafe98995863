// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// troupe/pack.h: build and read message payloads as MessagePack, so that
// payloads have one portable layout (the same bytes work between loops and
// between nodes) and nobody hand-rolls byte offsets. A thin layer over
// msgpack-c: its packer writes, its unpacker reads.
//
// Writing:
//
//     unsigned char buf[128];
//     tr_pack p;
//     tr_pack_init(&p, buf, sizeof buf);     // grows onto the heap if needed
//     tr_pack_array(&p, 2);
//     tr_pack_cstr(&p, "alice");
//     tr_pack_uint(&p, 42);
//     int rc = tr_send(ctx, to, MSG_HELLO, tr_pack_data(&p), tr_pack_len(&p));
//     tr_pack_fini(&p);
//
// Reading (every call checks the type and the bounds; the first error
// sticks, so a reader may check once at the end):
//
//     tr_unpack u;
//     uint32_t n; const char *name; size_t len; uint64_t age;
//     tr_unpack_init(&u, tr_msg_data(m), tr_msg_len(m));
//     tr_unpack_array(&u, &n);
//     tr_unpack_str(&u, &name, &len);
//     tr_unpack_uint(&u, &age);
//     int rc = tr_unpack_fini(&u);      // 0, or the first error
//
// A payload is a sequence of MessagePack objects (one array is usual).
// Bad bytes never crash a reader: malformed, truncated or hostile input
// gets TR_EPROTO, and the reader allocates at most a small multiple of the
// input's size however large the counts it declares.
#ifndef TROUPE_PACK_H
#define TROUPE_PACK_H

#include <troupe.h>

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// ---------------------------------------------------------------------------
// Writer

// tr_pack builds a payload. Fields are private; use the functions.
typedef struct tr_pack {
    unsigned char *buf; // the bytes so far
    size_t len;         // bytes written
    size_t cap;         // room in buf
    unsigned char *own; // heap buffer we allocated, or NULL
    int err;            // first error, sticky
} tr_pack;

// tr_pack_init starts an empty payload in the caller's `buf` of `cap`
// bytes (buf may be NULL with cap 0); it moves to the heap when it outgrows
// it. Ownership: `buf` is borrowed until tr_pack_fini; the caller owns `p`.
// Thread: `p` belongs to one thread at a time.
TR_API void tr_pack_init(tr_pack *p, void *buf, size_t cap);

// tr_pack_fini frees what the writer allocated and returns the first error
// any call met (0, TR_ENOMEM or TR_EMSGSIZE). Call it once for every init.
TR_API int tr_pack_fini(tr_pack *p);

// tr_pack_reset empties the payload, keeping its buffer; errors are
// cleared.
TR_API void tr_pack_reset(tr_pack *p);

// tr_pack_data and tr_pack_len give the bytes written so far. The pointer
// stays valid until the next write, reset or fini. Thread: as `p`.
static inline const void *
tr_pack_data(const tr_pack *p)
{
    return p->buf;
}
static inline size_t
tr_pack_len(const tr_pack *p)
{
    return p->len;
}

// The writers append one object. Each returns 0, or the sticky error
// (TR_ENOMEM; TR_EMSGSIZE past 4 GiB) after which nothing more is written.
// Strings are bytes (UTF-8 by convention; not checked); `s` and `data` are
// copied. An array of n or a map of n pairs is followed by its n (2n)
// objects. Thread: as `p`.
TR_API int tr_pack_nil(tr_pack *p);
TR_API int tr_pack_bool(tr_pack *p, bool v);
TR_API int tr_pack_int(tr_pack *p, int64_t v);
TR_API int tr_pack_uint(tr_pack *p, uint64_t v);
TR_API int tr_pack_double(tr_pack *p, double v);
TR_API int tr_pack_str(tr_pack *p, const char *s, size_t len);
TR_API int tr_pack_cstr(tr_pack *p, const char *s); // NUL-terminated
TR_API int tr_pack_bin(tr_pack *p, const void *data, size_t len);
TR_API int tr_pack_array(tr_pack *p, uint32_t n);
TR_API int tr_pack_map(tr_pack *p, uint32_t n);
// tr_pack_ref writes a ref of this process as an opaque 64-bit value (a
// MessagePack ext object). Refs name actors per process: a ref sent to
// another node inside a payload is not translated (send it in the message
// header instead: tr_msg_sender, or a request's reply goes there anyway).
TR_API int tr_pack_ref(tr_pack *p, tr_ref r);

// ---------------------------------------------------------------------------
// Reader

// What the next object is (tr_unpack_peek).
enum tr_pack_type {
    TR_PACK_END = 0, // nothing left at this level
    TR_PACK_NIL,
    TR_PACK_BOOL,
    TR_PACK_INT, // a negative integer
    TR_PACK_UINT,
    TR_PACK_DOUBLE,
    TR_PACK_STR,
    TR_PACK_BIN,
    TR_PACK_ARRAY,
    TR_PACK_MAP,
    TR_PACK_EXT, // other extension objects (tr_pack_ref's included)
};

#define TR_UNPACK_DEPTH 16 // nesting a reader can enter

// tr_unpack reads a payload. Fields are private; its storage is the
// caller's (no allocation for the reader itself).
typedef struct tr_unpack {
    const void *cur[TR_UNPACK_DEPTH][2]; // per level: next object, end
    unsigned depth;
    int err;
    void *zone; // parsed objects (msgpack-c zone), owned
    const void *top;
} tr_unpack;

// tr_unpack_init parses `len` bytes of `data`. Strings and binaries read
// later point into `data`, which must outlive the reader.
// Returns 0, TR_EPROTO (malformed, truncated, nested deeper than msgpack-c
// allows, or declaring more objects than its bytes could hold) or
// TR_ENOMEM; on error every read fails with that code.
// Ownership: `data` is borrowed until tr_unpack_fini; the caller owns `u`.
// Thread: `u` belongs to one thread at a time.
TR_API int tr_unpack_init(tr_unpack *u, const void *data, size_t len);

// tr_unpack_fini frees the reader and returns its first error (0 if every
// read succeeded). Call it once for every init, even a failed one.
TR_API int tr_unpack_fini(tr_unpack *u);

// tr_unpack_peek tells the type of the next object without reading it.
TR_API enum tr_pack_type tr_unpack_peek(const tr_unpack *u);

// The readers take the next object at the current level. A wrong type, or
// nothing left, gives TR_EPROTO and sets the sticky error. Integers are
// range-checked: tr_unpack_int accepts any integer in int64_t's range,
// tr_unpack_uint a non-negative one, tr_unpack_u32 one below 2^32.
// tr_unpack_str and tr_unpack_bin lend a pointer into the input (not
// NUL-terminated). tr_unpack_array / tr_unpack_map enter the container:
// the following reads take its items (a map's key, value, key, ...) until
// tr_unpack_leave, which skips what was not read and returns to the outer
// level. Thread: as `u`.
TR_API int tr_unpack_nil(tr_unpack *u);
TR_API int tr_unpack_bool(tr_unpack *u, bool *v);
TR_API int tr_unpack_int(tr_unpack *u, int64_t *v);
TR_API int tr_unpack_uint(tr_unpack *u, uint64_t *v);
TR_API int tr_unpack_u32(tr_unpack *u, uint32_t *v);
TR_API int tr_unpack_double(tr_unpack *u, double *v);
TR_API int tr_unpack_str(tr_unpack *u, const char **s, size_t *len);
TR_API int tr_unpack_bin(tr_unpack *u, const void **data, size_t *len);
TR_API int tr_unpack_ref(tr_unpack *u, tr_ref *r);
TR_API int tr_unpack_array(tr_unpack *u, uint32_t *n);
TR_API int tr_unpack_map(tr_unpack *u, uint32_t *n);
TR_API int tr_unpack_leave(tr_unpack *u);
// tr_unpack_skip passes over the next object, whatever it is.
TR_API int tr_unpack_skip(tr_unpack *u);

#ifdef __cplusplus
}
#endif

#endif // TROUPE_PACK_H
