// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// proto.c: the client side of CHAT.md as data: checking what a client
// sends and writing what the server sends. JSON goes through jansson both
// ways, so there is no hand-written parser; what jansson does not check
// (UTF-8 of the whole frame before parsing, the name and text rules) is
// checked here. Room payloads between actors are MessagePack (pack.h);
// this file turns them into events.
#define _POSIX_C_SOURCE 200809L
#include "chat.h"

#include <troupe/pack.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

void
chat_config_defaults(struct chat_config *c)
{
    if (c->node == NULL)
        c->node = "n1";
    if (c->max_conns == 0)
        c->max_conns = 10000;
    if (c->max_rooms == 0)
        c->max_rooms = 10000;
    if (c->rooms_per_conn == 0)
        c->rooms_per_conn = 50;
    if (c->rate_per_s == 0)
        c->rate_per_s = 20;
    if (c->rate_burst == 0)
        c->rate_burst = 40;
    if (c->outbox_max == 0)
        c->outbox_max = 1000;
    if (c->ping_ms <= 0)
        c->ping_ms = 30000;
    if (c->idle_ms <= 0)
        c->idle_ms = 90000;
    if (c->request_ms <= 0)
        c->request_ms = 5000;
}

int64_t
chat_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool
chat_name_ok(const char *s, size_t len)
{
    if (s == NULL || len == 0 || len > CHAT_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
        if (!ok)
            return false;
    }
    return true;
}

bool
chat_utf8_ok(const void *buf, size_t len, size_t *cps)
{
    const unsigned char *s = buf;
    size_t n = 0;
    for (size_t i = 0; i < len; n++) {
        unsigned c = s[i];
        size_t k;
        uint32_t cp, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            k = 1, cp = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            k = 2, cp = c & 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            k = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (len - i - 1 < k)
            return false;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + j] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += k + 1;
    }
    if (cps != NULL)
        *cps = n;
    return true;
}

// --- requests -------------------------------------------------------------

// str_field returns field `k` of `o` if it is a string, else NULL; *present
// says whether the field was there at all.
static const char *
str_field(json_t *o, const char *k, bool *present, size_t *len)
{
    json_t *v = json_object_get(o, k);
    if (present != NULL)
        *present = v != NULL;
    if (v == NULL || !json_is_string(v))
        return NULL;
    if (len != NULL)
        *len = json_string_length(v);
    return json_string_value(v);
}

// load parses one JSON object; NULL unless the whole message is exactly
// one object.
static json_t *
load(const char *buf, size_t len)
{
    json_error_t err;
    json_t *j = json_loadb(buf, len, 0, &err);
    if (j != NULL && !json_is_object(j)) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

static void
keep_op_id(struct chat_req *r, json_t *j)
{
    size_t idlen = 0;
    r->op = str_field(j, "op", NULL, NULL);
    r->id = str_field(j, "id", NULL, &idlen);
    if (r->id != NULL && idlen > CHAT_ID_MAX)
        r->id = NULL;
}

void
chat_peek(struct chat_req *r, const char *buf, size_t len)
{
    memset(r, 0, sizeof *r);
    json_t *j = load(buf, len);
    if (j == NULL)
        return;
    r->json = j;
    keep_op_id(r, j);
}

// name_field reads a required name field under the nickname rules.
static const char *
name_field(json_t *j, const char *k, const char **detail)
{
    bool present;
    size_t len = 0;
    const char *s = str_field(j, k, &present, &len);
    if (!present)
        *detail = "missing field";
    else if (s == NULL)
        *detail = "wrong type";
    else if (!chat_name_ok(s, len))
        *detail = "bad name: 1-32 ASCII letters, digits or -_.";
    else
        return s;
    return NULL;
}

enum chat_op
chat_parse(struct chat_req *r, const char *buf, size_t len, const char **detail)
{
    memset(r, 0, sizeof *r);
    *detail = "malformed JSON: one object expected";
    json_t *j = load(buf, len);
    if (j == NULL)
        return CHAT_OP_BAD;
    r->json = j;
    keep_op_id(r, j);
    bool present;
    str_field(j, "op", &present, NULL);
    if (r->op == NULL) {
        *detail = present ? "wrong type: op" : "missing field: op";
        return CHAT_OP_BAD;
    }
    const char *op = r->op;
    if (strcmp(op, "nick") == 0) {
        r->name = name_field(j, "name", detail);
        return r->name != NULL ? CHAT_OP_NICK : CHAT_OP_BAD;
    }
    if (strcmp(op, "join") == 0 || strcmp(op, "leave") == 0 ||
        strcmp(op, "who") == 0) {
        r->room = name_field(j, "room", detail);
        if (r->room == NULL)
            return CHAT_OP_BAD;
        return op[0] == 'j'   ? CHAT_OP_JOIN
               : op[0] == 'l' ? CHAT_OP_LEAVE
                              : CHAT_OP_WHO;
    }
    if (strcmp(op, "say") == 0) {
        r->room = name_field(j, "room", detail);
        if (r->room == NULL)
            return CHAT_OP_BAD;
        json_t *id = json_object_get(j, "id");
        if (id != NULL &&
            (!json_is_string(id) || json_string_length(id) > CHAT_ID_MAX)) {
            *detail = "bad id: a string of at most 64 bytes";
            return CHAT_OP_BAD;
        }
        size_t tlen = 0, cps = 0;
        r->text = str_field(j, "text", &present, &tlen);
        if (r->text == NULL) {
            *detail = present ? "wrong type: text" : "missing field: text";
            return CHAT_OP_BAD;
        }
        // jansson refuses \u0000 unless asked (JSON_ALLOW_NUL), so the
        // text has no U+0000 here; count its code points.
        chat_utf8_ok(r->text, tlen, &cps);
        if (cps == 0 || cps > CHAT_TEXT_MAX || memchr(r->text, 0, tlen)) {
            *detail = "bad text: 1-2000 code points";
            return CHAT_OP_BAD;
        }
        r->text_len = tlen;
        return CHAT_OP_SAY;
    }
    if (strcmp(op, "rooms") == 0)
        return CHAT_OP_ROOMS;
    *detail = "unknown op";
    return CHAT_OP_BAD;
}

void
chat_req_fini(struct chat_req *r)
{
    if (r->json != NULL)
        json_decref(r->json);
    memset(r, 0, sizeof *r);
}

// --- events ---------------------------------------------------------------

char *
chat_json_dump(chat_json *cj, size_t *len)
{
    json_t *j = (json_t *)cj;
    if (j == NULL)
        return NULL;
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
    if (s != NULL)
        *len = strlen(s);
    return s;
}

void
chat_json_free(chat_json *j)
{
    if (j != NULL)
        json_decref((json_t *)j);
}

static json_t *
ev(const char *name)
{
    json_t *j = json_object();
    if (j != NULL)
        json_object_set_new(j, "ev", json_string(name));
    return j;
}

chat_json *
chat_ev_welcome(const char *name, const char *node)
{
    json_t *j = ev("welcome");
    json_object_set_new(j, "name", json_string(name));
    json_object_set_new(j, "node", json_string(node));
    return (chat_json *)j;
}

chat_json *
chat_ev_nick(const char *name)
{
    json_t *j = ev("nick");
    json_object_set_new(j, "name", json_string(name));
    return (chat_json *)j;
}

chat_json *
chat_ev_left(const char *room)
{
    json_t *j = ev("left");
    json_object_set_new(j, "room", json_string(room));
    return (chat_json *)j;
}

chat_json *
chat_ev_error(const char *code, const char *op, const char *id,
              const char *detail)
{
    json_t *j = ev("error");
    json_object_set_new(j, "code", json_string(code));
    // The op is echoed as sent: any string (jansson checked its UTF-8).
    if (op != NULL)
        json_object_set_new(j, "op", json_string(op));
    if (id != NULL)
        json_object_set_new(j, "id", json_string(id));
    if (detail != NULL)
        json_object_set_new(j, "detail", json_string(detail));
    return (chat_json *)j;
}

chat_json *
chat_ev_close(int code, const char *reason)
{
    json_t *j = ev("close");
    json_object_set_new(j, "code", json_integer(code));
    json_object_set_new(j, "reason", json_string(reason));
    return (chat_json *)j;
}

chat_json *
chat_ev_ping(void)
{
    return (chat_json *)ev("ping");
}

// json_strn makes a JSON string of `len` bytes from a room payload.
static json_t *
json_strn(const char *s, size_t len)
{
    return json_stringn(s, len); // NULL (field left out) if not UTF-8
}

// unpack_names reads an array of strings into a JSON array.
static json_t *
unpack_names(tr_unpack *u)
{
    uint32_t n = 0;
    json_t *a = json_array();
    if (tr_unpack_array(u, &n) != 0)
        return a;
    for (uint32_t i = 0; i < n; i++) {
        const char *s;
        size_t len;
        if (tr_unpack_str(u, &s, &len) != 0)
            break;
        json_array_append_new(a, json_strn(s, len));
    }
    tr_unpack_leave(u);
    return a;
}

chat_json *
chat_ev_joined(const char *room, const void *data, size_t len)
{
    tr_unpack u;
    uint32_t n = 0, nh = 0;
    uint64_t status, evseq;
    tr_unpack_init(&u, data, len);
    tr_unpack_array(&u, &n);
    tr_unpack_uint(&u, &status);
    tr_unpack_uint(&u, &evseq);
    json_t *j = ev("joined");
    json_object_set_new(j, "room", json_string(room));
    json_object_set_new(j, "members", unpack_names(&u));
    json_t *h = json_array();
    tr_unpack_array(&u, &nh);
    for (uint32_t i = 0; i < nh; i++) {
        const char *from, *text;
        size_t flen, tlen;
        uint64_t ts, seq;
        uint32_t k;
        tr_unpack_array(&u, &k);
        tr_unpack_str(&u, &from, &flen);
        tr_unpack_str(&u, &text, &tlen);
        tr_unpack_uint(&u, &ts);
        tr_unpack_uint(&u, &seq);
        tr_unpack_leave(&u);
        if (u.err != 0)
            break;
        json_t *m = ev("msg");
        json_object_set_new(m, "room", json_string(room));
        json_object_set_new(m, "from", json_strn(from, flen));
        json_object_set_new(m, "text", json_strn(text, tlen));
        json_object_set_new(m, "ts", json_integer((json_int_t)ts));
        json_object_set_new(m, "seq", json_integer((json_int_t)seq));
        json_array_append_new(h, m);
    }
    tr_unpack_leave(&u);
    json_object_set_new(j, "history", h);
    if (tr_unpack_fini(&u) != 0) {
        json_decref(j);
        return NULL;
    }
    return (chat_json *)j;
}

chat_json *
chat_ev_who(const char *room, const void *data, size_t len)
{
    json_t *j = ev("who");
    json_object_set_new(j, "room", json_string(room));
    if (data == NULL) {
        json_object_set_new(j, "members", json_array());
        return (chat_json *)j;
    }
    tr_unpack u;
    uint32_t n;
    tr_unpack_init(&u, data, len);
    tr_unpack_array(&u, &n);
    json_object_set_new(j, "members", unpack_names(&u));
    if (tr_unpack_fini(&u) != 0) {
        json_decref(j);
        return NULL;
    }
    return (chat_json *)j;
}

static json_t *
msg_obj(const char *room, size_t rlen, const char *from, size_t flen,
        const char *text, size_t tlen, uint64_t ts, uint64_t seq)
{
    json_t *j = ev("msg");
    json_object_set_new(j, "room", json_strn(room, rlen));
    json_object_set_new(j, "from", json_strn(from, flen));
    json_object_set_new(j, "text", json_strn(text, tlen));
    json_object_set_new(j, "ts", json_integer((json_int_t)ts));
    json_object_set_new(j, "seq", json_integer((json_int_t)seq));
    return j;
}

char *
chat_msg_json(const char *room, const char *from, const char *text, size_t tlen,
              int64_t ts, uint64_t seq, size_t *len)
{
    return chat_json_dump((chat_json *)msg_obj(room, strlen(room), from,
                                               strlen(from), text, tlen,
                                               (uint64_t)ts, seq),
                          len);
}

chat_json *
chat_ev_msg(const void *data, size_t len, bool with_id)
{
    tr_unpack u;
    uint32_t n;
    uint64_t evseq, ts, seq, token;
    const char *room, *from, *text, *id = NULL;
    size_t rlen, flen, tlen, idlen = 0;
    tr_unpack_init(&u, data, len);
    tr_unpack_array(&u, &n);
    tr_unpack_uint(&u, &evseq);
    tr_unpack_str(&u, &room, &rlen);
    tr_unpack_str(&u, &from, &flen);
    tr_unpack_str(&u, &text, &tlen);
    tr_unpack_uint(&u, &ts);
    tr_unpack_uint(&u, &seq);
    tr_unpack_uint(&u, &token);
    if (tr_unpack_peek(&u) == TR_PACK_STR)
        tr_unpack_str(&u, &id, &idlen);
    if (tr_unpack_fini(&u) != 0)
        return NULL;
    json_t *j = msg_obj(room, rlen, from, flen, text, tlen, ts, seq);
    if (with_id && id != NULL)
        json_object_set_new(j, "id", json_strn(id, idlen));
    return (chat_json *)j;
}

chat_json *
chat_ev_presence(const void *data, size_t len)
{
    tr_unpack u;
    uint32_t n;
    uint64_t evseq;
    const char *room, *name, *state, *from = NULL;
    size_t rlen, nlen, slen, flen = 0;
    tr_unpack_init(&u, data, len);
    tr_unpack_array(&u, &n);
    tr_unpack_uint(&u, &evseq);
    tr_unpack_str(&u, &room, &rlen);
    tr_unpack_str(&u, &name, &nlen);
    tr_unpack_str(&u, &state, &slen);
    if (tr_unpack_peek(&u) == TR_PACK_STR)
        tr_unpack_str(&u, &from, &flen);
    if (tr_unpack_fini(&u) != 0)
        return NULL;
    json_t *j = ev("presence");
    json_object_set_new(j, "room", json_strn(room, rlen));
    json_object_set_new(j, "name", json_strn(name, nlen));
    json_object_set_new(j, "state", json_strn(state, slen));
    if (from != NULL)
        json_object_set_new(j, "from", json_strn(from, flen));
    return (chat_json *)j;
}

chat_json *
chat_ev_rooms(const char *const *names, const unsigned *counts, size_t n)
{
    json_t *j = ev("rooms");
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "room", json_string(names[i]));
        json_object_set_new(o, "members", json_integer(counts[i]));
        json_array_append_new(a, o);
    }
    json_object_set_new(j, "rooms", a);
    return (chat_json *)j;
}
