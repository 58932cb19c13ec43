package media

import (
	"net"
	"net/netip"
	"sync"
	"time"
)

// memNet is an in-memory UDP network for Session tests under
// testing/synctest: blocking on its channels is durable, so the fake clock
// advances while a session waits for packets.
type memNet struct {
	mu    sync.Mutex
	conns map[netip.AddrPort]*memConn
}

func newMemNet() *memNet { return &memNet{conns: make(map[netip.AddrPort]*memConn)} }

type memPacket struct {
	b    []byte
	from netip.AddrPort
	at   time.Time
}

type memConn struct {
	net    *memNet
	addr   netip.AddrPort
	in     chan memPacket
	closed chan struct{}
	once   sync.Once
	// onWrite, if set, runs on every write with the packet index (0-based);
	// tests use it to make one write slow (a stalled sender).
	onWrite func(i int)
	writes  int
}

func (n *memNet) listen(addr string) *memConn {
	c := &memConn{net: n, addr: netip.MustParseAddrPort(addr), in: make(chan memPacket, 256), closed: make(chan struct{})}
	n.mu.Lock()
	n.conns[c.addr] = c
	n.mu.Unlock()
	return c
}

func (c *memConn) ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error) {
	select {
	case p := <-c.in:
		return copy(b, p.b), p.from, nil
	case <-c.closed:
		return 0, netip.AddrPort{}, net.ErrClosed
	}
}

func (c *memConn) WriteToUDPAddrPort(b []byte, to netip.AddrPort) (int, error) {
	if c.onWrite != nil {
		c.onWrite(c.writes)
	}
	c.writes++
	c.net.mu.Lock()
	dst := c.net.conns[to]
	c.net.mu.Unlock()
	if dst == nil {
		return len(b), nil // like UDP: nobody listening, the packet is lost
	}
	select {
	case dst.in <- memPacket{b: append([]byte(nil), b...), from: c.addr, at: time.Now()}:
	default: // receive queue full: dropped, as a socket buffer would
	}
	return len(b), nil
}

func (c *memConn) LocalAddr() net.Addr { return net.UDPAddrFromAddrPort(c.addr) }

func (c *memConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

// send injects a raw datagram into c as if it came from `from`.
func (c *memConn) inject(from string, b []byte) {
	c.in <- memPacket{b: b, from: netip.MustParseAddrPort(from), at: time.Now()}
}

func mustAP(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
