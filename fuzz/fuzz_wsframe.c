// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// fuzz_wsframe.c: the chat example's WebSocket framing (examples/chat/
// wsframe.c), which reads what browsers and anyone else send. The first
// two bytes choose the message limit (1-8192), the rest is what a client
// sent. Per input it checks:
// - ws_frame_parse walks the stream: each frame's size fits what is left;
//   its header is 2, 4 or 10 bytes plus the mask; the payload lies inside
//   the frame and, masked again with the frame's key, gives back the bytes
//   sent; data frames are at most the limit, control frames at most 125
//   bytes and unfragmented, opcodes known; a refusal is 1002 or 1009 and
//   ends the walk, as it ends a connection;
// - ws_msg_add joins the data frames: never past the limit, a result of
//   1, 0, or 1002, 1003 or 1009 refused;
// - ws_close_parse: 1005 exactly for an empty payload, else a code a peer
//   may send, or 1002;
// - ws_accept and ws_close_frame on bytes of the input: a key is accepted
//   only as 24 characters and answered with 28; a close frame fits 127
//   bytes and cuts its reason only at a character boundary.
#include "fuzz.h"

#include "examples/chat/wsframe.h"

#include <string.h>

static void
check_frame(const uint8_t *sent, const uint8_t *p, long n, size_t max,
            const struct ws_frame *f)
{
    size_t len = f->len, h = (size_t)n - 4 - len;
    FUZZ_CHECK(n >= 6 && (size_t)n >= 4 + len);
    FUZZ_CHECK(h == 2 || h == 4 || h == 10);
    FUZZ_CHECK(f->payload == p + h + 4);
    const uint8_t *key = p + h;
    for (size_t i = 0; i < len; i++)
        FUZZ_CHECK((uint8_t)(f->payload[i] ^ key[i & 3]) == sent[h + 4 + i]);
    switch (f->op) {
    case WS_OP_CONT:
    case WS_OP_TEXT:
    case WS_OP_BINARY:
        FUZZ_CHECK(len <= max);
        break;
    case WS_OP_CLOSE:
    case WS_OP_PING:
    case WS_OP_PONG:
        FUZZ_CHECK(len <= WS_CONTROL_MAX && f->fin);
        break;
    default:
        FUZZ_CHECK(!"unknown opcode accepted");
    }
}

// The close codes a peer may send, per RFC 6455 7.4: written here apart
// from wsframe.c, as the model it is checked against.
static bool
sendable(unsigned c)
{
    static const unsigned ok[] = {1000, 1001, 1002, 1003, 1007,
                                  1008, 1009, 1010, 1011};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        if (c == ok[i])
            return true;
    return c >= 3000 && c <= 4999;
}

static void
check_close(const struct ws_frame *f)
{
    unsigned code;
    int rc = ws_close_parse(f, &code);
    if (f->len == 0) {
        FUZZ_CHECK(rc == 0 && code == 1005);
    } else if (f->len == 1) {
        FUZZ_CHECK(rc == -WS_PROTOCOL);
    } else {
        unsigned sent = (unsigned)f->payload[0] << 8 | f->payload[1];
        FUZZ_CHECK(code == sent);
        FUZZ_CHECK(rc == (sendable(sent) ? 0 : -WS_PROTOCOL));
    }
}

static void
check_helpers(const uint8_t *data, size_t size)
{
    char key[41];
    size_t kl = size < 40 ? size : 40;
    memcpy(key, data, kl);
    key[kl] = '\0';
    char out[WS_ACCEPT_LEN + 1];
    if (ws_accept(key, out) == 0)
        FUZZ_CHECK(strlen(key) == 24 && strlen(out) == WS_ACCEPT_LEN);
    char reason[201];
    size_t rl = size < 200 ? size : 200;
    memcpy(reason, data, rl);
    reason[rl] = '\0';
    size_t real = strlen(reason);
    uint8_t frame[2 + WS_CONTROL_MAX];
    size_t n = ws_close_frame(frame, 1000, reason);
    FUZZ_CHECK(n >= 4 && n <= sizeof frame && frame[0] == 0x88 &&
               frame[1] == n - 2);
    size_t cut = n - 4;
    FUZZ_CHECK(cut <= real && memcmp(frame + 4, reason, cut) == 0);
    if (cut < real)
        FUZZ_CHECK(((unsigned char)reason[cut] & 0xC0) != 0x80 || cut == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t max = 1 + (((size_t)data[0] << 8 | data[1]) % 8192);
    const uint8_t *sent = data + 2;
    size_t len = size - 2;
    check_helpers(sent, len);
    uint8_t *buf = malloc(len + 1), *msgbuf = malloc(max);
    FUZZ_CHECK(buf != NULL && msgbuf != NULL);
    memcpy(buf, sent, len);
    struct ws_msg m = {.data = msgbuf, .max = max};
    size_t off = 0;
    for (;;) {
        struct ws_frame f;
        long n = ws_frame_parse(buf + off, len - off, max, &f);
        if (n == 0)
            break;
        if (n < 0) {
            FUZZ_CHECK(n == -WS_PROTOCOL || n == -WS_TOO_BIG);
            break;
        }
        FUZZ_CHECK((size_t)n <= len - off);
        check_frame(sent + off, buf + off, n, max, &f);
        off += (size_t)n;
        if (f.op == WS_OP_CLOSE) {
            check_close(&f);
        } else if (f.op < WS_OP_CLOSE) {
            int rc = ws_msg_add(&m, &f);
            FUZZ_CHECK(rc == 0 || rc == 1 || rc == -WS_PROTOCOL ||
                       rc == -WS_UNACCEPTABLE || rc == -WS_TOO_BIG);
            FUZZ_CHECK(m.len <= m.max);
            if (rc == 1)
                fuzz_sink += m.len != 0 ? m.data[m.len - 1] : 0;
            if (rc < 0)
                break;
        }
    }
    free(buf);
    free(msgbuf);
    return 0;
}
