// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// nng_bench: the raw nng 1.5 baseline for troupe's cross-process workloads
// (see /work/shared/BENCH.md). No actors: two processes and nng sockets, the
// floor and ceiling a cluster layer built on nng is judged against.
//
//   nng_bench <workload> [N] [--threads K]
//
// workloads:
//   remote-pingpong[-req][-aio][-ipc]
//                                    N round trips of one 8-byte message over
//                                    a pair1 socket pair (-req: req/rep);
//                                    blocking calls, or with -aio nng's
//                                    completion callbacks on both sides
//   remote-counting[-batchB][-ipc]   N integers pushed one-way (push/pull),
//                                    B per nng message (default 1), then an
//                                    ask for the total on a second socket
// Without -ipc the transport is tcp://127.0.0.1 (an ephemeral port); with it,
// ipc:// (a Unix domain socket in /tmp). --threads is accepted for bench/run
// and ignored: nng 1.5 sizes its own thread pools when it is built.
//
// The measuring process listens, then starts the peer process (itself, via
// posix_spawn, with a `--peer` role), which dials. One untimed exchange
// makes sure the connection is up before the clock starts. Prints
// `RESULT <name> <n> <seconds> <value> <unit>` on stdout and the peak RSS of
// both processes on stderr; a failed self-check, a timeout or a peer that
// does not exit cleanly prints `FAILED <reason>` on stderr, kills the peer
// and exits 1.

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/pair1/pair.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/util/platform.h>

extern char **environ;

// A receive or send that waits longer than this (ms) means the other
// process is gone or stuck.
#define IO_TIMEOUT_MS 10000
// The whole run, in seconds (SIGALRM kills the peer and exits).
#define RUN_TIMEOUT_S 300

// spec is a parsed workload name.
struct spec {
    const char *name; // as given, for the RESULT line
    bool counting;    // remote-counting (else remote-pingpong)
    bool ipc;         // ipc:// instead of tcp://127.0.0.1
    bool req;         // pingpong over req/rep instead of pair1
    bool aio;         // pingpong driven by nng_aio callbacks
    uint64_t batch;   // counting: integers per nng message
};

static pid_t peer_pid = -1; // the peer process, once spawned

static void
kill_peer(void)
{
    if (peer_pid > 0) {
        kill(peer_pid, SIGKILL);
        waitpid(peer_pid, NULL, 0);
        peer_pid = -1;
    }
}

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)))
__attribute__((noreturn));

static void
fail(const char *fmt, ...)
{
    va_list ap;
    fputs("FAILED ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    kill_peer();
    exit(1);
}

// check_nng fails the run when an nng call returned an error.
static void
check_nng(int rv, const char *what)
{
    if (rv != 0)
        fail("%s: %s", what, nng_strerror(rv));
}

// on_alarm ends a run that took longer than RUN_TIMEOUT_S.
static void
on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "FAILED timeout\n";
    if (peer_pid > 0)
        kill(peer_pid, SIGKILL);
    if (write(STDERR_FILENO, msg, sizeof msg - 1) < 0) {
        // nothing more to do
    }
    _exit(1);
}

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
set_timeouts(nng_socket s)
{
    check_nng(nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, IO_TIMEOUT_MS),
              "recv timeout");
    check_nng(nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, IO_TIMEOUT_MS),
              "send timeout");
}

// listen_any makes `s` listen on a fresh address (tcp://127.0.0.1 on an
// ephemeral port, or an ipc:// path in /tmp named after this process and
// `k`) and writes the address the peer should dial to `url`.
static void
listen_any(char *url, size_t len, nng_socket s, bool ipc, int k)
{
    if (ipc) {
        snprintf(url, len, "ipc:///tmp/nng_bench.%ld.%d", (long)getpid(), k);
        check_nng(nng_listen(s, url, NULL, 0), "listen");
        return;
    }
    nng_listener l;
    nng_sockaddr sa;
    check_nng(nng_listen(s, "tcp://127.0.0.1:0", &l, 0), "listen");
    check_nng(nng_listener_get_addr(l, NNG_OPT_LOCADDR, &sa), "local address");
    snprintf(url, len, "tcp://127.0.0.1:%u", (unsigned)ntohs(sa.s_in.sa_port));
}

// spawn_peer starts this program again as the peer:
// `--peer <workload> <our pid> <url> [url2]`.
static void
spawn_peer(const struct spec *sp, const char *url, const char *url2)
{
    char pid[32];
    snprintf(pid, sizeof pid, "%ld", (long)getpid());
    char *argv[] = {"nng_bench",  "--peer", (char *)sp->name, pid, (char *)url,
                    (char *)url2, NULL};
    int rv =
        posix_spawn(&peer_pid, "/proc/self/exe", NULL, NULL, argv, environ);
    if (rv != 0) {
        peer_pid = -1;
        fail("posix_spawn: %s", strerror(rv));
    }
}

// reap_peer waits (bounded) for the peer to exit and returns its peak RSS
// in kB; a peer that fails or does not exit fails the run.
static long
reap_peer(void)
{
    for (int i = 0; i < 1000; i++) {
        int st;
        struct rusage ru;
        pid_t r = wait4(peer_pid, &st, WNOHANG, &ru);
        if (r < 0)
            fail("wait4: %s", strerror(errno));
        if (r == peer_pid) {
            peer_pid = -1;
            if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
                fail("peer exited with status %#x", st);
            return ru.ru_maxrss;
        }
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    }
    fail("peer did not exit within 10 s");
}

static void
report(const struct spec *sp, uint64_t n, double secs, const char *unit)
{
    long peer_kb = reap_peer();
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    fprintf(stderr, "%s: peak RSS measuring process %ld kB, peer %ld kB\n",
            sp->name, ru.ru_maxrss, peer_kb);
    printf("RESULT %s %" PRIu64 " %.3f %.0f %s\n", sp->name, n, secs,
           (double)n / secs, unit);
    fflush(stdout);
}

// -- remote-pingpong -------------------------------------------------------

// aio_pp runs a ping-pong from nng's completion callbacks, so that no
// thread of ours is woken per message: the way an event loop would drive
// nng. The measuring side sends i, checks the echo and sends i + 1 from the
// receive callback; the echoing side sends each message back from its
// receive callback until an empty one.
struct aio_pp {
    nng_socket s;
    nng_aio *send;
    nng_aio *recv;
    bool measuring; // sends 1..n and checks the echoes; else echoes
    uint64_t i;     // measuring: the round trip under way
    uint64_t n;
    nng_msg *last; // measuring: the message of the last round trip
    nng_mtx *mtx;
    nng_cv *cv;
    bool done; // under mtx
    int err;   // under mtx: an nng error, or -1 for a wrong echo
};

static void
pp_finish(struct aio_pp *pp, int err)
{
    nng_mtx_lock(pp->mtx);
    pp->done = true;
    pp->err = err;
    nng_cv_wake(pp->cv);
    nng_mtx_unlock(pp->mtx);
}

static void
pp_send_cb(void *arg)
{
    struct aio_pp *pp = arg;
    int rv = nng_aio_result(pp->send);
    if (rv != 0) {
        nng_msg_free(nng_aio_get_msg(pp->send));
        pp_finish(pp, rv);
        return;
    }
    nng_recv_aio(pp->s, pp->recv);
}

static void
pp_recv_cb(void *arg)
{
    struct aio_pp *pp = arg;
    int rv = nng_aio_result(pp->recv);
    if (rv != 0) {
        pp_finish(pp, rv);
        return;
    }
    nng_msg *m = nng_aio_get_msg(pp->recv);
    if (pp->measuring) {
        uint64_t v;
        if (nng_msg_trim_u64(m, &v) != 0 || v != pp->i) {
            nng_msg_free(m);
            pp_finish(pp, -1);
            return;
        }
        if (pp->i == pp->n) {
            pp->last = m;
            pp_finish(pp, 0);
            return;
        }
        pp->i++;
        nng_msg_clear(m);
        if ((rv = nng_msg_append_u64(m, pp->i)) != 0) {
            nng_msg_free(m);
            pp_finish(pp, rv);
            return;
        }
    } else if (nng_msg_len(m) == 0) {
        nng_msg_free(m);
        pp_finish(pp, 0);
        return;
    }
    nng_aio_set_msg(pp->send, m);
    nng_send_aio(pp->s, pp->send);
}

static void
pp_init(struct aio_pp *pp, nng_socket s, bool measuring)
{
    *pp = (struct aio_pp){.s = s, .measuring = measuring};
    check_nng(nng_aio_alloc(&pp->send, pp_send_cb, pp), "aio alloc");
    check_nng(nng_aio_alloc(&pp->recv, pp_recv_cb, pp), "aio alloc");
    nng_aio_set_timeout(pp->send, IO_TIMEOUT_MS);
    nng_aio_set_timeout(pp->recv, IO_TIMEOUT_MS);
    check_nng(nng_mtx_alloc(&pp->mtx), "mtx alloc");
    check_nng(nng_cv_alloc(&pp->cv, pp->mtx), "cv alloc");
}

// pp_wait waits until the callbacks are done and returns their error.
static int
pp_wait(struct aio_pp *pp)
{
    nng_mtx_lock(pp->mtx);
    while (!pp->done)
        nng_cv_wait(pp->cv);
    nng_mtx_unlock(pp->mtx);
    return pp->err;
}

static void
pp_fini(struct aio_pp *pp)
{
    nng_aio_free(pp->send);
    nng_aio_free(pp->recv);
    nng_cv_free(pp->cv);
    nng_mtx_free(pp->mtx);
}

// pingpong_measure sends 1..n one at a time, each as an 8-byte message, and
// waits for each to come back before the next.
static void
pingpong_measure(const struct spec *sp, uint64_t n)
{
    nng_socket s;
    char url[128];
    check_nng(sp->req ? nng_req0_open(&s) : nng_pair1_open(&s), "open");
    set_timeouts(s);
    listen_any(url, sizeof url, s, sp->ipc, 0);
    spawn_peer(sp, url, NULL);

    // The message travels back and forth; 0 is the untimed warm-up that
    // waits for the peer's connection.
    nng_msg *m;
    uint64_t v;
    check_nng(nng_msg_alloc(&m, 0), "msg alloc");
    check_nng(nng_msg_append_u64(m, 0), "append");
    check_nng(nng_sendmsg(s, m, 0), "send");
    check_nng(nng_recvmsg(s, &m, 0), "recv");
    double t0 = now_s();
    double secs;
    if (sp->aio) {
        struct aio_pp pp;
        pp_init(&pp, s, true);
        pp.i = 1;
        pp.n = n;
        nng_msg_clear(m);
        check_nng(nng_msg_append_u64(m, 1), "append");
        nng_aio_set_msg(pp.send, m);
        nng_send_aio(s, pp.send);
        int rv = pp_wait(&pp);
        secs = now_s() - t0;
        if (rv == -1)
            fail("pingpong: round trip %" PRIu64 " came back wrong", pp.i);
        check_nng(rv, "aio");
        m = pp.last;
        pp_fini(&pp);
    } else {
        for (uint64_t i = 1; i <= n; i++) {
            nng_msg_clear(m);
            check_nng(nng_msg_append_u64(m, i), "append");
            check_nng(nng_sendmsg(s, m, 0), "send");
            check_nng(nng_recvmsg(s, &m, 0), "recv");
            if (nng_msg_trim_u64(m, &v) != 0 || v != i)
                fail("pingpong: round trip %" PRIu64 " came back wrong", i);
        }
        secs = now_s() - t0;
    }
    // An empty message stops the peer.
    nng_msg_clear(m);
    check_nng(nng_sendmsg(s, m, 0), "send stop");
    report(sp, n, secs, "roundtrips/s");
    nng_close(s);
}

// pingpong_peer echoes every message until an empty one.
static void
pingpong_peer(const struct spec *sp, const char *url)
{
    nng_socket s;
    check_nng(sp->req ? nng_rep0_open(&s) : nng_pair1_open(&s), "open");
    check_nng(nng_dial(s, url, NULL, 0), "dial");
    if (sp->aio) {
        struct aio_pp pp;
        pp_init(&pp, s, false);
        nng_recv_aio(s, pp.recv);
        check_nng(pp_wait(&pp), "aio");
        pp_fini(&pp);
        nng_close(s);
        return;
    }
    for (;;) {
        nng_msg *m;
        check_nng(nng_recvmsg(s, &m, 0), "recv");
        if (nng_msg_len(m) == 0) {
            nng_msg_free(m);
            break;
        }
        check_nng(nng_sendmsg(s, m, 0), "send");
    }
    nng_close(s);
}

// -- remote-counting -------------------------------------------------------

// counting_measure pushes 1..n, `batch` integers per nng message, then an
// empty message that asks for the total, which comes back on a second
// socket (pull here, push at the peer). A completed send only means queued:
// the clock stops when the total is back.
static void
counting_measure(const struct spec *sp, uint64_t n)
{
    nng_socket out, back;
    char url[128], url2[128];
    check_nng(nng_push0_open(&out), "open push");
    check_nng(nng_pull0_open(&back), "open pull");
    set_timeouts(out);
    set_timeouts(back);
    listen_any(url, sizeof url, out, sp->ipc, 0);
    listen_any(url2, sizeof url2, back, sp->ipc, 1);
    spawn_peer(sp, url, url2);

    // The peer says hello once it has dialled both sockets.
    nng_msg *m;
    check_nng(nng_recvmsg(back, &m, 0), "recv hello");
    nng_msg_free(m);

    double t0 = now_s();
    for (uint64_t i = 1; i <= n;) {
        check_nng(nng_msg_alloc(&m, 0), "msg alloc");
        for (uint64_t k = 0; k < sp->batch && i <= n; k++, i++)
            check_nng(nng_msg_append_u64(m, i), "append");
        check_nng(nng_sendmsg(out, m, 0), "send");
    }
    check_nng(nng_msg_alloc(&m, 0), "msg alloc");
    check_nng(nng_sendmsg(out, m, 0), "send get");
    uint64_t total;
    check_nng(nng_recvmsg(back, &m, 0), "recv total");
    double secs = now_s() - t0;
    if (nng_msg_trim_u64(m, &total) != 0)
        fail("counting: short reply");
    nng_msg_free(m);
    uint64_t want = n % 2 == 0 ? n / 2 * (n + 1) : (n + 1) / 2 * n;
    if (total != want)
        fail("counting: total %" PRIu64 ", expected %" PRIu64, total, want);
    // A second empty message lets the peer go: it waits for it so that its
    // reply is not lost with its socket.
    check_nng(nng_msg_alloc(&m, 0), "msg alloc");
    check_nng(nng_sendmsg(out, m, 0), "send bye");
    report(sp, n, secs, "msgs/s");
    nng_close(out);
    nng_close(back);
}

// counting_peer sums the integers it pulls; an empty message asks for the
// total, a second one ends it.
static void
counting_peer(const char *url, const char *url2)
{
    nng_socket in, back;
    check_nng(nng_pull0_open(&in), "open pull");
    check_nng(nng_push0_open(&back), "open push");
    check_nng(nng_dial(in, url, NULL, 0), "dial");
    check_nng(nng_dial(back, url2, NULL, 0), "dial");
    nng_msg *m;
    check_nng(nng_msg_alloc(&m, 0), "msg alloc");
    check_nng(nng_sendmsg(back, m, 0), "send hello");
    uint64_t sum = 0;
    for (;;) {
        check_nng(nng_recvmsg(in, &m, 0), "recv");
        if (nng_msg_len(m) == 0)
            break;
        uint64_t x;
        while (nng_msg_trim_u64(m, &x) == 0)
            sum += x;
        nng_msg_free(m);
    }
    nng_msg_clear(m);
    check_nng(nng_msg_append_u64(m, sum), "append");
    check_nng(nng_sendmsg(back, m, 0), "send total");
    check_nng(nng_recvmsg(in, &m, 0), "recv bye");
    nng_msg_free(m);
    nng_close(in);
    nng_close(back);
}

// -- main ------------------------------------------------------------------

// parse_spec parses remote-pingpong[-req][-aio][-ipc] and
// remote-counting[-batchB][-ipc].
static bool
parse_spec(struct spec *sp, const char *name)
{
    *sp = (struct spec){.name = name, .batch = 1};
    const char *rest;
    if (strncmp(name, "remote-pingpong", 15) == 0) {
        rest = name + 15;
        if (strncmp(rest, "-req", 4) == 0) {
            sp->req = true;
            rest += 4;
        }
        if (strncmp(rest, "-aio", 4) == 0) {
            sp->aio = true;
            rest += 4;
        }
    } else if (strncmp(name, "remote-counting", 15) == 0) {
        sp->counting = true;
        rest = name + 15;
        if (strncmp(rest, "-batch", 6) == 0) {
            char *end;
            rest += 6;
            if (*rest < '1' || *rest > '9')
                return false;
            sp->batch = strtoull(rest, &end, 10);
            if (sp->batch > 65536)
                return false;
            rest = end;
        }
    } else {
        return false;
    }
    if (strcmp(rest, "-ipc") == 0)
        sp->ipc = true;
    else if (*rest != '\0')
        return false;
    return true;
}

// default_n picks N for a run of a few seconds here.
static uint64_t
default_n(const struct spec *sp)
{
    if (!sp->counting)
        return 30000;
    return sp->batch == 1 ? 200000 : 10000000;
}

static int
usage(void)
{
    fputs("usage: nng_bench <workload> [N] [--threads K]\n"
          "  remote-pingpong[-req][-aio][-ipc]  pair1 (or req/rep) round "
          "trips\n"
          "  remote-counting[-batchB][-ipc]     push/pull, B integers a "
          "message\n"
          "  (tcp://127.0.0.1 unless -ipc; --threads is ignored)\n",
          stderr);
    return 2;
}

int
main(int argc, char **argv)
{
    struct spec sp;
    if (argc >= 5 && strcmp(argv[1], "--peer") == 0) {
        // The peer dies with the measuring process.
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != (pid_t)atol(argv[3]) || !parse_spec(&sp, argv[2]))
            return 1;
        if (sp.counting && argc >= 6)
            counting_peer(argv[4], argv[5]);
        else if (!sp.counting)
            pingpong_peer(&sp, argv[4]);
        else
            return 1;
        return 0;
    }

    if (argc < 2 || !parse_spec(&sp, argv[1]))
        return usage();
    uint64_t n = 0;
    for (int i = 2; i < argc; i++) {
        char *end;
        if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            i++; // ignored, see above
        } else if (n == 0 && argv[i][0] >= '1' && argv[i][0] <= '9') {
            n = strtoull(argv[i], &end, 10);
            if (*end != '\0' || n > 4000000000u)
                return usage();
        } else {
            return usage();
        }
    }
    if (n == 0)
        n = default_n(&sp);

    signal(SIGALRM, on_alarm);
    alarm(RUN_TIMEOUT_S);
    if (sp.counting)
        counting_measure(&sp, n);
    else
        pingpong_measure(&sp, n);
    return 0;
}
