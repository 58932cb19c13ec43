package registrar

import (
	"context"
	"fmt"
	"net"
	"testing"
	"testing/synctest"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/hotline-dev/hotline/events"
)

// TestLoopbackSipgoClient registers a real sipgo user agent over UDP on
// 127.0.0.1:0: challenge, digest answer, binding, un-REGISTER, wrong password.
func TestLoopbackSipgoClient(t *testing.T) {
	for _, algs := range [][]string{nil, {"SHA-256"}} {
		t.Run(fmt.Sprint(algs), func(t *testing.T) { loopbackSipgo(t, algs) })
	}
}

func loopbackSipgo(t *testing.T, algs []string) {
	bus := events.NewBus()
	sub := bus.Subscribe(64)
	defer sub.Close()
	r := New(Config{Agents: testAgents, Bus: bus, Algorithms: algs})

	port := serveRegistrar(t, r)

	cua, err := sipgo.NewUA(sipgo.WithUserAgent("1001"))
	if err != nil {
		t.Fatal(err)
	}
	defer cua.Close()
	cli, err := sipgo.NewClient(cua, sipgo.WithClientHostname("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	register := func(password, expires string) int {
		t.Helper()
		req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: "127.0.0.1", Port: port})
		req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: "1001", Host: "hotline"}})
		req.AppendHeader(sip.NewHeader("Contact", "<sip:1001@127.0.0.1:5099>"))
		req.AppendHeader(sip.NewHeader("Expires", expires))
		res, err := cli.Do(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != 401 {
			t.Fatalf("first REGISTER: %d, want 401", res.StatusCode)
		}
		res, err = cli.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: "1001", Password: password})
		if err != nil {
			t.Fatal(err)
		}
		return res.StatusCode
	}
	if got := register("secret1", "300"); got != 200 {
		t.Fatalf("REGISTER: %d", got)
	}
	cs := r.Lookup("1001")
	if len(cs) != 1 || cs[0].URI != "sip:1001@127.0.0.1:5099" || cs[0].Transport != "UDP" {
		t.Fatalf("bindings %+v", cs)
	}
	if e := <-sub.C; action(e) != ActionAdded || e.Agent != "a1" {
		t.Fatalf("event %+v", e)
	}
	if got := register("secret1", "0"); got != 200 {
		t.Fatalf("un-REGISTER: %d", got)
	}
	if n := len(r.Lookup("1001")); n != 0 {
		t.Fatalf("%d bindings after un-REGISTER", n)
	}
	if got := register("wrong", "300"); got != 403 {
		t.Fatalf("wrong password: %d, want 403", got)
	}
}

// TestRunSweepsExpiredBindings drives Run in fake time.
func TestRunSweepsExpiredBindings(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newRig(t, func(c *Config) { c.Now = time.Now; c.SweepInterval = time.Second })
		mustStatus(t, g.do(reg{contacts: []string{"<sip:1001@10.0.0.1>"}, expires: "60"}), 200)
		g.drain()
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- g.r.Run(ctx) }()
		time.Sleep(61 * time.Second) // fake time: advances the bubble's clock
		synctest.Wait()
		evs := g.drain()
		if len(evs) != 1 || action(evs[0]) != ActionExpired {
			t.Fatalf("events %+v", evs)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run returned %v", err)
		}
	})
}

// serveRegistrar serves r's REGISTER handler on a sipgo server on a free
// UDP port of 127.0.0.1 until the test ends, and returns the port.
func serveRegistrar(t *testing.T, r *Registrar) int {
	t.Helper()
	ua, err := sipgo.NewUA()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		t.Fatal(err)
	}
	srv.OnRegister(r.HandleRegister)
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() { defer close(served); srv.ServeUDP(conn) }()
	t.Cleanup(func() { srv.Close(); conn.Close(); <-served; ua.Close() })
	return conn.LocalAddr().(*net.UDPAddr).Port
}
