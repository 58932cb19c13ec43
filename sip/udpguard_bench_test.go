package sip

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/media"
)

// BenchmarkUDPGuard is the guard's cost per accepted datagram (parse and
// screen; sipgo parses it again) and per refused one.
func BenchmarkUDPGuard(b *testing.B) {
	pool, _ := media.NewPortPool(63000, 63998)
	srv, err := NewServer(ServerConfig{UDP: "127.0.0.1:0", RTP: pool, RateLimit: 1e9, RateBurst: 1e9}, HandlerFunc(nil), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	c, _ := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	defer c.Close()
	msg := options(c, netip.MustParseAddrPort("127.0.0.1:5060"), "bench", "", 1)
	g := newUDPGuard(c, srv)
	src := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 9), Port: 5060}
	b.Run("accepted", func(b *testing.B) {
		for b.Loop() {
			if !g.pass(msg, src) {
				b.Fatal("refused")
			}
		}
	})
	srv.limiter = newSourceLimiter(0.001, 1, time.Now)
	b.Run("refused", func(b *testing.B) {
		for b.Loop() {
			g.pass(msg, src)
		}
	})
}
