package media

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pion/rtp"
)

func TestParseRTP(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		payload string
		ok      bool
	}{
		{"plain", rtpBytes(0, 1, 2, []byte("abc")), "abc", true},
		{"padding", append(append([]byte{0xA0}, rtpBytes(0, 1, 2, []byte("abc"))[1:]...), 0, 0, 3), "abc", true},
		{"zero padding", append(append([]byte{0xA0}, rtpBytes(0, 1, 2, []byte("abc"))[1:]...), 0), "", false},
		{"padding longer than packet", append(append([]byte{0xA0}, rtpBytes(0, 1, 2, nil)[1:]...), 200), "", false},
		{"version 1", append([]byte{0x40}, rtpBytes(0, 1, 2, nil)[1:]...), "", false},
		{"short", []byte{0x80, 0, 0}, "", false},
		{"CSRC count beyond packet", append([]byte{0x8F}, rtpBytes(0, 1, 2, nil)[1:]...), "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h rtp.Header
			p, err := parseRTP(tt.in, &h)
			if tt.ok != (err == nil) || (err != nil && !errors.Is(err, ErrBadRTP)) {
				t.Fatalf("err = %v, want ok=%v", err, tt.ok)
			}
			if tt.ok && string(p) != tt.payload {
				t.Fatalf("payload %q, want %q", p, tt.payload)
			}
		})
	}
}

// TestSequenceLossAndJitter feeds packets with a gap and a late arrival.
func TestSequenceLossAndJitter(t *testing.T) {
	s, rs := fuzzSession(t)
	from := mustAP("10.0.0.2:5000")
	for _, seq := range []uint16{65533, 65534, 65535, 2, 3, 1, 3} { // wrap, loss of 0 and 1, 1 late, 3 dup
		s.handlePacket(rs, rtpBytes(0, seq, uint32(seq)*160, make([]byte, 160)), from)
	}
	if st := s.Stats(); st.Lost != 1 || st.PacketsReceived != 7 {
		t.Fatalf("lost %d received %d, want 1 and 7", st.Lost, st.PacketsReceived)
	}
	if s.Stats().Jitter <= 0 {
		t.Fatal("jitter not estimated from irregular timestamps")
	}
}

// fuzzSession is a session with a remote but no goroutines, for feeding
// handlePacket directly.
func fuzzSession(t testing.TB) (*Session, *recvState) {
	n := newMemNet()
	s, err := NewSession(SessionConfig{Conn: n.listen(addrA), InbandDTMF: true})
	if err != nil {
		t.Fatal(err)
	}
	r := remoteAt(addrB)
	r.Signal = netip.MustParseAddr("192.0.2.1") // FuzzRTPInput's source, as behind NAT
	if err := r.normalise(); err != nil {
		t.Fatal(err)
	}
	s.remote.Store(s.negotiate(r))
	s.SetAudioSink(func([]int16) {})
	return s, &recvState{det: newDTMFDetector()}
}

// FuzzRTPInput: any datagram on the RTP port is handled without panicking,
// only accepted packets count as received, and nothing from a source off
// the SDP and signalling IPs is ever taken.
func FuzzRTPInput(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/rtp-*.bin")
	for _, fn := range seeds {
		b, err := os.ReadFile(fn)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(rtpBytes(0, 1, 160, make([]byte, 160)))
	f.Add(rtpBytes(101, 1, 160, []byte{5, 0x8a, 3, 0x20}))
	f.Add([]byte{0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, rs := fuzzSession(t)
		s.handlePacket(rs, b, mustAP("203.0.113.9:1000")) // a third party
		if st := s.Stats(); st.PacketsReceived != 0 || st.Latched || len(s.Digits()) != 0 {
			t.Fatalf("took a packet from a third party: %+v", st)
		}
		s.handlePacket(rs, b, mustAP("192.0.2.1:1000"))
		s.handlePacket(rs, b, mustAP("192.0.2.1:1000")) // twice: duplicate paths
		st := s.Stats()
		if st.PacketsReceived+st.PacketsIgnored+st.PacketsRejected < 3 {
			t.Fatalf("packet neither received, ignored nor rejected: %+v", st)
		}
		if st.PacketsReceived > 0 && st.RemoteAddr != netip.MustParseAddrPort("192.0.2.1:1000") {
			t.Fatalf("accepted packet did not latch: %+v", st)
		}
	})
}

// discardConn swallows packets, for the send-path benchmark.
type discardConn struct{ *memConn }

func (discardConn) WriteToUDPAddrPort(b []byte, _ netip.AddrPort) (int, error) { return len(b), nil }

// BenchmarkSessionSendFrame measures one frame slot of the send path
// (prompt slice, header marshal, write); it must not allocate.
func BenchmarkSessionSendFrame(b *testing.B) {
	s, err := NewSession(SessionConfig{Conn: discardConn{&memConn{addr: mustAP(addrA), closed: make(chan struct{})}}})
	if err != nil {
		b.Fatal(err)
	}
	r := s.negotiate(remoteAt(addrB))
	s.remote.Store(r)
	s.started = true
	p := NewPromptPCM("p", Tone([]float64{440}, 10*time.Second))
	st := newSendState()
	b.ReportAllocs()
	for b.Loop() {
		if s.play == nil {
			s.play = &playJob{prompts: []*Prompt{p}, done: make(chan error, 1)}
		}
		s.buildAndSend(st, r, 160)
	}
}

// BenchmarkSessionReceivePacket measures the receive path of one audio
// packet from the latched source (parse, source check, counters, decode,
// sink, inband detector); it must not allocate.
func BenchmarkSessionReceivePacket(b *testing.B) {
	s, rs := fuzzSession(b)
	from := mustAP(addrB)
	pkt := rtpBytes(0, 1, 160, make([]byte, 160))
	s.handlePacket(rs, pkt, from) // latch
	b.ReportAllocs()
	seq := uint16(2)
	for b.Loop() {
		binary.BigEndian.PutUint16(pkt[2:], seq)
		binary.BigEndian.PutUint32(pkt[4:], uint32(seq)*160)
		seq++
		s.handlePacket(rs, pkt, from)
	}
}
