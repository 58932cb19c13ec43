// Package siptest holds SIP peers for Hotline's tests: plain-sipgo ones (a
// SIP trunk that records what reaches it, a phone that REGISTERs a Contact
// of the test's choosing with digest auth) and a running Hotline sip.Client.
// Only tests import it.
package siptest

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	hsip "github.com/hotline-dev/hotline/sip"
)

// Trunk is a SIP trunk on 127.0.0.1 (a sipgo UAS) that records the start
// line of every request it receives and refuses each with 403. A
// toll-fraud test asserts that nothing reached it.
type Trunk struct {
	addr string
	mu   sync.Mutex
	reqs []string
}

// StartTrunk listens on a free UDP port of 127.0.0.1 until the test ends.
func StartTrunk(t testing.TB) *Trunk {
	t.Helper()
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("test-trunk"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		t.Fatal(err)
	}
	tr := &Trunk{}
	record := func(req *sip.Request, tx sip.ServerTransaction) {
		tr.mu.Lock()
		tr.reqs = append(tr.reqs, req.StartLine())
		tr.mu.Unlock()
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusForbidden, "Forbidden", nil))
	}
	srv.OnInvite(record)
	srv.OnNoRoute(record)
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() { defer close(served); _ = srv.ServeUDP(conn) }()
	t.Cleanup(func() { srv.Close(); conn.Close(); <-served; ua.Close() })
	tr.addr = conn.LocalAddr().String()
	return tr
}

// Addr is the trunk's host:port.
func (tr *Trunk) Addr() string { return tr.addr }

// Received returns the start lines of the requests received so far.
func (tr *Trunk) Received() []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]string(nil), tr.reqs...)
}

// Register sends a REGISTER for user with the given Contact header value
// to registrar (host:port, UDP) from a sipgo user agent on 127.0.0.1,
// answers the digest challenge with password, and returns the final status.
func Register(ctx context.Context, registrar, user, password, contact string) (int, error) {
	addr, err := net.ResolveUDPAddr("udp", registrar)
	if err != nil {
		return 0, err
	}
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("test-phone"))
	if err != nil {
		return 0, err
	}
	defer ua.Close()
	cli, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"))
	if err != nil {
		return 0, err
	}
	defer cli.Close()
	req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: addr.IP.String(), Port: addr.Port})
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: user, Host: "hotline"}})
	req.AppendHeader(sip.NewHeader("Contact", contact))
	req.AppendHeader(sip.NewHeader("Expires", "300"))
	res, err := cli.Do(ctx, req)
	if err != nil {
		return 0, fmt.Errorf("REGISTER: %w", err)
	}
	if res.StatusCode == sip.StatusUnauthorized {
		if res, err = cli.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: user, Password: password}); err != nil {
			return 0, fmt.Errorf("REGISTER with digest: %w", err)
		}
	}
	return res.StatusCode, nil
}

// Client is a Hotline sip.Client (the user agent under test, not a plain
// sipgo peer) running until the test ends; its Run must return nil once
// Close has stopped it.
func Client(t testing.TB, cfg hsip.ClientConfig) *hsip.Client {
	t.Helper()
	c, err := hsip.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Run(context.Background()) }()
	t.Cleanup(func() {
		c.Close()
		if err := <-done; err != nil {
			t.Errorf("sip.Client.Run: %v", err)
		}
	})
	return c
}
