package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"
)

// ErrDestination is a delivery (or a subscription) to an address in a
// range webhooks refuse; *DestinationError wraps it.
var ErrDestination = errors.New("webhook: destination refused")

// DestinationError names the refused address and its range.
type DestinationError struct {
	Addr  netip.Addr
	Range string // "loopback", "private", "link-local", ...
}

func (e *DestinationError) Error() string {
	return fmt.Sprintf("%s is a %s address, refused for webhooks (allow it in webhook_delivery.allow_networks)", e.Addr, e.Range)
}

func (e *DestinationError) Unwrap() error { return ErrDestination }

// guard refuses connections to the ranges a webhook should never reach
// unless the configuration allows them: loopback, private (RFC 1918, RFC
// 4193 ULA), link-local (RFC 3927: 169.254.169.254 is the cloud metadata
// service; fe80::/10), unspecified and "this network" (0.0.0.0/8: Linux
// connects it to the host), multicast. A subscriber with a write token
// would otherwise make Hotline POST into the internal network (SSRF).
type guard struct {
	allow []netip.Prefix
}

var thisNetwork = netip.MustParsePrefix("0.0.0.0/8")

// refused is the range addr is in when it may not be reached ("": may).
func (g guard) refused(addr netip.Addr) string {
	addr = addr.Unmap()
	for _, p := range g.allow {
		if p.Contains(addr) {
			return ""
		}
	}
	switch {
	case addr.IsLoopback():
		return "loopback"
	case addr.IsPrivate():
		return "private"
	case addr.IsLinkLocalUnicast():
		return "link-local"
	case addr.IsUnspecified(), thisNetwork.Contains(addr):
		return "unspecified"
	case addr.IsMulticast(), addr == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return "multicast or broadcast"
	}
	return ""
}

func (g guard) check(addr netip.Addr) error {
	if r := g.refused(addr); r != "" {
		return &DestinationError{Addr: addr.Unmap(), Range: r}
	}
	return nil
}

// control runs on every connection attempt, after DNS resolved the host:
// the address checked is the one connected to, so a name that resolves
// to a public address when the subscription is made and to a private one
// later (DNS rebinding) is refused all the same.
func (g guard) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("webhook: connect to %q: %w", address, err)
	}
	return g.check(ap.Addr())
}

// transport is the deliveries' HTTP transport: the guard on every dial,
// and no proxy from the environment (the guard would check the proxy's
// address, not the receiver's).
func (g guard) transport(timeout time.Duration) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	d := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second, Control: g.control}
	t.DialContext = d.DialContext
	return t
}

// checkURL refuses a subscription whose host is, or resolves to, a refused
// address (bounded by ctx). A name that does not resolve now is accepted:
// the check at connect time still applies.
func (g guard) checkURL(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	host := u.Hostname()
	if addr, err := netip.ParseAddr(host); err == nil {
		return g.check(addr)
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil
	}
	for _, a := range addrs {
		if err := g.check(a); err != nil {
			return fmt.Errorf("%s resolves to %w", host, err)
		}
	}
	return nil
}
