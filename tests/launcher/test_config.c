// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// The launcher's config text: what it accepts, and that every bad line is
// refused with its line number and nothing applied.
#include "tests/test.h"

#include <troupe/launch.h>

#include <string.h>

static tr_launch *
open_launcher(void)
{
    tr_launch *l;
    assert_int_equal(tr_launch_open(&l, NULL), 0);
    return l;
}

static void
test_good_config_adds_nodes(void **state)
{
    (void)state;
    static const char text[] =
        "# a cluster of three\n"
        "\n"
        "backoff_min_ms=50 backoff_max_ms=2000   # settings share a line\n"
        "intensity=3/10s\n"
        "node a -- ./node --port 7001\n"
        "  node b restart=transient shutdown_ms=kill env=A=1 env=B='x y' "
        "-- \"./my node\" 'it''s' a\\ b #comment\n"
        "node c.3_x-y restart=temporary shutdown_ms=2500 -- node\r\n"
        "intensity=none";
    tr_launch *l = open_launcher();
    tr_launch_diag diag;
    assert_int_equal(tr_launch_load(l, text, strlen(text), &diag), 0);
    tr_launch_status st;
    const char *names[] = {"a", "b", "c.3_x-y"};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(tr_launch_info(l, names[i], &st), 0);
        assert_int_equal(st.state, TR_PROC_IDLE);
        assert_int_equal(st.pid, 0);
    }
    assert_int_equal(tr_launch_info(l, "d", &st), TR_EINVAL);
    // A second text adds to the first; a name may not come back.
    assert_int_equal(tr_launch_load(l, "node d -- x\n", 12, &diag), 0);
    assert_int_equal(tr_launch_load(l, "node e -- x\nnode a -- y\n", 24, &diag),
                     TR_EINVAL);
    assert_int_equal(diag.line, 2);
    assert_non_null(strstr(diag.text, "exists already"));
    assert_int_equal(tr_launch_info(l, "e", &st), TR_EINVAL); // not applied
    assert_int_equal(tr_launch_close(l), 0);
}

static void
test_empty_config_is_valid(void **state)
{
    (void)state;
    tr_launch *l = open_launcher();
    tr_launch_diag diag;
    assert_int_equal(tr_launch_load(l, "", 0, &diag), 0);
    static const char blank[] = "# nothing\n\n   \n";
    assert_int_equal(tr_launch_load(l, blank, strlen(blank), &diag), 0);
    assert_int_equal(tr_launch_start(l), TR_EINVAL); // no children
    assert_int_equal(tr_launch_close(l), 0);
}

struct bad {
    const char *text;
    int line;
    const char *says;
};

static const struct bad bad[] = {
    {"node\n", 1, "missing name"},
    {"# c\n\nnode a\n", 3, "missing '--'"},
    {"node a --\n", 1, "no command"},
    {"node a -- ''\n", 1, "no command"},
    {"node a restart=sometimes -- x\n", 1, "restart=sometimes"},
    {"node a shutdown_ms=-5 -- x\n", 1, "shutdown_ms=-5"},
    {"node a shutdown_ms=0 -- x\n", 1, "shutdown_ms=0"},
    {"node a bogus=1 -- x\n", 1, "unknown option 'bogus=1'"},
    {"node a -- x\nnode a -- y\n", 2, "defined twice (first on line 1)"},
    {"node a/b -- x\n", 1, "a name is"},
    {"node a env=1X=2 -- x\n", 1, "env=KEY=VALUE"},
    {"node a env=X -- x\n", 1, "env=KEY=VALUE"},
    {"backoff_min_ms=abc\n", 1, "backoff_min_ms=abc"},
    {"backoff_max_ms=0\n", 1, "backoff_max_ms=0"},
    {"backoff_min_ms=99999999999999999999\n", 1, "backoff_min_ms"},
    {"node a -- x\nbackoff_min_ms=500\n\nbackoff_max_ms=100\n", 4,
     "is more than"},
    {"backoff_min_ms=20000\n", 1, "is more than"},
    {"intensity=5\n", 1, "expected R/Ts"},
    {"intensity=0/5s\n", 1, "intensity=0/5s"},
    {"intensity=3/5\n", 1, "intensity=3/5"},
    {"intensity=3/0ms\n", 1, "intensity=3/0ms"},
    {"frobnicate=1\n", 1, "unknown setting 'frobnicate'"},
    {"backoff_min_ms\n", 1, "unknown setting 'backoff_min_ms'"},
    {"node a -- 'unterminated\n", 1, "unterminated single quote"},
    {"node a -- \"x\n", 1, "unterminated double quote"},
    {"node a -- x \\\n", 1, "backslash at the end"},
};

// check_bad loads `len` bytes of `text`, which must be refused at `line`
// with a message holding `says`, and with nothing applied.
static void
check_bad(const char *text, size_t len, int line, const char *says)
{
    tr_launch *l = open_launcher();
    tr_launch_diag diag;
    int rc = tr_launch_load(l, text, len, &diag);
    if (rc != TR_EINVAL || diag.line != line || strstr(diag.text, says) == NULL)
        fail_msg("config \"%s\": rc %d line %d \"%s\"; wanted line %d with "
                 "\"%s\"",
                 text, rc, diag.line, diag.text, line, says);
    tr_launch_status st;
    assert_int_equal(tr_launch_info(l, "a", &st), TR_EINVAL);
    assert_int_equal(tr_launch_start(l), TR_EINVAL); // no children
    assert_int_equal(tr_launch_close(l), 0);
}

static void
test_bad_lines_are_refused_with_their_number(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        check_bad(bad[i].text, strlen(bad[i].text), bad[i].line, bad[i].says);
    static const char nul[] = "node a -- x\nnode b -- y\0z\n";
    check_bad(nul, sizeof nul - 1, 2, "NUL byte");
}

static void
test_load_file_errors(void **state)
{
    (void)state;
    tr_launch *l = open_launcher();
    tr_launch_diag diag;
    assert_int_equal(tr_launch_load_file(l, "/nonexistent/troupe.conf", &diag),
                     TR_ESYS);
    assert_int_equal(diag.line, 0);
    assert_non_null(strstr(diag.text, "cannot open"));
    assert_int_equal(tr_launch_close(l), 0);
}

static void
test_open_and_add_check_arguments(void **state)
{
    (void)state;
    tr_launch *l;
    tr_launch_config wrong = {.backoff_min_ms = 500, .backoff_max_ms = 100};
    assert_int_equal(tr_launch_open(&l, &wrong), TR_EINVAL);
    wrong = (tr_launch_config){.period_ms = -1};
    assert_int_equal(tr_launch_open(&l, &wrong), TR_EINVAL);
    l = open_launcher();
    const char *argv[] = {"x", NULL};
    const char *empty[] = {NULL};
    const char *env_bad[] = {"NOEQUALS", NULL};
    tr_launch_child c = {.name = "a", .argv = argv};
    assert_int_equal(tr_launch_add(l, &c), 0);
    assert_int_equal(tr_launch_add(l, &c), TR_EINVAL); // duplicate
    c.name = "";
    assert_int_equal(tr_launch_add(l, &c), TR_EINVAL);
    c.name = "b c";
    assert_int_equal(tr_launch_add(l, &c), TR_EINVAL);
    c.name = "b";
    c.argv = empty;
    assert_int_equal(tr_launch_add(l, &c), TR_EINVAL);
    c.argv = argv;
    c.env = env_bad;
    assert_int_equal(tr_launch_add(l, &c), TR_EINVAL);
    assert_int_equal(tr_launch_run(l, 0), TR_EINVAL); // not started
    assert_int_equal(tr_launch_close(l), 0);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_config_adds_nodes),
        cmocka_unit_test(test_empty_config_is_valid),
        cmocka_unit_test(test_bad_lines_are_refused_with_their_number),
        cmocka_unit_test(test_load_file_errors),
        cmocka_unit_test(test_open_and_add_check_arguments),
    };
    test_main("launcher/config", tests, argc, argv);
}
