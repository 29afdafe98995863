// SPDX-License-Identifier: MIT
// Copyright 2026 the troupe authors

// remote-pingpong and remote-counting: pingpong and counting with pong or
// the counter in a second process, over TCP on 127.0.0.1.
//
// The measuring process listens on a port the OS picks and starts itself
// again as the peer (go_bench --peer <workload> <addr> <pid> --threads K),
// which dials it. The peer dies with the measuring process (Pdeathsig) and
// exits when the connection closes; the measuring process reaps it within
// 10 s or kills it, and prints both processes' peak RSS on stderr.
//
// Wire format: frames of 9 bytes, a kind byte and a little-endian uint64,
// written with encoding/binary through bufio. Not gob: gob describes each
// type once per stream and then encodes every value through reflection,
// which would be most of what a run of 8-byte messages measures; a fixed
// frame is what a Go program speaking its own small protocol writes. As in
// the other peers, each side's receiving goroutine owns a channel: a
// reader goroutine decodes frames off the connection into it.

package main

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

const (
	kindPing  = 'p' // pingpong, both ways: the round trip's number
	kindAdd   = 'a' // counting: a number to add
	kindGet   = 'g' // counting: ask for the total
	kindTotal = 't' // counting: the total
)

type frame struct {
	kind byte
	v    uint64
}

const frameSize = 9

func writeFrame(w *bufio.Writer, f frame) error {
	var b [frameSize]byte
	b[0] = f.kind
	binary.LittleEndian.PutUint64(b[1:], f.v)
	_, err := w.Write(b[:])
	return err
}

// readFrames decodes frames from r into `out` until the connection ends,
// then closes `out`.
func readFrames(r io.Reader, out chan<- frame) {
	br := bufio.NewReaderSize(r, 64<<10)
	var b [frameSize]byte
	for {
		if _, err := io.ReadFull(br, b[:]); err != nil {
			close(out)
			return
		}
		out <- frame{b[0], binary.LittleEndian.Uint64(b[1:])}
	}
}

var peerCmd *exec.Cmd

// startPeer starts the peer process for `name` and returns the connection
// it dials.
func startPeer(name string) net.Conn {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail("listen: %v", err)
	}
	args := []string{"--peer", name, ln.Addr().String(), strconv.Itoa(os.Getpid())}
	if threads > 0 {
		args = append(args, "--threads", strconv.Itoa(threads))
	}
	peerCmd = exec.Command("/proc/self/exe", args...)
	peerCmd.Stdout = os.Stderr
	peerCmd.Stderr = os.Stderr
	peerCmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := peerCmd.Start(); err != nil {
		fail("starting the peer: %v", err)
	}
	peerPid = peerCmd.Process.Pid
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(30 * time.Second))
	conn, err := ln.Accept()
	if err != nil {
		fail("the peer did not connect: %v", err)
	}
	ln.Close()
	return conn
}

// reapPeer closes the connection, waits (at most 10 s) for the peer to
// exit and prints both processes' peak RSS on stderr.
func reapPeer(name string, conn net.Conn) {
	conn.Close()
	exited := make(chan error, 1)
	go func() { exited <- peerCmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			fail("the peer: %v", err)
		}
	case <-time.After(10 * time.Second):
		fail("the peer did not exit within 10 s")
	}
	peerPid = 0
	var peerKB int64 = -1
	if ru, ok := peerCmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		peerKB = ru.Maxrss
	}
	os.Stderr.WriteString(name + ": peak RSS measuring process " +
		strconv.FormatInt(procStatusKB("VmHWM:"), 10) + " kB, peer " +
		strconv.FormatInt(peerKB, 10) + " kB\n")
}

// remote-pingpong: ping here, pong in the peer; ping flushes each frame.
func remotePingpong(n, _ int64) {
	conn := startPeer("remote-pingpong")
	inbox := make(chan frame, 1) // ping's mailbox
	go readFrames(conn, inbox)
	w := bufio.NewWriter(conn)
	t0 := time.Now()
	var got int64
	for i := uint64(1); i <= uint64(n); i++ {
		if writeFrame(w, frame{kindPing, i}) != nil || w.Flush() != nil {
			fail("remote-pingpong: the connection failed")
		}
		f, ok := <-inbox
		if !ok {
			fail("remote-pingpong: the peer went away")
		}
		check(f.kind == kindPing && f.v == i, "remote-pingpong: got %c %d for %d",
			f.kind, f.v, i)
		got++
	}
	secs := since(t0)
	check(got == n, "remote-pingpong: %d round trips, expected %d", got, n)
	reapPeer("remote-pingpong", conn)
	report("remote-pingpong", n, secs, float64(n)/secs, "roundtrips/s")
}

// remote-counting: the calling goroutine sends 1 .. N to the counter in
// the peer, through a 64 KiB bufio.Writer (so frames go out in batches),
// then asks for the total. TCP's window and the peer's channel bound what
// is in flight: a full socket blocks the producer, as a full channel does.
func remoteCounting(n, _ int64) {
	conn := startPeer("remote-counting")
	inbox := make(chan frame, 1)
	go readFrames(conn, inbox)
	w := bufio.NewWriterSize(conn, 64<<10)
	t0 := time.Now()
	for i := uint64(1); i <= uint64(n); i++ {
		if writeFrame(w, frame{kindAdd, i}) != nil {
			fail("remote-counting: the connection failed")
		}
	}
	if writeFrame(w, frame{kindGet, 0}) != nil || w.Flush() != nil {
		fail("remote-counting: the connection failed")
	}
	f, ok := <-inbox
	secs := since(t0)
	check(ok, "remote-counting: the peer went away")
	want := uint64(n) * uint64(n+1) / 2
	check(f.kind == kindTotal && f.v == want, "remote-counting: got %c %d, expected total %d",
		f.kind, f.v, want)
	reapPeer("remote-counting", conn)
	report("remote-counting", n, secs, float64(n)/secs, "msgs/s")
}

// peerMain is the peer process: it dials the measuring process and runs
// pong or the counter, a goroutine receiving on its channel, until the
// connection closes.
func peerMain(name, addr, ppid string) int {
	if strconv.Itoa(os.Getppid()) != ppid {
		return 1
	}
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		fail("peer: dial %s: %v", addr, err)
	}
	inbox := make(chan frame, countingCap) // pong's or the counter's mailbox
	go readFrames(conn, inbox)
	w := bufio.NewWriter(conn)
	var sum uint64
	for f := range inbox {
		switch {
		case name == "remote-pingpong" && f.kind == kindPing:
			if writeFrame(w, f) != nil {
				return 1
			}
		case name == "remote-counting" && f.kind == kindAdd:
			sum += f.v
		case name == "remote-counting" && f.kind == kindGet:
			if writeFrame(w, frame{kindTotal, sum}) != nil {
				return 1
			}
		default:
			fail("peer: unexpected frame %c", f.kind)
		}
		if len(inbox) == 0 && w.Flush() != nil { // nothing more queued
			return 1
		}
	}
	return 0
}
