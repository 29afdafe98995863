// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// chat_load.h: what the parts of chat-load share: the options, the report a
// worker process sends its parent, and the entry points of the worker and
// of the built-in stub server.
#ifndef CHAT_LOAD_H
#define CHAT_LOAD_H

#include <troupe.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CL_MAX_URLS   16
#define CL_MAX_PIDS   8
#define CL_MAX_K      16 // rooms per client
#define CL_MAX_PREFIX 12

// cl_opts is the command line, as parsed by the parent and inherited by
// the workers it forks.
struct cl_opts {
    char host[CL_MAX_URLS][64]; // "127.0.0.1"
    char port[CL_MAX_URLS][8];  // "8080"
    char path[CL_MAX_URLS][64]; // "/ws"
    unsigned nurls;
    unsigned clients;          // N, over all processes
    unsigned rooms;            // M
    unsigned rooms_per_client; // k
    unsigned procs;            // P worker processes
    double rate;               // say messages per second, all processes
    double duration_s;         // measured time
    double warmup_s;           // sending before measuring
    double drain_s;            // after sending stops, before the summary
    double connect_timeout_s;  // for every client to have joined
    unsigned size;             // bytes of text in each say
    unsigned inflight;         // handshakes in flight per process
    bool realtime;             // stamp CLOCK_REALTIME (several machines)
    bool io_epoll;             // --io epoll: sockets on an epoll thread
    char prefix[CL_MAX_PREFIX + 1];
    unsigned run_id; // makes nicknames unique across runs
};

// Error codes the protocol names, then anything else.
#define CL_ERRS(X)                  \
    X(BAD_REQUEST, "bad_request")   \
    X(BAD_UTF8, "bad_utf8")         \
    X(TOO_LARGE, "too_large")       \
    X(NAME_TAKEN, "name_taken")     \
    X(NOT_IN_ROOM, "not_in_room")   \
    X(RATE_LIMITED, "rate_limited") \
    X(OVERLOADED, "overloaded")     \
    X(OTHER, "other")

enum cl_err {
#define CL_X_ENUM(n, s) CL_ERR_##n,
    CL_ERRS(CL_X_ENUM)
#undef CL_X_ENUM
        CL_ERR_N
};

// Close codes counted apart; CL_CLOSE_NONE is a connection that ended
// without a close frame (reset, EOF), CL_CLOSE_OTHER any other code.
#define CL_CLOSES(X) \
    X(1000) X(1001) X(1002) X(1003) X(1006) X(1007) X(1008) X(1009) X(1011)

enum cl_close {
#define CL_X_CLOSE(c) CL_CLOSE_##c,
    CL_CLOSES(CL_X_CLOSE)
#undef CL_X_CLOSE
        CL_CLOSE_OTHER,
    CL_CLOSE_NONE,
    CL_CLOSE_N
};

// cl_report is what a worker writes to its pipe whenever the parent asks:
// counters since the worker started (gauges for connected and ready), so
// the parent takes differences between two reports. Parent and workers are
// the same binary, so the layout is shared as it is.
struct cl_report {
    uint32_t worker;
    uint32_t nrooms;    // room tails that follow a final report, else 0
    uint64_t clients;   // this worker's share of N
    uint64_t connected; // gauge: upgraded and not closed
    uint64_t ready;     // gauge: joined every room, not closed
    uint64_t dial_failed;
    uint64_t handshake_failed; // upgrade refused, timed out, or a join failed
    uint64_t closed;           // closed after the upgrade
    uint64_t dropped;          // of them, closed after joining
    uint64_t sent;
    uint64_t send_skipped; // due but no ready client could take it
    uint64_t delivered;    // msg events received (echoes included)
    uint64_t echoed;       // of them, a sender's own message
    uint64_t lost;         // seq gaps seen by receivers
    uint64_t reordered;    // a seq at or below the last one seen
    uint64_t presence;
    uint64_t bad_frames; // not JSON, or an unexpected event
    uint64_t clock_skew; // stamps from the future (clocks of two machines)
    uint64_t bytes_in;
    uint64_t errors[CL_ERR_N];
    uint64_t closes[CL_CLOSE_N];
    uint64_t rss_kb;    // this process's VmRSS
    uint64_t cpu_ticks; // its utime + stime, in clock ticks
    tr_hist deliver;    // stamp -> arrival at every receiver, ns
    tr_hist echo;       // stamp -> arrival of the sender's own copy, ns
};

// cl_room_tail is one room as a worker's clients saw it at the end: the
// highest seq any of them got, and the sum of each member's last seq, so
// the parent can count messages some members never received.
struct cl_room_tail {
    uint64_t max_seq;
    uint64_t sum_last;
    uint64_t members;
};

// Commands from the parent to a worker, one byte each on its control pipe.
enum {
    CL_CMD_REPORT = 'R', // write a cl_report now
    CL_CMD_GO = 'G',     // start sending
    CL_CMD_STOP = 'S',   // stop sending
    CL_CMD_QUIT = 'Q',   // write the final report and room tails, exit
};

// cl_worker_main runs worker `w` of o->procs: it opens its share of the
// clients and obeys commands on `ctl_fd` until told to quit (or the pipe
// closes), writing reports to `rep_fd`. Returns the process exit status.
int cl_worker_main(const struct cl_opts *o, unsigned w, int ctl_fd, int rep_fd);

// cl_stub_main serves a small chat stub on ws://127.0.0.1:port/ws (see
// stub.c; port 0: a free one) until SIGTERM or SIGINT. Once it listens it
// writes the port, an unsigned, to `ready_fd` (if >= 0). Returns the
// process exit status.
int cl_stub_main(unsigned port, int ready_fd);

// cl_hist_add counts `ns` into the histogram buckets `b` (TR_HIST_BUCKETS
// atomic counters), the same buckets tr_hist uses. Thread: any.
void cl_hist_add(_Atomic uint64_t *b, _Atomic uint64_t *max, uint64_t ns);

// cl_stamp_ns returns the clock messages are stamped with.
int64_t cl_stamp_ns(bool realtime);

#endif // CHAT_LOAD_H
