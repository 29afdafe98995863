// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
#include "wsframe.h"

#include <string.h>

#include <mbedtls/base64.h>
#include <mbedtls/sha1.h>

static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

int
ws_accept(const char *key, char out[WS_ACCEPT_LEN + 1])
{
    size_t klen = strlen(key), n = 0;
    unsigned char raw[18];
    if (klen != 24 ||
        mbedtls_base64_decode(raw, sizeof raw, &n, (const unsigned char *)key,
                              klen) != 0 ||
        n != 16)
        return -1;
    unsigned char in[24 + sizeof guid - 1], digest[20];
    memcpy(in, key, 24);
    memcpy(in + 24, guid, sizeof guid - 1);
    if (mbedtls_sha1_ret(in, sizeof in, digest) != 0 ||
        mbedtls_base64_encode((unsigned char *)out, WS_ACCEPT_LEN + 1, &n,
                              digest, sizeof digest) != 0 ||
        n != WS_ACCEPT_LEN)
        return -1;
    return 0;
}

long
ws_frame_parse(uint8_t *p, size_t n, size_t max, struct ws_frame *f)
{
    if (n < 2)
        return 0;
    unsigned op = p[0] & 0x0F;
    bool control = op >= WS_OP_CLOSE;
    if ((p[0] & 0x70) != 0 || (op > WS_OP_BINARY && !control) ||
        op > WS_OP_PONG || !(p[1] & 0x80))
        return -WS_PROTOCOL; // reserved bits or opcode, or not masked
    uint64_t len = p[1] & 0x7F;
    size_t h = 2;
    if (len == 126) {
        if (n < 4)
            return 0;
        len = (uint64_t)p[2] << 8 | p[3];
        h = 4;
    } else if (len == 127) {
        if (n < 10)
            return 0;
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | p[2 + i];
        h = 10;
    }
    if (control && (len > WS_CONTROL_MAX || !(p[0] & 0x80)))
        return -WS_PROTOCOL;
    if (!control && len > max)
        return -WS_TOO_BIG;
    if (n < h + 4 + len)
        return 0;
    const uint8_t *mask = p + h;
    uint8_t *pl = p + h + 4;
    for (size_t i = 0; i < len; i++)
        pl[i] ^= mask[i & 3];
    *f = (struct ws_frame){
        .fin = p[0] & 0x80, .op = op, .payload = pl, .len = (size_t)len};
    return (long)(h + 4 + len);
}

int
ws_msg_add(struct ws_msg *m, const struct ws_frame *f)
{
    if (f->op == WS_OP_BINARY)
        return -WS_UNACCEPTABLE;
    if ((f->op == WS_OP_CONT) != m->open)
        return -WS_PROTOCOL;
    if (f->op == WS_OP_TEXT)
        m->len = 0;
    if (f->len > m->max - m->len)
        return -WS_TOO_BIG;
    memcpy(m->data + m->len, f->payload, f->len);
    m->len += f->len;
    m->open = !f->fin;
    return f->fin;
}

// Codes a peer may send (RFC 6455, 7.4.1 and 7.4.2).
static bool
code_ok(unsigned c)
{
    return (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1011) ||
           (c >= 3000 && c <= 4999);
}

int
ws_close_parse(const struct ws_frame *f, unsigned *code)
{
    *code = 1005; // none given
    if (f->len == 0)
        return 0;
    if (f->len == 1)
        return -WS_PROTOCOL;
    *code = (unsigned)f->payload[0] << 8 | f->payload[1];
    return code_ok(*code) ? 0 : -WS_PROTOCOL;
}

size_t
ws_header(uint8_t out[10], unsigned op, size_t len)
{
    out[0] = (uint8_t)(0x80 | op);
    if (len < 126) {
        out[1] = (uint8_t)len;
        return 2;
    }
    if (len <= 0xFFFF) {
        out[1] = 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        return 4;
    }
    out[1] = 127;
    for (int i = 0; i < 8; i++)
        out[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
    return 10;
}

size_t
ws_close_frame(uint8_t out[2 + WS_CONTROL_MAX], unsigned code,
               const char *reason)
{
    size_t rl = reason != NULL ? strlen(reason) : 0;
    if (rl > WS_CONTROL_MAX - 2) {
        rl = WS_CONTROL_MAX - 2;
        while (rl > 0 && ((unsigned char)reason[rl] & 0xC0) == 0x80)
            rl--; // not inside a character
    }
    size_t h = ws_header(out, WS_OP_CLOSE, 2 + rl);
    out[h] = (uint8_t)(code >> 8);
    out[h + 1] = (uint8_t)code;
    if (rl != 0)
        memcpy(out + h + 2, reason, rl);
    return h + 2 + rl;
}
