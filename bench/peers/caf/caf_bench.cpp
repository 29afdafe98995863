// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors
//
// CAF 0.17 peer for the troupe benchmarks (see /work/shared/BENCH.md):
// pingpong, counting, fjcreate, idle and request, written with event-based
// actors on CAF's default work-stealing scheduler.
//
//   caf_bench <workload> [N] [--threads K]    (K worker threads, default 2)
//
// Prints `RESULT <name> <n> <seconds> <value> <unit>`; a failed self-check
// prints `FAILED <reason>` on stderr and exits 1.

#include <caf/all.hpp>

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

namespace {

using clk = std::chrono::steady_clock;

double since(clk::time_point t0) {
  return std::chrono::duration<double>(clk::now() - t0).count();
}

[[noreturn]] void fail(const std::string& why) {
  std::fprintf(stderr, "FAILED %s\n", why.c_str());
  std::fflush(stderr);
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

struct workload {
  const char* name;
  void (*run)(actor_system&, int64_t);
  int64_t default_n;
};

const workload workloads[] = {
  {"pingpong", run_pingpong, 3000000},
  {"counting", run_counting, 20000000},
  {"fjcreate", run_fjcreate, 1000000},
  {"idle", run_idle, 1000000},
  {"request", run_request, 1000000},
};

[[noreturn]] void usage() {
  std::fprintf(stderr,
               "usage: caf_bench pingpong|counting|fjcreate|idle|request [N] "
               "[--threads K]\n");
  std::exit(2);
}

} // namespace

int main(int argc, char** argv) {
  const workload* w = nullptr;
  int64_t n = 0;
  int64_t threads = 2;
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
    else
      usage();
  }
  if (!w || n < 0 || threads < 1)
    usage();
  if (n == 0)
    n = w->default_n;
  actor_system_config cfg;
  cfg.set("scheduler.max-threads", threads);
  actor_system sys{cfg};
  w->run(sys, n);
  return 0;
}
