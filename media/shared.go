package media

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
)

// Shared-port mode (issue 15): several calls on one local UDP port, told
// apart by the exact remote ip:port their RTP comes from. The kernel's cost
// per packet is then that of one socket: the pacer sends every frame due on
// a tick to one socket with a single sendmmsg, and one reader drains the
// socket with recvmmsg for all its calls, instead of one sendto per frame
// per socket and a reader per call (docs/benchmarks.md).
//
// It is safe only for far ends that send RTP from the address in their SDP
// (trunks, SBCs): there is no latching on a shared port, so a packet from
// any other source, a NAT's rewritten port included, reaches no call. So a
// call shares only when
//   - its SDP address is in SharedConfig.Networks (the operator vouches for
//     those peers), and
//   - there is no NAT evidence: the SDP address's IP is the signalling
//     source's IP (Remote.Signal), or it is in SharedConfig.NoNAT (the
//     operator vouches that those peers send RTP from their SDP address
//     even though their SIP comes from elsewhere: an SBC with separate
//     signalling and media addresses), and
//   - no other call on the shared socket already uses that exact ip:port
//     (two calls to one far-end port could not be told apart).
//
// Everything else gets a per-call port from the pool with symmetric-RTP
// latching (strictrtp.go). A re-INVITE (SetRemote) of a shared call obeys
// the same rules: its new address must pass the first two and be free on
// the socket, or it is refused (ErrSharedIneligible, ErrSharedAddrInUse)
// and the call keeps its old media; the SIP layer checks it with
// PrepareRemote before it answers, so the refusal is a 488, not a 200 whose
// media never flows. A shared entry thus only ever holds an address that
// could have shared at setup. A third party cannot take a shared stream: its
// packets come from a source no call registered and are dropped and
// counted (SharedStats.Unknown).

// SharedConfig turns shared-port mode on for a PortPool.
type SharedConfig struct {
	// Ports are the local UDP ports calls may share: one socket each, on
	// the pool's bind IP. Several spread the calls over the pacers (one per
	// core).
	Ports []int
	// Networks are the remote SDP addresses whose calls may share.
	Networks []netip.Prefix
	// NoNAT are SDP addresses (within Networks) taken as not NATed even
	// when the SIP came from another IP: peers that signal from one
	// address and send RTP from the one in their SDP.
	NoNAT []netip.Prefix
}

// ErrSharedAddrInUse is returned by Start, SetRemote or PrepareRemote of a
// shared-port session when another call on the shared socket already uses
// the new remote address; the session keeps its previous remote.
var ErrSharedAddrInUse = errors.New("media: remote address already used by another call on the shared port")

// ErrSharedIneligible is returned by Start, SetRemote or PrepareRemote of a
// shared-port session when the new remote could not have shared at setup
// (outside SharedConfig.Networks, or NAT evidence): there is no latching on
// a shared port, so its RTP would reach no call. The session keeps its
// previous remote.
var ErrSharedIneligible = errors.New("media: remote address may not use the shared port (outside the shared networks, or NAT evidence)")

// maxSendBatch bounds one sendmmsg (the kernel's UIO_MAXIOV is 1024).
const maxSendBatch = 1024

// sharedSet is a pool's shared sockets, bound on first use per IP and
// closed when their last call leaves (so a finished test or an idle
// server has no reader left).
type sharedSet struct {
	cfg  SharedConfig
	pool *PortPool
	// bind opens a shared socket; tests substitute an in-memory one.
	bind func(netip.AddrPort) (PacketConn, error)
	// beforeFlush, if set (tests), runs on the pacer's goroutine before
	// each shared socket's batch is sent.
	beforeFlush func(*sharedPort)

	mu     sync.Mutex
	socks  map[netip.AddrPort]*sharedPort // by local address
	next   int                            // round-robin over cfg.Ports
	closed SharedStats                    // counters of sockets closed since
}

// SetShared enables shared-port mode for the pool's sessions that pass the
// rules above (SessionConfig.Peer). Call it before the first session.
func (p *PortPool) SetShared(cfg SharedConfig) error {
	if len(cfg.Ports) == 0 {
		return nil
	}
	for _, port := range cfg.Ports {
		if port < 1 || port > 65535 {
			return fmt.Errorf("%w: shared port %d", ErrBadPortRange, port)
		}
		if port >= p.min && port <= p.max {
			return fmt.Errorf("%w: shared port %d is inside the per-call range %d-%d", ErrBadPortRange, port, p.min, p.max)
		}
	}
	if len(cfg.Networks) == 0 {
		return errors.New("media: shared port needs at least one network")
	}
	p.shared = &sharedSet{cfg: cfg, pool: p, socks: make(map[netip.AddrPort]*sharedPort), bind: bindUDP}
	return nil
}

// SharedStats returns the shared sockets' counters summed (metrics, tests).
func (p *PortPool) SharedStats() SharedStats {
	var out SharedStats
	if p.shared == nil {
		return out
	}
	p.shared.mu.Lock()
	defer p.shared.mu.Unlock()
	out = p.shared.closed
	for _, sp := range p.shared.socks {
		out.add(sp.stats())
	}
	return out
}

// SharedStats counts a shared socket's traffic.
type SharedStats struct {
	Calls    int    // calls on shared sockets now
	Unknown  uint64 // datagrams from a source no call registered: dropped
	Batches  uint64 // pacer flushes (at most one per socket per 1 ms tick)
	Syscalls uint64 // sendmmsg calls (or single writes off Linux / in tests)
	Batched  uint64 // packets sent in batches
	Errors   uint64 // failed sends and reads
}

func (a *SharedStats) add(b SharedStats) {
	a.Calls += b.Calls
	a.Unknown += b.Unknown
	a.Batches += b.Batches
	a.Syscalls += b.Syscalls
	a.Batched += b.Batched
	a.Errors += b.Errors
}

func bindUDP(ap netip.AddrPort) (PacketConn, error) {
	return net.ListenUDP("udp", net.UDPAddrFromAddrPort(ap))
}

// sharedPort is one shared socket.
type sharedPort struct {
	set   *sharedSet
	conn  PacketConn
	local netip.AddrPort
	pacer *pacer // every call on the socket is paced here: one flush per tick
	done  chan struct{}
	refs  int // calls joined; guarded by set.mu

	// mu guards peers; the reader holds it shared while it dispatches a
	// batch, so a call that leaves (write lock) gets no packet after.
	mu    sync.RWMutex
	peers map[netip.AddrPort]*sharedPeer

	// Owned by the pacer's goroutine: the packets of the current pass and
	// the sessions they belong to.
	pend [][]byte
	dst  []netip.AddrPort
	from []*Session
	n    int
	// sendMu is held by the pacer while it sends a pass's batch; a leaving
	// session takes it once to wait for a send in progress (leave).
	sendMu sync.Mutex
	inPass bool
	os     sharedOS // the platform's batch buffers (shared_linux.go)

	unknown, batches, syscalls, batched, errs atomic.Uint64
}

type sharedPeer struct {
	s  *Session
	rs *recvState // owned by the socket's reader
}

func (sp *sharedPort) stats() SharedStats {
	return SharedStats{Calls: sp.refs, Unknown: sp.unknown.Load(), Batches: sp.batches.Load(),
		Syscalls: sp.syscalls.Load(), Batched: sp.batched.Load(), Errors: sp.errs.Load()}
}

// sharedSlot is a Session's place on a shared socket; zero: a per-call port.
type sharedSlot struct {
	port *sharedPort
	at   netip.AddrPort // the demux key: the remote's exact address
}

// eligible reports whether a far end at peer, whose SIP came from signal,
// may share: in the networks, and no NAT evidence.
func (ss *sharedSet) eligible(peer netip.AddrPort, signal netip.Addr) bool {
	ip := peer.Addr().Unmap()
	if !peer.IsValid() || peer.Port() == 0 || !inPrefixes(ss.cfg.Networks, ip) {
		return false
	}
	return (signal.IsValid() && ip == signal.Unmap()) || inPrefixes(ss.cfg.NoNAT, ip)
}

func inPrefixes(ps []netip.Prefix, ip netip.Addr) bool {
	for _, n := range ps {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

// joinShared puts s on a shared socket when cfg.Peer passes the rules; false
// leaves it to a per-call port. Called by NewSession.
func (s *Session) joinShared() bool {
	ss := s.cfg.Pool.shared
	if ss == nil {
		return false
	}
	peer := unmapAP(s.cfg.Peer)
	if !ss.eligible(peer, s.cfg.PeerSignal) {
		return false
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for range ss.cfg.Ports {
		port := ss.cfg.Ports[ss.next%len(ss.cfg.Ports)]
		ss.next++
		local := netip.AddrPortFrom(s.cfg.IP, uint16(port))
		sp := ss.socks[local]
		if sp == nil {
			var err error
			if sp, err = ss.open(local); err != nil {
				s.cfg.Logger.Warn("shared RTP port unavailable, using a per-call port", "port", port, "error", err)
				continue
			}
		}
		sp.mu.Lock()
		_, taken := sp.peers[peer]
		if !taken {
			sp.peers[peer] = s.newSharedPeer()
		}
		sp.mu.Unlock()
		if taken {
			continue // collision: try the next socket, or a per-call port
		}
		sp.refs++
		s.sh = sharedSlot{port: sp, at: peer}
		s.conn, s.pacer = sharedConn{sp: sp, s: s}, sp.pacer
		return true
	}
	return false
}

func (s *Session) newSharedPeer() *sharedPeer {
	rs := &recvState{}
	if s.cfg.InbandDTMF {
		rs.det = newDTMFDetector()
	}
	return &sharedPeer{s: s, rs: rs}
}

func unmapAP(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// open binds a shared socket and starts its reader. Called with ss.mu held.
func (ss *sharedSet) open(local netip.AddrPort) (*sharedPort, error) {
	c, err := ss.bind(local)
	if err != nil {
		return nil, err
	}
	sp := &sharedPort{set: ss, conn: c, local: local, peers: make(map[netip.AddrPort]*sharedPeer),
		done: make(chan struct{})}
	// The sockets are spread over the pacers: all the calls of one socket
	// are paced by one goroutine, which flushes them in one batch a tick.
	ps := ss.pool.pacers.pacers
	sp.pacer = ps[len(ss.socks)%len(ps)]
	ss.socks[local] = sp
	go sp.readLoop()
	return sp, nil
}

// move re-keys s from its address to r's (a re-INVITE, or a Start whose
// remote differs from NewSession's peer) if r passes the setup rules.
func (sp *sharedPort) move(s *Session, r Remote) error {
	addr := unmapAP(r.Addr)
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if addr == s.sh.at {
		return nil
	}
	if !sp.set.eligible(addr, r.Signal) {
		return fmt.Errorf("%w: %s (SIP from %s)", ErrSharedIneligible, addr, r.Signal)
	}
	if _, taken := sp.peers[addr]; taken {
		return fmt.Errorf("%w: %s", ErrSharedAddrInUse, addr)
	}
	p := sp.peers[s.sh.at]
	delete(sp.peers, s.sh.at)
	sp.peers[addr] = p
	s.sh.at = addr
	return nil
}

// leave frees s's demux entry (no packet reaches s after it returns) and
// closes the socket when s was its last call.
func (sp *sharedPort) leave(s *Session) {
	// Nothing of s's is sent once Close returns: frames it queued in the
	// pacer's current pass are dropped by flushBatch, which checks shGone
	// under sendMu; taking sendMu here waits out a flush that began before.
	s.shGone.Store(true)
	sp.sendMu.Lock()
	sp.sendMu.Unlock()
	sp.mu.Lock()
	if p := sp.peers[s.sh.at]; p != nil && p.s == s {
		delete(sp.peers, s.sh.at)
	}
	sp.mu.Unlock()
	ss := sp.set
	ss.mu.Lock()
	sp.refs--
	last := sp.refs == 0
	if last {
		delete(ss.socks, sp.local)
		ss.closed.add(sp.stats())
	}
	ss.mu.Unlock()
	if last {
		sp.conn.Close()
		<-sp.done
	}
}

// dispatch hands one datagram to the call registered for src; called by
// the reader with sp.mu held shared.
func (sp *sharedPort) dispatch(b []byte, src netip.AddrPort) {
	p := sp.peers[unmapAP(src)]
	if p == nil {
		sp.unknown.Add(1)
		return
	}
	p.s.handlePacket(p.rs, b, src)
}

// readGeneric reads conn one datagram at a time: off Linux, and for a
// test's in-memory socket.
func (sp *sharedPort) readGeneric() {
	buf := make([]byte, maxDatagram)
	for {
		n, src, err := sp.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			sp.errs.Add(1)
			continue
		}
		sp.mu.RLock()
		sp.dispatch(buf[:n], src)
		sp.mu.RUnlock()
	}
}

// queue adds a paced packet of s to the pass's batch; the pacer flushes it
// when the pass ends, without the packets of sessions closed meanwhile.
// Called from the pacer's goroutine (Session.writePacket).
func (sp *sharedPort) queue(s *Session, pkt []byte, to netip.AddrPort) {
	if !sp.inPass {
		sp.inPass = true
		sp.pacer.flush = append(sp.pacer.flush, sp)
	}
	if sp.n == len(sp.pend) {
		sp.pend = append(sp.pend, make([]byte, 0, len(pkt)))
		sp.dst = append(sp.dst, to)
		sp.from = append(sp.from, s)
	}
	sp.pend[sp.n] = append(sp.pend[sp.n][:0], pkt...)
	sp.dst[sp.n], sp.from[sp.n] = to, s
	sp.n++
}

// flushShared sends the pass's batches: one per shared socket. Called by
// the pacer's loop after it ran the due ticks.
func (p *pacer) flushShared() {
	for i, sp := range p.flush {
		if h := sp.set.beforeFlush; h != nil {
			h(sp)
		}
		sp.flushBatch()
		p.flush[i] = nil
	}
	p.flush = p.flush[:0]
}

func (sp *sharedPort) flushBatch() {
	sp.inPass = false
	sp.sendMu.Lock()
	defer sp.sendMu.Unlock()
	// Drop the frames of sessions that left since they were queued (their
	// Close has returned, or is waiting for sendMu); the buffers are
	// swapped, not lost, for the next pass.
	k := 0
	for i := range sp.n {
		if sp.from[i].shGone.Load() {
			continue
		}
		sp.pend[k], sp.pend[i] = sp.pend[i], sp.pend[k]
		sp.dst[k], sp.from[k] = sp.dst[i], sp.from[i]
		k++
	}
	for i := k; i < sp.n; i++ {
		sp.from[i] = nil
	}
	sp.n = k
	for off := 0; off < sp.n; off += maxSendBatch {
		end := min(sp.n, off+maxSendBatch)
		sent := sp.sendBatch(sp.pend[off:end], sp.dst[off:end])
		sp.batched.Add(uint64(sent))
		if sent < end-off {
			sp.errs.Add(uint64(end - off - sent))
		}
	}
	sp.batches.Add(1)
	clear(sp.from[:sp.n]) // hold no closed session until the next pass
	sp.n = 0
}

// sendSeq sends one datagram at a time (off Linux, in-memory sockets).
func (sp *sharedPort) sendSeq(pkts [][]byte, dst []netip.AddrPort) int {
	sp.syscalls.Add(1) // one "batch" as far as the tests count
	sent := 0
	for i, b := range pkts {
		if _, err := sp.conn.WriteToUDPAddrPort(b, dst[i]); err == nil {
			sent++
		}
	}
	return sent
}

// sharedConn is a shared-port session's PacketConn: immediate sends (a
// bridge's relayed frame, live audio) go straight to the shared socket;
// Close leaves the socket instead of closing it. There is no per-session
// reader to read from it.
type sharedConn struct {
	sp *sharedPort
	s  *Session
}

func (c sharedConn) ReadFromUDPAddrPort([]byte) (int, netip.AddrPort, error) {
	return 0, netip.AddrPort{}, net.ErrClosed
}
func (c sharedConn) WriteToUDPAddrPort(b []byte, to netip.AddrPort) (int, error) {
	return c.sp.conn.WriteToUDPAddrPort(b, to)
}
func (c sharedConn) LocalAddr() net.Addr { return c.sp.conn.LocalAddr() }
func (c sharedConn) Close() error {
	c.sp.leave(c.s)
	return nil
}
