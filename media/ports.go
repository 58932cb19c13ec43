package media

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"
)

// DefaultPortDrain is how long a released port stays quarantined before it is
// handed out again, so that late packets of the old call (and its far end's
// retransmissions) do not land in a new call.
const DefaultPortDrain = 2 * time.Second

// PortPool hands out even UDP ports for RTP from [min, max]. RTCP would use
// port+1 (RFC 3550 §11), so odd ports are never handed out and stay free.
// Ports that fail to bind (taken by another process) are skipped.
type PortPool struct {
	min, max int

	mu         sync.Mutex
	next       int               // round-robin cursor: spreads reuse
	inUse      map[int]bool      // ports currently bound by a session
	released   map[int]time.Time // port -> release time, while draining
	drain      time.Duration
	bindErrors int

	pacers *pacerSet  // the pool's sessions' senders (pacer.go)
	shared *sharedSet // shared-port mode (shared.go); nil: off
}

// NewPortPool returns a pool over the even ports in [min, max].
func NewPortPool(min, max int) (*PortPool, error) {
	if min < 1 || max > 65535 || min > max {
		return nil, fmt.Errorf("%w: %d-%d", ErrBadPortRange, min, max)
	}
	if min%2 == 1 {
		min++
	}
	if min > max {
		return nil, fmt.Errorf("%w: %d-%d holds no even port", ErrBadPortRange, min, max)
	}
	return &PortPool{
		min: min, max: max, next: min,
		inUse:    make(map[int]bool),
		released: make(map[int]time.Time),
		drain:    DefaultPortDrain,
		pacers:   newPacerSet(),
	}, nil
}

// SetDrain changes the quarantine time of released ports (0 disables it).
func (p *PortPool) SetDrain(d time.Duration) {
	p.mu.Lock()
	p.drain = d
	p.mu.Unlock()
}

// InUse returns how many ports are bound by live sessions (for leak tests and
// metrics).
func (p *PortPool) InUse() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.inUse)
}

// BindErrors returns how many bind attempts failed (ports used elsewhere).
func (p *PortPool) BindErrors() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.bindErrors
}

// listen binds the next free, drained even port on ip. The lock is held
// while binding so that two sessions never race for the same port.
func (p *PortPool) listen(ip netip.Addr) (*net.UDPConn, int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	n := (p.max-p.min)/2 + 1
	for i := 0; i < n; i++ {
		port := p.next
		p.next += 2
		if p.next > p.max {
			p.next = p.min
		}
		if p.inUse[port] {
			continue
		}
		if at, ok := p.released[port]; ok {
			if now.Sub(at) < p.drain {
				continue
			}
			delete(p.released, port)
		}
		conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, uint16(port))))
		if err != nil {
			p.bindErrors++
			continue
		}
		p.inUse[port] = true
		return conn, port, nil
	}
	return nil, 0, fmt.Errorf("%w in %d-%d on %s", ErrNoPorts, p.min, p.max, ip)
}

// release returns port to the pool; it is quarantined for the drain time.
func (p *PortPool) release(port int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.inUse[port] {
		return
	}
	delete(p.inUse, port)
	if p.drain > 0 {
		p.released[port] = time.Now()
	}
}
