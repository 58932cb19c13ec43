// Package testports hands out ports that a test must name before the
// process that binds them runs: sipp's -p and -mp, Kamailio's listen
// address, a child Hotline's sip.udp, baresip's ctrl_tcp, a private
// PostgreSQL's port (internal/baresiptest and store/postgres/pgtest take
// the caller's Pool).
//
// A port probed free in the kernel's ephemeral range
// (net.ipv4.ip_local_port_range, 32768-60999 by default) and closed again
// is anybody's: a socket bound to port 0 meanwhile (a Go caller's RTP,
// another package's test, an outgoing TCP connection) can take it before
// the tool binds it, and sipp then exits 254 before sending its INVITE.
// So ports come from blocks in a range below 32768 that the calling test
// package owns: go test runs packages in parallel processes, and two
// packages drawing from one range would hand out the same block.
//
// The ranges in use, one per package (keep them apart from each other, from
// the RTP pools the tests configure (grep PortMin and NewPortPool in
// *_test.go: 20000-31998 and 32000-32498 are taken) and from the server's
// default 20000-30000):
//
//	e2e              18000-19999
//	sip              12000-12399
//	media            12400-12799
//	callback/dialer  12800-13199
//	testports        13200-13263 (its own tests)
//	registrar        13400-13599
//	queue            13600-13799
//	api              13800-13899
//	store/postgres   13900-13999
//	  .../pgtest     17000-17099
//	cluster          17100-17199
//
// Outside Go's tests, scripts/bench.sh names its ports in 14000-14999.
// TestRangesApart checks that no two packages' ranges overlap.
//
// It is a normal package so that tests in several packages can share it,
// but only tests import it; nothing in the server does.
package testports

import (
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
)

// BlockSize is the number of consecutive ports in a Block.
const BlockSize = 4

// Block is four consecutive ports from Base (a multiple of 4), all free
// over UDP and TCP on 127.0.0.1 when it was handed out. sipp binds -mp for
// audio RTP and -mp+2 for its video socket, whatever the scenario, so
// Media is Base and Base+2 is kept free for it; SIP is Base+1; Ctrl is
// Base+3, for a TCP control socket.
type Block struct{ Base int }

// Media is the even port for sipp's -mp (it binds Media and Media+2).
func (b Block) Media() int { return b.Base }

// SIP is the port for a SIP socket (sipp's -p, Kamailio's listen).
func (b Block) SIP() int { return b.Base + 1 }

// Ctrl is a port no tool's RTP touches, for a TCP control socket
// (baresip's ctrl_tcp).
func (b Block) Ctrl() int { return b.Base + 3 }

// Pool hands out the blocks of one range round robin, starting at a random
// one so that two test binaries of the same package started together
// (developers on one machine) do not begin on the same block. Within a
// process a block is handed out again only after all the others, long
// after its last user has exited.
type Pool struct {
	min, n int

	mu      sync.Mutex
	next    int // index of the next block
	started bool
}

// New is the pool of the aligned blocks in [min, max]. A range that is not
// below the ephemeral range or holds no block is a mistake in the test's
// source: New panics.
func New(min, max int) *Pool {
	first := (min + BlockSize - 1) / BlockSize * BlockSize
	n := (max - first + 1) / BlockSize
	if min < 1024 || max >= 32768 || n < 1 {
		panic(fmt.Sprintf("testports: range %d-%d: want an aligned block of %d in 1024-32767", min, max, BlockSize))
	}
	return &Pool{min: first, n: n}
}

// Reserve returns the next block whose four ports are free now, skipping
// those another process holds.
func (p *Pool) Reserve() (Block, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.started {
		p.next, p.started = rand.IntN(p.n), true
	}
	for range p.n {
		b := Block{Base: p.min + BlockSize*p.next}
		p.next = (p.next + 1) % p.n
		if free(b) {
			return b, nil
		}
	}
	return Block{}, fmt.Errorf("testports: no free block of %d ports in %d-%d", BlockSize, p.min, p.min+BlockSize*p.n-1)
}

// Block is Reserve for the test's goroutine: it fails the test when every
// block is taken.
func (p *Pool) Block(t testing.TB) Block {
	t.Helper()
	b, err := p.Reserve()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// free reports whether every port of b can be bound on 127.0.0.1 over UDP
// and over TCP.
func free(b Block) bool {
	var closers []interface{ Close() error }
	defer func() {
		for _, c := range closers {
			c.Close()
		}
	}()
	for port := b.Base; port < b.Base+BlockSize; port++ {
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		u, err := net.ListenPacket("udp", addr)
		if err != nil {
			return false
		}
		closers = append(closers, u)
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return false
		}
		closers = append(closers, l)
	}
	return true
}
