package media

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pion/rtp"
	"go.uber.org/goleak"
)

// sharedPool is a pool in shared-port mode on port `shared`, for callers
// on 127.0.0.0/8 (or the given networks).
func sharedPool(t *testing.T, shared int, nets ...string) *PortPool {
	t.Helper()
	base := freeEvenRange(t, 4)
	pool, err := NewPortPool(base, base+7)
	if err != nil {
		t.Fatal(err)
	}
	if len(nets) == 0 {
		nets = []string{"127.0.0.0/8"}
	}
	var pfx []netip.Prefix
	for _, n := range nets {
		pfx = append(pfx, netip.MustParsePrefix(n))
	}
	if err := pool.SetShared(SharedConfig{Ports: []int{shared}, Networks: pfx}); err != nil {
		t.Fatal(err)
	}
	return pool
}

func sharedSession(t *testing.T, pool *PortPool, peer netip.AddrPort, cfg SessionConfig) *Session {
	t.Helper()
	cfg.IP, cfg.Pool, cfg.Peer, cfg.PeerSignal = loopback, pool, peer, peer.Addr()
	s, err := NewSession(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func pcmaRemote(addr netip.AddrPort) Remote {
	return Remote{Addr: addr, Codec: PCMA, PayloadType: 8, DTMFPayloadType: 101, Signal: addr.Addr()}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// Real sockets: calls from 127.0.0.1 share one port, audio and RFC 4733
// digits flow both ways, unknown sources are dropped, a second call to the
// same far-end address gets its own port, a session's end frees its entry,
// a re-INVITE moves it (or is refused on a collision), the port stays bound
// while a shared call lives, and the pacer's frames leave in batches.
func TestSharedPortLoopback(t *testing.T) {
	defer goleak.VerifyNone(t)
	sharedNo := toolPorts.Block(t).Media()
	pool := sharedPool(t, sharedNo)
	far := testPool(t)
	const calls = 3
	var hot, ends []*Session
	for range calls {
		f, err := NewSession(SessionConfig{IP: loopback, Pool: far})
		if err != nil {
			t.Fatal(err)
		}
		h := sharedSession(t, pool, f.LocalAddr(), SessionConfig{})
		if h.LocalAddr().Port() != uint16(sharedNo) {
			t.Fatalf("call from %s on port %d, want the shared %d", f.LocalAddr(), h.LocalAddr().Port(), sharedNo)
		}
		if err := h.Start(pcmaRemote(f.LocalAddr())); err != nil {
			t.Fatal(err)
		}
		if err := f.Start(pcmaRemote(h.LocalAddr())); err != nil {
			t.Fatal(err)
		}
		hot, ends = append(hot, h), append(ends, f)
	}
	defer func() {
		for _, s := range append(hot, ends...) {
			s.Close()
		}
	}()
	if st := pool.SharedStats(); st.Calls != calls || pool.InUse() != 0 {
		t.Fatalf("shared calls %d, per-call ports %d; want %d and 0", st.Calls, pool.InUse(), calls)
	}

	// Audio both ways, every call at once (the pacer batches them).
	prompt := NewPromptPCM("tone", Tone([]float64{440}, 300*time.Millisecond))
	var wg sync.WaitGroup
	for i := range calls {
		for _, s := range []*Session{hot[i], ends[i]} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := s.Play(context.Background(), prompt); err != nil {
					t.Error(err)
				}
			}()
		}
	}
	wg.Wait()
	for i := range calls {
		waitFor(t, "both directions", func() bool {
			return hot[i].Stats().PacketsReceived >= 15 && ends[i].Stats().PacketsReceived >= 15
		})
		if st := ends[i].Stats(); st.PacketsReceived != 15 || st.Lost != 0 {
			t.Errorf("far end %d: received %d lost %d, want 15 and 0", i, st.PacketsReceived, st.Lost)
		}
	}
	// The far ends may hear the last batch before its sendmmsg has returned
	// and been counted.
	waitFor(t, "the last batch counted", func() bool { return pool.SharedStats().Batched >= 3*15 })
	st := pool.SharedStats()
	if st.Batched != 3*15 || st.Syscalls >= st.Batched || st.Syscalls < st.Batches {
		t.Errorf("batched %d packets in %d flushes with %d sendmmsg; want 45 in fewer syscalls than packets", st.Batched, st.Batches, st.Syscalls)
	}

	// A bridge between two shared calls: far end 0's frames relayed by
	// call 0's reader with WriteEncoded (the immediate path, straight to
	// the shared socket) reach far end 2, and its own pacing is not used.
	hot[0].SetPayloadSink(hot[2].WriteEncoded)
	relayed0, direct0 := ends[2].Stats().PacketsReceived, hot[2].Stats().LiveDirect
	if err := ends[0].Play(context.Background(), prompt); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the relayed frames", func() bool { return ends[2].Stats().PacketsReceived >= relayed0+15 })
	if d := hot[2].Stats().LiveDirect - direct0; d < 15 {
		t.Errorf("%d frames relayed at once, want the 15 of the prompt", d)
	}
	hot[0].SetPayloadSink(nil)

	// RFC 4733 from a far end reaches its own call only.
	if err := ends[1].SendDigit(context.Background(), '7', 100*time.Millisecond, SourceRFC4733); err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-hot[1].Digits():
		if d.Key != '7' || d.Source != SourceRFC4733 {
			t.Errorf("digit %+v, want 7 by RFC 4733", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no digit on the shared call")
	}
	select {
	case d := <-hot[0].Digits():
		t.Errorf("call 0 got call 1's digit %+v", d)
	default:
	}

	// A third party aiming at the shared port reaches nobody.
	rogue, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer rogue.Close()
	var before [calls]uint64
	for i, h := range hot {
		waitFor(t, "the digit's last packets", func() bool { return h.Stats().PacketsReceived == ends[i].Stats().PacketsSent })
		before[i] = h.Stats().PacketsReceived
	}
	unknown := pool.SharedStats().Unknown
	pkt, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 8, SequenceNumber: 1, SSRC: 9}, Payload: make([]byte, 160)}).Marshal()
	if _, err := rogue.WriteToUDPAddrPort(pkt, hot[0].LocalAddr()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the rogue packet counted", func() bool { return pool.SharedStats().Unknown > unknown })
	for i, h := range hot {
		if h.Stats().PacketsReceived != before[i] {
			t.Errorf("call %d took the rogue packet", i)
		}
	}

	// A second call to the same far-end address: its own port.
	dup := sharedSession(t, pool, ends[0].LocalAddr(), SessionConfig{})
	if dup.LocalAddr().Port() == uint16(sharedNo) || pool.InUse() != 1 {
		t.Errorf("colliding call on port %d (in use %d), want a per-call port", dup.LocalAddr().Port(), pool.InUse())
	}
	dup.Close()

	// Re-INVITE: onto another call's address is refused, onto a new one
	// moves the entry (the old address is unknown then).
	if err := hot[1].SetRemote(pcmaRemote(ends[2].LocalAddr())); !errors.Is(err, ErrSharedAddrInUse) {
		t.Errorf("re-INVITE onto call 2's address: %v, want ErrSharedAddrInUse", err)
	}
	moved, err := NewSession(SessionConfig{IP: loopback, Pool: far})
	if err != nil {
		t.Fatal(err)
	}
	defer moved.Close()
	if err := hot[1].SetRemote(pcmaRemote(moved.LocalAddr())); err != nil {
		t.Fatal(err)
	}
	if err := moved.Start(pcmaRemote(hot[1].LocalAddr())); err != nil {
		t.Fatal(err)
	}
	if err := moved.SendDigit(context.Background(), '3', 100*time.Millisecond, SourceRFC4733); err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-hot[1].Digits():
		if d.Key != '3' {
			t.Errorf("digit %q after the move, want 3", d.Key)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no digit from the re-INVITEd address")
	}
	unknown = pool.SharedStats().Unknown
	if _, err := ends[1].conn.WriteToUDPAddrPort(pkt, hot[1].LocalAddr()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the old address's packet dropped", func() bool { return pool.SharedStats().Unknown > unknown })

	// The end of a call frees its address; the port stays bound while any
	// shared call lives and is released after the last.
	hot[0].Close()
	again := sharedSession(t, pool, ends[0].LocalAddr(), SessionConfig{})
	if again.LocalAddr().Port() != uint16(sharedNo) {
		t.Errorf("address freed by a closed call not shared again (port %d)", again.LocalAddr().Port())
	}
	again.Close()
	hot[1].Close()
	if c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, uint16(sharedNo)))); err == nil {
		c.Close()
		t.Error("shared port released while a shared call is live")
	}
	hot[2].Close()
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, uint16(sharedNo))))
	if err != nil {
		t.Fatalf("shared port not released after the last call: %v", err)
	}
	c.Close()
}

// Only callers in the networks, with no NAT evidence, share.
func TestSharedPortEligibility(t *testing.T) {
	defer goleak.VerifyNone(t)
	sharedNo := toolPorts.Block(t).Media()
	pool := sharedPool(t, sharedNo, "127.0.0.2/32", "127.0.0.4/32")
	pool.shared.cfg.NoNAT = []netip.Prefix{netip.MustParsePrefix("127.0.0.4/32"), netip.MustParsePrefix("127.0.0.5/32")}
	peer := netip.MustParseAddrPort("127.0.0.2:7000")
	for _, tc := range []struct {
		name   string
		peer   netip.AddrPort
		signal netip.Addr
		shared bool
	}{
		{"in the network, SDP on the SIP source", peer, peer.Addr(), true},
		{"NAT: SIP from another IP", peer, netip.MustParseAddr("127.0.0.3"), false},
		{"no signalling source", peer, netip.Addr{}, false},
		{"outside the networks", netip.MustParseAddrPort("127.0.0.1:7000"), loopback, false},
		{"NAT evidence, but declared not NATed", netip.MustParseAddrPort("127.0.0.4:7000"), netip.MustParseAddr("127.0.0.3"), true},
		{"declared not NATed, no signalling source", netip.MustParseAddrPort("127.0.0.4:7002"), netip.Addr{}, true},
		{"declared not NATed, outside the networks", netip.MustParseAddrPort("127.0.0.5:7000"), netip.MustParseAddr("127.0.0.3"), false},
	} {
		s, err := NewSession(SessionConfig{IP: loopback, Pool: pool, Peer: tc.peer, PeerSignal: tc.signal})
		if err != nil {
			t.Fatal(err)
		}
		if got := s.LocalAddr().Port() == uint16(sharedNo); got != tc.shared {
			t.Errorf("%s: shared %v, want %v", tc.name, got, tc.shared)
		}
		s.Close()
	}
	if err := (&PortPool{min: 20000, max: 30000}).SetShared(SharedConfig{Ports: []int{20002}, Networks: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}); !errors.Is(err, ErrBadPortRange) {
		t.Errorf("shared port inside the per-call range: %v", err)
	}
}

// In a synctest bubble on memNet: five calls on one shared socket playing
// together are flushed in one batch per tick (one sendmmsg), each stream
// still exactly 20 ms apart.
func TestSharedPortBatchPerTick(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		pool, err := NewPortPool(20000, 20100)
		if err != nil {
			t.Fatal(err)
		}
		if err := pool.SetShared(SharedConfig{Ports: []int{4000}, Networks: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}); err != nil {
			t.Fatal(err)
		}
		pool.shared.bind = func(ap netip.AddrPort) (PacketConn, error) { return n.listen(ap.String()), nil }
		const calls = 5
		var sess []*Session
		var peers []*memConn
		for i := range calls {
			addr := netip.AddrPortFrom(netip.MustParseAddr("10.0.0.2"), uint16(5000+2*i))
			s, err := NewSession(SessionConfig{IP: netip.MustParseAddr("10.0.0.1"), Pool: pool, Peer: addr, PeerSignal: addr.Addr()})
			if err != nil {
				t.Fatal(err)
			}
			if s.sh.port == nil {
				t.Fatalf("call %d not shared", i)
			}
			peers = append(peers, n.listen(addr.String()))
			if err := s.Start(remoteAt(addr.String())); err != nil {
				t.Fatal(err)
			}
			sess = append(sess, s)
		}
		sp := sess[0].sh.port
		prompt := NewPromptPCM("tone", Tone([]float64{440}, 200*time.Millisecond))
		var wg sync.WaitGroup
		for _, s := range sess {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := s.Play(context.Background(), prompt); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		st := pool.SharedStats()
		if st.Batched != calls*10 || st.Syscalls != st.Batches {
			t.Errorf("%d packets in %d batches, %d sends; want %d, one send per batch", st.Batched, st.Batches, st.Syscalls, calls*10)
		}
		// The first frames leave as each Play wakes the pacer; from the
		// second frame on, the five streams share their ticks.
		if st.Batches > 9+calls {
			t.Errorf("%d batches for %d calls x 10 frames, want at most %d", st.Batches, calls, 9+calls)
		}
		for i, peer := range peers {
			pkts := drain(t, peer)
			if len(pkts) != 10 {
				t.Fatalf("call %d: %d packets, want 10", i, len(pkts))
			}
			for k := 2; k < len(pkts); k++ {
				if d := pkts[k].at.Sub(pkts[k-1].at); d != 20*time.Millisecond {
					t.Errorf("call %d frame %d: %v after the previous, want 20ms", i, k, d)
				}
			}
		}
		// Audio in: demultiplexed to the right call by source; a packet
		// from an unknown source reaches none.
		pkt, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: 1, SSRC: 5}, Payload: make([]byte, 160)}).Marshal()
		sp.conn.(*memConn).inject("10.0.0.2:5004", pkt)
		sp.conn.(*memConn).inject("10.0.0.9:5004", pkt)
		synctest.Wait()
		for i, s := range sess {
			want := uint64(0)
			if i == 2 {
				want = 1
			}
			if got := s.Stats().PacketsReceived; got != want {
				t.Errorf("call %d received %d, want %d", i, got, want)
			}
		}
		if u := pool.SharedStats().Unknown; u != 1 {
			t.Errorf("unknown-source packets %d, want 1", u)
		}
		for _, s := range sess {
			s.Close()
		}
		if st := pool.SharedStats(); st.Calls != 0 {
			t.Errorf("%d shared calls after closing all", st.Calls)
		}
	})
}

// sharedMemPool is a pool in shared-port mode on 10.0.0.1:4000 of memNet n,
// for SDP addresses in 10.0.0.0/8 (and noNAT, taken as not NATed).
func sharedMemPool(t *testing.T, n *memNet, noNAT ...string) *PortPool {
	t.Helper()
	pool, err := NewPortPool(20000, 20100)
	if err != nil {
		t.Fatal(err)
	}
	cfg := SharedConfig{Ports: []int{4000}, Networks: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	for _, p := range noNAT {
		cfg.NoNAT = append(cfg.NoNAT, netip.MustParsePrefix(p))
	}
	if err := pool.SetShared(cfg); err != nil {
		t.Fatal(err)
	}
	pool.shared.bind = func(ap netip.AddrPort) (PacketConn, error) { return n.listen(ap.String()), nil }
	return pool
}

// Close of a shared session guarantees, as a per-call session's does, that
// nothing of it is sent once it returns: a frame it queued in the pacer's
// current pass is dropped from the pass's batch, while the other call's
// frame of the same batch still leaves. The session is closed from the
// pacer's goroutine between the queueing and the batch's send, the
// window the guarantee is about.
func TestSharedPortCloseSendsNothingAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		pool := sharedMemPool(t, n)
		a, b := mustAP("10.0.0.2:5000"), mustAP("10.0.0.2:5002")
		var sess []*Session
		var peers []*memConn
		for _, addr := range []netip.AddrPort{a, b} {
			s, err := NewSession(SessionConfig{IP: netip.MustParseAddr("10.0.0.1"), Pool: pool, Peer: addr, PeerSignal: addr.Addr()})
			if err != nil {
				t.Fatal(err)
			}
			if s.sh.port == nil {
				t.Fatalf("%v not shared", addr)
			}
			peers = append(peers, n.listen(addr.String()))
			if err := s.Start(remoteAt(addr.String())); err != nil {
				t.Fatal(err)
			}
			sess = append(sess, s)
		}
		victim := sess[0]
		var (
			closed    bool
			deliverd  int // packets the victim's far end had when Close returned
			batchedOf int // the victim's frames in the batch Close raced
		)
		pool.shared.beforeFlush = func(sp *sharedPort) {
			if closed || victim.Stats().PacketsSent < 3 {
				return
			}
			for _, s := range sp.from[:sp.n] {
				if s == victim {
					batchedOf++
				}
			}
			if batchedOf == 0 {
				return
			}
			closed = true
			victim.Close() // on the pacer's goroutine: the batch is not sent yet
			deliverd = len(peers[0].in)
		}
		prompt := NewPromptPCM("tone", Tone([]float64{440}, 200*time.Millisecond))
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, s := range sess {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = s.Play(context.Background(), prompt)
			}()
		}
		wg.Wait()
		if !closed || batchedOf == 0 {
			t.Fatalf("the victim was not closed with a frame queued (closed %v)", closed)
		}
		if !errors.Is(errs[0], ErrSessionClosed) || errs[1] != nil {
			t.Errorf("Play: victim %v, other %v; want ErrSessionClosed and nil", errs[0], errs[1])
		}
		synctest.Wait()
		if got := len(drain(t, peers[0])); got != deliverd {
			t.Errorf("the victim's far end got %d packets, %d when Close returned: %d sent after Close", got, deliverd, got-deliverd)
		}
		if got := len(drain(t, peers[1])); got != 10 {
			t.Errorf("the other call's far end got %d packets, want its 10", got)
		}
		sess[1].Close()
		if st := pool.SharedStats(); st.Calls != 0 {
			t.Errorf("%d shared calls after closing all", st.Calls)
		}
	})
}

// A re-INVITE of a shared call is held to the setup rules: onto another
// call's address (ErrSharedAddrInUse), outside the networks or with NAT
// evidence (ErrSharedIneligible) it is refused by PrepareRemote and
// SetRemote alike and the call keeps its address; an address in
// SharedConfig.NoNAT may differ from the SIP source. PrepareRemote moves
// the entry at once, so no other call can take the address before the
// re-INVITE is answered.
func TestSharedPortReinviteRules(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		pool := sharedMemPool(t, n, "10.9.0.0/16")
		local := netip.MustParseAddr("10.0.0.1")
		a, b := mustAP("10.0.0.2:5000"), mustAP("10.0.0.2:5002")
		var sess []*Session
		for _, addr := range []netip.AddrPort{a, b} {
			s, err := NewSession(SessionConfig{IP: local, Pool: pool, Peer: addr, PeerSignal: addr.Addr()})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Start(remoteAt(addr.String())); err != nil {
				t.Fatal(err)
			}
			sess = append(sess, s)
		}
		s := sess[0]
		natted := remoteAt("10.0.0.7:6000")
		natted.Signal = netip.MustParseAddr("10.0.0.8")
		outside := remoteAt("192.0.2.1:6000")
		for _, tc := range []struct {
			name string
			r    Remote
			want error
		}{
			{"onto the other call's address", remoteAt(b.String()), ErrSharedAddrInUse},
			{"NAT evidence", natted, ErrSharedIneligible},
			{"outside the networks", outside, ErrSharedIneligible},
		} {
			if err := s.PrepareRemote(tc.r); !errors.Is(err, tc.want) {
				t.Errorf("PrepareRemote %s: %v, want %v", tc.name, err, tc.want)
			}
			if err := s.SetRemote(tc.r); !errors.Is(err, tc.want) {
				t.Errorf("SetRemote %s: %v, want %v", tc.name, err, tc.want)
			}
			if s.sh.at != a || s.Stats().RemoteAddr != a {
				t.Errorf("%s: entry %v, remote %v; want both still %v", tc.name, s.sh.at, s.Stats().RemoteAddr, a)
			}
		}
		// An SBC's media address in NoNAT, signalled from elsewhere.
		sbc := remoteAt("10.9.0.5:7000")
		sbc.Signal = netip.MustParseAddr("10.0.0.8")
		if err := s.PrepareRemote(sbc); err != nil {
			t.Fatalf("PrepareRemote to a NoNAT address: %v", err)
		}
		if s.sh.at != sbc.Addr {
			t.Errorf("entry %v after PrepareRemote, want %v", s.sh.at, sbc.Addr)
		}
		sp := s.sh.port
		sp.mu.RLock()
		p, old := sp.peers[sbc.Addr], sp.peers[a]
		sp.mu.RUnlock()
		if p == nil || p.s != s || old != nil {
			t.Error("PrepareRemote left the demux entry where it was: another call could take the new address")
		}
		if err := s.SetRemote(sbc); err != nil {
			t.Fatalf("SetRemote after PrepareRemote: %v", err)
		}
		if s.Stats().RemoteAddr != sbc.Addr {
			t.Errorf("remote %v, want %v", s.Stats().RemoteAddr, sbc.Addr)
		}
		for _, s := range sess {
			s.Close()
		}
	})
}
