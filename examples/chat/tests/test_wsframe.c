// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// wsframe.c: the accept key, client frame parsing, fragments and limits,
// close frames, server frame headers.
#include "tests/test.h"

#include "wsframe.h"

#include <string.h>

// mask writes a masked client frame of `len` payload bytes to out and
// returns its size.
static size_t
mask(uint8_t *out, uint8_t b0, const void *payload, size_t len)
{
    static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
    size_t h = ws_header(out, 0, len);
    out[0] = b0;
    out[1] |= 0x80;
    memcpy(out + h, key, 4);
    for (size_t i = 0; i < len; i++)
        out[h + 4 + i] = ((const uint8_t *)payload)[i] ^ key[i & 3];
    return h + 4 + len;
}

static void
test_accept_key(void **state)
{
    (void)state;
    char out[WS_ACCEPT_LEN + 1];
    // RFC 6455, section 1.3.
    assert_int_equal(ws_accept("dGhlIHNhbXBsZSBub25jZQ==", out), 0);
    assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert_int_equal(ws_accept("", out), -1);
    assert_int_equal(ws_accept("dGhlIHNhbXBsZSBub25jZQ=", out), -1);
    assert_int_equal(ws_accept("!!!!!!!!!!!!!!!!!!!!!!==", out), -1);
    assert_int_equal(ws_accept("dGhlIHNhbXBsZSBub25jZQ==AAAA", out), -1);
}

static void
test_parse_masked_text(void **state)
{
    (void)state;
    // RFC 6455, section 5.7: a masked "Hello".
    uint8_t b[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                   0x7f, 0x9f, 0x4d, 0x51, 0x58};
    struct ws_frame f;
    for (size_t n = 0; n < sizeof b; n++)
        assert_int_equal(ws_frame_parse(b, n, 4096, &f), 0); // not yet
    assert_int_equal(ws_frame_parse(b, sizeof b, 4096, &f), sizeof b);
    assert_true(f.fin);
    assert_int_equal(f.op, WS_OP_TEXT);
    assert_int_equal(f.len, 5);
    assert_memory_equal(f.payload, "Hello", 5);
}

static void
test_parse_lengths_and_limits(void **state)
{
    (void)state;
    static uint8_t b[70000 + WS_HEADER_MAX], text[70000];
    memset(text, 'x', sizeof text);
    struct ws_frame f;
    size_t sizes[] = {0, 125, 126, 4096, 65535, 65536};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        size_t n = mask(b, 0x81, text, sizes[i]);
        assert_int_equal(ws_frame_parse(b, n, 65536, &f), (long)n);
        assert_int_equal(f.len, sizes[i]);
        assert_memory_equal(f.payload, text, sizes[i]);
    }
    // Over the limit: refused from the header alone.
    size_t n = mask(b, 0x81, text, 4097);
    assert_int_equal(ws_frame_parse(b, 4, 4096, &f), -WS_TOO_BIG);
    assert_int_equal(ws_frame_parse(b, n, 4096, &f), -WS_TOO_BIG);
    // A 64-bit length of 2^63: refused, nothing waited for.
    uint8_t huge[14] = {0x81, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4};
    assert_int_equal(ws_frame_parse(huge, sizeof huge, 4096, &f), -WS_TOO_BIG);
}

static void
test_parse_protocol_errors(void **state)
{
    (void)state;
    struct ws_frame f;
    uint8_t unmasked[] = {0x81, 0x05, 'H', 'e', 'l', 'l', 'o'};
    assert_int_equal(ws_frame_parse(unmasked, sizeof unmasked, 4096, &f),
                     -WS_PROTOCOL);
    uint8_t b[300];
    assert_int_equal(ws_frame_parse(b, mask(b, 0xC1, "x", 1), 4096, &f),
                     -WS_PROTOCOL); // RSV1
    assert_int_equal(ws_frame_parse(b, mask(b, 0x83, "x", 1), 4096, &f),
                     -WS_PROTOCOL); // opcode 3
    assert_int_equal(ws_frame_parse(b, mask(b, 0x8B, "x", 1), 4096, &f),
                     -WS_PROTOCOL); // opcode 11
    assert_int_equal(ws_frame_parse(b, mask(b, 0x09, "x", 1), 4096, &f),
                     -WS_PROTOCOL); // a fragmented ping
    static const uint8_t big[126];
    assert_int_equal(ws_frame_parse(b, mask(b, 0x89, big, 126), 4096, &f),
                     -WS_PROTOCOL); // a ping of 126 bytes
    assert_int_equal(ws_frame_parse(b, mask(b, 0x89, big, 125), 4096, &f),
                     125 + 6);
    assert_int_equal(f.op, WS_OP_PING);
}

static void
test_fragments_join(void **state)
{
    (void)state;
    uint8_t data[16], b[64];
    struct ws_msg m = {.data = data, .max = sizeof data};
    struct ws_frame f;
    ws_frame_parse(b, mask(b, 0x01, "Hel", 3), 4096, &f);
    assert_int_equal(ws_msg_add(&m, &f), 0);
    ws_frame_parse(b, mask(b, 0x00, "lo", 2), 4096, &f);
    assert_int_equal(ws_msg_add(&m, &f), 0);
    ws_frame_parse(b, mask(b, 0x80, " you", 4), 4096, &f);
    assert_int_equal(ws_msg_add(&m, &f), 1);
    assert_int_equal(m.len, 9);
    assert_memory_equal(m.data, "Hello you", 9);
    // Exactly max is a message; one byte more over fragments is not.
    ws_frame_parse(b, mask(b, 0x81, "0123456789abcdef", 16), 4096, &f);
    assert_int_equal(ws_msg_add(&m, &f), 1);
    assert_int_equal(m.len, 16);
    ws_frame_parse(b, mask(b, 0x01, "0123456789abcdef", 16), 4096, &f);
    assert_int_equal(ws_msg_add(&m, &f), 0);
    ws_frame_parse(b, mask(b, 0x80, "!", 1), 4096, &f);
    assert_int_equal(ws_msg_add(&m, &f), -WS_TOO_BIG);
    // Order: a continuation with nothing open, a text inside a message.
    m = (struct ws_msg){.data = data, .max = sizeof data};
    ws_frame_parse(b, mask(b, 0x80, "x", 1), 4096, &f);
    assert_int_equal(ws_msg_add(&m, &f), -WS_PROTOCOL);
    ws_frame_parse(b, mask(b, 0x01, "x", 1), 4096, &f);
    assert_int_equal(ws_msg_add(&m, &f), 0);
    ws_frame_parse(b, mask(b, 0x81, "y", 1), 4096, &f);
    assert_int_equal(ws_msg_add(&m, &f), -WS_PROTOCOL);
    // Binary is refused.
    m = (struct ws_msg){.data = data, .max = sizeof data};
    ws_frame_parse(b, mask(b, 0x82, "x", 1), 4096, &f);
    assert_int_equal(ws_msg_add(&m, &f), -WS_UNACCEPTABLE);
}

static void
test_close_frames(void **state)
{
    (void)state;
    uint8_t b[2 + WS_CONTROL_MAX], c[2 + WS_CONTROL_MAX + 4];
    size_t n = ws_close_frame(b, 1008, "slow consumer");
    assert_int_equal(n, 2 + 2 + 13);
    assert_int_equal(b[0], 0x88);
    assert_int_equal(b[1], 15);
    assert_int_equal(b[2] << 8 | b[3], 1008);
    assert_memory_equal(b + 4, "slow consumer", 13);
    // A long reason is cut at a character boundary (é is two bytes).
    char reason[200];
    memset(reason, 'a', 122);
    strcpy(reason + 122, "\xc3\xa9zz");
    n = ws_close_frame(b, 1001, reason);
    assert_int_equal(n, 2 + 2 + 122);
    // Parsing what a client sends.
    struct ws_frame f;
    unsigned code;
    uint8_t pl[8] = {0x03, 0xE8, 'b', 'y', 'e'};
    ws_frame_parse(c, mask(c, 0x88, pl, 5), 4096, &f);
    assert_int_equal(ws_close_parse(&f, &code), 0);
    assert_int_equal(code, 1000);
    ws_frame_parse(c, mask(c, 0x88, pl, 0), 4096, &f);
    assert_int_equal(ws_close_parse(&f, &code), 0);
    assert_int_equal(code, 1005);
    ws_frame_parse(c, mask(c, 0x88, pl, 1), 4096, &f);
    assert_int_equal(ws_close_parse(&f, &code), -WS_PROTOCOL);
    uint8_t bad_code[2] = {0x03, 0xED}; // 1005 may not be sent
    ws_frame_parse(c, mask(c, 0x88, bad_code, 2), 4096, &f);
    assert_int_equal(ws_close_parse(&f, &code), -WS_PROTOCOL);
}

static void
test_server_headers(void **state)
{
    (void)state;
    uint8_t h[10];
    assert_int_equal(ws_header(h, WS_OP_TEXT, 125), 2);
    assert_int_equal(h[0], 0x81);
    assert_int_equal(h[1], 125);
    assert_int_equal(ws_header(h, WS_OP_TEXT, 126), 4);
    assert_int_equal(h[1], 126);
    assert_int_equal(h[2] << 8 | h[3], 126);
    assert_int_equal(ws_header(h, WS_OP_PONG, 65536), 10);
    assert_int_equal(h[0], 0x8A);
    assert_int_equal(h[1], 127);
    assert_int_equal(h[7], 1);
    assert_int_equal(h[8] | h[9], 0);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept_key),
        cmocka_unit_test(test_parse_masked_text),
        cmocka_unit_test(test_parse_lengths_and_limits),
        cmocka_unit_test(test_parse_protocol_errors),
        cmocka_unit_test(test_fragments_join),
        cmocka_unit_test(test_close_frames),
        cmocka_unit_test(test_server_headers),
    };
    test_main("chat/wsframe", tests, argc, argv);
}
