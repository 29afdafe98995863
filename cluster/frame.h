// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// frame.h: decoding one envelope (docs/wire.md) into a struct, checking
// every field, before anything acts on it. Pure: no node, no allocation
// beyond the reader's, so it can be fuzzed alone (fuzz/).
#ifndef TR_CLUSTER_FRAME_H
#define TR_CLUSTER_FRAME_H

#include <troupe/cluster.h>
#include <troupe/pack.h>

#include <stddef.h>
#include <stdint.h>

// Frame kinds.
enum {
    K_HELLO = 1,
    K_AUTH = 2,
    K_WELCOME = 3,
    K_BEAT = 4,
    K_PEERS = 5,
    K_MSG = 10,
    K_SIG = 11,
    K_REG = 20,
    K_UNREG = 21,
    K_JOIN = 22,
    K_LEAVE = 23,
    K_PUB = 24,
    K_SPAWN = 30,
    K_SPAWNED = 31,
};

// Signal kinds carried by K_SIG.
enum {
    S_LINK = 1,
    S_UNLINK,
    S_EXIT,
    S_MONITOR,
    S_DEMONITOR,
    S_DOWN,
    S_STOP,
};

#define WIRE_VER    1
#define NONCE_BYTES 16
#define MAC_BYTES   32
#define URL_MAX     256
#define KEY_MAX     127 // registry, group and behaviour names
#define PEERS_MAX   32  // entries in one K_PEERS

// A ref as it travels: relative to the two ends (docs/wire.md).
enum { WREF_NONE, WREF_SENDER, WREF_RECEIVER, WREF_THIRD };

struct wref {
    int kind;
    uint64_t id; // slot and generation, < 2^48
    const char *name;
    size_t name_len;
    uint64_t inc;
};

struct wstr {
    const char *p;
    size_t len;
};

struct wpeer {
    struct wstr name, url;
    uint64_t inc;
};

struct tr__frame {
    unsigned kind;
    union {
        struct {
            uint64_t ver, inc;
            struct wstr name, url;
            const void *nonce;
            const void *proof; // NULL: none
            size_t proof_len;
        } hello;
        struct {
            const void *proof;
            size_t len;
        } auth;
        struct {
            struct wpeer v[PEERS_MAX];
            unsigned n;
        } peers;
        struct {
            uint32_t type;
            struct wref from, to;
            uint64_t req_id;
            int64_t left; // ns; 0: no deadline
            const void *data;
            size_t len;
        } msg;
        struct {
            unsigned sig;
            struct wref to, who;
            uint64_t id;
            int32_t reason;
            struct wstr text;
        } sig;
        struct {
            struct wstr key; // registry or group name
            struct wref ref; // REG, JOIN, LEAVE
        } name;
        struct {
            struct wstr group;
            struct wref from;
            uint32_t type;
            const void *data;
            size_t len;
        } pub;
        struct {
            uint64_t req;
            struct wstr behavior;
            struct wref from;   // who asked (gets the reply)
            struct wstr parent; // registered name of the supervisor, or ""
            const void *arg;
            size_t len;
        } spawn;
        struct {
            uint64_t req;
            int32_t rc;
            struct wref ref;
        } spawned;
    };
};

// tr__frame_decode reads the envelope in `len` bytes of `data` into *f.
// Strings and payloads in *f point into `data`; `u` holds the parse and
// must be finished with tr_unpack_fini after *f is used (also on error).
// Returns 0 or TR_EPROTO. Thread: any.
int tr__frame_decode(struct tr__frame *f, tr_unpack *u, const void *data,
                     size_t len);

#endif // TR_CLUSTER_FRAME_H
