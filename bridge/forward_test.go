package bridge

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/hotline-dev/hotline/media"
)

// TestConnectForwardsSameCodecBytes: between two PCMU sessions a frame's
// bytes reach the far phone as the near phone sent them, in the outgoing
// leg's own stream, including µ-law codes a decode and re-encode would
// change (0x7f, "-0", comes back as 0xff).
func TestConnectForwardsSameCodecBytes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	phone := func() *net.UDPConn {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	leg := func(p *net.UDPConn) *media.Session {
		s, err := media.NewSession(media.SessionConfig{IP: netip.MustParseAddr("127.0.0.1")})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		ap := p.LocalAddr().(*net.UDPAddr).AddrPort()
		if err := s.Start(media.Remote{Addr: ap, Codec: media.PCMU, Signal: ap.Addr()}); err != nil {
			t.Fatal(err)
		}
		return s
	}
	near, far := phone(), phone()
	a, b := leg(near), leg(far)
	connected := make(chan struct{})
	go func() { defer close(connected); Connect(ctx, Media(a), Media(b), Options{}) }()
	defer func() { cancel(); <-connected }()

	payload := make([]byte, 160)
	for i := range payload {
		payload[i] = byte(0x70 + i%32)
	}
	to := net.UDPAddrFromAddrPort(a.LocalAddr())
	buf := make([]byte, 1500)
	// Resend until Connect has installed the relay and one frame arrives.
	for seq := uint16(1); ; seq++ {
		pkt, err := (&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: uint32(seq) * 160, SSRC: 0xabc}, Payload: payload}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := near.WriteToUDP(pkt, to); err != nil {
			t.Fatal(err)
		}
		far.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		n, _, err := far.ReadFromUDP(buf)
		if err != nil {
			if ctx.Err() != nil {
				t.Fatal("no frame relayed to the far phone")
			}
			continue
		}
		var got rtp.Packet
		if err := got.Unmarshal(buf[:n]); err != nil {
			t.Fatal(err)
		}
		if string(got.Payload) != string(payload) {
			t.Fatalf("relayed payload %x, want the bytes sent %x", got.Payload, payload)
		}
		if got.SSRC == 0xabc {
			t.Fatal("relayed in the sender's SSRC, want the outgoing leg's own stream")
		}
		return
	}
}
