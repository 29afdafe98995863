// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// cluster-node: one node of a small cluster (examples/cluster/README.md).
// It registers an actor as "pinger-<name>", finds the other nodes' pingers
// by name, monitors them, pings each every --every ms with a request that
// has a deadline, and prints one line per event: a reply and its round
// trip, a request that failed, a DOWN (TR_ENOCONN when the peer's node is
// lost), and a peer's pinger found again after its node came back (a new
// ref when it restarted, the same ref when it was only unreachable).
//
//   cluster-node [--name NAME] [--cluster a,b,c] [--listen URL]
//                [--seed URL]... [--peer NAME]... [--every MS]
//                [--deadline MS] [--heartbeat MS] [--timeout MS]
//                [--run MS]
//
// --name defaults to TROUPE_NODE_NAME, which troupe-launch sets.
// --cluster names every node of the cluster: this node pings the others,
// listens at its own URL and dials theirs (the mesh is not transitive
// yet, so each node is given all the others). A name's URL is
// ipc://$CLUSTER_IPC_DIR/NAME when that variable is set, else
// tcp://127.0.0.1:PORT with PORT = CLUSTER_PORT_BASE (default 7400) plus
// the name's position in the list, from 1. --listen, --seed and --peer
// set the same things one by one. The cluster secret is
// TROUPE_CLUSTER_SECRET (a fixed demo secret if unset). --run stops the
// node after MS ms; otherwise it runs until SIGTERM or SIGINT, then
// closes its system and exits 0.
#define _POSIX_C_SOURCE 200809L
#include <troupe.h>
#include <troupe/cluster.h>

#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { MSG_TICK = 1, MSG_PING, MSG_PONG };

#define MAX_PEERS 8
#define URL_LEN   256

static char me[TR_NODE_NAME_MAX]; // this node's name, for every line

// say prints one event line: wall-clock time (so the lines of several
// processes can be put in order), this node's name, the text.
static void say(const char *fmt, ...) TR_PRINTF(1, 2);

static void
say(const char *fmt, ...)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    localtime_r(&ts.tv_sec, &tm);
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    // One call per line: stdio locks the stream, so lines never mix.
    printf("%02d:%02d:%02d.%03ld %s: %s\n", tm.tm_hour, tm.tm_min, tm.tm_sec,
           ts.tv_nsec / 1000000, me, text);
}

// ref_text writes a ref as node.slot.generation: the node part is this
// process's number for that node's incarnation (0 is this process).
static const char *
ref_text(char *buf, size_t size, tr_ref r)
{
    snprintf(buf, size, "%u.%u.%u", (unsigned)(r.bits >> 48),
             (unsigned)(r.bits >> 24 & 0xffffff),
             (unsigned)(r.bits & 0xffffff));
    return buf;
}

// reason_text names an exit reason: the system's, or an error code's.
static const char *
reason_text(int reason)
{
    switch (reason) {
    case TR_EXIT_NORMAL:
        return "normal";
    case TR_EXIT_SHUTDOWN:
        return "shutdown";
    case TR_EXIT_KILLED:
        return "killed";
    default:
        return tr_errname(reason);
    }
}

static double
ms_between(int64_t from_ns, int64_t to_ns)
{
    return (double)(to_ns - from_ns) / 1e6;
}

// --- the pinger ------------------------------------------------------------

// What a pinger knows of one peer's pinger.
struct target {
    char node[TR_NODE_NAME_MAX];
    char name[TR_NODE_NAME_MAX + 8]; // "pinger-<node>"
    tr_ref ref;       // found by name; none while its node is away
    tr_ref old;       // the ref it had before it went down
    uint64_t mon;     // our monitor on ref
    bool pending;     // a ping is out
    uint32_t seq;     // pings sent
    int64_t sent_ns;  // when the pending ping went
    int64_t reply_ns; // the last reply
    int64_t down_ns;  // when its DOWN came
};

struct pinger_cfg {
    char peers[MAX_PEERS][TR_NODE_NAME_MAX];
    unsigned npeers;
    int64_t every_ms, deadline_ms;
};

struct pinger {
    struct pinger_cfg cfg;
    struct target t[MAX_PEERS];
};

static void
on_pong(tr_ctx *ctx, int status, const tr_msg *reply, void *cookie)
{
    struct pinger *p = tr_state(ctx);
    struct target *t = &p->t[(uintptr_t)cookie];
    int64_t now = tr_now_ns();
    t->pending = false;
    if (status != 0) {
        say("ping %s seq=%u failed: %s after %.1f ms (deadline %lld ms)",
            t->node, t->seq, tr_errname(status), ms_between(t->sent_ns, now),
            (long long)p->cfg.deadline_ms);
        return;
    }
    uint32_t seq = 0;
    if (tr_msg_size(reply) == sizeof seq)
        memcpy(&seq, tr_msg_data(reply), sizeof seq);
    t->reply_ns = now;
    say("reply from %s seq=%u rtt=%.2f ms", t->node, seq,
        ms_between(t->sent_ns, now));
}

// found: `r` now answers to t's name.
static void
found(tr_ctx *ctx, struct target *t, tr_ref r)
{
    char a[32], b[32];
    t->ref = r;
    if (tr_ref_is_none(t->old)) {
        say("found %s at ref %s", t->name, ref_text(a, sizeof a, r));
    } else if (tr_ref_eq(t->old, r)) {
        say("%s is back after %.0f ms: %s at the same ref %s (same "
            "incarnation)",
            t->node, ms_between(t->down_ns, tr_now_ns()), t->name,
            ref_text(a, sizeof a, r));
    } else {
        // A new incarnation: the old ref is stale for good.
        int rc = tr_send(ctx, t->old, MSG_PING, NULL, 0);
        say("%s is back after %.0f ms: %s at new ref %s (was %s, a new "
            "incarnation); a send to the old ref gives %s",
            t->node, ms_between(t->down_ns, tr_now_ns()), t->name,
            ref_text(a, sizeof a, r), ref_text(b, sizeof b, t->old),
            tr_errname(rc));
    }
    int rc = tr_monitor(ctx, r, &t->mon);
    if (rc != 0)
        say("monitor %s: %s", t->name, tr_errname(rc));
}

static void
tick(tr_ctx *ctx, struct pinger *p)
{
    for (unsigned i = 0; i < p->cfg.npeers; i++) {
        struct target *t = &p->t[i];
        if (tr_ref_is_none(t->ref)) {
            tr_ref r;
            if (tr_whereis(tr_ctx_system(ctx), t->name, &r) != 0)
                continue; // not (or no longer) registered: try next tick
            found(ctx, t, r);
        }
        if (t->pending)
            continue;
        t->seq++;
        t->pending = true;
        t->sent_ns = tr_now_ns();
        // Always 0: a failure comes to on_pong, with its code.
        (void)tr_request(ctx, NULL, t->ref, MSG_PING, &t->seq, sizeof t->seq,
                         p->cfg.deadline_ms, on_pong, (void *)(uintptr_t)i);
    }
}

static void
down(struct pinger *p, const tr_msg *m)
{
    tr_down d;
    memcpy(&d, tr_msg_data(m), sizeof d);
    for (unsigned i = 0; i < p->cfg.npeers; i++) {
        struct target *t = &p->t[i];
        if (t->mon != d.mon || tr_ref_is_none(t->ref))
            continue;
        t->down_ns = tr_now_ns();
        char a[32];
        say("DOWN %s (ref %s) reason=%s, %.0f ms after its last reply", t->name,
            ref_text(a, sizeof a, d.who), reason_text(d.reason),
            ms_between(t->reply_ns, t->down_ns));
        t->old = t->ref;
        t->ref = TR_REF_NONE; // look it up by name again
        t->mon = 0;
        return;
    }
}

static int
pinger_init(tr_ctx *ctx, const void *arg, size_t len)
{
    struct pinger *p = tr_state(ctx);
    if (len != sizeof p->cfg)
        return TR_EINVAL;
    memcpy(&p->cfg, arg, sizeof p->cfg);
    for (unsigned i = 0; i < p->cfg.npeers; i++) {
        struct target *t = &p->t[i];
        memcpy(t->node, p->cfg.peers[i], sizeof t->node);
        t->node[sizeof t->node - 1] = '\0';
        memcpy(t->name, "pinger-", 7); // name has room for node + 7
        memcpy(t->name + 7, t->node, sizeof t->node);
    }
    return tr_send_every(ctx, tr_self(ctx), MSG_TICK, NULL, 0, p->cfg.every_ms,
                         NULL);
}

static int
pinger_receive(tr_ctx *ctx, const tr_msg *m)
{
    struct pinger *p = tr_state(ctx);
    switch (tr_msg_type(m)) {
    case MSG_TICK:
        tick(ctx, p);
        return 0;
    case MSG_PING: // a peer's ping: answer with its sequence number
        // A reply that cannot go (the asker's node was lost meanwhile:
        // TR_ENOCONN) is the asker's loss, not a reason to crash here.
        (void)tr_reply(ctx, m, MSG_PONG, tr_msg_data(m), tr_msg_size(m));
        return 0;
    case TR_MSG_DOWN:
        down(p, m);
        return 0;
    default:
        return TR_EUNHANDLED;
    }
}

static const tr_behavior pinger = {
    .name = "pinger",
    .state_size = sizeof(struct pinger),
    .init = pinger_init,
    .receive = pinger_receive,
};

// --- main ------------------------------------------------------------------

static int
usage(const char *why)
{
    fprintf(stderr,
            "cluster-node: %s\n"
            "usage: cluster-node [--name NAME] [--cluster a,b,c] "
            "[--listen URL] [--seed URL]... [--peer NAME]...\n"
            "       [--every MS] [--deadline MS] [--heartbeat MS] "
            "[--timeout MS] [--run MS]\n",
            why);
    return 2;
}

static int
fail(const char *what, int rc)
{
    fprintf(stderr, "cluster-node %s: %s: %s (%s)\n", me, what, tr_strerror(rc),
            tr_errname(rc));
    return 1;
}

// url_of writes the URL of the node at position `pos` (from 0) of the
// --cluster list.
static void
url_of(char *buf, size_t size, const char *name, unsigned pos)
{
    const char *dir = getenv("CLUSTER_IPC_DIR");
    const char *base = getenv("CLUSTER_PORT_BASE");
    if (dir != NULL && dir[0] != '\0')
        snprintf(buf, size, "ipc://%s/%s", dir, name);
    else
        snprintf(buf, size, "tcp://127.0.0.1:%ld",
                 (base != NULL ? atol(base) : 7400) + (long)pos + 1);
}

int
main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0); // a pipe under the launcher
    const char *name = getenv("TROUPE_NODE_NAME");
    const char *cluster = NULL;
    static char listen[URL_LEN], seed_buf[MAX_PEERS][URL_LEN];
    const char *seeds[MAX_PEERS];
    unsigned nseeds = 0;
    struct pinger_cfg pc = {.every_ms = 500, .deadline_ms = 400};
    int64_t heartbeat = 100, timeout = 1000, run_ms = -1;
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (val == NULL)
            return usage("an option lacks its value");
        i++;
        if (strcmp(opt, "--name") == 0) {
            name = val;
        } else if (strcmp(opt, "--cluster") == 0) {
            cluster = val;
        } else if (strcmp(opt, "--listen") == 0) {
            snprintf(listen, sizeof listen, "%s", val);
        } else if (strcmp(opt, "--seed") == 0 && nseeds < MAX_PEERS) {
            snprintf(seed_buf[nseeds], URL_LEN, "%s", val);
            seeds[nseeds] = seed_buf[nseeds];
            nseeds++;
        } else if (strcmp(opt, "--peer") == 0 && pc.npeers < MAX_PEERS) {
            snprintf(pc.peers[pc.npeers++], TR_NODE_NAME_MAX, "%s", val);
        } else if (strcmp(opt, "--every") == 0) {
            pc.every_ms = atoll(val);
        } else if (strcmp(opt, "--deadline") == 0) {
            pc.deadline_ms = atoll(val);
        } else if (strcmp(opt, "--heartbeat") == 0) {
            heartbeat = atoll(val);
        } else if (strcmp(opt, "--timeout") == 0) {
            timeout = atoll(val);
        } else if (strcmp(opt, "--run") == 0) {
            run_ms = atoll(val);
        } else {
            return usage(opt);
        }
    }
    if (name == NULL || name[0] == '\0')
        return usage("no --name and no TROUPE_NODE_NAME");
    snprintf(me, sizeof me, "%s", name);
    if (pc.every_ms <= 0 || pc.deadline_ms <= 0)
        return usage("--every and --deadline must be positive");

    // --cluster a,b,c: the others are peers and seeds; our own is listen.
    if (cluster != NULL) {
        char list[512];
        snprintf(list, sizeof list, "%s", cluster);
        unsigned pos = 0;
        char *save = NULL;
        for (char *tok = strtok_r(list, ",", &save); tok != NULL;
             tok = strtok_r(NULL, ",", &save), pos++) {
            if (strcmp(tok, me) == 0) {
                if (listen[0] == '\0')
                    url_of(listen, sizeof listen, tok, pos);
            } else if (pc.npeers < MAX_PEERS && nseeds < MAX_PEERS) {
                snprintf(pc.peers[pc.npeers++], TR_NODE_NAME_MAX, "%s", tok);
                url_of(seed_buf[nseeds], URL_LEN, tok, pos);
                seeds[nseeds] = seed_buf[nseeds];
                nseeds++;
            }
        }
    }

    const char *secret = getenv("TROUPE_CLUSTER_SECRET");
    if (secret == NULL || secret[0] == '\0') {
        secret = "troupe cluster demo"; // fine on one machine, nowhere else
        say("no TROUPE_CLUSTER_SECRET: using the demo secret");
    }

    // SIGTERM and SIGINT are blocked before any thread starts, so every
    // thread inherits the mask and only sigtimedwait below takes them.
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);

    tr_system *sys;
    tr_config cfg = {.loops = 1};
    int rc = tr_system_open(&sys, &cfg);
    if (rc != 0)
        return fail("open", rc);
    tr_node_config nc = {
        .name = me,
        .listen = listen[0] != '\0' ? listen : NULL,
        .seeds = seeds,
        .nseeds = nseeds,
        .secret = secret,
        .secret_len = strlen(secret),
        .heartbeat_ms = heartbeat,
        .timeout_ms = timeout,
        .reconnect_min_ms = 50,
        .reconnect_max_ms = 500,
    };
    tr_ref p;
    char reg[TR_NODE_NAME_MAX + 8];
    snprintf(reg, sizeof reg, "pinger-%s", me);
    if ((rc = tr_node_start(sys, &nc)) != 0)
        return fail("node start", rc);
    if ((rc = tr_system_spawn(&p, sys, &pinger, &pc, sizeof pc, NULL)) != 0 ||
        (rc = tr_register(sys, reg, p)) != 0)
        return fail("pinger", rc);
    const char *restarts = getenv("TROUPE_LAUNCH_RESTARTS");
    say("up: listening on %s, %s registered, restarts=%s, pinging every "
        "%lld ms (deadline %lld ms)",
        listen[0] != '\0' ? listen : "-", reg,
        restarts != NULL ? restarts : "-", (long long)pc.every_ms,
        (long long)pc.deadline_ms);

    int sig = 0;
    if (run_ms < 0) {
        sigwait(&stop, &sig);
    } else {
        struct timespec ts = {run_ms / 1000, (run_ms % 1000) * 1000000};
        sig = sigtimedwait(&stop, NULL, &ts);
    }
    say("stopping (%s)", sig == SIGTERM  ? "SIGTERM"
                         : sig == SIGINT ? "SIGINT"
                                         : "--run elapsed");
    tr_stats st;
    if ((rc = tr_system_close(sys, 5000, &st)) != 0)
        return fail("close", rc);
    return st.actors_live == 0 ? 0 : 1;
}
