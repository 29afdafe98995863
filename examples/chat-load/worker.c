// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// worker.c: one chat-load worker process: its share of the clients, each a
// WebSocket connection driven by nng aio callbacks, and a troupe actor, the
// pacer, that opens connections at a bounded pace and sends at the rate.
//
// Design notes
//
// - The WebSocket client is written here over nng's plain TCP streams, not
//   nng's own ws:// stream dialer. In nng 1.5.2 that dialer reads each frame
//   with two or three unbuffered reads (header, length, payload), each one a
//   completion handed to nng's task threads, and it does not expose the
//   close code a server sends. Here one read takes whatever the socket has
//   (often several frames under load) and the close code is counted. The
//   protocol needed by a client is small: one upgrade request, masked
//   frames out, unmasked frames in, ping/pong and close.
// - Frames are handled in the receive callback, on nng's task threads, one
//   completion per client at a time (one receive in flight). Handing every
//   frame to an actor would add a copy and a mailbox hop per delivery for
//   nothing: the callback only parses and counts. The pacer is an actor
//   because it is what actors are good at: a timer and a little state.
// - Each client has one lock (c->mtx), held by the receive callback for the
//   whole completion, by the send callback, and by the pacer while it
//   queues a frame. Outgoing frames are appended to `pend`; while `fly` is
//   on the wire, `pend` collects the next batch (double buffering), so a
//   client never has more than one send in flight.
// - Counters are per-process relaxed atomics; the parent only ever reads
//   differences between two reports.
// - `--io epoll` swaps nng's streams for plain non-blocking sockets on one
//   epoll thread per process (level-triggered reads, a write straight from
//   the caller, EPOLLOUT only while a write is short). With nng 1.5.2 each
//   receive passes from its poller thread to a task thread and each new
//   receive first tries a read and re-arms the poller: about three times
//   the CPU per delivery of one read here, which matters when the client
//   shares the machine with the server it measures. Everything above the
//   byte level (frames, the protocol, the counts) is the same code.
#define _POSIX_C_SOURCE 200809L
#include "chat_load.h"

#include <troupe.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <mbedtls/base64.h>
#include <mbedtls/sha1.h>
#include <nng/nng.h>

#define RBUF_MIN     2048         // receive buffer of an idle client
#define RBUF_KEEP    (64 * 1024)  // larger buffers shrink back when empty
#define HEADERS_MAX  8192         // the server's upgrade response
#define FRAME_MAX    (16u << 20)  // larger frames are a protocol error
#define PEND_MAX     (256 * 1024) // a client this far behind skips sends
#define DIAL_MS      10000
#define HANDSHAKE_MS 30000 // each read before the client has joined
#define TICK_MS      5
#define EP_ROUND_NS  500000 // --io epoll: the epoll thread's pause
#define SAY_MAX      2300
#define WS_GUID      "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// --- counters ---------------------------------------------------------------

struct live {
    _Atomic uint64_t connected, ready, dial_failed, handshake_failed, closed,
        dropped, sent, send_skipped, delivered, echoed, lost, reordered,
        presence, bad_frames, clock_skew, bytes_in;
    _Atomic uint64_t errors[CL_ERR_N];
    _Atomic uint64_t closes[CL_CLOSE_N];
    _Atomic uint64_t deliver[TR_HIST_BUCKETS], deliver_max, deliver_sum;
    _Atomic uint64_t echo[TR_HIST_BUCKETS], echo_max, echo_sum;
};

static struct live L;

#define ADD(f, n) atomic_fetch_add_explicit(&L.f, (n), memory_order_relaxed)
#define SUB(f, n) atomic_fetch_sub_explicit(&L.f, (n), memory_order_relaxed)
#define GET(f)    atomic_load_explicit(&L.f, memory_order_relaxed)

// The upper bound of each tr_hist bucket, for a binary search: the runtime
// owns the bucket layout, so it is asked rather than restated here.
static uint64_t hist_bound[TR_HIST_BUCKETS];

static void
hist_init(void)
{
    for (unsigned i = 0; i < TR_HIST_BUCKETS; i++)
        hist_bound[i] = tr_hist_bucket_max_ns(i);
}

void
cl_hist_add(_Atomic uint64_t *b, _Atomic uint64_t *max, uint64_t ns)
{
    unsigned lo = 0, hi = TR_HIST_BUCKETS - 1;
    while (lo < hi) { // the first bucket whose bound is >= ns
        unsigned mid = (lo + hi) / 2;
        if (hist_bound[mid] >= ns)
            hi = mid;
        else
            lo = mid + 1;
    }
    atomic_fetch_add_explicit(&b[lo], 1, memory_order_relaxed);
    uint64_t m = atomic_load_explicit(max, memory_order_relaxed);
    while (ns > m &&
           !atomic_compare_exchange_weak_explicit(
               max, &m, ns, memory_order_relaxed, memory_order_relaxed))
        ;
}

static void
hist_snap(tr_hist *out, _Atomic uint64_t *b, _Atomic uint64_t *max,
          _Atomic uint64_t *sum)
{
    out->count = 0;
    for (unsigned i = 0; i < TR_HIST_BUCKETS; i++) {
        out->bucket[i] = atomic_load_explicit(&b[i], memory_order_relaxed);
        out->count += out->bucket[i];
    }
    out->max_ns = atomic_load_explicit(max, memory_order_relaxed);
    out->sum_ns = atomic_load_explicit(sum, memory_order_relaxed);
}

int64_t
cl_stamp_ns(bool realtime)
{
    struct timespec ts;
    clock_gettime(realtime ? CLOCK_REALTIME : CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

// --- clients ---------------------------------------------------------------

enum cstate {
    C_IDLE = 0,
    C_DIALING,
    C_UPGRADING,
    C_WELCOME, // upgraded, waiting for welcome
    C_NICK,    // nick sent
    C_JOINING, // joins sent
    C_READY,   // in every room
    C_DONE,    // closed or failed
};

struct croom {
    uint32_t room;
    bool joined;
    uint64_t last; // the last seq received in this room
};

struct worker;

struct client {
    pthread_mutex_t mtx;
    struct worker *w;
    struct croom *room; // rooms_per_client entries, in w->croom
    nng_stream *s;
    nng_aio *rx, *tx;
    int fd;         // --io epoll: the socket (-1: none)
    uint32_t ev;    // --io epoll: the events asked of epoll
    bool rx_on;     // --io epoll: a receive is wanted (post_recv)
    int64_t due_ns; // --io epoll: the dial or handshake read times out
    uint32_t id;    // global, 0 .. N-1
    uint8_t state;
    uint8_t njoined;
    bool pending;   // counted in w->pending (a handshake in flight)
    bool dialing;   // a dial is in flight on rx
    bool s_closed;  // nng_stream_close called
    bool lingering; // closing once the queued close frame is written
    bool inmsg;     // between the first and the last frame of a message
    uint32_t rnd;   // xorshift32, for masks and the upgrade key
    uint64_t said;
    uint8_t *rbuf;
    uint32_t rlen, rcap;
    uint8_t *msg; // a fragmented message being joined
    uint32_t mlen, mcap;
    uint8_t *pend, *fly;
    uint32_t plen, pcap, flen, fcap, foff;
    bool txbusy;
    char accept[32]; // the Sec-WebSocket-Accept the server must send
};

struct worker {
    const struct cl_opts *o;
    unsigned index;
    uint32_t first, n; // this worker's clients: ids first .. first+n-1
    struct client *cl;
    struct croom *croom;
    nng_stream_dialer *dialer[CL_MAX_URLS];
    struct sockaddr_storage sa[CL_MAX_URLS]; // --io epoll: where to dial
    socklen_t salen[CL_MAX_URLS];
    int ep, evfd; // --io epoll: the epoll set; wakes the thread to stop
    pthread_t iot;
    bool iot_on;
    _Atomic uint32_t pending; // handshakes in flight
    _Atomic bool stopping;
    _Atomic int first_err; // the first failure is printed, not the rest
    size_t prefix_len;
    char pad[SAY_MAX];
};

static uint32_t
xorshift(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

static void
note_err(struct worker *w, const char *what, const char *detail)
{
    int expect = 0;
    if (atomic_compare_exchange_strong(&w->first_err, &expect, 1))
        fprintf(stderr, "chat-load: worker %u: %s: %s (first such error)\n",
                w->index, what, detail);
}

static void
pending_done(struct client *c)
{
    if (c->pending) {
        c->pending = false;
        atomic_fetch_sub_explicit(&c->w->pending, 1, memory_order_relaxed);
    }
}

static int
grow(uint8_t **buf, uint32_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 256;
    while (n < need)
        n *= 2;
    uint8_t *p = realloc(*buf, n);
    if (p == NULL)
        return -1;
    *buf = p;
    *cap = (uint32_t)n;
    return 0;
}

static void tx_kick(struct client *c);

// has_conn: the client has a connection that is not closed (with nng: a
// stream; with --io epoll: a socket, perhaps still connecting).
static bool
has_conn(const struct client *c)
{
    return (c->s != NULL || c->fd >= 0) && !c->s_closed;
}

// ep_want (--io epoll) asks epoll for what the client waits on now: input
// while a receive is wanted, output while a dial or a short write is.
static void
ep_want(struct client *c)
{
    if (c->fd < 0 || c->s_closed)
        return;
    uint32_t ev =
        (c->rx_on ? EPOLLIN : 0u) | (c->txbusy || c->dialing ? EPOLLOUT : 0u);
    if (ev != c->ev) {
        struct epoll_event e = {.events = ev, .data.ptr = c};
        (void)epoll_ctl(c->w->ep, EPOLL_CTL_MOD, c->fd, &e);
        c->ev = ev;
    }
}

static void
close_stream(struct client *c)
{
    if (!has_conn(c))
        return;
    c->s_closed = true;
    if (c->s != NULL) {
        nng_stream_close(c->s);
    } else { // --io epoll: events already taken find s_closed
        (void)epoll_ctl(c->w->ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
    }
}

static int
close_index(unsigned code)
{
    switch (code) {
#define CL_X_CASE(n) \
    case n:          \
        return CL_CLOSE_##n;
        CL_CLOSES(CL_X_CASE)
#undef CL_X_CASE
    default:
        return CL_CLOSE_OTHER;
    }
}

// conn_end: the connection is over (a close frame, an error, a failed
// handshake). `close` is the cl_close index to count, or -1 when the
// connection never got upgraded. Call with c->mtx held.
static void
conn_end(struct client *c, int close)
{
    if (c->state == C_DONE)
        return;
    bool stopping = atomic_load(&c->w->stopping);
    if (c->state >= C_WELCOME) {
        SUB(connected, 1);
        if (!stopping) {
            ADD(closed, 1);
            if (close >= 0)
                ADD(closes[close], 1);
        }
    }
    if (c->state == C_READY) {
        SUB(ready, 1);
        if (!stopping)
            ADD(dropped, 1);
    } else if (!stopping) {
        ADD(handshake_failed, 1);
    }
    pending_done(c);
    c->state = C_DONE;
    if (!c->lingering || !c->txbusy)
        close_stream(c);
}

// tx_frame queues one masked frame. Call with c->mtx held.
static void
tx_frame(struct client *c, unsigned op, const void *data, size_t len)
{
    if (!has_conn(c) || grow(&c->pend, &c->pcap, c->plen + len + 14) != 0)
        return;
    uint8_t *h = c->pend + c->plen;
    size_t hl = 2;
    h[0] = (uint8_t)(0x80 | op);
    if (len < 126) {
        h[1] = (uint8_t)(0x80 | len);
    } else if (len < 65536) {
        h[1] = 0x80 | 126;
        h[2] = (uint8_t)(len >> 8);
        h[3] = (uint8_t)len;
        hl = 4;
    } else {
        h[1] = 0x80 | 127;
        for (int i = 0; i < 8; i++)
            h[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
        hl = 10;
    }
    uint32_t m = xorshift(&c->rnd);
    uint8_t *mask = h + hl;
    memcpy(mask, &m, 4);
    hl += 4;
    const uint8_t *src = data;
    uint8_t *dst = h + hl;
    for (size_t i = 0; i < len; i++)
        dst[i] = src[i] ^ mask[i & 3];
    c->plen += (uint32_t)(hl + len);
    tx_kick(c);
}

static void
tx_raw(struct client *c, const void *data, size_t len)
{
    if (grow(&c->pend, &c->pcap, c->plen + len) != 0)
        return;
    memcpy(c->pend + c->plen, data, len);
    c->plen += (uint32_t)len;
    tx_kick(c);
}

static void tx_done(struct client *c, int rv, size_t n);

// tx_send sends what is in flight: an nng send, or (--io epoll) a write
// now, the rest of a short one when EPOLLOUT comes.
static void
tx_send(struct client *c)
{
    if (c->s != NULL) {
        nng_iov iov = {.iov_buf = c->fly + c->foff,
                       .iov_len = c->flen - c->foff};
        nng_aio_set_iov(c->tx, 1, &iov);
        nng_stream_send(c->s, c->tx);
        return;
    }
    ssize_t n = send(c->fd, c->fly + c->foff, c->flen - c->foff, MSG_NOSIGNAL);
    if (n > 0)
        tx_done(c, 0, (size_t)n);
    else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        ep_want(c); // txbusy: wait for EPOLLOUT
    else
        tx_done(c, n < 0 ? NNG_ESYSERR | errno : NNG_ECLOSED, 0);
}

// tx_kick puts the pending bytes on the wire unless a send is in flight.
static void
tx_kick(struct client *c)
{
    if (c->txbusy || c->plen == 0 || !has_conn(c) || c->dialing)
        return;
    uint8_t *b = c->fly;
    uint32_t cap = c->fcap;
    c->fly = c->pend;
    c->fcap = c->pcap;
    c->flen = c->plen;
    c->foff = 0;
    c->pend = b;
    c->pcap = cap;
    c->plen = 0;
    c->txbusy = true;
    tx_send(c);
}

// tx_done: a send of n bytes finished (rv 0) or failed. Call with c->mtx
// held.
static void
tx_done(struct client *c, int rv, size_t n)
{
    if (rv != 0) {
        c->txbusy = false;
        c->plen = 0;
        c->lingering = false;
        conn_end(c, CL_CLOSE_NONE);
        close_stream(c);
        return;
    }
    c->foff += (uint32_t)n;
    if (c->foff < c->flen) {
        tx_send(c); // a partial write: send the rest
    } else {
        c->txbusy = false;
        c->flen = 0;
        tx_kick(c);
        if (!c->txbusy && c->state == C_DONE)
            close_stream(c); // the close frame is out
        ep_want(c);
    }
}

static void
tx_cb(void *arg)
{
    struct client *c = arg;
    pthread_mutex_lock(&c->mtx);
    tx_done(c, nng_aio_result(c->tx), nng_aio_count(c->tx));
    pthread_mutex_unlock(&c->mtx);
}

static void
post_recv(struct client *c)
{
    if (c->rcap - c->rlen < 512 &&
        grow(&c->rbuf, &c->rcap, (size_t)c->rlen + 512) != 0) {
        conn_end(c, CL_CLOSE_NONE);
        return;
    }
    if (c->s == NULL) { // --io epoll: the I/O thread reads
        c->rx_on = true;
        c->due_ns = c->state == C_READY
                        ? 0
                        : cl_stamp_ns(false) + (int64_t)HANDSHAKE_MS * 1000000;
        ep_want(c);
        return;
    }
    nng_iov iov = {.iov_buf = c->rbuf + c->rlen, .iov_len = c->rcap - c->rlen};
    nng_aio_set_iov(c->rx, 1, &iov);
    nng_aio_set_timeout(c->rx, c->state == C_READY ? NNG_DURATION_INFINITE
                                                   : HANDSHAKE_MS);
    nng_stream_recv(c->s, c->rx);
}

// --- the chat protocol -----------------------------------------------------

// Names: the prefix (checked by the parent to hold only letters, digits
// and "-_."), then digits. So every string put into JSON below is made of
// characters that JSON never escapes, and fixed templates suffice.

static void
send_nick(struct client *c)
{
    const struct cl_opts *o = c->w->o;
    char buf[128];
    int n = snprintf(buf, sizeof buf, "{\"op\":\"nick\",\"name\":\"%s%u-%u\"}",
                     o->prefix, o->run_id, c->id);
    tx_frame(c, 1, buf, (size_t)n);
}

static void
send_joins(struct client *c)
{
    const struct cl_opts *o = c->w->o;
    for (unsigned j = 0; j < o->rooms_per_client; j++) {
        char buf[128];
        int n =
            snprintf(buf, sizeof buf, "{\"op\":\"join\",\"room\":\"%sr%u\"}",
                     o->prefix, c->room[j].room);
        tx_frame(c, 1, buf, (size_t)n);
    }
}

// send_say queues one say to the client's next room, stamped now.
static void
send_say(struct client *c)
{
    struct worker *w = c->w;
    const struct cl_opts *o = w->o;
    struct croom *r = &c->room[c->said % o->rooms_per_client];
    char buf[SAY_MAX + 200];
    long long stamp = (long long)cl_stamp_ns(o->realtime);
    char head[32];
    int hn = snprintf(head, sizeof head, "t%lld", stamp);
    int pad = (int)o->size - hn - 1;
    if (pad < 0)
        pad = 0;
    int n = snprintf(buf, sizeof buf,
                     "{\"op\":\"say\",\"room\":\"%sr%u\",\"text\":\"%s %.*s\","
                     "\"id\":\"%llu\"}",
                     o->prefix, r->room, head, pad, w->pad,
                     (unsigned long long)c->said);
    c->said++;
    tx_frame(c, 1, buf, (size_t)n);
    ADD(sent, 1);
}

static struct croom *
find_room(struct client *c, const char *name)
{
    struct worker *w = c->w;
    if (name == NULL || strncmp(name, w->o->prefix, w->prefix_len) != 0 ||
        name[w->prefix_len] != 'r')
        return NULL;
    char *end;
    unsigned long idx = strtoul(name + w->prefix_len + 1, &end, 10);
    if (*end != '\0')
        return NULL;
    for (unsigned j = 0; j < w->o->rooms_per_client; j++)
        if (c->room[j].room == idx)
            return &c->room[j];
    return NULL;
}

static void
on_msg(struct client *c, json_t *j)
{
    struct croom *r =
        find_room(c, json_string_value(json_object_get(j, "room")));
    json_t *seqj = json_object_get(j, "seq");
    if (r == NULL || !r->joined || !json_is_integer(seqj)) {
        ADD(bad_frames, 1);
        return;
    }
    uint64_t seq = (uint64_t)json_integer_value(seqj);
    if (seq == r->last + 1) {
        r->last = seq;
    } else if (seq > r->last) {
        ADD(lost, seq - r->last - 1);
        r->last = seq;
    } else {
        ADD(reordered, 1);
    }
    ADD(delivered, 1);
    bool mine = json_object_get(j, "id") != NULL;
    if (mine)
        ADD(echoed, 1);
    const char *text = json_string_value(json_object_get(j, "text"));
    if (text == NULL || text[0] != 't')
        return; // not one of ours: no stamp to measure from
    char *end;
    long long stamp = strtoll(text + 1, &end, 10);
    if (end == text + 1 || (*end != ' ' && *end != '\0'))
        return;
    int64_t d = cl_stamp_ns(c->w->o->realtime) - stamp;
    if (d < 0) {
        ADD(clock_skew, 1);
        d = 0;
    }
    cl_hist_add(L.deliver, &L.deliver_max, (uint64_t)d);
    ADD(deliver_sum, (uint64_t)d);
    if (mine) {
        cl_hist_add(L.echo, &L.echo_max, (uint64_t)d);
        ADD(echo_sum, (uint64_t)d);
    }
}

static void
on_joined(struct client *c, json_t *j)
{
    struct croom *r =
        find_room(c, json_string_value(json_object_get(j, "room")));
    if (r == NULL) {
        ADD(bad_frames, 1);
        return;
    }
    json_t *h = json_object_get(j, "history");
    size_t n = json_array_size(h);
    uint64_t last = 0;
    if (n > 0)
        last = (uint64_t)json_integer_value(
            json_object_get(json_array_get(h, n - 1), "seq"));
    if (!r->joined) {
        r->joined = true;
        c->njoined++;
    }
    // A second `joined` (the room was created twice at once on two nodes,
    // and ours lost its name) starts the order afresh from its history.
    r->last = last;
    if (c->state == C_JOINING && c->njoined == c->w->o->rooms_per_client) {
        c->state = C_READY;
        ADD(ready, 1);
        pending_done(c);
    }
}

static void
on_error(struct client *c, json_t *j)
{
    const char *code = json_string_value(json_object_get(j, "code"));
    static const char *const names[] = {
#define CL_X_NAME(n, s) s,
        CL_ERRS(CL_X_NAME)
#undef CL_X_NAME
    };
    int i = CL_ERR_OTHER;
    for (int k = 0; code != NULL && k < CL_ERR_OTHER; k++)
        if (strcmp(code, names[k]) == 0)
            i = k;
    ADD(errors[i], 1);
    if (c->state < C_READY) { // refused while joining: give up on it
        note_err(c->w, "refused while joining", code ? code : "?");
        c->lingering = true;
        tx_frame(c, 8, "\x03\xe8", 2);
        conn_end(c, -1);
    }
}

// on_text handles one complete text message.
static void
on_text(struct client *c, const uint8_t *p, size_t len)
{
    json_error_t e;
    json_t *j = json_loadb((const char *)p, len, 0, &e);
    const char *ev = json_string_value(json_object_get(j, "ev"));
    if (ev == NULL) {
        ADD(bad_frames, 1);
    } else if (strcmp(ev, "msg") == 0) {
        on_msg(c, j);
    } else if (strcmp(ev, "presence") == 0) {
        ADD(presence, 1);
    } else if (strcmp(ev, "welcome") == 0) {
        if (c->state == C_WELCOME) {
            c->state = C_NICK;
            send_nick(c);
        }
    } else if (strcmp(ev, "nick") == 0) {
        if (c->state == C_NICK) {
            c->state = C_JOINING;
            send_joins(c);
        }
    } else if (strcmp(ev, "joined") == 0) {
        on_joined(c, j);
    } else if (strcmp(ev, "error") == 0) {
        on_error(c, j);
    } else if (strcmp(ev, "left") != 0 && strcmp(ev, "rooms") != 0 &&
               strcmp(ev, "who") != 0) {
        ADD(bad_frames, 1);
    }
    json_decref(j);
}

// on_frame handles one frame; returns -1 once the connection is over.
static int
on_frame(struct client *c, bool fin, unsigned op, const uint8_t *p, size_t len)
{
    switch (op) {
    case 0: // continuation
    case 1: // text
    case 2: // binary
        if ((op == 0) != c->inmsg)
            goto protocol;
        if (op == 0 || !fin) {
            if (grow(&c->msg, &c->mcap, (size_t)c->mlen + len) != 0)
                goto protocol;
            if (op != 0)
                c->mlen = 0;
            memcpy(c->msg + c->mlen, p, len);
            c->mlen += (uint32_t)len;
            c->inmsg = !fin;
            if (fin)
                on_text(c, c->msg, c->mlen);
        } else if (op == 1) {
            on_text(c, p, len);
        } else {
            ADD(bad_frames, 1); // the protocol has no binary server frames
        }
        return c->state == C_DONE ? -1 : 0;
    case 8: { // close: answer it, then close the stream
        unsigned code = len >= 2 ? (unsigned)p[0] << 8 | p[1] : 1005;
        c->lingering = true;
        tx_frame(c, 8, p, len >= 2 ? 2 : 0);
        conn_end(c, close_index(code));
        return -1;
    }
    case 9: // ping
        tx_frame(c, 10, p, len);
        return 0;
    case 10: // pong
        return 0;
    default:
        break;
    }
protocol:
    note_err(c->w, "protocol", "a bad frame from the server");
    conn_end(c, CL_CLOSE_1002);
    return -1;
}

// on_frames handles every complete frame in the receive buffer and keeps
// the rest for the next read. Returns -1 once the connection is over.
static int
on_frames(struct client *c)
{
    uint8_t *p = c->rbuf;
    size_t avail = c->rlen, off = 0, need = 0;
    int rc = 0;
    while (avail - off >= 2) {
        const uint8_t *h = p + off;
        size_t hl = 2;
        uint64_t len = h[1] & 0x7f;
        if (len == 126) {
            if (avail - off < 4)
                break;
            len = (uint64_t)h[2] << 8 | h[3];
            hl = 4;
        } else if (len == 127) {
            if (avail - off < 10)
                break;
            len = 0;
            for (int i = 0; i < 8; i++)
                len = len << 8 | h[2 + i];
            hl = 10;
        }
        if ((h[1] & 0x80) != 0 || len > FRAME_MAX) { // servers never mask
            note_err(c->w, "protocol", "a masked or huge frame");
            conn_end(c, CL_CLOSE_1002);
            return -1;
        }
        if (avail - off < hl + len) {
            need = hl + (size_t)len;
            break;
        }
        rc = on_frame(c, (h[0] & 0x80) != 0, h[0] & 0x0f, h + hl, len);
        off += hl + (size_t)len;
        if (rc != 0)
            return rc;
    }
    c->rlen = (uint32_t)(avail - off);
    if (off > 0 && c->rlen > 0)
        memmove(p, p + off, c->rlen);
    if (need > c->rcap && grow(&c->rbuf, &c->rcap, need) != 0) {
        conn_end(c, CL_CLOSE_NONE);
        return -1;
    }
    if (c->rlen == 0 && c->rcap > RBUF_KEEP) {
        uint8_t *small = realloc(c->rbuf, RBUF_MIN);
        if (small != NULL) {
            c->rbuf = small;
            c->rcap = RBUF_MIN;
        }
    }
    return 0;
}

// --- the upgrade ------------------------------------------------------------

static void
send_upgrade(struct client *c)
{
    const struct cl_opts *o = c->w->o;
    unsigned u = c->id % o->nurls;
    uint8_t nonce[16];
    for (int i = 0; i < 16; i += 4) {
        uint32_t r = xorshift(&c->rnd);
        memcpy(nonce + i, &r, 4);
    }
    unsigned char key[32], sha[20];
    size_t klen = 0, alen = 0;
    char cat[64];
    mbedtls_base64_encode(key, sizeof key - 1, &klen, nonce, sizeof nonce);
    key[klen] = '\0';
    int n = snprintf(cat, sizeof cat, "%s%s", (char *)key, WS_GUID);
    mbedtls_sha1_ret((unsigned char *)cat, (size_t)n, sha);
    mbedtls_base64_encode((unsigned char *)c->accept, sizeof c->accept - 1,
                          &alen, sha, sizeof sha);
    c->accept[alen] = '\0';
    char req[512];
    n = snprintf(req, sizeof req,
                 "GET %s HTTP/1.1\r\nHost: %s:%s\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                 "Sec-WebSocket-Version: 13\r\n\r\n",
                 o->path[u], o->host[u], o->port[u], (char *)key);
    tx_raw(c, req, (size_t)n);
}

// on_upgrade checks the server's answer: 1 when upgraded (the frames that
// follow stay in the buffer), 0 to read more, -1 on failure.
static int
on_upgrade(struct client *c)
{
    char *p = (char *)c->rbuf;
    size_t end = 0;
    for (size_t i = 3; i < c->rlen; i++)
        if (memcmp(p + i - 3, "\r\n\r\n", 4) == 0) {
            end = i + 1;
            break;
        }
    if (end == 0)
        return c->rlen >= HEADERS_MAX ? -1 : 0;
    p[end - 1] = '\0'; // the last '\n'; the frames start after it
    if (strncmp(p, "HTTP/1.1 101", 12) != 0) {
        char *eol = strchr(p, '\r');
        if (eol != NULL)
            *eol = '\0';
        note_err(c->w, "upgrade refused", p);
        return -1;
    }
    bool ok = false;
    for (char *line = strchr(p, '\n'); line != NULL;
         line = strchr(line + 1, '\n')) {
        const char *k = "Sec-WebSocket-Accept:";
        if (strncasecmp(line + 1, k, strlen(k)) != 0)
            continue;
        char *v = line + 1 + strlen(k);
        while (*v == ' ' || *v == '\t')
            v++;
        size_t al = strlen(c->accept);
        ok = strncmp(v, c->accept, al) == 0 &&
             (v[al] == '\r' || v[al] == ' ' || v[al] == '\t');
    }
    if (!ok) {
        note_err(c->w, "upgrade", "missing or wrong Sec-WebSocket-Accept");
        return -1;
    }
    c->rlen -= (uint32_t)end;
    memmove(c->rbuf, c->rbuf + end, c->rlen);
    return 1;
}

// dial_done: the connection is up (rv 0) or not. Call with c->mtx held.
static void
dial_done(struct client *c, int rv)
{
    c->dialing = false;
    if (rv != 0) {
        if (c->state == C_DIALING) {
            ADD(dial_failed, 1);
            note_err(c->w, "dial", nng_strerror(rv));
            pending_done(c);
            c->state = C_DONE;
        }
        close_stream(c);                // --io epoll: the socket
    } else if (c->state != C_DIALING) { // closed while dialling
        close_stream(c);
    } else {
        c->state = C_UPGRADING;
        send_upgrade(c);
        post_recv(c);
    }
}

// rx_done: a read of n bytes finished (rv 0) or failed. Call with c->mtx
// held.
static void
rx_done(struct client *c, int rv, size_t n)
{
    if (c->state == C_DONE)
        return;
    if (rv != 0) {
        if (c->state < C_READY && !atomic_load(&c->w->stopping))
            note_err(c->w, "handshake", nng_strerror(rv));
        conn_end(c, CL_CLOSE_NONE);
        return;
    }
    c->rlen += (uint32_t)n;
    ADD(bytes_in, n);
    if (c->state == C_UPGRADING) {
        int up = on_upgrade(c);
        if (up < 0) {
            conn_end(c, -1);
            return;
        }
        if (up > 0) {
            c->state = C_WELCOME;
            ADD(connected, 1);
        }
    }
    if (c->state == C_UPGRADING || on_frames(c) == 0)
        post_recv(c);
}

// rx_cb completes an nng dial or read.
static void
rx_cb(void *arg)
{
    struct client *c = arg;
    pthread_mutex_lock(&c->mtx);
    int rv = nng_aio_result(c->rx);
    if (c->dialing) {
        if (rv == 0)
            c->s = nng_aio_get_output(c->rx, 0);
        dial_done(c, rv);
    } else {
        rx_done(c, rv, nng_aio_count(c->rx));
    }
    pthread_mutex_unlock(&c->mtx);
}

// --- --io epoll: sockets on one thread ---------------------------------------

// ep_dial starts a non-blocking connect; EPOLLOUT tells when it is done.
// Returns 0 or an nng error code.
static int
ep_dial(struct client *c)
{
    struct worker *w = c->w;
    unsigned u = c->id % w->o->nurls;
    int fd = socket(w->sa[u].ss_family,
                    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return NNG_ESYSERR | errno;
    int one = 1; // as with nng: a say leaves at once
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct epoll_event e = {.events = EPOLLOUT, .data.ptr = c};
    if ((connect(fd, (struct sockaddr *)&w->sa[u], w->salen[u]) != 0 &&
         errno != EINPROGRESS) ||
        epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &e) != 0) {
        int rv = NNG_ESYSERR | errno;
        close(fd);
        return rv;
    }
    c->fd = fd;
    c->ev = EPOLLOUT;
    return 0;
}

// ep_event handles what epoll reported for one client.
static void
ep_event(struct client *c, uint32_t events)
{
    pthread_mutex_lock(&c->mtx);
    if (!has_conn(c)) {
        // closed after epoll_wait took the event
    } else if (c->dialing) {
        int err = 0;
        socklen_t l = sizeof err;
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l) != 0)
            err = errno;
        dial_done(c, err != 0 ? NNG_ESYSERR | err : 0);
    } else {
        const uint32_t bad = EPOLLERR | EPOLLHUP;
        if (c->txbusy && (events & (EPOLLOUT | bad)))
            tx_send(c);
        if (c->rx_on && (events & (EPOLLIN | bad)) && has_conn(c)) {
            c->rx_on = false;
            ssize_t k = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen, 0);
            if (k > 0)
                rx_done(c, 0, (size_t)k);
            else if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                c->rx_on = true;
            else
                rx_done(c, k < 0 ? NNG_ESYSERR | errno : NNG_ECLOSED, 0);
        }
        // Nothing wanted and the socket failed: nobody else will look.
        if (!c->rx_on && !c->txbusy && (events & bad))
            close_stream(c);
        ep_want(c);
    }
    pthread_mutex_unlock(&c->mtx);
}

// ep_timeouts ends dials and handshake reads past their time.
static void
ep_timeouts(struct worker *w, int64_t now)
{
    for (uint32_t i = 0; i < w->n; i++) {
        struct client *c = &w->cl[i];
        pthread_mutex_lock(&c->mtx);
        if (c->due_ns != 0 && now >= c->due_ns && has_conn(c)) {
            c->due_ns = 0;
            if (c->dialing) {
                dial_done(c, NNG_ETIMEDOUT);
            } else if (c->rx_on) {
                c->rx_on = false;
                rx_done(c, NNG_ETIMEDOUT, 0);
                ep_want(c);
            }
        }
        pthread_mutex_unlock(&c->mtx);
    }
}

static void *
ep_main(void *arg)
{
    struct worker *w = arg;
    struct epoll_event ev[256];
    int64_t scan = 0;
    for (;;) {
        int n = epoll_wait(w->ep, ev, 256, 100);
        if (n < 0 && errno != EINTR)
            break;
        for (int i = 0; i < n; i++) {
            if (ev[i].data.ptr == NULL) // w->evfd: stop
                return NULL;
            ep_event(ev[i].data.ptr, ev[i].events);
        }
        if (n > 0) { // a round at most every EP_ROUND_NS: see above
            struct timespec ts = {0, EP_ROUND_NS};
            nanosleep(&ts, NULL);
        }
        int64_t now = cl_stamp_ns(false);
        if (now >= scan &&
            atomic_load_explicit(&w->pending, memory_order_relaxed) != 0) {
            scan = now + 100 * 1000000;
            ep_timeouts(w, now);
        }
    }
    return NULL;
}

static void
start_dial(struct client *c)
{
    struct worker *w = c->w;
    pthread_mutex_lock(&c->mtx);
    c->state = C_DIALING;
    c->dialing = true;
    c->pending = true;
    atomic_fetch_add_explicit(&w->pending, 1, memory_order_relaxed);
    if (w->o->io_epoll) {
        c->due_ns = cl_stamp_ns(false) + (int64_t)DIAL_MS * 1000000;
        int rv = ep_dial(c);
        if (rv != 0)
            dial_done(c, rv);
    } else {
        nng_aio_set_timeout(c->rx, DIAL_MS);
        nng_stream_dialer_dial(w->dialer[c->id % w->o->nurls], c->rx);
    }
    pthread_mutex_unlock(&c->mtx);
}

// --- the pacer: dials at a bounded pace, then sends at the rate -------------

enum { MSG_TICK = 1, MSG_GO, MSG_STOP };

struct pacer {
    struct worker *w;
    uint32_t dial_next; // the next client to dial
    uint32_t rr;        // the next client to send from
    bool sending;
    int64_t go_ns;  // when sending started, tr_ctx_now_ns()
    uint64_t sched; // sends made since then
    double rate;    // this worker's share, per second
};

static int
pacer_init(tr_ctx *ctx, const void *arg, size_t len)
{
    struct pacer *p = tr_state(ctx);
    (void)len;
    memcpy(&p->w, arg, sizeof p->w);
    p->rate = p->w->o->rate * p->w->n / p->w->o->clients;
    return tr_send_every(ctx, tr_self(ctx), MSG_TICK, NULL, 0, TICK_MS, NULL);
}

// pacer_send sends one say from the next client that can take it.
static bool
pacer_send(struct pacer *p)
{
    struct worker *w = p->w;
    for (uint32_t tries = 0; tries < w->n; tries++) {
        struct client *c = &w->cl[p->rr++ % w->n];
        pthread_mutex_lock(&c->mtx);
        bool ok = c->state == C_READY && c->plen < PEND_MAX;
        if (ok)
            send_say(c);
        pthread_mutex_unlock(&c->mtx);
        if (ok)
            return true;
    }
    return false;
}

static int
pacer_receive(tr_ctx *ctx, const tr_msg *m)
{
    struct pacer *p = tr_state(ctx);
    struct worker *w = p->w;
    switch (tr_msg_type(m)) {
    case MSG_GO:
        p->sending = true;
        p->go_ns = tr_ctx_now_ns(ctx);
        p->sched = 0;
        return 0;
    case MSG_STOP:
        p->sending = false;
        return 0;
    case MSG_TICK:
        break;
    default:
        return TR_EUNHANDLED;
    }
    while (p->dial_next < w->n &&
           atomic_load_explicit(&w->pending, memory_order_relaxed) <
               w->o->inflight)
        start_dial(&w->cl[p->dial_next++]);
    if (!p->sending)
        return 0;
    double secs = (double)(tr_ctx_now_ns(ctx) - p->go_ns) / 1e9;
    uint64_t due = (uint64_t)(secs * p->rate);
    if (due > p->sched + (uint64_t)p->rate + 1) {
        // More than a second behind (a stalled loop): skip the backlog
        // rather than burst it, and say so.
        ADD(send_skipped, due - p->sched);
        p->sched = due;
    }
    for (; p->sched < due; p->sched++)
        if (!pacer_send(p))
            ADD(send_skipped, 1);
    return 0;
}

static const tr_behavior pacer = {.name = "pacer",
                                  .state_size = sizeof(struct pacer),
                                  .init = pacer_init,
                                  .receive = pacer_receive};

// --- reports -----------------------------------------------------------------

static uint64_t
proc_rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    uint64_t kb = 0;
    while (f != NULL && fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "VmRSS: %" SCNu64, &kb) == 1)
            break;
    if (f != NULL)
        fclose(f);
    return kb;
}

static uint64_t
proc_cpu_ticks(void)
{
    FILE *f = fopen("/proc/self/stat", "r");
    char buf[1024];
    uint64_t ut = 0, st = 0;
    if (f != NULL && fgets(buf, sizeof buf, f) != NULL) {
        char *q = strrchr(buf, ')'); // the name may hold spaces
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

static void
snapshot(struct worker *w, struct cl_report *r)
{
    memset(r, 0, sizeof *r);
    r->worker = w->index;
    r->clients = w->n;
    r->connected = GET(connected);
    r->ready = GET(ready);
    r->dial_failed = GET(dial_failed);
    r->handshake_failed = GET(handshake_failed);
    r->closed = GET(closed);
    r->dropped = GET(dropped);
    r->sent = GET(sent);
    r->send_skipped = GET(send_skipped);
    r->delivered = GET(delivered);
    r->echoed = GET(echoed);
    r->lost = GET(lost);
    r->reordered = GET(reordered);
    r->presence = GET(presence);
    r->bad_frames = GET(bad_frames);
    r->clock_skew = GET(clock_skew);
    r->bytes_in = GET(bytes_in);
    for (int i = 0; i < CL_ERR_N; i++)
        r->errors[i] = GET(errors[i]);
    for (int i = 0; i < CL_CLOSE_N; i++)
        r->closes[i] = GET(closes[i]);
    r->rss_kb = proc_rss_kb();
    r->cpu_ticks = proc_cpu_ticks();
    hist_snap(&r->deliver, L.deliver, &L.deliver_max, &L.deliver_sum);
    hist_snap(&r->echo, L.echo, &L.echo_max, &L.echo_sum);
}

static int
write_full(int fd, const void *p, size_t n)
{
    const char *b = p;
    while (n > 0) {
        ssize_t k = write(fd, b, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        b += k;
        n -= (size_t)k;
    }
    return 0;
}

// --- the worker's life -------------------------------------------------------

static int
worker_open(struct worker *w)
{
    const struct cl_opts *o = w->o;
    w->ep = w->evfd = -1;
    for (unsigned u = 0; o->io_epoll && u < o->nurls; u++) {
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
        int rv = getaddrinfo(o->host[u], o->port[u], &hints, &ai);
        if (rv != 0) {
            fprintf(stderr, "chat-load: %s port %s: %s\n", o->host[u],
                    o->port[u], gai_strerror(rv));
            return -1;
        }
        memcpy(&w->sa[u], ai->ai_addr, ai->ai_addrlen);
        w->salen[u] = ai->ai_addrlen;
        freeaddrinfo(ai);
    }
    for (unsigned u = 0; !o->io_epoll && u < o->nurls; u++) {
        char url[128];
        snprintf(url, sizeof url, "tcp://%s:%s", o->host[u], o->port[u]);
        // TCP_NODELAY: a `say` leaves at once, not after the server's
        // delayed ACK of the last one (up to 40 ms; nng's default is off).
        int rv = nng_stream_dialer_alloc(&w->dialer[u], url);
        if (rv == 0)
            rv = nng_stream_dialer_set_bool(w->dialer[u], NNG_OPT_TCP_NODELAY,
                                            true);
        if (rv != 0) {
            fprintf(stderr, "chat-load: %s: %s\n", url, nng_strerror(rv));
            return -1;
        }
    }
    w->cl = calloc(w->n, sizeof *w->cl);
    w->croom = calloc((size_t)w->n * o->rooms_per_client, sizeof *w->croom);
    if (w->cl == NULL || w->croom == NULL)
        return -1;
    unsigned k = o->rooms_per_client;
    unsigned step = o->rooms / k;
    for (uint32_t i = 0; i < w->n; i++) {
        struct client *c = &w->cl[i];
        c->w = w;
        c->id = w->first + i;
        c->rnd = (c->id + 1) * 2654435761u ^ (uint32_t)cl_stamp_ns(false);
        if (c->rnd == 0)
            c->rnd = 1;
        c->room = &w->croom[(size_t)i * k];
        for (unsigned j = 0; j < k; j++) // k distinct rooms: k * step <= M
            c->room[j].room = (c->id + j * step) % o->rooms;
        c->fd = -1;
        pthread_mutex_init(&c->mtx, NULL);
        if (!o->io_epoll && (nng_aio_alloc(&c->rx, rx_cb, c) != 0 ||
                             nng_aio_alloc(&c->tx, tx_cb, c) != 0))
            return -1;
    }
    if (o->io_epoll) {
        struct epoll_event e = {.events = EPOLLIN, .data.ptr = NULL};
        w->ep = epoll_create1(EPOLL_CLOEXEC);
        w->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (w->ep < 0 || w->evfd < 0 ||
            epoll_ctl(w->ep, EPOLL_CTL_ADD, w->evfd, &e) != 0 ||
            pthread_create(&w->iot, NULL, ep_main, w) != 0)
            return -1;
        w->iot_on = true;
    }
    return 0;
}

static void
worker_close(struct worker *w)
{
    atomic_store(&w->stopping, true);
    if (w->iot_on) { // the epoll thread first: no event after this
        uint64_t one = 1;
        if (write(w->evfd, &one, sizeof one) == sizeof one)
            pthread_join(w->iot, NULL);
        w->iot_on = false;
    }
    for (uint32_t i = 0; w->cl != NULL && i < w->n; i++) {
        struct client *c = &w->cl[i];
        pthread_mutex_lock(&c->mtx);
        c->lingering = false;
        conn_end(c, -1);
        close_stream(c);
        pthread_mutex_unlock(&c->mtx);
    }
    for (uint32_t i = 0; w->cl != NULL && i < w->n; i++) {
        struct client *c = &w->cl[i];
        if (c->rx != NULL)
            nng_aio_stop(c->rx);
        if (c->tx != NULL)
            nng_aio_stop(c->tx);
        if (c->s != NULL)
            nng_stream_free(c->s);
        nng_aio_free(c->rx);
        nng_aio_free(c->tx);
        pthread_mutex_destroy(&c->mtx);
        free(c->rbuf);
        free(c->msg);
        free(c->pend);
        free(c->fly);
    }
    for (unsigned u = 0; u < w->o->nurls; u++)
        if (w->dialer[u] != NULL)
            nng_stream_dialer_free(w->dialer[u]);
    if (w->ep >= 0)
        close(w->ep);
    if (w->evfd >= 0)
        close(w->evfd);
    free(w->cl);
    free(w->croom);
}

// room_tails sums, per room, what this worker's ready clients last saw.
static struct cl_room_tail *
room_tails(struct worker *w)
{
    const struct cl_opts *o = w->o;
    struct cl_room_tail *t = calloc(o->rooms, sizeof *t);
    for (uint32_t i = 0; t != NULL && i < w->n; i++) {
        struct client *c = &w->cl[i];
        pthread_mutex_lock(&c->mtx);
        for (unsigned j = 0; c->state == C_READY && j < o->rooms_per_client;
             j++) {
            struct cl_room_tail *r = &t[c->room[j].room];
            if (c->room[j].last > r->max_seq)
                r->max_seq = c->room[j].last;
            r->sum_last += c->room[j].last;
            r->members++;
        }
        pthread_mutex_unlock(&c->mtx);
    }
    return t;
}

int
cl_worker_main(const struct cl_opts *o, unsigned wi, int ctl_fd, int rep_fd)
{
    static struct worker w; // the pad alone is too big for a small stack
    w.o = o;
    w.index = wi;
    w.first = (uint32_t)((uint64_t)o->clients * wi / o->procs);
    w.n = (uint32_t)((uint64_t)o->clients * (wi + 1) / o->procs) - w.first;
    w.prefix_len = strlen(o->prefix);
    memset(w.pad, 'x', sizeof w.pad);
    hist_init();

    tr_system *sys = NULL;
    tr_config cfg = {.loops = 1, .watchdog_ms = -1};
    tr_ref pr;
    struct worker *wp = &w;
    int status = 1;
    if (worker_open(&w) != 0) {
        fprintf(stderr, "chat-load: worker %u: setup failed\n", wi);
        goto out;
    }
    int rc = tr_system_open(&sys, &cfg);
    if (rc == 0)
        rc = tr_system_spawn(&pr, sys, &pacer, &wp, sizeof wp, NULL);
    if (rc != 0) {
        fprintf(stderr, "chat-load: worker %u: %s\n", wi, tr_strerror(rc));
        goto out;
    }
    for (;;) {
        char cmd;
        ssize_t k = read(ctl_fd, &cmd, 1);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0 || cmd == CL_CMD_QUIT)
            break;
        struct cl_report r;
        switch (cmd) {
        case CL_CMD_REPORT:
            snapshot(&w, &r);
            if (write_full(rep_fd, &r, sizeof r) != 0)
                goto out;
            break;
        case CL_CMD_GO:
            tr_system_send(sys, pr, MSG_GO, NULL, 0);
            break;
        case CL_CMD_STOP:
            tr_system_send(sys, pr, MSG_STOP, NULL, 0);
            break;
        default:
            break;
        }
    }
    // Quit: the pacer stops first, so nothing is sent or dialled while the
    // last counts are taken.
    tr_system_close(sys, 5000, NULL);
    sys = NULL;
    struct cl_report r;
    snapshot(&w, &r);
    struct cl_room_tail *t = room_tails(&w);
    r.nrooms = t != NULL ? o->rooms : 0;
    if (write_full(rep_fd, &r, sizeof r) == 0 &&
        (t == NULL || write_full(rep_fd, t, sizeof *t * o->rooms) == 0))
        status = 0;
    free(t);
out:
    if (sys != NULL)
        tr_system_close(sys, 5000, NULL);
    worker_close(&w);
    return status;
}
