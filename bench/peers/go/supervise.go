// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors

// restart and treestop: supervision the Go way. Go has no supervisors;
// the usual shape is a goroutine that starts workers, learns of their end
// from a channel, starts a new one for a worker that failed, and stops
// them all through a context. A tree of those, each supervisor deriving
// its subtree's context from its parent's, is stopped by cancelling the
// root's context.

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// errCrash is what a restart worker returns when told to crash.
var errCrash = errors.New("crash")

// rworker is one worker of the restart supervisor: its id (new for each
// start) and the channel it receives on.
type rworker struct {
	id    int64
	crash chan struct{}
}

// supervise runs a one-for-one supervisor over one permanent worker until
// ctx is cancelled: every start is announced on `started`; a worker that
// returns an error is replaced, at most `intensity` times. It returns the
// number of restarts.
func supervise(ctx context.Context, started chan<- rworker, intensity int64) int64 {
	exits := make(chan error)
	var next, restarts int64
	start := func() {
		w := rworker{next, make(chan struct{})}
		next++
		go func() {
			exits <- func() error { // the worker's body
				started <- w
				select {
				case <-w.crash:
					return errCrash
				case <-ctx.Done():
					return nil
				}
			}()
		}()
	}
	start()
	for {
		select {
		case err := <-exits:
			if err == nil { // stopped by the context
				return restarts
			}
			if restarts++; restarts > intensity {
				fail("restart: intensity %d exceeded", intensity)
			}
			start()
		case <-ctx.Done():
			<-exits // the worker's end
			return restarts
		}
	}
}

// restart: N times, crash the worker and wait for its replacement's
// announcement, which must carry a new id.
func restart(n, _ int64) {
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan rworker)
	restarts := make(chan int64, 1)
	go func() { restarts <- supervise(ctx, started, n+10) }()
	w := <-started
	tenth := n / 10
	t0 := time.Now()
	t1, t2 := t0, t0
	for i := int64(1); i <= n; i++ {
		if i == tenth+1 {
			t1 = time.Now()
		}
		if i == n-tenth+1 {
			t2 = time.Now()
		}
		close(w.crash)
		old := w.id
		w = <-started
		check(w.id > old, "restart: the replacement has id %d after %d", w.id, old)
	}
	t3 := time.Now()
	secs := t3.Sub(t0).Seconds()
	cancel()
	got := <-restarts
	check(got == n && w.id == n, "restart: %d restarts, last id %d, expected %d",
		got, w.id, n)
	fmt.Fprintf(os.Stderr, "restart: mean latency %.2f us", secs*1e6/float64(n))
	if tenth > 0 {
		fmt.Fprintf(os.Stderr, " (first tenth %.2f us, last tenth %.2f us)",
			float64(t1.Sub(t0).Microseconds())/float64(tenth),
			float64(t3.Sub(t2).Microseconds())/float64(tenth))
	}
	fmt.Fprintln(os.Stderr)
	report("restart", n, secs, float64(n)/secs, "restarts/s")
}

// treeFanout is the most children a tree supervisor has.
const treeFanout = 10

// tree counts the tree's goroutines: up while it is built, stopped as
// each returns.
type tree struct {
	up      sync.WaitGroup
	stopped atomic.Int64
	sups    atomic.Int64
}

// treeNode runs a subtree of `size` goroutines, itself included: a leaf,
// or a supervisor over size - 1 goroutines split into at most 10
// near-equal parts, with a context of its own derived from its parent's.
// A supervisor returns once all its children have.
func (t *tree) node(ctx context.Context, size int64, exited *sync.WaitGroup) {
	defer exited.Done()
	if size == 1 { // an idle leaf
		t.up.Done()
		<-ctx.Done()
		t.stopped.Add(1)
		return
	}
	t.sups.Add(1)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	below := size - 1
	k := below
	if k > treeFanout {
		k = treeFanout
	}
	var children sync.WaitGroup
	for i := int64(0); i < k; i++ {
		part := below / k
		if i < below%k {
			part++
		}
		children.Add(1)
		go t.node(ctx, part, &children)
	}
	t.up.Done()
	<-ctx.Done()
	children.Wait()
	t.stopped.Add(1)
}

// treestop: a tree of exactly N goroutines, shaped as the Erlang peer's;
// built untimed, then timed from cancelling the root's context until the
// root has returned. Every goroutine must have stopped, and the goroutine
// count must be back to its baseline.
func treestop(n, _ int64) {
	base := runtime.NumGoroutine()
	var t tree
	t.up.Add(int(n))
	before := procStatusKB("VmRSS:")
	b0 := time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	var root sync.WaitGroup
	root.Add(1)
	go t.node(ctx, n, &root)
	t.up.Wait()
	build := since(b0)
	after := procStatusKB("VmRSS:")
	built := runtime.NumGoroutine() - base
	fmt.Fprintf(os.Stderr, "treestop: built %d supervisors + %d workers in %.2f s; "+
		"VmRSS +%d MB (%d B/goroutine)\n", t.sups.Load(), n-t.sups.Load(),
		build, (after-before)/1024, (after-before)*1024/n)
	check(int64(built) == n, "treestop: %d goroutines after the build, expected %d", built, n)
	t0 := time.Now()
	cancel()
	root.Wait()
	secs := since(t0)
	check(t.stopped.Load() == n, "treestop: %d goroutines stopped, expected %d",
		t.stopped.Load(), n)
	// The last ones may still be returning from their deferred calls.
	left := runtime.NumGoroutine() - base
	for end := time.Now().Add(10 * time.Second); left > 0 && time.Now().Before(end); {
		time.Sleep(time.Millisecond)
		left = runtime.NumGoroutine() - base
	}
	check(left <= 0, "treestop: %d goroutines more than before the build", left)
	report("treestop", n, secs, float64(n)/secs, "actors/s")
}
