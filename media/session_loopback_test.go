package media

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// These tests use real UDP sockets on 127.0.0.1 from a PortPool: two
// Sessions talk to each other as two ends of a call would.

func loopbackPair(t *testing.T, pool *PortPool, cfgB SessionConfig) (a, b *Session) {
	t.Helper()
	a, err := NewSession(SessionConfig{IP: loopback, Pool: pool})
	if err != nil {
		t.Fatal(err)
	}
	cfgB.IP, cfgB.Pool = loopback, pool
	b, err = NewSession(cfgB)
	if err != nil {
		a.Close()
		t.Fatal(err)
	}
	ra := Remote{Addr: b.LocalAddr(), Codec: PCMA, PayloadType: 8, DTMFPayloadType: 101, Signal: loopback}
	rb := Remote{Addr: a.LocalAddr(), Codec: PCMA, PayloadType: 8, DTMFPayloadType: 101, Signal: loopback}
	if err := a.Start(ra); err != nil {
		t.Fatal(err)
	}
	if err := b.Start(rb); err != nil {
		t.Fatal(err)
	}
	return a, b
}

func testPool(t *testing.T) *PortPool {
	base := freeEvenRange(t, 4)
	pool, err := NewPortPool(base, base+7)
	if err != nil {
		t.Fatal(err)
	}
	return pool
}

func TestLoopbackPromptAndDigits(t *testing.T) {
	defer goleak.VerifyNone(t)
	pool := testPool(t)
	a, b := loopbackPair(t, pool, SessionConfig{InbandDTMF: true})
	if pool.InUse() != 2 {
		t.Fatalf("InUse = %d", pool.InUse())
	}

	p := NewPromptPCM("tone", Tone([]float64{440, 880}, 500*time.Millisecond))
	var mu sync.Mutex
	var got []int16
	full := make(chan struct{})
	b.SetAudioSink(func(pcm []int16) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, pcm...)
		if len(got) == p.Samples() {
			close(full)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Play(ctx, p); err != nil {
		t.Fatal(err)
	}
	select {
	case <-full:
	case <-ctx.Done():
		t.Fatalf("received %d of %d samples", len(got), p.Samples())
	}
	b.SetAudioSink(nil)
	want := make([]int16, p.Samples())
	decodeG711(PCMA, want, p.Payload(PCMA))
	mu.Lock()
	if !equal16(got, want) {
		t.Fatal("received audio differs from the prompt")
	}
	mu.Unlock()
	if st := b.Stats(); st.PacketsReceived != 25 || st.Lost != 0 || !st.Latched || st.RemoteAddr != a.LocalAddr() {
		t.Fatalf("receiver stats %+v", st)
	}

	// Digits both ways of sending, each received once with its source.
	if err := a.SendDigit(ctx, '4', 100*time.Millisecond, SourceRFC4733); err != nil {
		t.Fatal(err)
	}
	if err := a.SendDigit(ctx, '2', 100*time.Millisecond, SourceInband); err != nil {
		t.Fatal(err)
	}
	want2 := []Digit{{Key: '4', Source: SourceRFC4733}, {Key: '2', Source: SourceInband}}
	for _, w := range want2 {
		select {
		case d := <-b.Digits():
			if d.Key != w.Key || d.Source != w.Source {
				t.Fatalf("digit %+v, want %c from %s", d, w.Key, w.Source)
			}
		case <-ctx.Done():
			t.Fatalf("digit %c not received", w.Key)
		}
	}
	// The reverse direction works through the latched address.
	if err := b.SendDigit(ctx, '7', 60*time.Millisecond, SourceRFC4733); err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-a.Digits():
		if d.Key != '7' {
			t.Fatalf("a got %+v", d)
		}
	case <-ctx.Done():
		t.Fatal("a got no digit")
	}
	a.Close()
	b.Close()
	if pool.InUse() != 0 {
		t.Fatalf("ports leaked: InUse = %d", pool.InUse())
	}
	select {
	case d := <-b.Digits():
		t.Fatalf("extra digit %+v", d)
	default:
	}
}

// TestLoopbackGarbageAndForeignTraffic: datagrams that are not our RTP are
// counted and ignored, never crash the reader.
func TestLoopbackGarbageAndForeignTraffic(t *testing.T) {
	defer goleak.VerifyNone(t)
	pool := testPool(t)
	a, b := loopbackPair(t, pool, SessionConfig{})
	defer a.Close()
	defer b.Close()
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, 0)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	junk := [][]byte{{}, {0x80}, []byte("INVITE sip:x SIP/2.0\r\n"), rtpBytes(0, 1, 1, []byte{1, 2}), {0xA0, 8, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0}}
	for _, j := range junk {
		if _, err := c.WriteToUDPAddrPort(j, b.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	// Then one good packet: loopback delivers in send order, so when the
	// sink sees it, the junk before it has been read.
	seen := make(chan struct{}, 1)
	b.SetAudioSink(func([]int16) {
		select {
		case seen <- struct{}{}:
		default:
		}
	})
	a.Play(context.Background(), NewPromptPCM("p", make([]int16, 160)))
	select {
	case <-seen:
	case <-time.After(10 * time.Second):
		t.Fatalf("good packet not received: %+v", b.Stats())
	}
	if st := b.Stats(); st.PacketsReceived != 1 || st.PacketsIgnored != uint64(len(junk)) {
		t.Fatalf("received %d ignored %d, want 1 and %d", st.PacketsReceived, st.PacketsIgnored, len(junk))
	}
	if st := b.Stats(); st.Latched && st.RemoteAddr != a.LocalAddr() {
		t.Fatalf("latched to junk: %+v", st)
	}
}
