// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
#include "tests/test.h"

#include <string.h>

static void
test_every_code_has_text_and_name(void **state)
{
    (void)state;
#define X(n, c, s)                               \
    assert_string_equal(tr_strerror(TR_##n), s); \
    assert_string_equal(tr_errname(TR_##n), "TR_" #n);
    TR_ERRORS(X)
#undef X
    assert_string_equal(tr_errname(0), "TR_OK");
}

static void
test_unknown_code_gets_fixed_text(void **state)
{
    (void)state;
    assert_string_equal(tr_strerror(-9999), "unknown error");
    assert_string_equal(tr_errname(12345), "TR_E?");
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_code_has_text_and_name),
        cmocka_unit_test(test_unknown_code_gets_fixed_text),
    };
    test_main("base/errors", tests, argc, argv);
}
