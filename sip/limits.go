package sip

import (
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/hotline-dev/hotline/netguard"
)

// Limits bound what a source that has not authenticated can make the server
// hold: requests per second, calls waiting for their ACK, TCP connections
// and the time a connection may sit idle or take over one message
// (docs/security.md has the threat model). Zero values take the defaults
// (DefaultLimits); a negative value turns that limit off.
type Limits struct {
	// RateTotal caps out-of-dialog requests per second from all sources
	// together (burst BurstTotal), after the per-source RateLimit: spoofed
	// sources each get a fresh per-source bucket.
	RateTotal  float64
	BurstTotal int
	// MaxUnconfirmed caps calls between INVITE and ACK, all sources
	// together; MaxUnconfirmedPerSource per source IP. Beyond: 503,
	// answered statelessly. A call counts against ServerConfig.MaxCalls only
	// once its ACK came.
	MaxUnconfirmed          int
	MaxUnconfirmedPerSource int
	// AckTimeout is how long a 200 waits for its ACK (RFC 3261 §13.3.1.4:
	// 64*T1). AckTimeoutUnderLoad replaces it while the source has more than
	// a quarter of MaxUnconfirmedPerSource unconfirmed calls, or all sources
	// more than a quarter of MaxUnconfirmed.
	AckTimeout          time.Duration
	AckTimeoutUnderLoad time.Duration
	// TCP and TLS connections: in total, per source IP, closed after
	// TCPIdleTimeout without a message (unless a live call came over it),
	// and when a message takes longer than TCPReadTimeout from its first
	// byte to its last (also the TLS handshake).
	TCPMaxConns          int
	TCPMaxConnsPerSource int
	TCPIdleTimeout       time.Duration
	TCPReadTimeout       time.Duration
	// Trusted sources (a proxy in front, a carrier's trunk) are exempt from
	// the per-source limits; the totals still apply.
	Trusted []netip.Prefix
}

// DefaultLimits are the defaults behind zero Limits fields (and the
// documented defaults of the sip.* keys in docs/configuration.md).
var DefaultLimits = Limits{
	RateTotal: 2000, BurstTotal: 4000,
	MaxUnconfirmed: 500, MaxUnconfirmedPerSource: 20,
	AckTimeout: 64 * sip.T1, AckTimeoutUnderLoad: 4 * time.Second,
	TCPMaxConns: 1024, TCPMaxConnsPerSource: 64,
	TCPIdleTimeout: 2 * time.Minute, TCPReadTimeout: 10 * time.Second,
}

// withDefaults fills zero fields; negative ones become 0 (off).
func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	fillF(&l.RateTotal, d.RateTotal)
	fillI(&l.BurstTotal, d.BurstTotal)
	fillI(&l.MaxUnconfirmed, d.MaxUnconfirmed)
	fillI(&l.MaxUnconfirmedPerSource, d.MaxUnconfirmedPerSource)
	fillD(&l.AckTimeout, d.AckTimeout)
	fillD(&l.AckTimeoutUnderLoad, d.AckTimeoutUnderLoad)
	fillI(&l.TCPMaxConns, d.TCPMaxConns)
	fillI(&l.TCPMaxConnsPerSource, d.TCPMaxConnsPerSource)
	fillD(&l.TCPIdleTimeout, d.TCPIdleTimeout)
	fillD(&l.TCPReadTimeout, d.TCPReadTimeout)
	if l.AckTimeout == 0 {
		l.AckTimeout = 64 * sip.T1 // the RFC wait cannot be "off"
	}
	if l.AckTimeoutUnderLoad == 0 || l.AckTimeoutUnderLoad > l.AckTimeout {
		l.AckTimeoutUnderLoad = l.AckTimeout
	}
	return l
}

func fillF(v *float64, d float64) {
	switch {
	case *v == 0:
		*v = d
	case *v < 0:
		*v = 0
	}
}

func fillI(v *int, d int) {
	switch {
	case *v == 0:
		*v = d
	case *v < 0:
		*v = 0
	}
}

func fillD(v *time.Duration, d time.Duration) {
	switch {
	case *v == 0:
		*v = d
	case *v < 0:
		*v = 0
	}
}

func (l Limits) trusted(ip netip.Addr) bool {
	for _, p := range l.Trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// Edge counter names: each counts one event at the SIP edge; Server.EdgeCounts
// reports them and the app exports them as hotline_sip_edge_events_total{event}.
const (
	EdgeRateLimited       = "rate_limited"        // out-of-dialog request over the source's rate
	EdgeRateLimitedTotal  = "rate_limited_total"  // over the all-sources rate
	EdgeSetupPerSource    = "setup_per_source"    // INVITE over max_unconfirmed_per_source
	EdgeSetupTotal        = "setup_total"         // INVITE over max_unconfirmed
	EdgeBusy              = "busy"                // INVITE at max_calls
	EdgeDraining          = "draining"            // INVITE while shutting down
	EdgeAnswered          = "rejections_answered" // stateless 503 sent for one of the above
	EdgeDropped           = "rejections_dropped"  // over the source's reply budget: dropped silently
	EdgeMalformed         = "malformed"           // UDP datagram that is not SIP, dropped before sipgo
	EdgeNoAck             = "no_ack"              // 200 never ACKed within the ACK timeout
	EdgeTCPRefusedTotal   = "tcp_refused_total"   // TCP/TLS connection over tcp_max_conns
	EdgeTCPRefusedSource  = "tcp_refused_source"  // over tcp_max_conns_per_source
	EdgeTCPAcceptRetries  = "tcp_accept_retries"  // temporary accept error (EMFILE) retried
	EdgeTCPIdleClosed     = "tcp_idle_closed"     // closed after tcp_idle_timeout
	EdgeTCPReadTimeout    = "tcp_read_timeout"    // closed: a message took over tcp_read_timeout
	EdgeTransportFailures = "transport_failures"  // a listener stopped on a permanent error
)

var edgeNames = []string{EdgeRateLimited, EdgeRateLimitedTotal, EdgeSetupPerSource, EdgeSetupTotal,
	EdgeBusy, EdgeDraining, EdgeAnswered, EdgeDropped, EdgeMalformed, EdgeNoAck, EdgeTCPRefusedTotal,
	EdgeTCPRefusedSource, EdgeTCPAcceptRetries, EdgeTCPIdleClosed, EdgeTCPReadTimeout, EdgeTransportFailures}

// edgeCounters holds the counters that are not kept elsewhere.
type edgeCounters struct {
	m map[string]*atomic.Uint64
}

func newEdgeCounters() *edgeCounters {
	c := &edgeCounters{m: map[string]*atomic.Uint64{}}
	for _, n := range edgeNames {
		c.m[n] = new(atomic.Uint64)
	}
	return c
}

func (c *edgeCounters) add(name string) { c.m[name].Add(1) }

// EdgeCounts reports every edge counter (all names present, zero or not).
func (s *Server) EdgeCounts() map[string]uint64 {
	out := make(map[string]uint64, len(edgeNames))
	for n, v := range s.edge.m {
		out[n] = v.Load()
	}
	s.mu.Lock()
	lns := []*netguard.Listener{s.tcpGuard, s.tlsGuard}
	s.mu.Unlock()
	for _, l := range lns {
		if l == nil {
			continue
		}
		st := l.Stats()
		out[EdgeTCPRefusedTotal] += st.RefusedTotal
		out[EdgeTCPRefusedSource] += st.RefusedSource
		out[EdgeTCPAcceptRetries] += st.AcceptRetries
	}
	return out
}
