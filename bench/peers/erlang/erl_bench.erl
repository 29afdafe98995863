% SPDX-License-Identifier: MIT
% Copyright 2026 the troupe authors
%
% Erlang/OTP 25 peer for the troupe benchmarks (see /work/shared/BENCH.md):
% pingpong, counting, fjcreate and idle, written with plain processes and
% send/receive, and request, written with a gen_server (this module is also its
% callback module). Run it through run.sh:
%
%   run.sh <workload> [N] [--threads K]
%
% Prints `RESULT <name> <n> <seconds> <value> <unit>`; a failed self-check
% prints `FAILED <reason>` on stderr and halts with status 1.
-module(erl_bench).
-behaviour(gen_server).
-export([main/1]).
-export([init/1, handle_call/3, handle_cast/2]).

% Processes that may build up a long mailbox keep it off the heap, as the OTP
% docs advise, so garbage collection does not copy the queue again and again.
-define(MANY_MESSAGES, [{message_queue_data, off_heap}]).

main(Args) ->
    try run(Args)
    catch Class:Reason -> fail(io_lib:format("~p:~p", [Class, Reason]))
    end.

run([Workload | Rest]) ->
    {Fun, Default} = workload(Workload),
    N = case Rest of
            [] -> Default;
            [S] -> list_to_integer(S)
        end,
    % the calling process is the spawner/creator: it gets N replies
    process_flag(message_queue_data, off_heap),
    Fun(N).

workload("pingpong") -> {fun pingpong/1, 3000000};
workload("counting") -> {fun counting/1, 20000000};
workload("fjcreate") -> {fun fjcreate/1, 1000000};
workload("idle") -> {fun idle/1, 1000000};
workload("request") -> {fun request/1, 1000000};
workload(_) ->
    fail("usage: run.sh pingpong|counting|fjcreate|idle|request [N] [--threads K]").

%% -- pingpong ----------------------------------------------------------------

pingpong(N) ->
    Self = self(),
    Pong = spawn(fun pong/0),
    T0 = mono_ns(),
    spawn(fun() -> Pong ! {ping, self(), 1}, ping(Pong, N, Self) end),
    Got = receive {done, I} -> I end,
    Secs = since(T0),
    check(Got =:= N, "pingpong: ~b round trips, expected ~b", [Got, N]),
    report(pingpong, N, Secs, N / Secs, "roundtrips/s").

ping(Pong, N, Parent) ->
    receive
        {pong, N} ->
            Pong ! stop,
            Parent ! {done, N};
        {pong, I} ->
            Pong ! {ping, self(), I + 1},
            ping(Pong, N, Parent)
    end.

pong() ->
    receive
        {ping, From, I} -> From ! {pong, I}, pong();
        stop -> ok
    end.

%% -- counting ----------------------------------------------------------------

% The calling process is the producer.
counting(N) ->
    Counter = spawn_opt(fun() -> counter(0) end, ?MANY_MESSAGES),
    T0 = mono_ns(),
    produce(Counter, 1, N),
    Counter ! {get, self()},
    Total = receive {total, T} -> T end,
    Secs = since(T0),
    Want = N * (N + 1) div 2,
    check(Total =:= Want, "counting: total ~b, expected ~b", [Total, Want]),
    report(counting, N, Secs, N / Secs, "msgs/s").

produce(_, I, N) when I > N -> ok;
produce(Counter, I, N) -> Counter ! I, produce(Counter, I + 1, N).

counter(Sum) ->
    receive
        X when is_integer(X) -> counter(Sum + X);
        {get, From} -> From ! {total, Sum}
    end.

%% -- fjcreate ----------------------------------------------------------------

fjcreate(N) ->
    Self = self(),
    T0 = mono_ns(),
    fork(Self, 0, N),
    Sum = join(N, 0),
    Secs = since(T0),
    % each worker answers 2i+1 for its i in [0, N): the sum is N*N
    check(Sum =:= N * N, "fjcreate: sum ~b, expected ~b", [Sum, N * N]),
    report(fjcreate, N, Secs, N / Secs, "actors/s").

fork(_, N, N) -> ok;
fork(Parent, I, N) ->
    spawn(fun() -> fj_worker(Parent) end) ! I,
    fork(Parent, I + 1, N).

fj_worker(Parent) ->
    receive X -> Parent ! {done, 2 * X + 1} end.

join(0, Sum) -> Sum;
join(K, Sum) -> receive {done, Y} -> join(K - 1, Sum + Y) end.

%% -- idle --------------------------------------------------------------------

idle(N) ->
    Self = self(),
    Before = vm_rss(),
    T0 = mono_ns(),
    Pids = spawn_idlers(Self, N, []),
    wait_ready(N),
    Secs = since(T0),
    After = vm_rss(),
    [P ! stop || P <- Pids],
    report(idle, N, Secs, (After - Before) / N, "B/actor").

% The pid list (one cons cell, 16 B, per process) is counted in the figure.
spawn_idlers(_, 0, Acc) -> Acc;
spawn_idlers(Parent, K, Acc) ->
    P = spawn(fun() -> Parent ! ready, receive stop -> ok end end),
    spawn_idlers(Parent, K - 1, [P | Acc]).

wait_ready(0) -> ok;
wait_ready(K) -> receive ready -> wait_ready(K - 1) end.

% VmRSS of the beam process in bytes.
vm_rss() ->
    {ok, Status} = file:read_file("/proc/self/status"),
    [_, Rest] = binary:split(Status, <<"VmRSS:">>),
    [KB | _] = string:lexemes(Rest, " \t\n"),
    binary_to_integer(KB) * 1024.

%% -- request ----------------------------------------------------------------

% The calling process is the client; the server is a gen_server that answers
% {req, X} with X + 1. Every call has a 1 s timeout.
request(N) ->
    {ok, Server} = gen_server:start(?MODULE, [], []),
    T0 = mono_ns(),
    Sum = call_loop(Server, 1, N, 0),
    Secs = since(T0),
    gen_server:stop(Server),
    % the replies are 2..N+1
    Want = N * (N + 3) div 2,
    check(Sum =:= Want, "request: sum ~b, expected ~b", [Sum, Want]),
    report(request, N, Secs, N / Secs, "requests/s").

call_loop(_, I, N, Sum) when I > N -> Sum;
call_loop(Server, I, N, Sum) ->
    call_loop(Server, I + 1, N, Sum + gen_server:call(Server, {req, I}, 1000)).

init([]) -> {ok, nostate}.

handle_call({req, X}, _From, State) -> {reply, X + 1, State}.

handle_cast(_, State) -> {noreply, State}.

%% -- helpers -----------------------------------------------------------------

mono_ns() -> erlang:monotonic_time(nanosecond).

since(T0) -> (erlang:monotonic_time(nanosecond) - T0) / 1.0e9.

report(Name, N, Secs, Value, Unit) ->
    io:format("RESULT ~s ~b ~.3f ~b ~s~n", [Name, N, Secs, round(Value), Unit]).

check(true, _, _) -> ok;
check(false, Fmt, Args) -> fail(io_lib:format(Fmt, Args)).

fail(Reason) ->
    io:format(standard_error, "FAILED ~s~n", [Reason]),
    halt(1).
