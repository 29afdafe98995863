// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors

// The workloads within one process. Each "actor" is a goroutine that owns
// the channel it receives on (its mailbox); nothing else is shared between
// goroutines while they run, except where a comment says so.

package main

import (
	"context"
	"math/rand"
	"runtime"
	"sync"
	"time"
)

// pingpong: ping and pong bounce one number N times over two unbuffered
// channels, each goroutine receiving on its own.
func pingpong(n, _ int64) {
	toPong := make(chan int64) // pong's mailbox
	toPing := make(chan int64) // ping's mailbox
	done := make(chan int64)
	go func() { // pong
		for i := range toPong {
			toPing <- i
		}
	}()
	t0 := time.Now()
	go func() { // ping
		var got int64
		for i := int64(1); i <= n; i++ {
			toPong <- i
			if v := <-toPing; v != i {
				fail("pingpong: got %d back for %d", v, i)
			}
			got++
		}
		close(toPong)
		done <- got
	}()
	got := <-done
	secs := since(t0)
	check(got == n, "pingpong: %d round trips, expected %d", got, n)
	report("pingpong", n, secs, float64(n)/secs, "roundtrips/s")
}

// countingCap is the counter's channel buffer. Go has no unbounded
// channel, so counting and counting-bounded are the same program: a full
// channel blocks the producer, which is Go's backpressure.
const countingCap = 1024

// countWith: the calling goroutine sends 1 .. N to the counter over a
// channel of `capacity`, then closes it; the counter sends back the total.
func countWith(name string, n int64, capacity int) {
	adds := make(chan int64, capacity) // the counter's mailbox
	total := make(chan int64)
	go func() { // counter
		var sum int64
		for v := range adds {
			sum += v
		}
		total <- sum
	}()
	t0 := time.Now()
	for i := int64(1); i <= n; i++ {
		adds <- i
	}
	close(adds)
	got := <-total
	secs := since(t0)
	want := n * (n + 1) / 2
	check(got == want, "%s: total %d, expected %d", name, got, want)
	report(name, n, secs, float64(n)/secs, "msgs/s")
}

func counting(n, _ int64) {
	countWith("counting", n, countingCap)
}

func countingBounded(n, _ int64) {
	countWith("counting-bounded", n, countingCap)
}

// fjcreate: the creator starts N goroutines, each with a channel of its
// own, and sends each a number i; each answers 2i+1 and ends. The calling
// goroutine collects the answers while the creator runs.
func fjcreate(n, _ int64) {
	answers := make(chan int64, 1024)
	t0 := time.Now()
	go func() { // creator
		for i := int64(0); i < n; i++ {
			mailbox := make(chan int64, 1)
			go func() {
				x := <-mailbox
				answers <- 2*x + 1 // the trivial work
			}()
			mailbox <- i
		}
	}()
	var sum int64
	for k := int64(0); k < n; k++ {
		sum += <-answers
	}
	secs := since(t0)
	// each answers 2i+1 for its i in [0, N): the sum is N*N
	check(sum == n*n, "fjcreate: sum %d, expected %d", sum, n*n)
	report("fjcreate", n, secs, float64(n)/secs, "actors/s")
}

// idle: N goroutines, each parked in a select on a channel of its own and
// the run's context; VmRSS before and after, per goroutine. The slice of
// channels (8 B per goroutine) is counted, as the other peers count their
// lists of handles.
func idle(n, _ int64) {
	ctx, cancel := context.WithCancel(context.Background())
	base := runtime.NumGoroutine()
	var ready, exited sync.WaitGroup
	ready.Add(int(n))
	exited.Add(int(n))
	mailboxes := make([]chan int64, 0, n)
	before := procStatusKB("VmRSS:")
	t0 := time.Now()
	for i := int64(0); i < n; i++ {
		mailbox := make(chan int64)
		mailboxes = append(mailboxes, mailbox)
		go func() {
			defer exited.Done()
			ready.Done()
			select {
			case <-mailbox:
			case <-ctx.Done():
			}
		}()
	}
	ready.Wait()
	secs := since(t0)
	after := procStatusKB("VmRSS:")
	live := runtime.NumGoroutine() - base
	cancel()
	exited.Wait()
	runtime.KeepAlive(mailboxes)
	check(int64(live) == n, "idle: %d goroutines live, expected %d", live, n)
	report("idle", n, secs, float64(after-before)*1024/float64(n), "B/actor")
}

// threadring: 503 goroutines in a ring, goroutine i receiving on ring[i]
// and passing the token, one hop fewer, to ring[i+1]; the one that gets it
// at 0 says so. Each counts the tokens it saw (N + 1 in all) and leaves
// the count in its own slot of `seen` when the context is cancelled.
const ringSize = 503

func threadring(n, _ int64) {
	ctx, cancel := context.WithCancel(context.Background())
	var ring [ringSize]chan int64
	for i := range ring {
		ring[i] = make(chan int64)
	}
	var seen [ringSize]int64
	var wg sync.WaitGroup
	last := make(chan int, 1)
	t0 := time.Now()
	for i := 0; i < ringSize; i++ {
		wg.Add(1)
		go func(id int, in, next chan int64) {
			defer wg.Done()
			var k int64
			for {
				select {
				case left := <-in:
					k++
					if left == 0 {
						last <- id
					} else {
						next <- left - 1
					}
				case <-ctx.Done():
					seen[id] = k // read after wg.Wait
					return
				}
			}
		}(i, ring[i], ring[(i+1)%ringSize])
	}
	ring[0] <- n
	id := <-last
	cancel()
	wg.Wait()
	secs := since(t0)
	var total int64
	for _, k := range seen {
		total += k
	}
	check(int64(id) == n%ringSize && total == n+1,
		"threadring: ended at %d after %d tokens, expected %d after %d",
		id, total, n%ringSize, n+1)
	report("threadring", n, secs, float64(n)/secs, "hops/s")
}

// big: W goroutines each send P pings, one at a time, to neighbours picked
// at random among the other W - 1, and answer every ping with a pong on
// the sender's channel. A goroutine has at most one ping of its own in
// flight, so at most W messages are ever queued for one: with channels of
// W, no send blocks and nothing can deadlock. A goroutine that has had its
// P pongs says so and goes on answering until the context is cancelled.
type bigMsg struct {
	from int // -1: a pong
	v    int64
}

func big(p, w int64) {
	check(w >= 2, "big: W must be at least 2")
	ctx, cancel := context.WithCancel(context.Background())
	mailboxes := make([]chan bigMsg, w)
	for i := range mailboxes {
		mailboxes[i] = make(chan bigMsg, w)
	}
	answered := make([]int64, w) // slot i: goroutine i's, read after wg.Wait
	done := make(chan struct{}, w)
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := 0; i < int(w); i++ {
		wg.Add(1)
		go func(id int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(int64(id) + 1))
			in := mailboxes[id]
			left := p
			var expect, k int64
			ping := func() {
				if left == 0 {
					done <- struct{}{}
					return
				}
				left--
				to := rng.Intn(int(w) - 1)
				if to >= id { // skip itself
					to++
				}
				expect = int64(id)<<32 | left
				mailboxes[to] <- bigMsg{id, expect}
			}
			ping()
			for {
				select {
				case m := <-in:
					if m.from >= 0 {
						k++
						mailboxes[m.from] <- bigMsg{-1, m.v}
					} else if m.v != expect {
						fail("big: %d got pong %d, expected %d", id, m.v, expect)
					} else {
						ping()
					}
				case <-ctx.Done():
					answered[id] = k
					return
				}
			}
		}(i)
	}
	for i := int64(0); i < w; i++ {
		<-done
	}
	// every goroutine has had its P pongs, so every ping has been answered
	cancel()
	wg.Wait()
	secs := since(t0)
	var total int64
	for _, k := range answered {
		total += k
	}
	check(total == p*w, "big: %d pings answered, expected %d", total, p*w)
	report("big", p, secs, 2*float64(p*w)/secs, "msgs/s")
}

// request: a client makes N sequential requests to a server goroutine,
// each under its own context.WithTimeout of 1 s, which also travels with
// the request; the reply comes on a channel made for the request (buffered,
// so a server never blocks on a client that gave up). A timeout fails the
// run.
type req struct {
	ctx   context.Context
	x     int64
	reply chan int64
}

func request(n, _ int64) {
	reqs := make(chan req) // the server's mailbox
	go func() {            // server
		for r := range reqs {
			if r.ctx.Err() == nil { // nobody waits for an expired one
				r.reply <- r.x + 1
			}
		}
	}()
	t0 := time.Now()
	var sum int64
	for i := int64(1); i <= n; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		r := req{ctx, i, make(chan int64, 1)}
		select {
		case reqs <- r:
		case <-ctx.Done():
			fail("request %d: %v", i, ctx.Err())
		}
		select {
		case y := <-r.reply:
			check(y == i+1, "request: reply %d to %d", y, i)
			sum += y
		case <-ctx.Done():
			fail("request %d: %v", i, ctx.Err())
		}
		cancel()
	}
	secs := since(t0)
	close(reqs)
	want := n * (n + 3) / 2 // the replies are 2 .. N+1
	check(sum == want, "request: sum %d, expected %d", sum, want)
	report("request", n, secs, float64(n)/secs, "requests/s")
}

// fanoutCap is each subscriber's channel buffer.
const fanoutCap = 64

// fanout: the calling goroutine sends each of 1 .. M on each of K
// subscribers' channels, then closes them; each subscriber checks the
// numbers come in order and leaves its count and sum in its own slot.
func fanout(m, k int64) {
	subs := make([]chan int64, k)
	for i := range subs {
		subs[i] = make(chan int64, fanoutCap)
	}
	counts := make([]int64, k) // slot i: subscriber i's, read after wg.Wait
	sums := make([]int64, k)
	var wg sync.WaitGroup
	for i := range subs {
		wg.Add(1)
		go func(id int) {
			defer wg.Done()
			var c, s int64
			for v := range subs[id] {
				if v != c+1 {
					fail("fanout: got %d after %d", v, c)
				}
				c++
				s += v
			}
			counts[id], sums[id] = c, s
		}(i)
	}
	t0 := time.Now()
	for v := int64(1); v <= m; v++ {
		for _, s := range subs {
			s <- v
		}
	}
	for _, s := range subs {
		close(s)
	}
	wg.Wait()
	secs := since(t0)
	var c, s int64
	for i := range subs {
		c += counts[i]
		s += sums[i]
	}
	want := k * (m * (m + 1) / 2)
	check(c == m*k && s == want,
		"fanout: %d deliveries summing to %d, expected %d and %d",
		c, s, m*k, want)
	report("fanout", m, secs, float64(m*k)/secs, "deliveries/s")
}
