// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// wsframe.h: the server side of RFC 6455 framing, with no I/O: the
// handshake's accept key, client frames parsed in place, fragments joined
// into messages under a size limit, and server frames built.
//
// Why not nng's WebSocket streams: nng 1.5.2 closes every WebSocket with
// code 1000 and no reason, cannot send pings, does not say whether a frame
// was text or binary, and keeps its upgrade hook private (no 403 before
// the upgrade). CHAT.md needs all four, so ws.c takes the connection from
// nng's HTTP server after the request (nng_http_hijack) and frames it with
// this. Parsing HTTP stays nng's; SHA-1 and base64 are mbedTLS's.
//
// Every function is pure: thread-safe on distinct arguments.
#ifndef CHAT_WSFRAME_H
#define CHAT_WSFRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ws_op {
    WS_OP_CONT = 0x0,
    WS_OP_TEXT = 0x1,
    WS_OP_BINARY = 0x2,
    WS_OP_CLOSE = 0x8,
    WS_OP_PING = 0x9,
    WS_OP_PONG = 0xA,
};

// Close codes used here (RFC 6455, section 7.4.1).
enum ws_code {
    WS_NORMAL = 1000,
    WS_GOING_AWAY = 1001,
    WS_PROTOCOL = 1002,
    WS_UNACCEPTABLE = 1003, // a binary frame, for a text-only endpoint
    WS_BAD_DATA = 1007,     // invalid UTF-8 in text
    WS_POLICY = 1008,
    WS_TOO_BIG = 1009,
};

#define WS_HEADER_MAX  14  // a client frame's header: 2 + 8 (length) + 4 (mask)
#define WS_CONTROL_MAX 125 // the payload of a control frame
#define WS_ACCEPT_LEN  28  // base64 of a SHA-1 digest

// ws_accept computes the Sec-WebSocket-Accept value for the client's
// Sec-WebSocket-Key into out (NUL-terminated). The key must be base64 of
// 16 bytes (RFC 6455, 4.1). Returns 0, or -1 for a bad key.
int ws_accept(const char *key, char out[WS_ACCEPT_LEN + 1]);

// ws_frame is one client frame; `payload` points into the parsed buffer.
struct ws_frame {
    bool fin;
    unsigned op;
    uint8_t *payload;
    size_t len;
};

// ws_frame_parse looks at the n bytes at p for one whole client frame. It
// returns the frame's size (header and payload) with *f filled in and the
// payload unmasked in place; 0 when more bytes are needed; or a negative
// close code: -WS_PROTOCOL for reserved bits, an unknown opcode, an
// unmasked frame or a bad control frame (fragmented, or more than 125
// bytes), -WS_TOO_BIG for a data frame over `max` bytes (known from its
// header, before the payload arrives).
long ws_frame_parse(uint8_t *p, size_t n, size_t max, struct ws_frame *f);

// ws_msg joins data frames into messages of at most `max` bytes.
struct ws_msg {
    uint8_t *data; // max bytes, the caller's
    size_t max, len;
    bool open; // a fragmented message is in progress
};

// ws_msg_add adds a data frame (text or continuation). It returns 1 when a
// message is complete (m->data, m->len; the next call starts a new one),
// 0 when more fragments are to come, or a negative close code:
// -WS_UNACCEPTABLE for binary, -WS_PROTOCOL for a continuation with
// nothing to continue or a new message before the last one ended,
// -WS_TOO_BIG past max.
int ws_msg_add(struct ws_msg *m, const struct ws_frame *f);

// ws_close_parse checks a close frame's payload: empty (*code = 1005, no
// code given), or a code a peer may send, then the reason (its UTF-8 is
// the caller's to check: f->payload + 2, f->len - 2 bytes). Returns 0 or
// -WS_PROTOCOL.
int ws_close_parse(const struct ws_frame *f, unsigned *code);

// ws_header writes the header of an unmasked server frame (FIN set) of
// `len` payload bytes and returns its size (2, 4 or 10 bytes).
size_t ws_header(uint8_t out[10], unsigned op, size_t len);

// ws_close_frame writes a whole close frame: the code and the reason, cut
// at a character boundary to fit 123 bytes. Returns its size.
size_t ws_close_frame(uint8_t out[2 + WS_CONTROL_MAX], unsigned code,
                      const char *reason);

#endif
