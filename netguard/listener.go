// Package netguard wraps a net.Listener so that a stream server survives
// the attacks that take file descriptors: it retries temporary accept errors
// (EMFILE, ENFILE, ...) with back-off instead of returning them, as
// net/http's Server.Serve does, and caps connections per source IP and in
// total. The SIP TCP/TLS listeners and the HTTP listener use it; see
// docs/security.md for the limits and their defaults.
package netguard

import (
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Config sets the caps. Zero or negative values are no cap.
type Config struct {
	MaxConns          int // open connections in total
	MaxConnsPerSource int // open connections from one source IP
	// Exempt sources (a proxy in front) are not held to MaxConnsPerSource.
	Exempt func(netip.Addr) bool
	Logger *slog.Logger // rate-limit it: refusals come in floods
	Name   string       // in log lines: "sip tcp", "http"
}

// Stats counts what the listener refused or retried.
type Stats struct {
	RefusedTotal  uint64 // closed at once: MaxConns reached
	RefusedSource uint64 // closed at once: MaxConnsPerSource reached
	AcceptRetries uint64 // temporary accept errors retried (EMFILE ...)
	Open          int64  // connections open now
}

// Listener is a guarded net.Listener.
type Listener struct {
	net.Listener
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	open     int
	perIP    map[netip.Addr]int
	closed   chan struct{}
	closeErr error
	once     sync.Once

	refusedTotal, refusedSource, retries atomic.Uint64
}

// New guards l.
func New(l net.Listener, cfg Config) *Listener {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Listener{Listener: l, cfg: cfg, log: log.With("listener", cfg.Name), perIP: map[netip.Addr]int{}, closed: make(chan struct{})}
}

// Back-off between retries of a temporary accept error, as net/http.
const (
	minBackoff = 5 * time.Millisecond
	maxBackoff = time.Second
)

// Accept returns the next connection within the caps. Temporary errors are
// retried with back-off and never returned, so the server keeps serving
// once descriptors are free again; only a closed listener (or a permanent
// error) ends it.
func (l *Listener) Accept() (net.Conn, error) {
	var delay time.Duration
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			if !temporary(err) {
				return nil, err
			}
			delay = min(max(2*delay, minBackoff), maxBackoff)
			l.retries.Add(1)
			l.log.Warn("accept failed; retrying", "err", err, "retry_in", delay)
			select {
			case <-time.After(delay):
				continue
			case <-l.closed:
				return nil, net.ErrClosed
			}
		}
		delay = 0
		ip := remoteIP(c)
		if reason := l.take(ip); reason != "" {
			l.log.Warn("connection refused", "reason", reason, "source", ip.String())
			c.Close()
			continue
		}
		return &conn{Conn: c, l: l, ip: ip}, nil
	}
}

// take counts a new connection from ip, or names the cap it would exceed.
func (l *Listener) take(ip netip.Addr) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cfg.MaxConns > 0 && l.open >= l.cfg.MaxConns {
		l.refusedTotal.Add(1)
		return "max_conns"
	}
	exempt := l.cfg.Exempt != nil && l.cfg.Exempt(ip)
	if !exempt && l.cfg.MaxConnsPerSource > 0 && l.perIP[ip] >= l.cfg.MaxConnsPerSource {
		l.refusedSource.Add(1)
		return "max_conns_per_source"
	}
	l.open++
	l.perIP[ip]++
	return ""
}

func (l *Listener) release(ip netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if l.perIP[ip]--; l.perIP[ip] <= 0 {
		delete(l.perIP, ip)
	}
}

// Close closes the listener and ends a back-off in progress.
func (l *Listener) Close() error {
	l.once.Do(func() {
		close(l.closed)
		l.closeErr = l.Listener.Close()
	})
	return l.closeErr
}

// Stats reports the counters.
func (l *Listener) Stats() Stats {
	l.mu.Lock()
	open := l.open
	l.mu.Unlock()
	return Stats{RefusedTotal: l.refusedTotal.Load(), RefusedSource: l.refusedSource.Load(),
		AcceptRetries: l.retries.Load(), Open: int64(open)}
}

// temporary reports accept errors worth retrying: out of descriptors or
// memory, and connections that died in the backlog.
func temporary(err error) bool {
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM,
		syscall.ECONNABORTED, syscall.ECONNRESET, syscall.EINTR, syscall.EAGAIN, syscall.EPROTO, syscall.EPERM} {
		if errors.Is(err, e) {
			return true
		}
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func remoteIP(c net.Conn) netip.Addr {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return a.AddrPort().Addr().Unmap()
	}
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

// conn gives its slot back once, on Close.
type conn struct {
	net.Conn
	l    *Listener
	ip   netip.Addr
	once sync.Once
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.ip) })
	return err
}
