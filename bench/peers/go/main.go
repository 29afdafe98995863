// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors

// Command go_bench is the Go peer for the troupe benchmarks (see
// /work/shared/BENCH.md): every workload, written the way Go programs are,
// with goroutines that own channels, context for deadlines and
// cancellation, and the standard library only.
//
//	go_bench <workload> [N [N2]] [--threads K]   (GOMAXPROCS K; default: all CPUs)
//
// big takes P W and fanout M K. For the remote workloads the program starts
// itself again as the peer process (go_bench --peer <workload> <addr> <pid>
// --threads K).
//
// Prints `RESULT <name> <n> <seconds> <value> <unit>`; a failed self-check
// prints `FAILED <reason>` on stderr and exits 1.
package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// A whole run must end within this time.
const runTimeout = 300 * time.Second

type workload struct {
	name  string
	run   func(n, n2 int64)
	n, n2 int64 // default sizes; n2 is 0 for workloads with one size
}

var workloads = []workload{
	{"pingpong", pingpong, 3000000, 0},
	{"counting", counting, 20000000, 0},
	{"counting-bounded", countingBounded, 20000000, 0},
	{"fjcreate", fjcreate, 1000000, 0},
	{"idle", idle, 1000000, 0},
	{"threadring", threadring, 10000000, 0},
	{"big", big, 20000, 120},
	{"request", request, 1000000, 0},
	{"fanout", fanout, 1000, 10000},
	{"restart", restart, 10000, 0},
	{"treestop", treestop, 1000000, 0},
	{"remote-pingpong", remotePingpong, 30000, 0},
	{"remote-counting", remoteCounting, 2000000, 0},
}

// threads is --threads (GOMAXPROCS), passed on to the peer process.
var threads = 0

// peerPid is the peer process of a remote workload, once started.
var peerPid = 0

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "FAILED "+format+"\n", args...)
	if peerPid > 0 {
		syscall.Kill(peerPid, syscall.SIGKILL)
	}
	os.Exit(1)
}

func check(ok bool, format string, args ...any) {
	if !ok {
		fail(format, args...)
	}
}

func report(name string, n int64, secs, value float64, unit string) {
	fmt.Printf("RESULT %s %d %.3f %.0f %s\n", name, n, secs, value, unit)
}

func since(t0 time.Time) float64 {
	return time.Since(t0).Seconds()
}

// procStatusKB returns a kB field of /proc/self/status ("VmRSS:").
func procStatusKB(key string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		fail("cannot open /proc/self/status: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) > 1 && f[0] == key {
			if kb, err := strconv.ParseInt(f[1], 10, 64); err == nil {
				return kb
			}
		}
	}
	fail("no %s in /proc/self/status", key)
	return 0
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: go_bench <workload> [N [N2]] [--threads K]\nworkloads (default sizes):")
	for _, w := range workloads {
		if w.n2 != 0 {
			fmt.Fprintf(os.Stderr, "  %-16s %d %d\n", w.name, w.n, w.n2)
		} else {
			fmt.Fprintf(os.Stderr, "  %-16s %d\n", w.name, w.n)
		}
	}
	os.Exit(2)
}

func main() {
	var args []string
	for i := 1; i < len(os.Args); i++ {
		if os.Args[i] == "--threads" && i+1 < len(os.Args) {
			k, err := strconv.Atoi(os.Args[i+1])
			if err != nil || k < 1 {
				usage()
			}
			threads = k
			runtime.GOMAXPROCS(k)
			i++
		} else {
			args = append(args, os.Args[i])
		}
	}
	if len(args) == 4 && args[0] == "--peer" {
		os.Exit(peerMain(args[1], args[2], args[3]))
	}
	if len(args) < 1 {
		usage()
	}
	var w *workload
	for i := range workloads {
		if workloads[i].name == args[0] {
			w = &workloads[i]
		}
	}
	if w == nil || len(args) > 3 || (len(args) == 3 && w.n2 == 0) {
		usage()
	}
	sizes := []int64{w.n, w.n2}
	for i, a := range args[1:] {
		v, err := strconv.ParseInt(a, 10, 64)
		if err != nil || v < 1 {
			usage()
		}
		sizes[i] = v
	}
	time.AfterFunc(runTimeout, func() { fail("timeout after %v", runTimeout) })
	w.run(sizes[0], sizes[1])
}
