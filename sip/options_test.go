package sip

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const optionsMsg = "OPTIONS sip:{ADDR} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK{BR}\r\nFrom: <sip:probe@127.0.0.1>;tag=1\r\nTo: <sip:{ADDR}>\r\nCall-ID: opt-{BR}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"

// TestOptionsReadiness: OPTIONS is 200 while ready, 503 with Retry-After
// while the readiness check fails or the server drains (so Kamailio's
// ds_ping takes the node out), and the check runs at most once a second
// however many probes come.
func TestOptionsReadiness(t *testing.T) {
	var fail atomic.Bool
	var calls atomic.Int64
	r := newRig(t, newWaitHandler(), func(c *ServerConfig) {
		c.RetryAfter = 7 * time.Second
		c.Ready = func(context.Context) error {
			calls.Add(1)
			if fail.Load() {
				return errors.New("database unreachable")
			}
			return nil
		}
	})
	if res := rawUDP(t, r.srv, []byte(optionsMsg), 2*time.Second); !strings.HasPrefix(res, "SIP/2.0 200") || !strings.Contains(res, "Allow: INVITE") {
		t.Fatalf("ready: %q", firstLine(res))
	}
	// A fresh cache that fails: 503 with Retry-After, and five more probes
	// within the second run no further check.
	fail.Store(true)
	r.srv.ready.expire()
	before := calls.Load()
	for i := range 6 {
		res := rawUDP(t, r.srv, []byte(optionsMsg), 2*time.Second)
		if !strings.HasPrefix(res, "SIP/2.0 503") || !strings.Contains(res, "Retry-After: 1") {
			t.Fatalf("not ready, probe %d: %q", i, res)
		}
	}
	if n := calls.Load() - before; n != 1 {
		t.Fatalf("readiness ran %d times for 6 probes within a second, want 1", n)
	}
	fail.Store(false)
	r.srv.ready.expire()
	if res := rawUDP(t, r.srv, []byte(optionsMsg), 2*time.Second); !strings.HasPrefix(res, "SIP/2.0 200") {
		t.Fatalf("ready again: %q", firstLine(res))
	}
	r.srv.mu.Lock()
	r.srv.draining = true
	r.srv.mu.Unlock()
	if res := rawUDP(t, r.srv, []byte(optionsMsg), 2*time.Second); !strings.HasPrefix(res, "SIP/2.0 503") || !strings.Contains(res, "Retry-After: 7") {
		t.Fatalf("draining: %q", res)
	}
}

func TestReadyCache(t *testing.T) {
	var n atomic.Int64
	err := errors.New("down")
	c := &readyCache{timeout: time.Second, log: testLogger(t), check: func(ctx context.Context) error {
		n.Add(1)
		if _, ok := ctx.Deadline(); !ok {
			t.Error("check without a deadline")
		}
		return err
	}}
	t0 := time.Unix(1000, 0)
	for _, tc := range []struct {
		at    time.Duration
		calls int64
	}{{0, 1}, {500 * time.Millisecond, 1}, {999 * time.Millisecond, 1}, {time.Second, 2}, {1500 * time.Millisecond, 2}, {3 * time.Second, 3}} {
		if got := c.get(t0.Add(tc.at)); !errors.Is(got, err) {
			t.Fatalf("at %v: %v", tc.at, got)
		}
		if n.Load() != tc.calls {
			t.Fatalf("at %v: %d checks, want %d", tc.at, n.Load(), tc.calls)
		}
	}
	if (*readyCache)(nil).get(t0) != nil || (&readyCache{}).get(t0) != nil {
		t.Fatal("no check must mean ready")
	}
}

// expire makes the next get run the check (tests).
func (r *readyCache) expire() {
	r.mu.Lock()
	r.last = time.Time{}
	r.mu.Unlock()
}
