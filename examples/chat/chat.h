// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// chat.h: the chat example's parts, shared by its program and its tests.
//
// One actor per connection (conn.c) speaks the protocol of shared CHAT.md
// to its client through a small transport interface (chat_io): nng's
// WebSocket streams in ws.c, an in-memory pair for the demo's bots (bot.c)
// and for the tests. One room actor per room (room.c) lives on the node
// where the room was created, is found through the cluster registry
// ("room:<name>"), assigns `seq` and keeps the last 50 messages; its
// events reach the members through one process group per room
// ("chat:<name>"). Nicknames are registry names ("nick:<name>"), so they
// are unique across the cluster. Payloads between actors are MessagePack
// (troupe/pack.h); JSON is only spoken to clients (proto.c, jansson).
#ifndef CHAT_H
#define CHAT_H

#include <troupe.h>

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// ---------------------------------------------------------------------------
// Limits (CHAT.md) and defaults

#define CHAT_FRAME_MAX     4096 // bytes of one client message, accepted
#define CHAT_NAME_MAX      32   // bytes of a nickname or a room name
#define CHAT_GUEST_TAG_MAX 18   // "guest-" tag "-" 7 digits: a valid name
#define CHAT_TEXT_MAX      2000 // code points of a `say`
#define CHAT_ID_MAX        64   // bytes of a `say` id
#define CHAT_HISTORY       50   // messages a room keeps
#define CHAT_REFUSED_MAX   100  // refused frames tolerated per window
#define CHAT_REFUSED_WIN_S 10   // the window, seconds

// chat_config holds the limits, shared read-only by every actor of one
// server (one system). Zero fields take the defaults (chat_config_defaults).
struct chat_config {
    const char *node;           // this node's name, shown in `welcome`
    unsigned max_conns;         // connections on this node; 0: 10000
    unsigned max_rooms;         // rooms homed on this node; 0: 10000
    unsigned rooms_per_conn;    // rooms one client may be in; 0: 50
    unsigned rate_per_s;        // frames per second per client; 0: 20
    unsigned rate_burst;        // bucket size; 0: 40
    unsigned outbox_max;        // queued events per client; 0: 1000
    int64_t ping_ms;            // keepalive event period; 0: 30000
    int64_t idle_ms;            // close a client silent this long; 0: 90000
    int64_t request_ms;         // deadline of requests to rooms; 0: 5000
    const char *const *origins; // allowed Origin values; NULL: http://Host
    unsigned norigins;
    bool verbose; // log every connection and close on stdout
};

void chat_config_defaults(struct chat_config *c);

// chat_server is one server's shared state: its config and counters,
// which any thread reads and the actors update atomically.
struct chat_server {
    tr_system *sys;
    struct chat_config cfg;
    atomic_uint conns;           // live connection actors
    atomic_uint rooms;           // live room actors on this node
    atomic_uint_fast64_t serial; // connection tokens
    atomic_uint guests;          // guest numbers
    uint64_t salt;               // random per process: tokens across nodes
    atomic_uint_fast64_t frames_in;
    atomic_uint_fast64_t events_out;
    atomic_uint_fast64_t said; // `say`s accepted by rooms homed here
    atomic_uint_fast64_t slow_closed;
    atomic_uint_fast64_t flood_closed;
    // guest_tag is this node's part of guest names ("guest-<tag>-<n>"),
    // so two nodes never hand out the same one: the node's name when it
    // is a valid nickname part, else 8 hex digits of `salt`.
    char guest_tag[CHAT_GUEST_TAG_MAX + 1];
};

// chat_server_init fills `s` for `sys`, copying `cfg` (NULL: defaults).
void chat_server_init(struct chat_server *s, tr_system *sys,
                      const struct chat_config *cfg);

// ---------------------------------------------------------------------------
// Message types between the chat's actors (payloads: MessagePack)

enum chat_msg {
    // transport -> conn
    CHAT_IO_RECV = 0x4300, // payload: the client's message bytes
    CHAT_IO_SENT,          // everything queued is written (asked by flush)
    CHAT_IO_CLOSED,        // the client went away (or the stream failed)
    // conn's own timers
    CHAT_TICK,
    CHAT_CLOSE_NOW, // the flush before a close took too long
    CHAT_RETRY,     // [room]: look the room up again
    // conn -> room
    CHAT_JOIN,   // request [nick, token] -> CHAT_JOINED
    CHAT_LEAVE,  // [token]
    CHAT_SAY,    // [token, text, id|nil]; not a member -> CHAT_NOT_IN
    CHAT_RENAME, // [old, new]
    CHAT_WHO,    // request [] -> CHAT_MEMBERS
    CHAT_INFO,   // request [] -> CHAT_INFO_R
    // room -> conn
    CHAT_JOINED,  // [status, evseq, [members], [[from, text, ts, seq]..]]
    CHAT_MEMBERS, // [[members]]
    CHAT_INFO_R,  // [name, count]
    CHAT_NOT_IN,  // [room, id|nil]: a `say` from a non-member
    // room -> its process group
    CHAT_EV_MSG,      // [evseq, room, from, text, ts, seq, token, id|nil, json]
    CHAT_EV_PRESENCE, // [evseq, room, name, state, from|nil, token]
    // bot plumbing (bot.c)
    CHAT_BOT_OUT, // payload: one JSON event the bot's conn sent
    CHAT_BOT_STEP,
    // transport -> conn (more)
    CHAT_IO_REFUSE, // payload: unsigned close code (1002, 1003, 1007, 1009)
    CHAT_IO_ALIVE,  // the client answered a ping
};

// CHAT_JOINED's status: 0, or the room is closing (look it up again).
#define CHAT_JOIN_GONE 1

// Registry and group names.
#define CHAT_ROOM_PREFIX  "room:"      // registry: the room actor
#define CHAT_GROUP_PREFIX "chat:"      // process group: the room's members
#define CHAT_NICK_PREFIX  "nick:"      // registry: the connection with the nick
#define CHAT_ROOMS_GROUP  "chat.rooms" // process group: every room actor

// ---------------------------------------------------------------------------
// proto.c: checking client input and writing server events (JSON)

// chat_name_ok is true for 1-32 ASCII letters, digits or -_. (nicknames and
// room names).
bool chat_name_ok(const char *s, size_t len);

// chat_utf8_ok is true when the `len` bytes are valid UTF-8 (no overlong
// forms, no surrogates, nothing above U+10FFFF); *cps (if not NULL) gets
// the number of code points.
bool chat_utf8_ok(const void *s, size_t len, size_t *cps);

// chat_req is one parsed client request. Strings point into `json`, which
// the caller frees with chat_req_fini.
struct chat_req {
    void *json;     // the parsed object (jansson), owned
    const char *op; // NULL when absent or not a string
    const char *id; // NULL when absent or not a valid id
    const char *name, *room, *text;
    size_t text_len;
};

enum chat_op {
    CHAT_OP_BAD = 0, // bad_request (see the detail)
    CHAT_OP_NICK,
    CHAT_OP_JOIN,
    CHAT_OP_LEAVE,
    CHAT_OP_SAY,
    CHAT_OP_ROOMS,
    CHAT_OP_WHO,
};

// chat_parse parses and checks one client message of `len` bytes (already
// known to be valid UTF-8 and within the size limit). Returns the op, or
// CHAT_OP_BAD with *detail set to a static reason. `r` is filled as far as
// parsing got (op and id are kept for the error's echo).
enum chat_op chat_parse(struct chat_req *r, const char *buf, size_t len,
                        const char **detail);

// chat_peek fills r->op and r->id from a message that will not be acted on
// (a rate-limited one), when it parses; it never fails.
void chat_peek(struct chat_req *r, const char *buf, size_t len);

void chat_req_fini(struct chat_req *r);

// chat_json is a JSON event being written: a jansson object. The
// chat_ev_* functions build one and return it, or NULL when out of memory;
// chat_json_dump turns it into compact UTF-8 text (malloc'd, *len set)
// and frees the object.
typedef struct chat_json chat_json;
char *chat_json_dump(chat_json *j, size_t *len);
void chat_json_free(chat_json *j);

chat_json *chat_ev_welcome(const char *name, const char *node);
chat_json *chat_ev_nick(const char *name);
chat_json *chat_ev_left(const char *room);
chat_json *chat_ev_error(const char *code, const char *op, const char *id,
                         const char *detail);
// The in-memory pipe's stand-ins for a close frame and a ping (bot.c):
// {"ev":"close","code":...,"reason":...} and {"ev":"ping"}.
chat_json *chat_ev_close(int code, const char *reason);
chat_json *chat_ev_ping(void);
// chat_ev_from_pack turns a room's payload (CHAT_JOINED, CHAT_MEMBERS as
// `who`, CHAT_EV_MSG, CHAT_EV_PRESENCE) into its event. For CHAT_JOINED,
// `room` names the room; for CHAT_EV_MSG, `with_id` keeps the id (the
// sender's echo). Returns NULL on a malformed payload.
chat_json *chat_ev_joined(const char *room, const void *data, size_t len);
chat_json *chat_ev_who(const char *room, const void *data, size_t len);
chat_json *chat_ev_msg(const void *data, size_t len, bool with_id);
// chat_msg_json writes the `msg` event without an id, as every member but
// its sender gets it: malloc'd text (*len set), or NULL when out of memory.
// A room writes it once per message and publishes it with the message.
char *chat_msg_json(const char *room, const char *from, const char *text,
                    size_t tlen, int64_t ts, uint64_t seq, size_t *len);
chat_json *chat_ev_presence(const void *data, size_t len);
// chat_ev_rooms builds {"ev":"rooms"} from n (name, count) pairs.
chat_json *chat_ev_rooms(const char *const *names, const unsigned *counts,
                         size_t n);

// ---------------------------------------------------------------------------
// rate.c: the per-connection rate limit

// chat_rate is a token bucket (rate per second, burst) plus the times of
// the last CHAT_REFUSED_MAX + 1 refusals, to tell a flood.
struct chat_rate {
    double tokens;
    int64_t last_ns;
    unsigned rate, burst;
    int64_t refused[CHAT_REFUSED_MAX + 1]; // ring of refusal times
    unsigned nrefused, head;
};

void chat_rate_init(struct chat_rate *r, unsigned rate, unsigned burst,
                    int64_t now_ns);

enum chat_rate_verdict {
    CHAT_RATE_OK = 0, // take the frame
    CHAT_RATE_REFUSE, // drop it, answer rate_limited
    CHAT_RATE_FLOOD,  // more than 100 refused within 10 s: close (1008)
};

// chat_rate_take counts one frame at `now_ns` (monotonic).
enum chat_rate_verdict chat_rate_take(struct chat_rate *r, int64_t now_ns);

// ---------------------------------------------------------------------------
// The transport under a connection actor

// chat_io_ops is what conn.c needs from a transport. The transport reports
// to the connection actor (bound with `bind`) by sending it CHAT_IO_RECV
// (one whole client message, in order), CHAT_IO_SENT (the queue is empty,
// once after each `flush`), CHAT_IO_ALIVE (a pong), CHAT_IO_REFUSE (input
// it will not take: the code to close with) and CHAT_IO_CLOSED (the client
// is gone, or answered our close), from any thread.
//
// The transport owns the outgoing queue: a completed write takes what is
// queued next itself, on the transport's thread, so an event costs the
// actor one call and no message back (the connection's outbox bound is
// applied to the count `send` returns).
struct chat_io_ops {
    // bind tells the transport its actor; called once, from the actor's
    // init, before any other call.
    void (*bind)(void *io, tr_system *sys, tr_ref conn);
    // recv starts receiving: the transport reports each message until it
    // is closed or paused.
    void (*recv)(void *io);
    // pause stops reporting received messages (the connection is
    // closing). May be NULL.
    void (*pause)(void *io);
    // send queues one text message (copied) behind the others; they are
    // written in order. Returns how many are queued and not yet written,
    // this one included, or a negative code (the transport failed).
    int (*send)(void *io, const char *text, size_t len);
    // drop discards the queued messages whose write has not started.
    void (*drop)(void *io);
    // flush asks for one CHAT_IO_SENT as soon as nothing is left to write
    // (at once if nothing is). No report comes if the client never reads.
    void (*flush)(void *io);
    // header copies a request header (Origin, Host) into buf; false when
    // absent. May be NULL: no headers, or a transport that applied the
    // Origin rule itself (ws.c refuses before the upgrade).
    bool (*header)(void *io, const char *name, char *buf, size_t size);
    // ping asks the client for a sign of life (CHAT_IO_ALIVE answers).
    void (*ping)(void *io);
    // shut sends the close (code, reason) after what was sent; the client's
    // answer comes as CHAT_IO_CLOSED.
    void (*shut)(void *io, unsigned code, const char *reason);
    // close ends the connection: no report comes after it returns.
    // It also frees it.
    void (*close)(void *io);
};

// chat_conn_arg is the spawn argument of a connection actor.
struct chat_conn_arg {
    struct chat_server *srv;
    const struct chat_io_ops *ops;
    void *io;    // handed to the actor, which closes it when it stops
    bool reject; // over the connection limit: say `overloaded` and close
};

extern const tr_behavior chat_conn_behavior;
extern const tr_behavior chat_room_behavior;

// chat_origin_ok applies CHAT.md's Origin rule: absent (NULL) is fine (not
// a browser); present, it must be one of cfg->origins, or by default
// "http://" plus the request's Host header.
bool chat_origin_ok(const struct chat_config *cfg, const char *origin,
                    const char *host);

// chat_conn_spawn spawns a connection actor for `io` (round-robin over
// the loops), counting it against max_conns. On failure `io` is closed.
int chat_conn_spawn(struct chat_server *srv, const struct chat_io_ops *ops,
                    void *io, tr_ref *out);

// chat_room_arg is the spawn argument of a room actor.
struct chat_room_arg {
    struct chat_server *srv;
    char name[CHAT_NAME_MAX + 1];
};

// chat_wall_ms returns the wall clock in ms since the epoch.
int64_t chat_wall_ms(void);

// ---------------------------------------------------------------------------
// ws.c: the HTTP and WebSocket front end (nng)

struct chat_ws;

// chat_ws_start serves `www` (index.html, chat.js, chat.css) at / and the
// WebSocket endpoint at /ws on host:port (port 0 picks one; host "" or
// "*" means every interface), spawning a connection actor per client.
// *port gets the port. Returns 0 or an nng error (positive) / TR_E*.
int chat_ws_start(struct chat_ws **out, struct chat_server *srv,
                  const char *host, int *port, const char *www);

// chat_ws_stop stops accepting and frees the front end; connections
// already open are closed when their actors stop (tr_system_close).
void chat_ws_stop(struct chat_ws *ws);

// ---------------------------------------------------------------------------
// bot.c: in-process clients for the demo and the tests

// chat_pipe is an in-memory transport: what the connection sends goes to
// `peer` as CHAT_BOT_OUT messages (or is kept, for a stuck reader), and a
// test or bot injects client messages with chat_pipe_inject.
struct chat_pipe;

// chat_pipe_alloc makes a transport whose output goes to `peer` (an actor
// or inbox). With `stuck`, sends never complete (a client that does not
// read). `origin` (may be NULL) is reported as the Origin header.
struct chat_pipe *chat_pipe_alloc(tr_ref peer, bool stuck, const char *origin);
extern const struct chat_io_ops chat_pipe_ops;

// chat_bots_start spawns `n` demo bots that join "lobby" and chat, printing
// what they see on stdout. Returns 0 or a TR_E* code.
int chat_bots_start(struct chat_server *srv, unsigned n);

#endif // CHAT_H
