package webhook

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestGuardRanges(t *testing.T) {
	g := guard{}
	allowed := guard{allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("10.9.0.0/16")}}
	for _, tc := range []struct {
		addr      string
		want      string // refused range; "" allowed
		allowList string // with the allow-list
	}{
		{"93.184.215.14", "", ""},
		{"2606:2800:21f:cb07:6820:80da:af6b:8b2c", "", ""},
		{"127.0.0.1", "loopback", ""},
		{"127.10.0.1", "loopback", ""},
		{"::1", "loopback", "loopback"},
		{"::ffff:127.0.0.1", "loopback", ""}, // IPv4-mapped: the IPv4 rules
		{"10.0.0.1", "private", "private"},
		{"10.9.1.1", "private", ""},
		{"172.16.0.1", "private", "private"},
		{"172.31.255.255", "private", "private"},
		{"172.32.0.1", "", ""},
		{"192.168.1.1", "private", "private"},
		{"fd12:3456::1", "private", "private"},
		{"169.254.169.254", "link-local", "link-local"},
		{"fe80::1", "link-local", "link-local"},
		{"0.0.0.0", "unspecified", "unspecified"},
		{"0.1.2.3", "unspecified", "unspecified"},
		{"::", "unspecified", "unspecified"},
		{"224.0.0.1", "multicast or broadcast", "multicast or broadcast"},
		{"ff02::1", "multicast or broadcast", "multicast or broadcast"},
		{"255.255.255.255", "multicast or broadcast", "multicast or broadcast"},
	} {
		a := netip.MustParseAddr(tc.addr)
		if got := g.refused(a); got != tc.want {
			t.Errorf("%s: refused %q, want %q", tc.addr, got, tc.want)
		}
		if got := allowed.refused(a); got != tc.allowList {
			t.Errorf("%s with the allow-list: refused %q, want %q", tc.addr, got, tc.allowList)
		}
	}
}

// The check is on the address connected to: a receiver on loopback is
// not reached (not one byte) without the allow-list, and is with it.
func TestGuardAtConnect(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	// A name, resolved at connect time (the DNS-rebinding case: the check
	// is not on what the URL says).
	url := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	post := func(g guard) error {
		c := &http.Client{Transport: g.transport(5 * time.Second)}
		defer c.CloseIdleConnections()
		resp, err := c.Post(url, "application/json", strings.NewReader("{}"))
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	err := post(guard{})
	var de *DestinationError
	if !errors.Is(err, ErrDestination) || !errors.As(err, &de) || de.Range != "loopback" {
		t.Fatalf("POST %s without the allow-list: %v, want a refused loopback destination", url, err)
	}
	if !strings.Contains(err.Error(), "webhook_delivery.allow_networks") {
		t.Errorf("error %q does not say how to allow it", err)
	}
	if hits.Load() != 0 {
		t.Fatalf("the receiver got %d requests", hits.Load())
	}
	if err := post(guard{allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}}); err != nil {
		t.Fatalf("with the allow-list: %v", err)
	}
	if hits.Load() != 1 {
		t.Fatalf("the receiver got %d requests, want 1", hits.Load())
	}
}

func TestGuardCheckURL(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, u := range []string{"http://127.0.0.1:9/x", "http://localhost/x", "https://[fe80::1]/", "http://169.254.169.254/latest"} {
		if err := (guard{}).checkURL(ctx, u); !errors.Is(err, ErrDestination) {
			t.Errorf("%s: %v, want refused", u, err)
		}
	}
	if err := (guard{}).checkURL(ctx, "https://203.0.113.7/hook"); err != nil {
		t.Errorf("a public address: %v", err)
	}
}
