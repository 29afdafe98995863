// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// CAF 0.17 peer for the troupe benchmarks (see /work/shared/BENCH.md):
// pingpong, counting, fjcreate, idle, threadring, big, request and fanout,
// written with event-based actors on CAF's default work-stealing scheduler
// (fanout with a local group, CAF's publish/subscribe); remote-pingpong and
// remote-counting, the same actors in two processes connected by CAF's
// middleman (BASP over TCP on 127.0.0.1).
//
//   caf_bench <workload> [N] [--threads K]    (K worker threads, default 2)
//   caf_bench big [P [W]] | fanout [M [K]] [--threads K]
//
// For the remote workloads the program starts itself again as the peer
// process (`caf_bench --peer <workload> <port> <pid> --threads K`).
//
// Prints `RESULT <name> <n> <seconds> <value> <unit>`; a failed self-check
// prints `FAILED <reason>` on stderr and exits 1.

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

using namespace caf;

using ping_atom = atom_constant<atom("ping")>;
using pong_atom = atom_constant<atom("pong")>;
using get_atom_t = atom_constant<atom("get")>;
using done_atom = atom_constant<atom("done")>;
using ready_atom = atom_constant<atom("ready")>;
using stop_atom = atom_constant<atom("stop")>;

extern char** environ;

namespace {

using clk = std::chrono::steady_clock;

double since(clk::time_point t0) {
  return std::chrono::duration<double>(clk::now() - t0).count();
}

// The peer process of a remote workload, once started.
pid_t peer_pid = -1;

[[noreturn]] void fail(const std::string& why) {
  std::fprintf(stderr, "FAILED %s\n", why.c_str());
  std::fflush(stderr);
  if (peer_pid > 0) {
    kill(peer_pid, SIGKILL);
    waitpid(peer_pid, nullptr, 0);
  }
  std::_Exit(1);
}

void report(const char* name, int64_t n, double secs, double value,
            const char* unit) {
  std::printf("RESULT %s %lld %.3f %.0f %s\n", name, (long long)n, secs, value,
              unit);
  std::fflush(stdout);
}

// VmRSS of this process in bytes.
int64_t vm_rss() {
  FILE* f = std::fopen("/proc/self/status", "r");
  if (!f)
    fail("cannot open /proc/self/status");
  char line[256];
  long long kb = -1;
  while (std::fgets(line, sizeof line, f))
    if (std::sscanf(line, "VmRSS: %lld kB", &kb) == 1)
      break;
  std::fclose(f);
  if (kb < 0)
    fail("no VmRSS in /proc/self/status");
  return kb * 1024;
}

// -- pingpong -----------------------------------------------------------------

behavior pong(event_based_actor*) {
  return {[](ping_atom, int64_t i) { return std::make_tuple(pong_atom::value, i); }};
}

behavior ping(event_based_actor* self, actor buddy, int64_t n, actor done) {
  self->send(buddy, ping_atom::value, int64_t{1});
  return {[=](pong_atom, int64_t i) {
    if (i < n) {
      self->send(buddy, ping_atom::value, i + 1);
    } else {
      self->send(done, done_atom::value, i);
      self->send_exit(buddy, exit_reason::user_shutdown);
      self->quit();
    }
  }};
}

void run_pingpong(actor_system& sys, int64_t n) {
  scoped_actor self{sys};
  auto t0 = clk::now();
  sys.spawn(ping, sys.spawn(pong), n, actor{self});
  int64_t got = 0;
  self->receive([&](done_atom, int64_t i) { got = i; });
  double secs = since(t0);
  if (got != n)
    fail("pingpong: " + std::to_string(got) + " round trips, expected "
         + std::to_string(n));
  report("pingpong", n, secs, n / secs, "roundtrips/s");
}

// -- counting -----------------------------------------------------------------

struct counter_state {
  int64_t sum = 0;
};

behavior counter(stateful_actor<counter_state>* self) {
  return {
    [=](int64_t x) { self->state.sum += x; },
    [=](get_atom_t) { return self->state.sum; },
  };
}

behavior producer(event_based_actor* self, actor target, int64_t n,
                  actor done) {
  for (int64_t i = 1; i <= n; ++i)
    self->send(target, i);
  self->request(target, infinite, get_atom_t::value)
    .then([=](int64_t total) {
      self->send(done, done_atom::value, total);
      self->send_exit(target, exit_reason::user_shutdown);
      self->quit();
    });
  return {};
}

void run_counting(actor_system& sys, int64_t n) {
  scoped_actor self{sys};
  auto cnt = sys.spawn(counter);
  auto t0 = clk::now();
  sys.spawn(producer, cnt, n, actor{self});
  int64_t total = -1;
  self->receive([&](done_atom, int64_t t) { total = t; });
  double secs = since(t0);
  if (total != n * (n + 1) / 2)
    fail("counting: total " + std::to_string(total) + ", expected "
         + std::to_string(n * (n + 1) / 2));
  report("counting", n, secs, n / secs, "msgs/s");
}

// -- fjcreate -----------------------------------------------------------------

// Gets one number, replies with a trivial function of it and stops.
behavior fj_worker(event_based_actor* self) {
  return {[=](int64_t x) {
    self->quit();
    return x * 2 + 1;
  }};
}

void run_fjcreate(actor_system& sys, int64_t n) {
  // The creator is the main thread's scoped actor: spawning from outside the
  // scheduler hands the new actors round-robin to the workers. (Spawning them
  // all from inside one actor queues them on that actor's worker, and CAF
  // 0.17's steal, double_ended_queue::take_tail, walks the whole queue, so the
  // run goes quadratic in N.)
  scoped_actor self{sys};
  auto t0 = clk::now();
  for (int64_t i = 0; i < n; ++i)
    self->send(sys.spawn(fj_worker), i);
  int64_t left = n;
  int64_t sum = 0;
  self->receive_while([&] { return left > 0; })([&](int64_t y) {
    sum += y;
    --left;
  });
  double secs = since(t0);
  if (sum != n * n) // sum of 2i+1 for i in [0, n)
    fail("fjcreate: sum " + std::to_string(sum) + ", expected "
         + std::to_string(n * n));
  report("fjcreate", n, secs, n / secs, "actors/s");
}

// -- idle ---------------------------------------------------------------------

// Says it is up, then waits for a stop message.
behavior idler(event_based_actor* self, actor spawner) {
  self->send(spawner, ready_atom::value);
  return {[=](stop_atom) { self->quit(); }};
}

void run_idle(actor_system& sys, int64_t n) {
  scoped_actor self{sys};
  std::vector<actor> idlers;
  idlers.reserve(n); // the handle vector (8 B/actor) is counted below
  int64_t before = vm_rss();
  auto t0 = clk::now();
  for (int64_t i = 0; i < n; ++i)
    idlers.push_back(sys.spawn(idler, actor{self}));
  int64_t ready = 0;
  self->receive_for(ready, n)([](ready_atom) {});
  double secs = since(t0);
  int64_t after = vm_rss();
  for (auto& a : idlers)
    self->send(a, stop_atom::value);
  idlers.clear();
  if (ready != n)
    fail("idle: " + std::to_string(ready) + " ready, expected "
         + std::to_string(n));
  report("idle", n, secs, double(after - before) / n, "B/actor");
}

// -- request ------------------------------------------------------------------

behavior req_server(event_based_actor*) {
  return {[](int64_t x) { return x + 1; }};
}

// Asks request i (1 s timeout), checks the reply is i + 1, then asks i + 1;
// after request n it reports to `done`.
void req_next(event_based_actor* self, actor server, int64_t i, int64_t n,
              actor done) {
  self->request(server, std::chrono::seconds(1), i)
    .then(
      [=](int64_t y) {
        if (y != i + 1)
          fail("request: reply " + std::to_string(y) + " to "
               + std::to_string(i));
        if (i < n) {
          req_next(self, server, i + 1, n, done);
        } else {
          self->send(done, done_atom::value, i);
          self->send_exit(server, exit_reason::user_shutdown);
          self->quit();
        }
      },
      [=](error& err) {
        fail("request " + std::to_string(i) + ": "
             + self->system().render(err));
      });
}

behavior req_client(event_based_actor* self, actor server, int64_t n,
                    actor done) {
  req_next(self, server, 1, n, done);
  return {};
}

void run_request(actor_system& sys, int64_t n) {
  scoped_actor self{sys};
  auto server = sys.spawn(req_server);
  auto t0 = clk::now();
  sys.spawn(req_client, server, n, actor{self});
  int64_t got = -1;
  self->receive([&](done_atom, int64_t i) { got = i; });
  double secs = since(t0);
  if (got != n)
    fail("request: " + std::to_string(got) + " replies, expected "
         + std::to_string(n));
  report("request", n, secs, n / secs, "requests/s");
}

// -- threadring ---------------------------------------------------------------

using token_atom = atom_constant<atom("token")>;
using next_atom = atom_constant<atom("next")>;
using seen_atom = atom_constant<atom("seen")>;

constexpr int64_t ring_size = 503;

struct ring_state {
  actor next;
  int64_t seen = 0; // tokens received
};

// Node `id` of the ring: learns its successor, then passes the token on,
// one hop fewer each time; the node that gets it at 0 tells `done`.
behavior ring_node(stateful_actor<ring_state>* self, int64_t id, actor done) {
  return {
    [=](next_atom, actor next) { self->state.next = std::move(next); },
    [=](token_atom, int64_t left) {
      self->state.seen++;
      if (left == 0)
        self->send(done, done_atom::value, id);
      else
        self->send(self->state.next, token_atom::value, left - 1);
    },
    [=](get_atom_t) {
      return std::make_tuple(seen_atom::value, self->state.seen);
    },
  };
}

void run_threadring(actor_system& sys, int64_t n) {
  scoped_actor self{sys};
  auto t0 = clk::now();
  std::vector<actor> ring;
  for (int64_t i = 0; i < ring_size; ++i)
    ring.push_back(sys.spawn(ring_node, i, actor{self}));
  // A send puts the message in the mailbox before it returns, so every
  // node has its link before the token, sent after all links, can reach it.
  for (int64_t i = 0; i < ring_size; ++i)
    self->send(ring[i], next_atom::value, ring[(i + 1) % ring_size]);
  self->send(ring[0], token_atom::value, n);
  int64_t last = -1;
  self->receive([&](done_atom, int64_t id) { last = id; });
  int64_t seen = 0;
  for (auto& node : ring)
    self->send(node, get_atom_t::value);
  int64_t answers = 0;
  self->receive_for(answers, ring_size)(
    [&](seen_atom, int64_t k) { seen += k; });
  double secs = since(t0);
  for (auto& node : ring)
    self->send_exit(node, exit_reason::user_shutdown);
  if (last != n % ring_size || seen != n + 1)
    fail("threadring: ended at node " + std::to_string(last) + " after "
         + std::to_string(seen) + " tokens, expected node "
         + std::to_string(n % ring_size) + " after " + std::to_string(n + 1));
  report("threadring", n, secs, n / secs, "hops/s");
}

// -- big ----------------------------------------------------------------------

using peers_atom = atom_constant<atom("peers")>;
using answered_atom = atom_constant<atom("answered")>;

struct big_state {
  std::vector<actor> peers; // all W workers, itself included
  uint64_t rng = 0;         // xorshift64, never 0
  int64_t left = 0;         // pings still to send
  int64_t expect = -1;      // the value of the ping in flight
  int64_t answered = 0;     // pings answered
};

// Sends the next ping to a random other worker, or tells `done` once all
// `p` have been answered.
void big_ping(stateful_actor<big_state>* self, int64_t id, actor done) {
  auto& s = self->state;
  if (s.left == 0) {
    self->send(done, done_atom::value, id);
    return;
  }
  s.left--;
  s.rng ^= s.rng << 13;
  s.rng ^= s.rng >> 7;
  s.rng ^= s.rng << 17;
  auto to = static_cast<int64_t>(s.rng % (s.peers.size() - 1));
  if (to >= id) // skip itself
    to++;
  s.expect = id << 32 | s.left;
  self->send(s.peers[to], ping_atom::value, s.expect);
}

// Worker `id`: on its list of peers it starts pinging; it answers every
// ping with a pong, and sends its next ping on each pong.
behavior big_worker(stateful_actor<big_state>* self, int64_t id, int64_t p,
                    actor done) {
  self->state.rng = 0x9E3779B97F4A7C15u * uint64_t(id + 1);
  self->state.left = p;
  return {
    [=](peers_atom, const std::vector<actor>& peers) {
      self->state.peers = peers;
      big_ping(self, id, done);
    },
    [=](ping_atom, int64_t v) {
      self->state.answered++;
      return std::make_tuple(pong_atom::value, v);
    },
    [=](pong_atom, int64_t v) {
      if (v != self->state.expect)
        fail("big: worker " + std::to_string(id) + " got pong "
             + std::to_string(v) + ", expected "
             + std::to_string(self->state.expect));
      big_ping(self, id, done);
    },
    [=](get_atom_t) {
      return std::make_tuple(answered_atom::value, self->state.answered);
    },
  };
}

void run_big(actor_system& sys, int64_t p, int64_t w) {
  if (w < 2)
    fail("big: W must be at least 2");
  scoped_actor self{sys};
  auto t0 = clk::now();
  std::vector<actor> workers;
  for (int64_t i = 0; i < w; ++i)
    workers.push_back(sys.spawn(big_worker, i, p, actor{self}));
  for (auto& x : workers)
    self->send(x, peers_atom::value, workers);
  int64_t done = 0;
  self->receive_for(done, w)([](done_atom, int64_t) {});
  // Every worker has had its P pongs, so every ping has been answered.
  for (auto& x : workers)
    self->send(x, get_atom_t::value);
  int64_t answers = 0;
  int64_t answered = 0;
  self->receive_for(answers, w)(
    [&](answered_atom, int64_t k) { answered += k; });
  double secs = since(t0);
  for (auto& x : workers)
    self->send_exit(x, exit_reason::user_shutdown);
  if (answered != p * w)
    fail("big: " + std::to_string(answered) + " pings answered, expected "
         + std::to_string(p * w));
  report("big", p, secs, 2.0 * double(p * w) / secs, "msgs/s");
}

// -- fanout -------------------------------------------------------------------

using cast_atom = atom_constant<atom("cast")>;
using total_atom = atom_constant<atom("total")>;

struct sub_state {
  int64_t count = 0;
  int64_t sum = 0;
};

// A subscriber of the group: counts the numbers it gets, which must come in
// order, and on `get` tells `done` its count and sum.
behavior subscriber(stateful_actor<sub_state>* self, actor done) {
  return {
    [=](cast_atom, int64_t i) {
      auto& s = self->state;
      if (i != s.count + 1)
        fail("fanout: got " + std::to_string(i) + " after "
             + std::to_string(s.count));
      s.count++;
      s.sum += i;
    },
    [=](get_atom_t) {
      self->send(done, total_atom::value, self->state.count, self->state.sum);
    },
  };
}

// The subscribers join one anonymous local group (CAF's publish/subscribe):
// a send to the group puts the one message in every subscriber's mailbox.
// The broadcaster is the main thread's scoped actor, as the creator in
// fjcreate, for the same reason: a broadcaster spawned as an event-based
// actor makes all K subscribers runnable on its own worker, and the other
// worker's steals (take_tail) walk that queue. On a loaded machine (load
// average 15) the spawned broadcaster measured 78,000-104,000
// deliveries/s with 2 threads at M = 100, the scoped one 44,000-478,000:
// CAF's fanout swings widely from run to run here.
void run_fanout(actor_system& sys, int64_t m, int64_t k) {
  scoped_actor self{sys};
  auto grp = sys.groups().anonymous();
  std::vector<actor> subs;
  for (int64_t i = 0; i < k; ++i)
    subs.push_back(sys.spawn_in_group(grp, subscriber, actor{self}));
  auto t0 = clk::now();
  for (int64_t i = 1; i <= m; ++i)
    self->send(grp, cast_atom::value, i);
  self->send(grp, get_atom_t::value);
  int64_t answers = 0;
  int64_t count = 0;
  int64_t sum = 0;
  self->receive_for(answers, k)([&](total_atom, int64_t c, int64_t s) {
    count += c;
    sum += s;
  });
  double secs = since(t0);
  for (auto& x : subs)
    self->send_exit(x, exit_reason::user_shutdown);
  if (count != m * k || sum != k * (m * (m + 1) / 2))
    fail("fanout: " + std::to_string(count) + " deliveries summing to "
         + std::to_string(sum) + ", expected " + std::to_string(m * k)
         + " and " + std::to_string(k * (m * (m + 1) / 2)));
  report("fanout", m, secs, double(m * k) / secs, "deliveries/s");
}

// -- remote-pingpong and remote-counting ---------------------------------------

// The measuring process publishes its main thread's scoped actor on
// 127.0.0.1 (a port the OS picks) and starts the peer process, which
// connects with io::remote_actor, spawns pong or the counter and sends its
// handle back. From then on the actors are those of pingpong and counting:
// sends to the remote handle go through a proxy to the BASP broker, which
// serializes them onto the TCP connection. The peer stays up until its actor
// is gone or the connection drops.

const char* self_exe = nullptr; // argv[0]
int64_t sched_threads = 2;      // --threads, passed on to the peer

// A whole remote run must end within this time; SIGALRM kills the peer.
constexpr unsigned run_timeout_s = 300;

void on_alarm(int) {
  static const char msg[] = "FAILED timeout\n";
  if (peer_pid > 0)
    kill(peer_pid, SIGKILL);
  if (write(STDERR_FILENO, msg, sizeof msg - 1) < 0) {
    // nothing more to do
  }
  _exit(1);
}

// Publishes `self`, starts the peer for `name` and returns the handle of the
// actor it spawned, which `self` monitors: see wait_done.
actor start_peer(actor_system& sys, scoped_actor& self, const char* name) {
  signal(SIGALRM, on_alarm);
  alarm(run_timeout_s);
  auto port = io::publish(actor{self}, 0, "127.0.0.1");
  if (!port)
    fail(std::string("publish: ") + sys.render(port.error()));
  auto port_s = std::to_string(*port);
  auto pid_s = std::to_string(getpid());
  auto threads_s = std::to_string(sched_threads);
  const char* argv[] = {self_exe,        "--peer",    name,
                        port_s.c_str(),  pid_s.c_str(), "--threads",
                        threads_s.c_str(), nullptr};
  int rv = posix_spawn(&peer_pid, "/proc/self/exe", nullptr, nullptr,
                       const_cast<char**>(argv), environ);
  if (rv != 0) {
    peer_pid = -1;
    fail(std::string("posix_spawn: ") + std::strerror(rv));
  }
  actor worker;
  self->receive([&](ready_atom, actor w) { worker = std::move(w); },
                after(std::chrono::seconds(30)) >>
                  [&] { fail("the peer did not connect within 30 s"); });
  self->monitor(worker);
  return worker;
}

// Waits for the workload's (done, x) and returns x; fails if the peer's
// actor goes down first (the peer process died or the connection dropped).
int64_t wait_done(actor_system& sys, scoped_actor& self) {
  int64_t x = -1;
  self->receive([&](done_atom, int64_t i) { x = i; },
                [&](down_msg& dm) {
                  fail("the peer's actor went down: "
                       + sys.render(dm.reason));
                });
  return x;
}

// Waits (at most 10 s) for the peer to exit; returns its peak RSS in kB.
long reap_peer() {
  for (int i = 0; i < 1000; ++i) {
    int st = 0;
    struct rusage ru;
    pid_t r = wait4(peer_pid, &st, WNOHANG, &ru);
    if (r < 0)
      fail(std::string("wait4: ") + std::strerror(errno));
    if (r == peer_pid) {
      peer_pid = -1;
      if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail("the peer exited with status " + std::to_string(st));
      return ru.ru_maxrss;
    }
    usleep(10000);
  }
  fail("the peer did not exit within 10 s");
}

// Reaps the peer and prints the peak RSS of both processes on stderr.
void peak_rss(const char* name) {
  long peer_kb = reap_peer();
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  std::fprintf(stderr, "%s: peak RSS measuring process %ld kB, peer %ld kB\n",
               name, ru.ru_maxrss, peer_kb);
}

void run_remote_pingpong(actor_system& sys, int64_t n) {
  scoped_actor self{sys};
  auto buddy = start_peer(sys, self, "remote-pingpong");
  auto t0 = clk::now();
  sys.spawn(ping, buddy, n, actor{self});
  int64_t got = wait_done(sys, self);
  double secs = since(t0);
  if (got != n)
    fail("remote-pingpong: " + std::to_string(got) + " round trips, expected "
         + std::to_string(n));
  peak_rss("remote-pingpong"); // ping's exit message stops the peer's pong
  report("remote-pingpong", n, secs, n / secs, "roundtrips/s");
}

// The producer is counting's: it sends all N integers from one handler, so
// they queue in the BASP broker (and its write buffer) as fast as they are
// made; see the README for what that costs in memory.
void run_remote_counting(actor_system& sys, int64_t n) {
  scoped_actor self{sys};
  auto cnt = start_peer(sys, self, "remote-counting");
  auto t0 = clk::now();
  sys.spawn(producer, cnt, n, actor{self});
  int64_t total = wait_done(sys, self);
  double secs = since(t0);
  if (total != n * (n + 1) / 2)
    fail("remote-counting: total " + std::to_string(total) + ", expected "
         + std::to_string(n * (n + 1) / 2));
  peak_rss("remote-counting"); // the producer's exit message stops the peer
  report("remote-counting", n, secs, n / secs, "msgs/s");
}

// The peer process: connects to the measuring process's scoped actor at
// `port`, spawns the workload's remote actor, sends its handle, and returns
// once that actor is down or the measuring process is gone.
int run_peer(actor_system& sys, const std::string& name, uint16_t port) {
  auto parent = io::remote_actor(sys, "127.0.0.1", port);
  if (!parent)
    fail("peer: remote_actor: " + sys.render(parent.error()));
  scoped_actor self{sys};
  actor w = name == "remote-pingpong" ? sys.spawn(pong) : sys.spawn(counter);
  self->monitor(w);
  self->monitor(*parent);
  self->send(*parent, ready_atom::value, w);
  self->receive([](down_msg&) {},
                after(std::chrono::seconds(run_timeout_s)) >>
                  [] { fail("peer: timeout"); });
  return 0;
}

struct workload {
  const char* name;
  void (*run)(actor_system&, int64_t);
  int64_t default_n;
  bool remote; // loads the middleman
  // for the workloads with two sizes (big: P W; fanout: M K)
  void (*run2)(actor_system&, int64_t, int64_t) = nullptr;
  int64_t default_n2 = 0;
};

const workload workloads[] = {
  {"pingpong", run_pingpong, 3000000, false},
  {"counting", run_counting, 20000000, false},
  {"fjcreate", run_fjcreate, 1000000, false},
  {"idle", run_idle, 1000000, false},
  {"threadring", run_threadring, 10000000, false},
  {"big", nullptr, 20000, false, run_big, 120},
  {"request", run_request, 1000000, false},
  {"fanout", nullptr, 1000, false, run_fanout, 10000},
  {"remote-pingpong", run_remote_pingpong, 30000, true},
  {"remote-counting", run_remote_counting, 2000000, true},
};

[[noreturn]] void usage() {
  std::fprintf(stderr,
               "usage: caf_bench pingpong|counting|fjcreate|idle|threadring|"
               "request|remote-pingpong|remote-counting [N] [--threads K]\n"
               "       caf_bench big [P [W]] [--threads K]\n"
               "       caf_bench fanout [M [K]] [--threads K]\n");
  std::exit(2);
}

} // namespace

int main(int argc, char** argv) {
  const workload* w = nullptr;
  int64_t n = 0;
  int64_t n2 = 0;
  int64_t threads = 2;
  self_exe = argv[0];
  if (argc >= 5 && std::strcmp(argv[1], "--peer") == 0) {
    // The peer dies with the measuring process.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != (pid_t) std::atol(argv[4]))
      return 1;
    if (argc >= 7 && std::strcmp(argv[5], "--threads") == 0)
      threads = std::atoll(argv[6]);
    actor_system_config cfg;
    cfg.set("scheduler.max-threads", threads);
    cfg.load<io::middleman>();
    actor_system sys{cfg};
    return run_peer(sys, argv[2], (uint16_t) std::atoi(argv[3]));
  }
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
      threads = std::atoll(argv[++i]);
    else if (!w) {
      for (auto& x : workloads)
        if (std::strcmp(argv[i], x.name) == 0)
          w = &x;
      if (!w)
        usage();
    } else if (n == 0)
      n = std::atoll(argv[i]);
    else if (n2 == 0 && w->run2)
      n2 = std::atoll(argv[i]);
    else
      usage();
  }
  if (!w || n < 0 || n2 < 0 || threads < 1)
    usage();
  if (n == 0)
    n = w->default_n;
  if (n2 == 0)
    n2 = w->default_n2;
  sched_threads = threads;
  actor_system_config cfg;
  cfg.set("scheduler.max-threads", threads);
  if (w->remote)
    cfg.load<io::middleman>();
  actor_system sys{cfg};
  if (w->run2)
    w->run2(sys, n, n2);
  else
    w->run(sys, n);
  return 0;
}
