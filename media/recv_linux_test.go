//go:build linux

package media

import (
	"net"
	"net/netip"
	"strconv"
	"testing"
	"time"
	"unsafe"

	"github.com/pion/rtp"
	"golang.org/x/sys/unix"
)

// rawPeer is a plain UDP socket playing the far end of a session that reads
// with recvmmsg (recv_linux.go).
func rawPeer(t *testing.T, sink func([]int16)) (*Session, *net.UDPConn) {
	t.Helper()
	peer, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, 0)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	s, err := NewSession(SessionConfig{IP: loopback, Pool: testPool(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if sink != nil {
		s.SetAudioSink(sink)
	}
	if err := s.Start(Remote{Addr: peer.LocalAddr().(*net.UDPAddr).AddrPort(), Codec: PCMA, PayloadType: 8, Signal: loopback}); err != nil {
		t.Fatal(err)
	}
	return s, peer
}

func sendRTP(t *testing.T, c *net.UDPConn, to netip.AddrPort, seq uint16, payload int) {
	t.Helper()
	p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 8, SequenceNumber: seq, Timestamp: uint32(seq) * 160, SSRC: 7}, Payload: make([]byte, payload)}
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.WriteToUDPAddrPort(b, to); err != nil {
		t.Fatal(err)
	}
}

// waitStats polls s until cond holds, or fails after a generous deadline.
func waitStats(t *testing.T, s *Session, what string, cond func(Stats) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond(s.Stats()) {
		if time.Now().After(deadline) {
			t.Fatalf("never %s: %+v", what, s.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A burst queued while the reader is busy (more datagrams than one recvmmsg
// returns) is read to the end without waiting for another packet: the
// reader must not wait for the poller while its queue may still hold some.
func TestRawReaderDrainsQueuedBurst(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	first := true
	s, peer := rawPeer(t, func([]int16) {
		if first {
			first = false
			close(entered)
			<-release
		}
	})
	to := s.LocalAddr()
	sendRTP(t, peer, to, 1, 160)
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the first packet never reached the sink")
	}
	const burst = 3*recvBatch + 1
	for i := range burst {
		sendRTP(t, peer, to, uint16(2+i), 160)
	}
	close(release)
	waitStats(t, s, "received the whole burst", func(st Stats) bool { return st.PacketsReceived == 1+burst })
	if st := s.Stats(); st.Lost != 0 || st.PacketsIgnored != 0 {
		t.Errorf("lost %d, ignored %d, want 0", st.Lost, st.PacketsIgnored)
	}
}

// A datagram longer than the read buffer is truncated by the kernel: it is
// counted as ignored, never handled as a shorter packet, and the next one
// is read as usual.
func TestRawReaderIgnoresTruncated(t *testing.T) {
	s, peer := rawPeer(t, nil)
	sendRTP(t, peer, s.LocalAddr(), 1, maxDatagram)
	sendRTP(t, peer, s.LocalAddr(), 2, 160)
	waitStats(t, s, "read the packet after the oversized one", func(st Stats) bool { return st.PacketsReceived == 1 })
	if st := s.Stats(); st.PacketsIgnored != 1 || st.BytesReceived != 12+160 {
		t.Errorf("ignored %d, bytes %d; want 1 and %d", st.PacketsIgnored, st.BytesReceived, 12+160)
	}
}

func TestSockaddrAddrPort(t *testing.T) {
	for _, want := range []string{"127.0.0.1:4000", "[::1]:65535", "[fe80::1%3]:5004"} {
		ap := netip.MustParseAddrPort(want)
		sa, err := sockaddrOf(ap)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := sockaddrAddrPort(sa)
		if !ok || got != ap {
			t.Errorf("%s: got %v %v", want, got, ok)
		}
	}
}

// sockaddrOf is what the kernel writes into msg_name for ap.
func sockaddrOf(ap netip.AddrPort) (*unix.RawSockaddrAny, error) {
	var sa unix.RawSockaddrAny
	port := (*[2]byte)(unsafe.Pointer(&sa.Addr.Data[0]))
	if ap.Addr().Is4() {
		a := (*unix.RawSockaddrInet4)(unsafe.Pointer(&sa))
		a.Family, a.Addr = unix.AF_INET, ap.Addr().As4()
		port = (*[2]byte)(unsafe.Pointer(&a.Port))
	} else {
		a := (*unix.RawSockaddrInet6)(unsafe.Pointer(&sa))
		a.Family, a.Addr = unix.AF_INET6, ap.Addr().As16()
		if z := ap.Addr().Zone(); z != "" {
			id, err := strconv.ParseUint(z, 10, 32)
			if err != nil {
				return nil, err
			}
			a.Scope_id = uint32(id)
		}
		port = (*[2]byte)(unsafe.Pointer(&a.Port))
	}
	port[0], port[1] = byte(ap.Port()>>8), byte(ap.Port())
	return &sa, nil
}
