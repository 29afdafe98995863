// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// chat/proto: the pure parts of the chat example: name and UTF-8 rules,
// request parsing (every CHAT.md field rule), event JSON, and the rate
// limit driven by a made-up clock.
#include "chat.h"

#include "tests/test.h"

#include <troupe/pack.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
test_names(void **state)
{
    (void)state;
    assert_true(chat_name_ok("alice", 5));
    assert_true(chat_name_ok("A-b_c.9", 7));
    assert_false(chat_name_ok("", 0));
    assert_false(chat_name_ok("a b", 3));
    assert_false(chat_name_ok("caf\xc3\xa9", 5));
    char n[34];
    memset(n, 'x', sizeof n);
    assert_true(chat_name_ok(n, 32));
    assert_false(chat_name_ok(n, 33));
}

static void
test_utf8(void **state)
{
    (void)state;
    size_t n = 0;
    assert_true(chat_utf8_ok("h\xc3\xa9llo \xf0\x9f\x98\x80", 11, &n));
    assert_int_equal(n, 7);
    assert_false(chat_utf8_ok("\xc0\x80", 2, NULL));         // overlong NUL
    assert_false(chat_utf8_ok("\xed\xa0\x80", 3, NULL));     // surrogate
    assert_false(chat_utf8_ok("\xf4\x90\x80\x80", 4, NULL)); // > U+10FFFF
    assert_false(chat_utf8_ok("\xe2\x82", 2, NULL));         // truncated
    assert_false(chat_utf8_ok("\xff", 1, NULL));
    assert_true(chat_utf8_ok("", 0, &n));
    assert_int_equal(n, 0);
}

// parse runs chat_parse on a C string and returns the op.
static enum chat_op
parse(const char *json, struct chat_req *r, const char **detail)
{
    return chat_parse(r, json, strlen(json), detail);
}

static void
expect_bad(const char *json, const char *op, const char *id)
{
    struct chat_req r;
    const char *detail = NULL;
    assert_int_equal(parse(json, &r, &detail), CHAT_OP_BAD);
    assert_non_null(detail);
    if (op == NULL)
        assert_null(r.op);
    else
        assert_string_equal(r.op, op);
    if (id == NULL)
        assert_null(r.id);
    else
        assert_string_equal(r.id, id);
    chat_req_fini(&r);
}

static void
test_parse_ops(void **state)
{
    (void)state;
    struct chat_req r;
    const char *d;
    assert_int_equal(parse("{\"op\":\"nick\",\"name\":\"alice\"}", &r, &d),
                     CHAT_OP_NICK);
    assert_string_equal(r.name, "alice");
    chat_req_fini(&r);
    assert_int_equal(
        parse("{\"room\":\"lobby\",\"op\":\"join\",\"x\":[1]}", &r, &d),
        CHAT_OP_JOIN); // unknown extra fields are ignored
    assert_string_equal(r.room, "lobby");
    chat_req_fini(&r);
    assert_int_equal(parse("{\"op\":\"leave\",\"room\":\"lobby\"}", &r, &d),
                     CHAT_OP_LEAVE);
    chat_req_fini(&r);
    assert_int_equal(parse("{\"op\":\"who\",\"room\":\"a.b\"}", &r, &d),
                     CHAT_OP_WHO);
    chat_req_fini(&r);
    assert_int_equal(parse("{\"op\":\"rooms\"}", &r, &d), CHAT_OP_ROOMS);
    chat_req_fini(&r);
    assert_int_equal(parse("{\"op\":\"say\",\"room\":\"lobby\",\"text\":"
                           "\"hi\",\"id\":\"c-17\"}",
                           &r, &d),
                     CHAT_OP_SAY);
    assert_string_equal(r.text, "hi");
    assert_string_equal(r.id, "c-17");
    chat_req_fini(&r);
    assert_int_equal(
        parse("{\"op\":\"say\",\"room\":\"lobby\",\"text\":\"hi\"}", &r, &d),
        CHAT_OP_SAY);
    assert_null(r.id);
    chat_req_fini(&r);
}

static void
test_parse_bad(void **state)
{
    (void)state;
    expect_bad("nope", NULL, NULL);
    expect_bad("[1,2]", NULL, NULL);
    expect_bad("{\"op\":\"nick\"} {}", NULL, NULL); // two objects
    expect_bad("{}", NULL, NULL);
    expect_bad("{\"op\":7}", NULL, NULL);
    expect_bad("{\"op\":\"Say\",\"id\":\"x\"}", "Say", "x"); // case counts
    expect_bad("{\"op\":\"dance\"}", "dance", NULL);
    expect_bad("{\"op\":\"nick\"}", "nick", NULL);
    expect_bad("{\"op\":\"nick\",\"name\":5}", "nick", NULL);
    expect_bad("{\"op\":\"nick\",\"name\":\"a b\"}", "nick", NULL);
    expect_bad("{\"op\":\"join\",\"room\":\"\"}", "join", NULL);
    expect_bad("{\"op\":\"say\",\"room\":\"r\",\"text\":\"\",\"id\":\"i\"}",
               "say", "i");
    expect_bad("{\"op\":\"say\",\"room\":\"r\"}", "say", NULL);
    expect_bad("{\"op\":\"say\",\"room\":\"r\",\"text\":1}", "say", NULL);
    expect_bad("{\"op\":\"say\",\"room\":\"r\",\"text\":\"a\\u0000b\"}", NULL,
               NULL); // jansson refuses U+0000 outright
    expect_bad("{\"op\":\"say\",\"room\":\"r\",\"text\":\"a\",\"id\":3}", "say",
               NULL);
}

static void
test_parse_limits(void **state)
{
    (void)state;
    // 2,000 code points of a 3-byte character is fine; 2,001 is not.
    char *buf = malloc(8000);
    for (int n = 2000; n <= 2001; n++) {
        int k = sprintf(buf, "{\"op\":\"say\",\"room\":\"r\",\"text\":\"");
        for (int i = 0; i < n; i++)
            k += sprintf(buf + k, "\xe2\x82\xac");
        strcpy(buf + k, "\"}");
        struct chat_req r;
        const char *d;
        assert_int_equal(parse(buf, &r, &d),
                         n == 2000 ? CHAT_OP_SAY : CHAT_OP_BAD);
        chat_req_fini(&r);
    }
    // An id of 64 bytes is fine, 65 is not.
    char id[66];
    memset(id, 'i', sizeof id);
    for (int n = 64; n <= 65; n++) {
        id[n] = 0;
        sprintf(buf,
                "{\"op\":\"say\",\"room\":\"r\",\"text\":\"t\",\"id\":\"%s\"}",
                id);
        struct chat_req r;
        const char *d;
        assert_int_equal(parse(buf, &r, &d),
                         n == 64 ? CHAT_OP_SAY : CHAT_OP_BAD);
        chat_req_fini(&r);
        id[n] = 'i';
    }
    free(buf);
}

static void
expect_json(chat_json *j, const char *want)
{
    size_t len = 0;
    char *s = chat_json_dump(j, &len);
    assert_non_null(s);
    assert_string_equal(s, want);
    assert_int_equal(len, strlen(want));
    free(s);
}

static void
test_events(void **state)
{
    (void)state;
    expect_json(chat_ev_welcome("guest-42", "n1"),
                "{\"ev\":\"welcome\",\"name\":\"guest-42\",\"node\":\"n1\"}");
    expect_json(chat_ev_error("rate_limited", "say", "c-18", "slow down"),
                "{\"ev\":\"error\",\"code\":\"rate_limited\",\"op\":\"say\","
                "\"id\":\"c-18\",\"detail\":\"slow down\"}");
    expect_json(chat_ev_error("bad_utf8", NULL, NULL, NULL),
                "{\"ev\":\"error\",\"code\":\"bad_utf8\"}");
    // A room's message payload, with and without the sender's id.
    tr_pack p;
    tr_pack_init(&p, NULL, 0);
    tr_pack_array(&p, 8);
    tr_pack_uint(&p, 3);
    tr_pack_cstr(&p, "lobby");
    tr_pack_cstr(&p, "alice");
    tr_pack_cstr(&p, "hi \"you\"");
    tr_pack_uint(&p, 1732350000123ull);
    tr_pack_uint(&p, 981);
    tr_pack_uint(&p, 77);
    tr_pack_cstr(&p, "c-17");
    expect_json(chat_ev_msg(tr_pack_data(&p), tr_pack_len(&p), true),
                "{\"ev\":\"msg\",\"room\":\"lobby\",\"from\":\"alice\","
                "\"text\":\"hi \\\"you\\\"\",\"ts\":1732350000123,"
                "\"seq\":981,\"id\":\"c-17\"}");
    expect_json(chat_ev_msg(tr_pack_data(&p), tr_pack_len(&p), false),
                "{\"ev\":\"msg\",\"room\":\"lobby\",\"from\":\"alice\","
                "\"text\":\"hi \\\"you\\\"\",\"ts\":1732350000123,"
                "\"seq\":981}");
    assert_null(chat_ev_msg(tr_pack_data(&p), 5, true)); // truncated
    tr_pack_fini(&p);
    const char *names[] = {"a", "b"};
    unsigned counts[] = {3, 1};
    expect_json(chat_ev_rooms(names, counts, 2),
                "{\"ev\":\"rooms\",\"rooms\":[{\"room\":\"a\",\"members\":3},"
                "{\"room\":\"b\",\"members\":1}]}");
}

static void
test_rate(void **state)
{
    (void)state;
    struct chat_rate r;
    int64_t t = 1000000000, ms = 1000000;
    chat_rate_init(&r, 20, 40, t);
    for (int i = 0; i < 40; i++)
        assert_int_equal(chat_rate_take(&r, t), CHAT_RATE_OK);
    assert_int_equal(chat_rate_take(&r, t), CHAT_RATE_REFUSE);
    // 20 a second: one more every 50 ms, and no more than that.
    assert_int_equal(chat_rate_take(&r, t + 49 * ms), CHAT_RATE_REFUSE);
    assert_int_equal(chat_rate_take(&r, t + 50 * ms), CHAT_RATE_OK);
    // After a quiet 10 s the bucket is full again, but holds 40, not 200.
    t += 10000 * ms;
    for (int i = 0; i < 40; i++)
        assert_int_equal(chat_rate_take(&r, t), CHAT_RATE_OK);
    assert_int_equal(chat_rate_take(&r, t), CHAT_RATE_REFUSE);
}

static void
test_rate_flood(void **state)
{
    (void)state;
    struct chat_rate r;
    int64_t t = 5000000000, ms = 1000000;
    // 100 refusals within 10 s are tolerated; the 101st is a flood.
    chat_rate_init(&r, 20, 40, t);
    for (int i = 0; i < 40; i++)
        chat_rate_take(&r, t);
    int refused = 0;
    for (int i = 0; i < 100; i++)
        refused += chat_rate_take(&r, t + i * ms / 10) == CHAT_RATE_REFUSE;
    assert_int_equal(refused, 100);
    assert_int_equal(chat_rate_take(&r, t + 10 * ms), CHAT_RATE_FLOOD);

    // The same refusals spread over more than 10 s are not a flood: one
    // frame every 45 ms after an empty bucket is refused about one time
    // in ten, far below 100 in 10 s.
    chat_rate_init(&r, 20, 40, t);
    for (int i = 0; i < 40; i++)
        chat_rate_take(&r, t);
    for (int i = 0; i < 2000; i++)
        assert_int_not_equal(chat_rate_take(&r, t + i * 45 * ms),
                             CHAT_RATE_FLOOD);
    // And 101 refusals spread over 10.1 s are not one either.
    chat_rate_init(&r, 1, 1, t);
    chat_rate_take(&r, t);
    for (int i = 0; i < 101; i++) // refill 1/s: each frame 0.1 s apart
        assert_int_not_equal(chat_rate_take(&r, t + i * 101 * ms / 10),
                             CHAT_RATE_FLOOD);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_parse_ops),    cmocka_unit_test(test_parse_bad),
        cmocka_unit_test(test_parse_limits), cmocka_unit_test(test_events),
        cmocka_unit_test(test_rate),         cmocka_unit_test(test_rate_flood),
    };
    test_main("chat/proto", tests, argc, argv);
}
