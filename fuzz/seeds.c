// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// seeds.c: writes the seed inputs of the fuzz corpus: every frame kind of
// docs/wire.md in its usual shapes, payloads using every writer, and the
// hostile inputs of tests/cluster. Usage: fuzz_seeds DIR writes
// DIR/frame/seed-* and DIR/pack/seed-* (making the folders if needed),
// replacing files of the same name. The fuzzers grow the corpus from these
// (fuzz/README.md).
#define _POSIX_C_SOURCE 200809L
#include "cluster/frame.h"

#include <troupe.h>
#include <troupe/pack.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define HERE48 (UINT64_C(1) << 48)

static const char *root;
static int failed;

static void
save(const char *sub, const char *name, const void *data, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s/seed-%s", root, sub, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(data, 1, len, f) != len) {
        fprintf(stderr, "seeds: cannot write %s\n", path);
        failed = 1;
    }
    if (f != NULL && fclose(f) != 0)
        failed = 1;
}

static tr_pack P; // the seed being built

static tr_pack *
begin(unsigned kind, unsigned items)
{
    tr_pack_init(&P, NULL, 0);
    tr_pack_array(&P, items + 1);
    tr_pack_uint(&P, kind);
    return &P;
}

static void
end(const char *sub, const char *name)
{
    save(sub, name, tr_pack_data(&P), tr_pack_len(&P));
    if (tr_pack_fini(&P) != 0)
        failed = 1;
}

static void
put_third(tr_pack *p, const char *node, uint64_t inc, uint64_t id)
{
    tr_pack_array(p, 3);
    tr_pack_cstr(p, node);
    tr_pack_uint(p, inc);
    tr_pack_uint(p, id);
}

static const unsigned char nonce[NONCE_BYTES] = {1, 2, 3, 4, 5, 6, 7, 8};
static const unsigned char mac[MAC_BYTES] = {9, 8, 7, 6, 5, 4, 3, 2, 1};

static void
frames(void)
{
    tr_pack *p;
    char name[64];

    // Handshake: the dialler's HELLO (no proof), the listener's (proof).
    for (int proof = 0; proof < 2; proof++) {
        p = begin(K_HELLO, 6);
        tr_pack_uint(p, WIRE_VER);
        tr_pack_cstr(p, proof ? "node-b" : "node-a");
        tr_pack_uint(p, UINT64_C(1767225600000000000));
        tr_pack_cstr(p, proof ? "ipc:///tmp/troupe-b" : "tcp://127.0.0.1:7000");
        tr_pack_bin(p, nonce, sizeof nonce);
        if (proof)
            tr_pack_bin(p, mac, sizeof mac);
        else
            tr_pack_nil(p);
        end("frame", proof ? "hello-listener" : "hello-dialler");
    }
    p = begin(K_HELLO, 6); // no listen URL
    tr_pack_uint(p, WIRE_VER);
    tr_pack_cstr(p, "n");
    tr_pack_uint(p, 1);
    tr_pack_cstr(p, "");
    tr_pack_bin(p, nonce, sizeof nonce);
    tr_pack_nil(p);
    end("frame", "hello-no-url");
    p = begin(K_AUTH, 1);
    tr_pack_bin(p, mac, sizeof mac);
    end("frame", "auth");
    begin(K_WELCOME, 0);
    end("frame", "welcome");
    begin(K_BEAT, 0);
    end("frame", "beat");

    // PEERS with none, two and the most allowed.
    unsigned counts[] = {0, 2, PEERS_MAX};
    for (unsigned c = 0; c < 3; c++) {
        p = begin(K_PEERS, 1);
        tr_pack_array(p, counts[c]);
        for (unsigned i = 0; i < counts[c]; i++) {
            char node[16], url[32];
            snprintf(node, sizeof node, "node-%u", i);
            snprintf(url, sizeof url, "tcp://10.0.0.%u:7000", i);
            tr_pack_array(p, 3);
            tr_pack_cstr(p, node);
            tr_pack_uint(p, 100 + i);
            tr_pack_cstr(p, url);
        }
        snprintf(name, sizeof name, "peers-%u", counts[c]);
        end("frame", name);
    }

    // MSG with each ref encoding, a request and a deadline.
    p = begin(K_MSG, 6);
    tr_pack_uint(p, 7);
    tr_pack_uint(p, 5);          // the sender's actor
    tr_pack_uint(p, HERE48 | 9); // the receiver's
    tr_pack_uint(p, 0);          // no request
    tr_pack_int(p, 0);           // no deadline
    tr_pack_bin(p, "\x92\x01\xa1x", 4);
    end("frame", "msg");
    p = begin(K_MSG, 6);
    tr_pack_uint(p, TR_MSG_SYSTEM - 1);
    put_third(p, "node-c", 3, 0xFFFFFFFFFFFF);
    tr_pack_uint(p, HERE48 | 1);
    tr_pack_uint(p, UINT64_MAX);
    tr_pack_int(p, INT64_MAX);
    tr_pack_bin(p, "", 0);
    end("frame", "msg-third-request");
    p = begin(K_MSG, 6);
    tr_pack_uint(p, 1);
    tr_pack_nil(p);
    tr_pack_uint(p, HERE48 | 2);
    tr_pack_uint(p, 12);
    tr_pack_int(p, 1);
    tr_pack_bin(p, "payload", 7);
    end("frame", "msg-nil-from");

    // SIG: each signal.
    for (unsigned s = S_LINK; s <= S_STOP; s++) {
        p = begin(K_SIG, 6);
        tr_pack_uint(p, s);
        tr_pack_uint(p, HERE48 | 4);
        if (s == S_DEMONITOR || s == S_STOP)
            tr_pack_nil(p);
        else if (s == S_DOWN)
            put_third(p, "node-c", 8, 77);
        else
            tr_pack_uint(p, 6);
        tr_pack_uint(p, s == S_MONITOR || s == S_DEMONITOR || s == S_DOWN);
        tr_pack_int(p, s == S_EXIT || s == S_DOWN ? -4 : 0);
        tr_pack_cstr(p, s == S_EXIT ? "no such actor" : "");
        snprintf(name, sizeof name, "sig-%u", s);
        end("frame", name);
    }

    // Names and groups.
    static const struct {
        unsigned kind;
        const char *name;
    } names[] = {{K_REG, "reg"}, {K_JOIN, "join"}, {K_LEAVE, "leave"}};
    for (unsigned i = 0; i < 3; i++) {
        p = begin(names[i].kind, 2);
        tr_pack_cstr(p, i == 0 ? "svc.logger" : "room/lobby");
        tr_pack_uint(p, 42);
        end("frame", names[i].name);
    }
    p = begin(K_UNREG, 1);
    tr_pack_cstr(p, "svc.logger");
    end("frame", "unreg");
    p = begin(K_PUB, 4);
    tr_pack_cstr(p, "room/lobby");
    tr_pack_uint(p, 3);
    tr_pack_uint(p, 100);
    tr_pack_bin(p, "hi", 2);
    end("frame", "pub");

    // Remote spawn and its answer.
    p = begin(K_SPAWN, 5);
    tr_pack_uint(p, 1);
    tr_pack_cstr(p, "worker");
    tr_pack_uint(p, 17);
    tr_pack_cstr(p, "sup.workers");
    tr_pack_bin(p, "\x91\x05", 2);
    end("frame", "spawn");
    p = begin(K_SPAWN, 5);
    tr_pack_uint(p, 2);
    tr_pack_cstr(p, "worker");
    put_third(p, "node-c", 1, 2);
    tr_pack_cstr(p, "");
    tr_pack_bin(p, "", 0);
    end("frame", "spawn-no-parent");
    p = begin(K_SPAWNED, 3);
    tr_pack_uint(p, 1);
    tr_pack_int(p, 0);
    tr_pack_uint(p, 23);
    end("frame", "spawned");
    p = begin(K_SPAWNED, 3);
    tr_pack_uint(p, 2);
    tr_pack_int(p, TR_EINVAL);
    tr_pack_nil(p);
    end("frame", "spawned-failed");

    // Refused (tests/cluster/test_frame.c): an unknown kind, an item too
    // many, a reserved type, a negative time left, a ref past 49 bits, a
    // name with a space, a short nonce, a REG for a receiver's actor, a
    // text too long, trailing bytes, a kind that is not an array.
    begin(99, 0);
    end("frame", "bad-kind");
    p = begin(K_BEAT, 1);
    tr_pack_nil(p);
    end("frame", "bad-extra-item");
    for (int bad = 0; bad < 3; bad++) {
        static const char *const what[] = {"bad-reserved-type",
                                           "bad-negative-left", "bad-ref-50"};
        p = begin(K_MSG, 6);
        tr_pack_uint(p, bad == 0 ? TR_MSG_SYSTEM : 1);
        tr_pack_uint(p, bad == 2 ? UINT64_C(1) << 50 : 1);
        tr_pack_uint(p, 1);
        tr_pack_uint(p, 0);
        tr_pack_int(p, bad == 1 ? -1 : 0);
        tr_pack_bin(p, "", 0);
        end("frame", what[bad]);
    }
    p = begin(K_HELLO, 6);
    tr_pack_uint(p, 1);
    tr_pack_cstr(p, "bad name");
    tr_pack_uint(p, 1);
    tr_pack_cstr(p, "");
    tr_pack_bin(p, nonce, sizeof nonce);
    tr_pack_nil(p);
    end("frame", "bad-name-space");
    p = begin(K_HELLO, 6);
    tr_pack_uint(p, 1);
    tr_pack_cstr(p, "ok");
    tr_pack_uint(p, 1);
    tr_pack_cstr(p, "");
    tr_pack_bin(p, "short", 5);
    tr_pack_nil(p);
    end("frame", "bad-short-nonce");
    p = begin(K_REG, 2);
    tr_pack_cstr(p, "svc");
    tr_pack_uint(p, HERE48 | 1);
    end("frame", "bad-reg-receiver");
    p = begin(K_SIG, 6);
    tr_pack_uint(p, S_EXIT);
    tr_pack_uint(p, 1);
    tr_pack_uint(p, 1);
    tr_pack_uint(p, 0);
    tr_pack_int(p, 0);
    tr_pack_cstr(p, "0123456789012345678901234567890123456789012345678");
    end("frame", "bad-text-48");
    p = begin(K_BEAT, 0);
    tr_pack_nil(p);
    end("frame", "bad-trailing");
    save("frame", "bad-not-array", "\x04", 1);
    save("frame", "bad-array32-huge", "\xdd\xff\xff\xff\xff\x04", 6);
}

static void
payloads(void)
{
    // Every writer (tests/cluster/test_pack.c's round trip).
    tr_pack_init(&P, NULL, 0);
    tr_pack_array(&P, 12);
    tr_pack_nil(&P);
    tr_pack_bool(&P, true);
    tr_pack_bool(&P, false);
    tr_pack_int(&P, -5);
    tr_pack_int(&P, INT64_MIN);
    tr_pack_uint(&P, UINT64_MAX);
    tr_pack_double(&P, 2.5);
    tr_pack_cstr(&P, "h\xc3\xa9llo");
    tr_pack_bin(&P, "\0\1\2", 3);
    tr_pack_ref(&P, (tr_ref){UINT64_C(0x0001000200000003)});
    tr_pack_map(&P, 1);
    tr_pack_cstr(&P, "k");
    tr_pack_uint(&P, 7);
    tr_pack_array(&P, 0);
    end("pack", "every-writer");

    // Several top-level objects; integers at each width's edges.
    tr_pack_init(&P, NULL, 0);
    static const uint64_t u[] = {0,
                                 127,
                                 128,
                                 255,
                                 256,
                                 65535,
                                 65536,
                                 UINT32_MAX,
                                 (uint64_t)UINT32_MAX + 1,
                                 INT64_MAX,
                                 (uint64_t)INT64_MAX + 1};
    for (size_t i = 0; i < sizeof u / sizeof u[0]; i++)
        tr_pack_uint(&P, u[i]);
    static const int64_t s[] = {-1,       -32,       -33,
                                -128,     -129,      -32768,
                                -32769,   INT32_MIN, -(INT64_C(1) << 40),
                                INT64_MIN};
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++)
        tr_pack_int(&P, s[i]);
    end("pack", "integers");

    // Strings and binaries around the 8/16-bit length steps; a map of maps.
    static char big[300];
    memset(big, 'a', sizeof big);
    tr_pack_init(&P, NULL, 0);
    tr_pack_str(&P, big, 31);
    tr_pack_str(&P, big, 32);
    tr_pack_str(&P, big, 256);
    tr_pack_bin(&P, big, 0);
    tr_pack_bin(&P, big, 256);
    tr_pack_map(&P, 2);
    tr_pack_cstr(&P, "a");
    tr_pack_map(&P, 1);
    tr_pack_nil(&P);
    tr_pack_array(&P, 2);
    tr_pack_double(&P, -0.0);
    tr_pack_double(&P, 1e300);
    tr_pack_uint(&P, 1);
    tr_pack_str(&P, "", 0);
    end("pack", "strings-maps");

    // Encodings tr_pack never writes but msgpack-c reads: float32,
    // non-minimal integers, str8, ext and fixext of other types.
    static const unsigned char odd[] = {
        0xca, 0x3f, 0x80, 0x00, 0x00,                // float32 1.0
        0xcd, 0x00, 0x01,                            // uint16 1
        0xd3, 0,    0,    0,    0,    0, 0, 0, 5,    // int64 5
        0xd0, 0x80,                                  // int8 -128
        0xd9, 0x01, 'x',                             // str8
        0xc7, 0x02, 0x05, 0xaa, 0xbb,                // ext8 type 5
        0xd4, 0x01, 0x00,                            // fixext1 type 1
        0xd7, 0xff, 0,    0,    0,    0, 0, 0, 0, 1, // fixext8 type -1
        0xc8, 0x00, 0x00, 0x07,                      // ext16 of nothing, type 7
        0xde, 0x00, 0x01, 0xc0, 0xc3,                // map16 {nil: true}
        0xdc, 0x00, 0x00,                            // array16 []
    };
    save("pack", "odd-encodings", odd, sizeof odd);

    // Nesting: as deep as the reader enters, one more, and past
    // msgpack-c's parser stack.
    static unsigned char deep[64];
    for (size_t d = TR_UNPACK_DEPTH - 1; d <= TR_UNPACK_DEPTH; d++) {
        memset(deep, 0x91, d);
        deep[d] = 0x01;
        save("pack", d < TR_UNPACK_DEPTH ? "nest-15" : "nest-16", deep, d + 1);
    }
    memset(deep, 0x91, 40);
    deep[40] = 0x01;
    save("pack", "nest-40", deep, 41);
    // msgpack-c checks its stack (32) before it sees that a container is
    // empty: 31 arrays around [] parse, 32 do not.
    for (size_t d = 31; d <= 32; d++) {
        memset(deep, 0x91, d);
        deep[d] = 0x90;
        save("pack", d == 31 ? "nest-31-empty" : "nest-32-empty", deep, d + 1);
    }

    // Refused before msgpack-c allocates (test_hostile_headers_refused).
    static const struct {
        const char *name, *bytes;
        size_t len;
    } bad[] = {
        {"bad-array32", "\xdd\xff\xff\xff\xff", 5},
        {"bad-map32", "\xdf\xff\xff\xff\xff", 5},
        {"bad-array16-short", "\xdc\x00\x05\x01\x02", 5},
        {"bad-fixarray-short", "\x92\x01", 2},
        {"bad-str32-long",
         "\xdb\xff\xff\xff\xff"
         "ab",
         7},
        {"bad-bin32-long",
         "\xc6\x00\x00\x00\x09"
         "abc",
         8},
        {"bad-ext32-short", "\xc9\x00\x00\x00\x01", 5},
        {"bad-c1", "\xc1", 1},
        {"bad-uint64-short", "\xcf\x01\x02", 3},
        {"bad-fixext16-short", "\xd8\x01", 2},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        save("pack", bad[i].name, bad[i].bytes, bad[i].len);
}

int
main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR (writes DIR/frame, DIR/pack)\n",
                argv[0]);
        return 2;
    }
    root = argv[1];
    const char *subs[] = {"frame", "pack"};
    for (int i = 0; i < 2; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", root, subs[i]);
        if (mkdir(path, 0777) != 0 && errno != EEXIST) {
            fprintf(stderr, "seeds: cannot make %s\n", path);
            return 1;
        }
    }
    frames();
    payloads();
    return failed;
}
