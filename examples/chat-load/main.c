// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// chat-load: a load client for the chat example (protocol: CHAT.md). It
// opens N WebSocket clients in M rooms, spread over P worker processes (a
// process may hold at most 20,000 open files here), sends `say` at a total
// rate, and prints a progress line every second, then a summary: clients
// held, deliveries/s, delivery latency p50/p99/max, messages lost (per-room
// seq gaps at every receiver, and messages some members never got), errors
// by code and closes by code.
//
// The parent process only coordinates: it forks the workers before any
// thread exists, asks each for a report once a second over a pipe, and
// does the arithmetic. See worker.c for the clients and README.md for use.
#define _POSIX_C_SOURCE 200809L
#include "chat_load.h"

#include <troupe.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PER_PROC_DEFAULT 8000  // clients per worker when -p is not given
#define PER_PROC_MAX     18000 // each connection is one fd; the cap is 20,000

static const char *const err_names[] = {
#define CL_X_NAME(n, s) s,
    CL_ERRS(CL_X_NAME)
#undef CL_X_NAME
};

static const char *const close_names[] = {
#define CL_X_CNAME(c) #c,
    CL_CLOSES(CL_X_CNAME)
#undef CL_X_CNAME
        "other",
    "none",
};

static void
usage(FILE *f)
{
    fprintf(
        f,
        "usage: chat-load [options] ws://HOST:PORT/PATH [URL...]\n"
        "       chat-load --stub [options]\n"
        "       chat-load --serve-stub PORT\n"
        "Clients are spread over the URLs (a cluster's nodes) in turn.\n"
        "  -n, --clients N        clients in all (100)\n"
        "  -m, --rooms M          rooms (10)\n"
        "  -k, --rooms-per-client K  rooms each client joins (1)\n"
        "  -r, --rate R           say messages per second, in all (10)\n"
        "  -d, --duration S       measured seconds (10)\n"
        "  -w, --warmup S         seconds of sending before measuring (2)\n"
        "  -p, --procs P          worker processes (N / %d, rounded up)\n"
        "  -s, --size B           bytes of text per message (64)\n"
        "      --drain S          at most this long after sending stops, "
        "until\n"
        "                         a second passes with no delivery (10)\n"
        "      --connect-timeout S  for every client to join (120)\n"
        "      --inflight K       handshakes in flight per process (128)\n"
        "      --prefix NAME      nickname and room prefix (load)\n"
        "      --io nng|epoll     the clients' sockets: nng's TCP streams,\n"
        "                         or plain sockets on one epoll thread per\n"
        "                         process (cheaper: for a server on the\n"
        "                         same machine) (nng)\n"
        "      --realtime         stamp with CLOCK_REALTIME (clients on\n"
        "                         several machines), not CLOCK_MONOTONIC\n"
        "      --server-pid PID   report this server's RSS and CPU\n"
        "                         (repeat for a cluster)\n"
        "  -q, --quiet            no progress lines\n"
        "      --stub             run against a built-in stub server\n"
        "      --serve-stub PORT  only serve the stub (0: a free port)\n"
        "Exit status: 0 when every client joined and stayed, no message\n"
        "was lost and messages were delivered; 2 otherwise; 1 on error.\n",
        PER_PROC_DEFAULT);
}

static int
parse_url(struct cl_opts *o, const char *url)
{
    if (o->nurls == CL_MAX_URLS)
        return -1;
    const char *p = url;
    if (strncmp(p, "ws://", 5) != 0)
        return -1;
    p += 5;
    const char *colon = strchr(p, ':');
    const char *slash = strchr(p, '/');
    if (colon == NULL || (slash != NULL && slash < colon) ||
        (size_t)(colon - p) >= sizeof o->host[0] || colon == p)
        return -1;
    const char *pend = slash != NULL ? slash : p + strlen(p);
    if ((size_t)(pend - colon - 1) >= sizeof o->port[0] || pend == colon + 1)
        return -1;
    const char *path = slash != NULL ? slash : "/";
    if (strlen(path) >= sizeof o->path[0])
        return -1;
    unsigned u = o->nurls++;
    memcpy(o->host[u], p, (size_t)(colon - p));
    memcpy(o->port[u], colon + 1, (size_t)(pend - colon - 1));
    strcpy(o->path[u], path);
    return 0;
}

static bool
name_ok(const char *s)
{
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.'))
            return false;
    return true;
}

// --- reading /proc for a server's memory and CPU ----------------------------

static uint64_t
pid_rss_kb(int pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    uint64_t kb = 0;
    while (f != NULL && fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "VmRSS: %" SCNu64, &kb) == 1)
            break;
    if (f != NULL)
        fclose(f);
    return kb;
}

static uint64_t
pid_cpu_ticks(int pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    uint64_t ut = 0, st = 0;
    if (f != NULL && fgets(buf, sizeof buf, f) != NULL) {
        char *q = strrchr(buf, ')');
        if (q != NULL)
            (void)sscanf(q + 2,
                         "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %" SCNu64
                         " %" SCNu64,
                         &ut, &st);
    }
    if (f != NULL)
        fclose(f);
    return ut + st;
}

// --- workers -----------------------------------------------------------------

struct proc {
    pid_t pid;
    int ctl, rep;
    struct cl_report last;
};

static struct proc *procs;
static unsigned nprocs;
static pid_t stub_pid;

static int
read_full(int fd, void *p, size_t n)
{
    char *b = p;
    while (n > 0) {
        ssize_t k = read(fd, b, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        b += k;
        n -= (size_t)k;
    }
    return 0;
}

static void
tell_all(char cmd)
{
    for (unsigned i = 0; i < nprocs; i++)
        if (write(procs[i].ctl, &cmd, 1) != 1)
            fprintf(stderr, "chat-load: worker %u is gone\n", i);
}

// sum adds up the workers' last reports into *t.
static void
sum(struct cl_report *t)
{
    memset(t, 0, sizeof *t);
    for (unsigned i = 0; i < nprocs; i++) {
        const struct cl_report *r = &procs[i].last;
        const uint64_t *a = &r->clients;
        uint64_t *b = &t->clients;
        // Every field from `clients` up to the histograms is a uint64_t.
        size_t n = (size_t)((const char *)&r->deliver - (const char *)a) /
                   sizeof(uint64_t);
        for (size_t k = 0; k < n; k++)
            b[k] += a[k];
        const tr_hist *hs[2] = {&r->deliver, &r->echo};
        tr_hist *ht[2] = {&t->deliver, &t->echo};
        for (int h = 0; h < 2; h++) {
            ht[h]->count += hs[h]->count;
            ht[h]->sum_ns += hs[h]->sum_ns;
            if (hs[h]->max_ns > ht[h]->max_ns)
                ht[h]->max_ns = hs[h]->max_ns;
            for (unsigned k = 0; k < TR_HIST_BUCKETS; k++)
                ht[h]->bucket[k] += hs[h]->bucket[k];
        }
    }
}

// collect asks every worker for a report and sums them into *t.
static int
collect(struct cl_report *t)
{
    tell_all(CL_CMD_REPORT);
    for (unsigned i = 0; i < nprocs; i++)
        if (read_full(procs[i].rep, &procs[i].last, sizeof procs[i].last) !=
            0) {
            fprintf(stderr, "chat-load: worker %u stopped answering\n", i);
            return -1;
        }
    sum(t);
    return 0;
}

// hist_since: what was recorded between two snapshots. The max is the
// window's when the window holds the all-time max, else an upper bound.
static void
hist_since(tr_hist *out, const tr_hist *now, const tr_hist *then)
{
    out->count = 0;
    out->sum_ns = now->sum_ns - then->sum_ns;
    uint64_t top = 0;
    for (unsigned i = 0; i < TR_HIST_BUCKETS; i++) {
        out->bucket[i] = now->bucket[i] - then->bucket[i];
        out->count += out->bucket[i];
        if (out->bucket[i] != 0)
            top = i;
    }
    uint64_t bound = tr_hist_bucket_max_ns((unsigned)top);
    out->max_ns = now->max_ns < bound ? now->max_ns : bound;
}

static void
fmt_ms(char *buf, size_t n, uint64_t ns)
{
    if (ns < 10000000)
        snprintf(buf, n, "%.2f ms", (double)ns / 1e6);
    else
        snprintf(buf, n, "%.1f ms", (double)ns / 1e6);
}

static int64_t
now_ns(void)
{
    return cl_stamp_ns(false);
}

static void
sleep_until(int64_t t)
{
    struct timespec ts = {(time_t)(t / 1000000000), (long)(t % 1000000000)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

static void
progress(const char *phase, double t, const struct cl_report *cur,
         const struct cl_report *prev, const tr_hist *since, double dt)
{
    char p99[32];
    fmt_ms(p99, sizeof p99, tr_hist_quantile(since, 0.99));
    uint64_t errs = 0;
    for (int i = 0; i < CL_ERR_N; i++)
        errs += cur->errors[i];
    printf("[%5.0fs] %-7s conn %" PRIu64 " ready %" PRIu64 "/%" PRIu64
           " | sent/s %.0f | deliv/s %.0f | p99 %s | lost %" PRIu64
           " | err %" PRIu64 " | closed %" PRIu64 " | fail %" PRIu64 "\n",
           t, phase, cur->connected, cur->ready, cur->clients,
           (double)(cur->sent - prev->sent) / dt,
           (double)(cur->delivered - prev->delivered) / dt, p99, cur->lost,
           errs, cur->closed, cur->dial_failed + cur->handshake_failed);
    fflush(stdout);
}

static void
kill_all(void)
{
    for (unsigned i = 0; i < nprocs; i++)
        if (procs[i].pid > 0)
            kill(procs[i].pid, SIGKILL);
    if (stub_pid > 0)
        kill(stub_pid, SIGTERM);
}

static pid_t
start_stub(unsigned *port)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        _exit(cl_stub_main(0, fds[1]));
    }
    close(fds[1]);
    if (pid < 0 || read_full(fds[0], port, sizeof *port) != 0) {
        close(fds[0]);
        return -1;
    }
    close(fds[0]);
    return pid;
}

static int
start_workers(const struct cl_opts *o)
{
    nprocs = o->procs;
    procs = calloc(nprocs, sizeof *procs);
    if (procs == NULL)
        return -1;
    fflush(NULL);
    for (unsigned i = 0; i < nprocs; i++) {
        int ctl[2], rep[2];
        if (pipe(ctl) != 0 || pipe(rep) != 0)
            return -1;
        pid_t pid = fork();
        if (pid < 0)
            return -1;
        if (pid == 0) {
            close(ctl[1]);
            close(rep[0]);
            for (unsigned k = 0; k < i; k++) { // the siblings' pipes
                close(procs[k].ctl);
                close(procs[k].rep);
            }
            exit(cl_worker_main(o, i, ctl[0], rep[1]));
        }
        close(ctl[0]);
        close(rep[1]);
        procs[i] = (struct proc){.pid = pid, .ctl = ctl[1], .rep = rep[0]};
    }
    return 0;
}

int
main(int argc, char **argv)
{
    static struct cl_opts o = {.clients = 100,
                               .rooms = 10,
                               .rooms_per_client = 1,
                               .rate = 10,
                               .duration_s = 10,
                               .warmup_s = 2,
                               .drain_s = 10,
                               .connect_timeout_s = 120,
                               .size = 64,
                               .inflight = 128,
                               .prefix = "load"};
    int server_pid[CL_MAX_PIDS], nserver = 0;
    bool quiet = false, stub = false;
    enum {
        O_DRAIN = 256,
        O_CTIMEOUT,
        O_INFLIGHT,
        O_PREFIX,
        O_REALTIME,
        O_SPID,
        O_STUB,
        O_SERVE_STUB,
        O_IO
    };
    static const struct option lopts[] = {
        {"clients", required_argument, NULL, 'n'},
        {"rooms", required_argument, NULL, 'm'},
        {"rooms-per-client", required_argument, NULL, 'k'},
        {"rate", required_argument, NULL, 'r'},
        {"duration", required_argument, NULL, 'd'},
        {"warmup", required_argument, NULL, 'w'},
        {"procs", required_argument, NULL, 'p'},
        {"size", required_argument, NULL, 's'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {"drain", required_argument, NULL, O_DRAIN},
        {"connect-timeout", required_argument, NULL, O_CTIMEOUT},
        {"inflight", required_argument, NULL, O_INFLIGHT},
        {"prefix", required_argument, NULL, O_PREFIX},
        {"realtime", no_argument, NULL, O_REALTIME},
        {"io", required_argument, NULL, O_IO},
        {"server-pid", required_argument, NULL, O_SPID},
        {"stub", no_argument, NULL, O_STUB},
        {"serve-stub", required_argument, NULL, O_SERVE_STUB},
        {NULL, 0, NULL, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "n:m:k:r:d:w:p:s:qh", lopts, NULL)) !=
           -1) {
        switch (ch) {
        case 'n':
            o.clients = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'm':
            o.rooms = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'k':
            o.rooms_per_client = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'r':
            o.rate = strtod(optarg, NULL);
            break;
        case 'd':
            o.duration_s = (double)strtoul(optarg, NULL, 10);
            break;
        case 'w':
            o.warmup_s = (double)strtoul(optarg, NULL, 10);
            break;
        case 'p':
            o.procs = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 's':
            o.size = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'q':
            quiet = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case O_DRAIN:
            o.drain_s = (double)strtoul(optarg, NULL, 10);
            break;
        case O_CTIMEOUT:
            o.connect_timeout_s = (double)strtoul(optarg, NULL, 10);
            break;
        case O_INFLIGHT:
            o.inflight = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case O_PREFIX:
            if (strlen(optarg) > CL_MAX_PREFIX || !name_ok(optarg)) {
                fprintf(stderr,
                        "chat-load: --prefix: at most %d of "
                        "A-Z a-z 0-9 - _ .\n",
                        CL_MAX_PREFIX);
                return 1;
            }
            strcpy(o.prefix, optarg);
            break;
        case O_REALTIME:
            o.realtime = true;
            break;
        case O_IO:
            if (strcmp(optarg, "nng") != 0 && strcmp(optarg, "epoll") != 0) {
                fprintf(stderr, "chat-load: --io: nng or epoll\n");
                return 1;
            }
            o.io_epoll = strcmp(optarg, "epoll") == 0;
            break;
        case O_SPID:
            if (nserver < CL_MAX_PIDS)
                server_pid[nserver++] = atoi(optarg);
            break;
        case O_STUB:
            stub = true;
            break;
        case O_SERVE_STUB:
            return cl_stub_main((unsigned)strtoul(optarg, NULL, 10), -1);
        default:
            usage(stderr);
            return 1;
        }
    }
    for (int i = optind; i < argc; i++)
        if (parse_url(&o, argv[i]) != 0) {
            fprintf(stderr, "chat-load: bad URL %s (ws://HOST:PORT/PATH)\n",
                    argv[i]);
            return 1;
        }
    if ((o.nurls == 0) == !stub || o.clients == 0 || o.rooms == 0 ||
        o.rooms_per_client == 0 || o.rooms_per_client > CL_MAX_K ||
        o.rooms_per_client > o.rooms || o.rate < 0 || o.inflight == 0 ||
        o.size > 2000) {
        usage(stderr);
        return 1;
    }
    if (o.procs == 0)
        o.procs = (o.clients + PER_PROC_DEFAULT - 1) / PER_PROC_DEFAULT;
    if (o.procs > o.clients)
        o.procs = o.clients;
    if ((o.clients + o.procs - 1) / o.procs > PER_PROC_MAX) {
        fprintf(stderr,
                "chat-load: %u clients per process is too many "
                "(open files); use -p\n",
                (o.clients + o.procs - 1) / o.procs);
        return 1;
    }
    o.run_id = (unsigned)getpid() % 100000;
    double per_client = o.rate / o.clients;
    if (per_client > 20)
        fprintf(stderr,
                "chat-load: warning: %.1f messages/s per client is "
                "over the server's default rate limit (20/s)\n",
                per_client);
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);

    if (stub) {
        unsigned port;
        stub_pid = start_stub(&port);
        if (stub_pid < 0) {
            fprintf(stderr, "chat-load: the stub did not start\n");
            return 1;
        }
        char url[64];
        snprintf(url, sizeof url, "ws://127.0.0.1:%u/ws", port);
        parse_url(&o, url);
        if (nserver < CL_MAX_PIDS)
            server_pid[nserver++] = stub_pid;
    }
    uint64_t rss0 = 0;
    for (int i = 0; i < nserver; i++)
        rss0 += pid_rss_kb(server_pid[i]);

    printf("chat-load: %u clients in %u rooms (%u per client) over %u "
           "process%s, %u URL%s; %.0f msg/s (%.3f per client), %u-byte "
           "text, %.0f s warm-up, %.0f s measured%s\n",
           o.clients, o.rooms, o.rooms_per_client, o.procs,
           o.procs == 1 ? "" : "es", o.nurls, o.nurls == 1 ? "" : "s", o.rate,
           per_client, o.size, o.warmup_s, o.duration_s,
           o.io_epoll ? ", epoll I/O" : "");
    if (start_workers(&o) != 0) {
        fprintf(stderr, "chat-load: cannot start workers\n");
        kill_all();
        return 1;
    }

    // Connect: wait until every client has joined or failed.
    struct cl_report cur, prev, base, end;
    memset(&prev, 0, sizeof prev);
    tr_hist none, since;
    memset(&none, 0, sizeof none);
    memset(&end, 0, sizeof end);
    int64_t t0 = now_ns(), tick = t0;
    int status = 0;
    bool ok = true;
    for (;;) {
        tick += 1000000000;
        sleep_until(tick);
        if (collect(&cur) != 0) {
            ok = false;
            break;
        }
        double t = (double)(now_ns() - t0) / 1e9;
        if (!quiet)
            progress("connect", t, &cur, &prev, &none, 1.0);
        prev = cur;
        uint64_t settled =
            cur.ready + cur.dial_failed + cur.handshake_failed + cur.dropped;
        if (settled >= o.clients)
            break;
        if (t >= o.connect_timeout_s) {
            fprintf(stderr,
                    "chat-load: %" PRIu64 " clients still not in "
                    "their rooms after %.0f s; going on\n",
                    o.clients - settled, t);
            break;
        }
    }
    double connect_s = (double)(now_ns() - t0) / 1e9;
    uint64_t rss_conn = 0, held_at_start = cur.ready;
    for (int i = 0; i < nserver; i++)
        rss_conn += pid_rss_kb(server_pid[i]);
    uint64_t client_rss = cur.rss_kb;

    // Send: warm up, then measure, then drain.
    uint64_t scpu0 = 0, scpu1 = 0;
    int64_t tm0 = 0, tm1 = 0;
    bool drained = false;
    if (ok) {
        tell_all(CL_CMD_GO);
        int64_t go = now_ns();
        struct cl_report gobase = cur;
        tick = go;
        base = cur;
        tm0 = go;
        for (int i = 0; i < nserver; i++)
            scpu0 += pid_cpu_ticks(server_pid[i]);
        int warm = (int)o.warmup_s, meas = warm + (int)o.duration_s;
        int total = meas + (int)o.drain_s;
        for (int s = 1; s <= total && !drained; s++) {
            tick += 1000000000;
            sleep_until(tick);
            if (now_ns() > tick + 500000000)
                tick = now_ns(); // stalled: no burst of catch-up reports
            if (collect(&cur) != 0) {
                ok = false;
                break;
            }
            if (s == warm) {
                base = cur;
                tm0 = now_ns();
                scpu0 = 0;
                for (int i = 0; i < nserver; i++)
                    scpu0 += pid_cpu_ticks(server_pid[i]);
            }
            if (s == meas) {
                tell_all(CL_CMD_STOP);
                end = cur;
                tm1 = now_ns();
                for (int i = 0; i < nserver; i++)
                    scpu1 += pid_cpu_ticks(server_pid[i]);
            }
            // The drain ends early after a second with nothing delivered.
            drained = s > meas + 1 && cur.delivered == prev.delivered;
            const char *phase = s > meas   ? "drain"
                                : s > warm ? "measure"
                                           : "warmup";
            // p99 so far: since sending began, then since measuring began.
            hist_since(&since, &cur.deliver,
                       s > warm ? &base.deliver : &gobase.deliver);
            if (!quiet)
                progress(phase, (double)(now_ns() - t0) / 1e9, &cur, &prev,
                         &since, 1.0);
            prev = cur;
        }
    }
    // Quit: final reports and room tails.
    uint64_t tail_missing = 0;
    tell_all(CL_CMD_QUIT);
    struct cl_room_tail *tails = calloc(o.rooms, sizeof *tails);
    struct cl_room_tail *wt = calloc(o.rooms, sizeof *wt);
    uint64_t *gmax = calloc(o.rooms, sizeof *gmax);
    for (unsigned i = 0; ok && i < nprocs; i++) {
        if (read_full(procs[i].rep, &procs[i].last, sizeof procs[i].last) !=
                0 ||
            procs[i].last.nrooms != o.rooms ||
            read_full(procs[i].rep, wt, sizeof *wt * o.rooms) != 0) {
            fprintf(stderr, "chat-load: worker %u: no final report\n", i);
            ok = false;
            break;
        }
        for (unsigned r = 0; r < o.rooms; r++) {
            if (wt[r].max_seq > tails[r].max_seq)
                tails[r].max_seq = wt[r].max_seq;
            tails[r].sum_last += wt[r].sum_last;
            tails[r].members += wt[r].members;
        }
    }
    for (unsigned r = 0; ok && r < o.rooms; r++)
        tail_missing += tails[r].members * tails[r].max_seq - tails[r].sum_last;
    struct cl_report fin;
    if (ok)
        sum(&fin);
    for (unsigned i = 0; i < nprocs; i++) {
        int ws;
        close(procs[i].ctl);
        if (waitpid(procs[i].pid, &ws, 0) == procs[i].pid &&
            !(WIFEXITED(ws) && WEXITSTATUS(ws) == 0)) {
            fprintf(stderr, "chat-load: worker %u exited badly (%d)\n", i, ws);
            ok = false;
        }
        procs[i].pid = 0;
    }
    if (stub_pid > 0) {
        kill(stub_pid, SIGTERM);
        waitpid(stub_pid, NULL, 0);
    }
    free(wt);
    free(gmax);
    free(tails);
    if (!ok || o.duration_s == 0) {
        free(procs);
        return ok ? 0 : 1;
    }

    // The summary: rates over the measured window, counts over the run.
    double win = (double)(tm1 - tm0) / 1e9;
    tr_hist lat, echo;
    hist_since(&lat, &end.deliver, &base.deliver);
    hist_since(&echo, &end.echo, &base.echo);
    char p50[32], p99[32], pmax[32], e50[32], e99[32], emax[32];
    fmt_ms(p50, sizeof p50, tr_hist_quantile(&lat, 0.5));
    fmt_ms(p99, sizeof p99, tr_hist_quantile(&lat, 0.99));
    fmt_ms(pmax, sizeof pmax, lat.max_ns);
    fmt_ms(e50, sizeof e50, tr_hist_quantile(&echo, 0.5));
    fmt_ms(e99, sizeof e99, tr_hist_quantile(&echo, 0.99));
    fmt_ms(emax, sizeof emax, echo.max_ns);
    double deliv_s = (double)(end.delivered - base.delivered) / win;
    double sent_s = (double)(end.sent - base.sent) / win;
    // Messages some members had not received at the end are lost only if
    // the drain ended quiet; otherwise they may still be on their way.
    uint64_t lost = fin.lost + (drained ? tail_missing : 0);
    uint64_t unechoed = fin.sent > fin.echoed ? fin.sent - fin.echoed : 0;
    printf("\nchat-load summary (measured %.1f s after a %.0f s warm-up; "
           "connecting took %.1f s)\n",
           win, o.warmup_s, connect_s);
    printf("  clients held     %" PRIu64 " of %u at the end (%" PRIu64
           " when sending began; dial failed %" PRIu64
           ", handshake failed %" PRIu64 ", dropped later %" PRIu64 ")\n",
           fin.ready, o.clients, held_at_start, fin.dial_failed,
           fin.handshake_failed, fin.dropped);
    printf("  sent             %" PRIu64 " (%.1f/s; %" PRIu64
           " skipped: no ready client or one far behind)\n",
           end.sent - base.sent, sent_s, fin.send_skipped);
    printf("  deliveries       %" PRIu64 " (%.1f/s), %" PRIu64
           " of them echoes to their senders\n",
           end.delivered - base.delivered, deliv_s, end.echoed - base.echoed);
    printf("  latency          p50 %s  p99 %s  max %s  (send -> every "
           "receiver)\n",
           p50, p99, pmax);
    printf("  echo latency     p50 %s  p99 %s  max %s  (send -> sender's "
           "own copy)\n",
           e50, e99, emax);
    printf("  messages lost    %" PRIu64 " (seq gaps %" PRIu64
           ", never received by %s %" PRIu64 "; out of order %" PRIu64
           "; sent with no echo back %" PRIu64 ")\n",
           lost, fin.lost,
           drained ? "the end" : "the end of the drain (still in flight?)",
           tail_missing, fin.reordered, unechoed);
    printf("  errors by code  ");
    bool any = false;
    for (int i = 0; i < CL_ERR_N; i++)
        if (fin.errors[i] != 0) {
            printf(" %s=%" PRIu64, err_names[i], fin.errors[i]);
            any = true;
        }
    printf("%s\n", any ? "" : " none");
    printf("  closes by code  ");
    any = false;
    for (int i = 0; i < CL_CLOSE_N; i++)
        if (fin.closes[i] != 0) {
            printf(" %s=%" PRIu64, close_names[i], fin.closes[i]);
            any = true;
        }
    printf("%s\n", any ? "" : " none");
    if (fin.bad_frames || fin.clock_skew)
        printf("  oddities         %" PRIu64 " unexpected frames, %" PRIu64
               " stamps from the future\n",
               fin.bad_frames, fin.clock_skew);
    long hz = sysconf(_SC_CLK_TCK);
    double ccpu = (double)(end.cpu_ticks - base.cpu_ticks) / (double)hz;
    printf("  load client      %.0f%% CPU, %.1f MiB RSS (%.1f KiB per "
           "client)\n",
           100.0 * ccpu / win, (double)client_rss / 1024.0,
           (double)client_rss / (double)o.clients);
    if (nserver > 0) {
        double scpu = (double)(scpu1 - scpu0) / (double)hz;
        uint64_t conns = held_at_start ? held_at_start : 1;
        printf("  server           %.0f%% CPU; RSS %.1f MiB with %" PRIu64
               " clients, %.1f MiB before: %.1f KiB per connection "
               "(%.1f KiB counting the whole RSS)\n",
               100.0 * scpu / win, (double)rss_conn / 1024.0, held_at_start,
               (double)rss0 / 1024.0,
               (double)(rss_conn > rss0 ? rss_conn - rss0 : 0) / (double)conns,
               (double)rss_conn / (double)conns);
    }
    printf("RESULT chat-load %u %.2f %.0f deliveries/s\n", o.clients, win,
           deliv_s);
    bool good = fin.ready == o.clients && lost == 0 &&
                (o.rate == 0 || end.delivered > base.delivered);
    status = good ? 0 : 2;
    free(procs);
    return status;
}
