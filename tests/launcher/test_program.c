// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// troupe-launch, the program, end to end: it runs three node processes
// from a config file, restarts one after kill -9, stops them in reverse
// order on SIGTERM and exits 0; its nodes die with it if it is killed;
// a bad config fails with the line number. The test reads its stderr
// through a pipe, with deadlines.
#define _GNU_SOURCE // mkdtemp, mkfifo, pipe2, prctl
#include "util.h"

#include <sys/prctl.h>

struct prog {
    pid_t pid;
    struct lines err; // its stderr
};

static void
write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

// prog_start runs troupe-launch with `a1`, `a2` (either may be NULL) and
// its stderr on a pipe, stdout on /dev/null. It dies with this test
// (PR_SET_PDEATHSIG), and its nodes with it, even if a check fails or
// ctest kills the test.
static void
prog_start(struct prog *p, const char *a1, const char *a2)
{
    int fds[2];
    assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
    pid_t parent = getpid();
    p->pid = fork();
    assert_true(p->pid >= 0);
    if (p->pid == 0) {
        int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent ||
            null < 0 || dup2(null, 1) < 0 || dup2(fds[1], 2) < 0)
            _exit(99);
        char *argv[] = {TROUPE_LAUNCH, (char *)a1, (char *)a2, NULL};
        execv(TROUPE_LAUNCH, argv);
        _exit(98);
    }
    close(fds[1]);
    p->err.fd = fds[0];
    p->err.len = 0;
    assert_int_equal(fcntl(fds[0], F_SETFL, O_NONBLOCK), 0);
}

// prog_exit waits for troupe-launch to exit and returns its status.
static int
prog_exit(struct prog *p)
{
    int st = proc_wait(p->pid);
    close(p->err.fd);
    return st;
}

static void
config3(struct scratch *s, char *path, size_t len, const char *extra)
{
    char text[2048];
    snprintf(text, sizeof text,
             "# three nodes\n"
             "backoff_min_ms=20 backoff_max_ms=200\n"
             "intensity=none\n"
             "node a -- %s --mark %s --on-term\n"
             "node b -- %s --mark %s\n"
             "node c shutdown_ms=200 -- %s --mark %s --ignore-term\n%s",
             LAUNCH_CHILD, s->fifo, LAUNCH_CHILD, s->fifo, LAUNCH_CHILD,
             s->fifo, extra);
    scratch_path(s, path, len, "cluster.conf");
    write_file(path, text);
}

static void
test_program_restarts_a_killed_node_and_stops_in_order(void **state)
{
    (void)state;
    struct scratch s;
    scratch_open(&s);
    char conf[256], line[512];
    config3(&s, conf, sizeof conf, "");
    struct prog p;
    prog_start(&p, conf, NULL);
    long pid[3];
    const char *started[] = {"node=a", "node=b", "node=c"};
    for (size_t i = 0; i < 3; i++) {
        assert_true(LINES_FIND(&p.err, line, "launch event=started", started[i],
                               "restarts=0"));
        pid[i] = field_int(line, "pid=");
    }
    // Wait until all three run their signal setup, then kill -9 b.
    const char *marks[] = {"start a ", "start b ", "start c "};
    for (size_t i = 0; i < 3; i++)
        assert_true(MARKS_FIND(&s, line, marks[i]));
    assert_int_equal(kill((pid_t)pid[1], SIGKILL), 0);
    char pidkey[32];
    snprintf(pidkey, sizeof pidkey, "pid=%ld ", pid[1]);
    assert_true(
        LINES_FIND(&p.err, line, "event=exited node=b", pidkey, "signal=KILL"));
    assert_true(LINES_FIND(&p.err, line, "event=restart node=b", "in_ms="));
    assert_in_range(field_int(line, "in_ms="), 10, 20);
    assert_true(LINES_FIND(&p.err, line, "event=started node=b", "restarts=1"));
    long pid_b = field_int(line, "pid=");
    assert_true(pid_b != pid[1]);
    assert_true(MARKS_FIND(&s, line, "start b ", "restarts=1"));
    assert_int_equal(field_int(line, "pid="), pid_b);

    // SIGTERM: c (ignores SIGTERM: killed after 200 ms), b, then a.
    assert_int_equal(kill(p.pid, SIGTERM), 0);
    assert_true(LINES_FIND(&p.err, line, "event=stop signal=TERM"));
    assert_true(LINES_FIND(&p.err, line, "event=stopping node=c"));
    assert_true(LINES_FIND(&p.err, line, "event=killed node=c"));
    assert_true(LINES_FIND(&p.err, line, "event=exited node=c", "signal=KILL",
                           "stopping=1"));
    assert_true(LINES_FIND(&p.err, line, "event=stopping node=b"));
    assert_true(LINES_FIND(&p.err, line, "event=exited node=b", "signal=TERM"));
    assert_true(LINES_FIND(&p.err, line, "event=stopping node=a"));
    assert_true(LINES_FIND(&p.err, line, "event=exited node=a", "code=0"));
    assert_true(LINES_FIND(&p.err, line, "launch event=stopped"));
    int st = prog_exit(&p);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    scratch_close(&s);
}

static void
test_nodes_die_with_a_killed_launcher(void **state)
{
    (void)state;
    // Orphans come to this process, so it can reap them and see how they
    // died.
    assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    struct scratch s;
    scratch_open(&s);
    char conf[256], line[512];
    config3(&s, conf, sizeof conf, "");
    struct prog p;
    prog_start(&p, conf, NULL);
    int pidfd[3];
    long pid[3];
    const char *started[] = {"node=a", "node=b", "node=c"};
    for (size_t i = 0; i < 3; i++) {
        assert_true(
            LINES_FIND(&p.err, line, "launch event=started", started[i]));
        pid[i] = field_int(line, "pid=");
        // Unreaped while the launcher lives, so the pid is still theirs.
        pidfd[i] = (int)syscall(SYS_pidfd_open, (pid_t)pid[i], 0);
        assert_true(pidfd[i] >= 0);
    }
    assert_int_equal(kill(p.pid, SIGKILL), 0);
    int st = prog_exit(&p);
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    for (size_t i = 0; i < 3; i++) {
        struct pollfd pf = {.fd = pidfd[i], .events = POLLIN};
        assert_int_equal(poll(&pf, 1, TEST_WAIT_MS), 1);
        close(pidfd[i]);
        assert_int_equal(waitpid((pid_t)pid[i], &st, 0), pid[i]);
        assert_true(WIFSIGNALED(st));
        assert_int_equal(WTERMSIG(st), SIGKILL);
    }
    assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 0), 0);
    scratch_close(&s);
}

static void
test_bad_config_names_the_line(void **state)
{
    (void)state;
    struct scratch s;
    scratch_open(&s);
    char conf[256], line[512];
    scratch_path(&s, conf, sizeof conf, "bad.conf");
    write_file(conf, "node a -- /bin/true\n"
                     "# fine so far\n"
                     "node b restart=never -- /bin/true\n");
    struct prog p;
    prog_start(&p, conf, NULL);
    char where[300];
    snprintf(where, sizeof where, "%s:3: node b: restart=never", conf);
    assert_true(LINES_FIND(&p.err, line, "troupe-launch: ", where));
    int st = prog_exit(&p);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 2);

    // --check: a good file passes and starts nothing.
    config3(&s, conf, sizeof conf, "");
    prog_start(&p, "--check", conf);
    assert_true(LINES_FIND(&p.err, line, ": ok"));
    st = prog_exit(&p);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);

    // No nodes, a missing file, no arguments.
    scratch_path(&s, conf, sizeof conf, "empty.conf");
    write_file(conf, "# nothing\n");
    prog_start(&p, conf, NULL);
    assert_true(LINES_FIND(&p.err, line, "no node lines"));
    st = prog_exit(&p);
    assert_int_equal(WEXITSTATUS(st), 2);
    prog_start(&p, "/nonexistent/x.conf", NULL);
    assert_true(LINES_FIND(&p.err, line, "cannot open"));
    st = prog_exit(&p);
    assert_int_equal(WEXITSTATUS(st), 2);
    prog_start(&p, NULL, NULL);
    assert_true(LINES_FIND(&p.err, line, "usage: troupe-launch"));
    st = prog_exit(&p);
    assert_int_equal(WEXITSTATUS(st), 2);
    scratch_close(&s);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_program_restarts_a_killed_node_and_stops_in_order),
        cmocka_unit_test(test_nodes_die_with_a_killed_launcher),
        cmocka_unit_test(test_bad_config_names_the_line),
    };
    test_main("launcher/program", tests, argc, argv);
}
