% SPDX-License-Identifier: MIT
% Copyright 2026 the troupe authors
%
% Erlang/OTP 25 peer for the troupe benchmarks (see /work/shared/BENCH.md):
% pingpong, counting, fjcreate, idle, threadring, big and fanout, written
% with plain processes and send/receive; request, written with a gen_server; restart and treestop,
% written with supervisors; remote-pingpong and remote-counting, with plain
% processes on two distributed nodes. This module is also the callback module
% of those gen_servers and supervisors: init/1 tells them apart by its
% argument. Run it through run.sh:
%
%   run.sh <workload> [N] [--threads K]
%   run.sh big [P [W]] | fanout [M [K]] [--threads K]
%
% For the remote workloads run.sh starts a second node first (peer/1 below)
% and names it to this one with `-bench_peer Node`.
%
% Prints `RESULT <name> <n> <seconds> <value> <unit>`; a failed self-check
% prints `FAILED <reason>` on stderr and halts with status 1.
-module(erl_bench).
-behaviour(gen_server).
% Also a supervisor callback module (init/1 clauses for {restart_sup, ...} and
% {tree_sup, ...}); not declared with -behaviour, as erlc warns when two
% behaviours both require init/1.
-export([main/1, peer/1]).
% spawned on the peer node by the remote workloads
-export([pong/0, counter/1]).
-export([init/1, handle_call/3, handle_cast/2]).
-export([vm_hwm_kb/0]).

% Processes that may build up a long mailbox keep it off the heap, as the OTP
% docs advise, so garbage collection does not copy the queue again and again.
-define(MANY_MESSAGES, [{message_queue_data, off_heap}]).

main(Args) ->
    try run(Args)
    catch Class:Reason -> fail(io_lib:format("~p:~p", [Class, Reason]))
    end.

run([Workload | Rest]) ->
    % the calling process is the spawner/creator: it gets N replies
    process_flag(message_queue_data, off_heap),
    case workload(Workload) of
        {Fun, Default} ->
            N = case Rest of
                    [] -> Default;
                    [S] -> list_to_integer(S)
                end,
            Fun(N);
        {Fun, Default1, Default2} -> % two sizes: big P W, fanout M K
            {A, B} = case Rest of
                         [] -> {Default1, Default2};
                         [S] -> {list_to_integer(S), Default2};
                         [S, T] -> {list_to_integer(S), list_to_integer(T)}
                     end,
            Fun(A, B)
    end.

workload("pingpong") -> {fun pingpong/1, 3000000};
workload("counting") -> {fun counting/1, 20000000};
workload("fjcreate") -> {fun fjcreate/1, 1000000};
workload("idle") -> {fun idle/1, 1000000};
workload("threadring") -> {fun threadring/1, 10000000};
workload("big") -> {fun big/2, 20000, 120};
workload("request") -> {fun request/1, 1000000};
workload("fanout") -> {fun fanout/2, 1000, 10000};
workload("restart") -> {fun restart/1, 10000};
workload("treestop") -> {fun treestop/1, 1000000};
workload("remote-pingpong") -> {fun remote_pingpong/1, 100000};
workload("remote-counting") -> {fun remote_counting/1, 2000000};
workload(_) ->
    fail("usage: run.sh pingpong|counting|fjcreate|idle|threadring|request"
         "|restart|treestop|remote-pingpong|remote-counting [N] [--threads K]; "
         "run.sh big [P [W]] | fanout [M [K]] [--threads K]").

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

%% -- threadring --------------------------------------------------------------

-define(RING_SIZE, 503).

% 503 processes in a ring, each waiting for its successor's pid, then
% passing the token on with one hop fewer; the one that gets it at 0 tells
% the calling process, which then asks every node how many tokens it saw
% (N + 1 in all).
threadring(N) ->
    Self = self(),
    T0 = mono_ns(),
    Ring = [spawn(fun() -> ring_link(Id, Self) end)
            || Id <- lists:seq(0, ?RING_SIZE - 1)],
    [First | _] = Ring,
    % a message between two processes arrives in send order, and nothing
    % reaches a node before its link: the token starts after all links
    lists:foreach(fun({P, Next}) -> P ! {next, Next} end,
                  lists:zip(Ring, tl(Ring) ++ [First])),
    First ! {token, N},
    Last = receive {done, Id} -> Id end,
    [P ! {get, Self} || P <- Ring],
    Seen = lists:sum([receive {seen, P, K} -> K end || P <- Ring]),
    Secs = since(T0),
    check(Last =:= N rem ?RING_SIZE andalso Seen =:= N + 1,
          "threadring: ended at node ~b after ~b tokens, expected ~b after ~b",
          [Last, Seen, N rem ?RING_SIZE, N + 1]),
    report(threadring, N, Secs, N / Secs, "hops/s").

ring_link(Id, Main) ->
    receive {next, Next} -> ring_node(Id, Next, Main, 0) end.

ring_node(Id, Next, Main, Seen) ->
    receive
        {token, 0} ->
            Main ! {done, Id},
            ring_node(Id, Next, Main, Seen + 1);
        {token, Left} ->
            Next ! {token, Left - 1},
            ring_node(Id, Next, Main, Seen + 1);
        {get, From} ->
            From ! {seen, self(), Seen}
    end.

%% -- big ---------------------------------------------------------------------

% W processes each send P pings, one at a time, to neighbours picked at
% random (rand, seeded per process) among the other W - 1; each ping is
% answered with a pong. A process that has had its P pongs tells the
% calling process and goes on answering pings until asked for its count.
big(P, W) when W < 2; P < 0 -> fail("big: W must be at least 2");
big(P, W) ->
    Self = self(),
    T0 = mono_ns(),
    Workers = [spawn(fun() -> big_start(Id, P, Self) end)
               || Id <- lists:seq(1, W)],
    Peers = list_to_tuple(Workers),
    [Wk ! {peers, Peers} || Wk <- Workers],
    [receive {done, Wk} -> ok end || Wk <- Workers],
    % every worker has had its P pongs, so every ping has been answered
    [Wk ! {get, Self} || Wk <- Workers],
    Answered = lists:sum([receive {answered, Wk, K} -> K end || Wk <- Workers]),
    Secs = since(T0),
    check(Answered =:= P * W, "big: ~b pings answered, expected ~b",
          [Answered, P * W]),
    report(big, P, Secs, 2 * P * W / Secs, "msgs/s").

big_start(Id, P, Main) ->
    rand:seed(exsss, {Id, Id * 7919, 17}),
    receive {peers, Peers} -> big_ping(Id, Peers, P, Main, 0) end.

% big_ping sends ping number Left (counting down) to a random other worker,
% or says it is done, then waits.
big_ping(_Id, _Peers, 0, Main, Answered) ->
    Main ! {done, self()},
    big_serve(Answered);
big_ping(Id, Peers, Left, Main, Answered) ->
    R = rand:uniform(tuple_size(Peers) - 1),
    To = if R >= Id -> R + 1; true -> R end, % skip itself
    element(To, Peers) ! {ping, self(), Left},
    big_wait(Id, Peers, Left, Main, Answered).

big_wait(Id, Peers, Left, Main, Answered) ->
    receive
        {ping, From, V} ->
            From ! {pong, V},
            big_wait(Id, Peers, Left, Main, Answered + 1);
        {pong, Left} ->
            big_ping(Id, Peers, Left - 1, Main, Answered);
        {pong, V} ->
            fail(io_lib:format("big: worker ~b got pong ~b, expected ~b",
                               [Id, V, Left]))
    end.

% After its P pongs: answers pings until asked for its count.
big_serve(Answered) ->
    receive
        {ping, From, V} ->
            From ! {pong, V},
            big_serve(Answered + 1);
        {get, From} ->
            From ! {answered, self(), Answered}
    end.

%% -- fanout ------------------------------------------------------------------

% The calling process sends each of 1 .. M to each of K subscribers, then
% asks each for its count and sum. A subscriber checks that the numbers
% come in order; its mailbox may hold up to M of them, so it is off-heap.
fanout(M, K) ->
    Self = self(),
    Subs = [spawn_opt(fun() -> subscriber(Self, 0, 0) end, ?MANY_MESSAGES)
            || _ <- lists:seq(1, K)],
    T0 = mono_ns(),
    broadcast(Subs, 1, M),
    [S ! get || S <- Subs],
    {Count, Sum} = lists:foldl(
                     fun(S, {C, Su}) ->
                             receive {total, S, C1, S1} -> {C + C1, Su + S1} end
                     end, {0, 0}, Subs),
    Secs = since(T0),
    Want = K * (M * (M + 1) div 2),
    check(Count =:= M * K andalso Sum =:= Want,
          "fanout: ~b deliveries summing to ~b, expected ~b and ~b",
          [Count, Sum, M * K, Want]),
    report(fanout, M, Secs, M * K / Secs, "deliveries/s").

broadcast(_, I, M) when I > M -> ok;
broadcast(Subs, I, M) ->
    [S ! {cast, I} || S <- Subs],
    broadcast(Subs, I + 1, M).

subscriber(Main, Count, Sum) ->
    receive
        {cast, I} when I =:= Count + 1 -> subscriber(Main, Count + 1, Sum + I);
        {cast, I} -> fail(io_lib:format("fanout: got ~b after ~b", [I, Count]));
        get -> Main ! {total, self(), Count, Sum}
    end.

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

% gen_server callbacks: the request server, the restart workload's worker and
% the treestop leaves.
init([]) -> {ok, nostate};
init({restart_worker, Bench}) ->
    Bench ! {started, self()},
    {ok, Bench};
init(tree_leaf) -> {ok, leaf};
% supervisor callbacks: see restart and treestop below.
init({restart_sup, Bench, N}) -> restart_sup_init(Bench, N);
init({tree_sup, Size}) -> tree_sup_init(Size).

handle_call({req, X}, _From, State) -> {reply, X + 1, State}.

handle_cast(_, State) -> {noreply, State}.

%% -- restart ----------------------------------------------------------------

% A one_for_one supervisor with one permanent gen_server worker, whose init
% tells the calling process its pid. N times: kill the worker, wait for the
% replacement's {started, Pid}. The supervisor's intensity allows N restarts.
restart(N) ->
    Self = self(),
    % A supervisor logs a SUPERVISOR REPORT (level error) for each restart of a
    % permanent child; N of them would swamp the logger (and stdout), so raise
    % the primary level: the reports are then dropped by the supervisor's
    % logger:allow/2 check before they are built.
    logger:set_primary_config(level, critical),
    {ok, Sup} = supervisor:start_link(?MODULE, {restart_sup, Self, N}),
    First = receive {started, P0} -> P0 end,
    % three legs (first tenth, middle, last tenth) to show how the latency
    % grows with the supervisor's restart history
    Tenth = N div 10,
    T0 = mono_ns(),
    {S1, P1} = restart_loop(First, Tenth, 0),
    T1 = mono_ns(),
    {S2, P2} = restart_loop(P1, N - 2 * Tenth, S1),
    T2 = mono_ns(),
    {Starts, Last} = restart_loop(P2, Tenth, S2),
    T3 = mono_ns(),
    Secs = (T3 - T0) / 1.0e9,
    unlink(Sup),
    Ref = monitor(process, Sup),
    exit(Sup, shutdown),
    receive {'DOWN', Ref, process, Sup, _} -> ok end,
    Extra = flush_started(0),
    check(is_process_alive(Last) =:= false, "restart: last worker still alive", []),
    check(Starts =:= N andalso Extra =:= 0,
          "restart: ~b replacement starts (+~b late), expected ~b", [Starts, Extra, N]),
    io:format(standard_error, "restart: mean latency ~.2f us", [Secs * 1.0e6 / N]),
    Tenth > 0 andalso
        io:format(standard_error, " (first tenth ~.2f us, last tenth ~.2f us)",
                  [(T1 - T0) / 1000 / Tenth, (T3 - T2) / 1000 / Tenth]),
    io:format(standard_error, "~n", []),
    report(restart, N, Secs, N / Secs, "restarts/s").

restart_sup_init(Bench, N) ->
    Flags = #{strategy => one_for_one, intensity => N + 10, period => 3600},
    Worker = #{id => worker,
               start => {gen_server, start_link, [?MODULE, {restart_worker, Bench}, []]},
               restart => permanent},
    {ok, {Flags, [Worker]}}.

restart_loop(Pid, 0, Starts) -> {Starts, Pid};
restart_loop(Pid, K, Starts) ->
    exit(Pid, kill),
    receive
        {started, New} when New =/= Pid -> restart_loop(New, K - 1, Starts + 1);
        {started, Pid} -> fail("restart: replacement has the old pid")
    end.

flush_started(K) ->
    receive {started, _} -> flush_started(K + 1)
    after 0 -> K
    end.

%% -- treestop ---------------------------------------------------------------

% A supervision tree of exactly N processes: each supervisor (one_for_one,
% permanent children, default shutdown: 5000 for workers, infinity for
% supervisors) has up to 10 children; the leaves are idle gen_servers. The
% build is not timed; supervisor:start_link returns once the whole tree has
% started. Timed: exit(Root, shutdown) until the root's 'DOWN'; each supervisor
% stops its children one by one in reverse start order before it exits.
treestop(N) when N < 1 -> fail("treestop: N must be at least 1");
treestop(N) ->
    process_flag(trap_exit, true),
    Baseline = erlang:system_info(process_count),
    RssBefore = vm_rss(),
    B0 = mono_ns(),
    {ok, Root} = supervisor:start_link(?MODULE, {tree_sup, N}),
    Build = since(B0),
    RssAfter = vm_rss(),
    Built = erlang:system_info(process_count) - Baseline,
    {Sups, Workers, Depth} = tree_count(Root),
    Size = Sups + Workers,
    io:format(standard_error,
              "treestop: built ~b supervisors + ~b workers, depth ~b, in ~.2f s; "
              "VmRSS +~b MB (~b B/process)~n",
              [Sups, Workers, Depth, Build, (RssAfter - RssBefore) div (1 bsl 20),
               (RssAfter - RssBefore) div max(Size, 1)]),
    check(Size =:= N, "treestop: tree has ~b processes, expected ~b", [Size, N]),
    check(Built >= N andalso Built =< N + 20,
          "treestop: ~b new processes after the build, expected ~b", [Built, N]),
    Ref = monitor(process, Root),
    T0 = mono_ns(),
    exit(Root, shutdown),
    Reason = receive {'DOWN', Ref, process, Root, R} -> R end,
    Secs = since(T0),
    receive {'EXIT', Root, _} -> ok after 1000 -> ok end,
    Left = erlang:system_info(process_count) - Baseline,
    check(Reason =:= shutdown, "treestop: root exited with ~p", [Reason]),
    check(Left =< 20, "treestop: ~b processes more than before the build", [Left]),
    report(treestop, Size, Secs, Size / Secs, "actors/s").

% A subtree of Size processes: this supervisor and Size - 1 below it, split
% into at most 10 near-equal parts; a part of one process is a leaf worker.
tree_sup_init(Size) ->
    Flags = #{strategy => one_for_one},
    Below = Size - 1,
    K = min(10, Below),
    Children = [tree_child(I, Below div K + (if I =< Below rem K -> 1; true -> 0 end))
                || I <- lists:seq(1, K)],
    {ok, {Flags, Children}}.

tree_child(Id, 1) ->
    #{id => Id, start => {gen_server, start_link, [?MODULE, tree_leaf, []]}};
tree_child(Id, Size) ->
    #{id => Id, start => {supervisor, start_link, [?MODULE, {tree_sup, Size}]},
      type => supervisor}.

% {supervisors, workers, depth} of the tree under Sup (not timed).
tree_count(Sup) ->
    lists:foldl(
      fun({_, Pid, supervisor, _}, {S, W, D}) ->
              {S1, W1, D1} = tree_count(Pid),
              {S + S1, W + W1, max(D, D1 + 1)};
         ({_, _, worker, _}, {S, W, D}) ->
              {S, W + 1, max(D, 2)}
      end, {1, 0, 1}, supervisor:which_children(Sup)).

%% -- remote-pingpong and remote-counting -------------------------------------

% Two nodes on 127.0.0.1 (run.sh starts both): this one measures, the peer
% node (named by `-bench_peer`) hosts pong or the counter, spawned there
% from here. The processes are the same as in pingpong and counting; every
% message crosses the distribution connection (TCP over loopback).
remote_pingpong(N) ->
    Peer = connect_peer(),
    Self = self(),
    Pong = spawn(Peer, ?MODULE, pong, []),
    Ref = monitor(process, Pong),
    T0 = mono_ns(),
    spawn(fun() -> Pong ! {ping, self(), 1}, ping(Pong, N, Self) end),
    Got = receive
              {done, I} -> I;
              {'DOWN', Ref, process, _, Why} -> peer_down(Why)
          end,
    Secs = since(T0),
    check(Got =:= N, "remote-pingpong: ~b round trips, expected ~b", [Got, N]),
    peak_rss('remote-pingpong', Peer),
    report('remote-pingpong', N, Secs, N / Secs, "roundtrips/s").

% The calling process is the producer. Sends to a remote pid queue on the
% distribution connection; when that queue passes the dist_buf_busy_limit
% (1 MB by default) the producer is suspended until it drains, so the
% producer runs at most that far ahead.
remote_counting(N) ->
    Peer = connect_peer(),
    Counter = spawn_opt(Peer, ?MODULE, counter, [0], ?MANY_MESSAGES),
    Ref = monitor(process, Counter),
    T0 = mono_ns(),
    produce(Counter, 1, N),
    Counter ! {get, self()},
    Total = receive
                {total, T} -> T;
                {'DOWN', Ref, process, _, Why} -> peer_down(Why)
            end,
    Secs = since(T0),
    Want = N * (N + 1) div 2,
    check(Total =:= Want, "remote-counting: total ~b, expected ~b", [Total, Want]),
    peak_rss('remote-counting', Peer),
    report('remote-counting', N, Secs, N / Secs, "msgs/s").

% The remote process died (noconnection: the peer node went away) before
% the run was done.
peer_down(Why) -> fail(io_lib:format("the peer's process went down: ~p", [Why])).

% connect_peer connects to the node named by -bench_peer, which run.sh
% started just before this one: it may take a moment to come up.
connect_peer() ->
    case init:get_argument(bench_peer) of
        {ok, [[Name]]} -> connect_peer(list_to_atom(Name), 100);
        _ -> fail("remote workloads need -bench_peer Node (use run.sh)")
    end.

connect_peer(Peer, 0) -> fail(io_lib:format("cannot connect to ~s", [Peer]));
connect_peer(Peer, Tries) ->
    case net_kernel:connect_node(Peer) of
        true -> Peer;
        _ -> timer:sleep(100), connect_peer(Peer, Tries - 1)
    end.

% peak_rss prints the peak RSS (VmHWM) of both nodes on stderr.
peak_rss(Name, Peer) ->
    PeerKB = case rpc:call(Peer, ?MODULE, vm_hwm_kb, [], 10000) of
                 KB when is_integer(KB) -> KB;
                 _ -> -1
             end,
    io:format(standard_error, "~s: peak RSS measuring node ~b kB, peer node ~b kB~n",
              [Name, vm_hwm_kb(), PeerKB]).

vm_hwm_kb() ->
    {ok, Status} = file:read_file("/proc/self/status"),
    [_, Rest] = binary:split(Status, <<"VmHWM:">>),
    [KB | _] = string:lexemes(Rest, " \t\n"),
    binary_to_integer(KB).

% peer([Measuring]) is the second node's main function (run.sh: `-run
% erl_bench peer Node`): it waits for the measuring node to connect (at most
% 60 s), then halts when that node goes away, so it never outlives a run.
peer([Measuring]) ->
    M = list_to_atom(Measuring),
    ok = net_kernel:monitor_nodes(true),
    case lists:member(M, nodes()) of
        true -> ok;
        false ->
            receive {nodeup, M} -> ok
            after 60000 ->
                    io:format(standard_error, "FAILED peer: ~s never connected~n", [M]),
                    halt(1)
            end
    end,
    peer_wait(M).

peer_wait(M) ->
    receive
        {nodedown, M} -> halt(0);
        _ -> peer_wait(M)
    end.

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
