//go:build linux

package media

import (
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// polledSession is a started session reading from peer through a poller.
func polledSession(t *testing.T, pool *PortPool, peer *net.UDPConn, sink func([]int16)) *Session {
	t.Helper()
	s, err := NewSession(SessionConfig{IP: loopback, Pool: pool})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if sink != nil {
		s.SetAudioSink(sink)
	}
	if err := s.Start(Remote{Addr: peer.LocalAddr().(*net.UDPAddr).AddrPort(), Codec: PCMA, PayloadType: 8, Signal: loopback}); err != nil {
		t.Fatal(err)
	}
	if s.poll == nil {
		t.Fatal("a session on a UDP socket is not read by a poller")
	}
	return s
}

func udpPeer(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, 0)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// pollersRunning counts the pollers with a loop (a goroutine and an epoll fd).
func pollersRunning() int {
	n := 0
	readers.pick() // sized
	for _, p := range readers.pollers {
		p.mu.Lock()
		if p.loop != nil {
			n++
		}
		p.mu.Unlock()
	}
	return n
}

// Many sessions share the pollers: no goroutine per session, every packet
// sent to every socket is read, and when the sessions are gone the pollers
// are too.
func TestPollerManySessions(t *testing.T) {
	defer goleak.VerifyNone(t)
	const calls, pkts = 100, 20
	base := freeEvenRange(t, 2*calls)
	pool, err := NewPortPool(base, base+4*calls-1)
	if err != nil {
		t.Fatal(err)
	}
	peer := udpPeer(t)
	g0 := runtime.NumGoroutine()
	ss := make([]*Session, calls)
	for i := range ss {
		ss[i] = polledSession(t, pool, peer, nil)
	}
	// The pollers, and the pool's pacers, which Start wakes (they exit
	// again when they find nothing to send); one goroutine of another
	// test's may still be on its way out, so wait for the count to settle
	// rather than read it once. A goroutine per session would be ~100.
	most := 2 * runtime.GOMAXPROCS(0)
	waitFor(t, fmt.Sprintf("at most %d goroutines (pollers and pacers) for %d sessions", most, calls), func() bool {
		return runtime.NumGoroutine()-g0 <= most
	})
	for seq := range pkts {
		for _, s := range ss {
			sendRTP(t, peer, s.LocalAddr(), uint16(seq+1), 160)
		}
	}
	for i, s := range ss {
		waitStats(t, s, "received every packet", func(st Stats) bool { return st.PacketsReceived == pkts })
		if st := s.Stats(); st.Lost != 0 || st.PacketsIgnored != 0 {
			t.Errorf("session %d: lost %d, ignored %d", i, st.Lost, st.PacketsIgnored)
		}
	}
	for _, s := range ss {
		s.Close()
	}
	if n := pollersRunning(); n != 0 {
		t.Errorf("%d pollers left running with no session", n)
	}
}

// Sessions closing while their packets arrive: once Close returns, no
// handler of the session runs again (the socket may be closed and its fd
// reused), and the others keep receiving.
func TestPollerCloseWhilePacketsArrive(t *testing.T) {
	defer goleak.VerifyNone(t)
	const calls = 16
	peer := udpPeer(t)
	type call struct {
		s      *Session
		closed atomic.Bool
		after  atomic.Int64 // handler runs after Close returned
	}
	cs := make([]*call, calls)
	for i := range cs {
		c := &call{}
		c.s = polledSession(t, nil, peer, func([]int16) {
			if c.closed.Load() {
				c.after.Add(1)
			}
		})
		cs[i] = c
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for seq := uint16(1); ; seq++ {
			select {
			case <-stop:
				return
			default:
			}
			for _, c := range cs {
				// Errors (ICMP port unreachable after a close) are expected.
				sendRTPQuiet(peer, c.s.LocalAddr(), seq)
			}
		}
	}()
	for _, c := range cs[:calls/2] {
		waitStats(t, c.s, "received", func(st Stats) bool { return st.PacketsReceived > 0 })
		c.s.Close()
		c.closed.Store(true)
	}
	last := cs[calls-1].s
	n := last.Stats().PacketsReceived
	waitStats(t, last, "kept receiving", func(st Stats) bool { return st.PacketsReceived > n+10 })
	close(stop)
	wg.Wait()
	for i, c := range cs {
		c.s.Close()
		c.closed.Store(true)
		if a := c.after.Load(); a != 0 {
			t.Errorf("session %d: %d packets handled after Close returned", i, a)
		}
	}
	if n := pollersRunning(); n != 0 {
		t.Errorf("%d pollers left running with no session", n)
	}
}

func sendRTPQuiet(c *net.UDPConn, to netip.AddrPort, seq uint16) {
	b := make([]byte, 12+160)
	b[0], b[1] = 0x80, 8
	b[2], b[3] = byte(seq>>8), byte(seq)
	b[11] = 7
	c.WriteToUDPAddrPort(b, to)
}

// A session whose socket is closed by its owner (a caller's own conn)
// while registered: its fd number, reused by the next socket, is never
// read for the old session, and the new one gets its packets.
func TestPollerConnClosedElsewhere(t *testing.T) {
	peer := udpPeer(t)
	own, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, 0)))
	if err != nil {
		t.Fatal(err)
	}
	old, err := NewSession(SessionConfig{Conn: own})
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if err := old.Start(Remote{Addr: peer.LocalAddr().(*net.UDPAddr).AddrPort(), Codec: PCMA, PayloadType: 8, Signal: loopback}); err != nil {
		t.Fatal(err)
	}
	if old.poll == nil {
		t.Fatal("a caller's *net.UDPConn is not read by a poller")
	}
	own.Close()
	next := polledSession(t, nil, peer, nil)
	for seq := range uint16(5) {
		sendRTP(t, peer, next.LocalAddr(), seq+1, 160)
	}
	waitStats(t, next, "received", func(st Stats) bool { return st.PacketsReceived == 5 })
	if st := old.Stats(); st.PacketsReceived != 0 {
		t.Errorf("the closed conn's session received %d packets (read another socket's fd?)", st.PacketsReceived)
	}
}

// A handler that blocks holds up only its own poller's sessions, whose
// packets wait in their sockets and are all read once it returns; another
// session of that poller can be closed meanwhile, and the blocked one's
// Close waits for its handler.
func TestPollerSlowHandler(t *testing.T) {
	defer goleak.VerifyNone(t)
	peer := udpPeer(t)
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	slow := polledSession(t, nil, peer, func([]int16) {
		once.Do(func() {
			close(entered)
			<-release
		})
	})
	// Two more sessions on the slow one's poller.
	var same []*Session
	for len(same) < 2 {
		s := polledSession(t, nil, peer, nil)
		if s.poll.p == slow.poll.p {
			same = append(same, s)
		} else {
			s.Close()
		}
	}
	sendRTP(t, peer, slow.LocalAddr(), 1, 160)
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the slow handler never ran")
	}
	const pkts = 10
	for seq := range uint16(pkts) {
		sendRTP(t, peer, same[0].LocalAddr(), seq+1, 160)
		sendRTP(t, peer, same[1].LocalAddr(), seq+1, 160)
	}
	closed := make(chan struct{})
	go func() { same[1].Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close of another session waited for the blocked handler")
	}
	slowClosed := make(chan struct{})
	go func() { slow.Close(); close(slowClosed) }()
	select {
	case <-slowClosed:
		t.Fatal("Close returned while the session's handler was still running")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	<-slowClosed
	waitStats(t, same[0], "read the queued packets", func(st Stats) bool { return st.PacketsReceived == pkts })
	if st := same[0].Stats(); st.Lost != 0 {
		t.Errorf("lost %d", st.Lost)
	}
	same[0].Close()
}

// A slot reused after a session left does not take the events fetched
// for the old one: the generation tells them apart.
func TestPollerSlotReuse(t *testing.T) {
	peer := udpPeer(t)
	keep := polledSession(t, nil, peer, nil) // keeps its poller's loop
	defer keep.Close()
	onKeeps := func() *Session {
		for {
			s := polledSession(t, nil, peer, nil)
			if s.poll.p == keep.poll.p {
				return s
			}
			s.Close()
		}
	}
	a := onKeeps()
	slot, gen := a.poll.slot, a.poll.gen
	a.Close()
	b := onKeeps()
	if b.poll.loop != keep.poll.loop || b.poll.slot != slot || b.poll.gen == gen {
		t.Errorf("slot %d gen %d after slot %d gen %d: want the slot reused with a new generation", b.poll.slot, b.poll.gen, slot, gen)
	}
	sendRTP(t, peer, b.LocalAddr(), 1, 160)
	waitStats(t, b, "received", func(st Stats) bool { return st.PacketsReceived == 1 })
	if st := keep.Stats(); st.PacketsReceived != 0 {
		t.Errorf("another session received %d packets", st.PacketsReceived)
	}
}

// Draining a socket allocates nothing: a closure built per drain (about
// one per packet) was garbage that kept the GC cycling, and the heap
// growing, while a thousand callers were held (issue 15).
func TestPollerDrainAllocatesNothing(t *testing.T) {
	peer := udpPeer(t)
	s := polledSession(t, nil, peer, nil)
	m := newMmsgBufs()
	if n := testing.AllocsPerRun(200, func() { s.poll.drain(m) }); n != 0 {
		t.Errorf("a drain allocates %.2f times, want 0", n)
	}
}
