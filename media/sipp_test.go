package media

import (
	"context"
	"net"
	"net/netip"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestSippRTPEcho checks the session against an independent RTP peer: sipp
// (Debian's sip-tester) with -rtp_echo returns every datagram to its
// sender. The prompt must come back complete, in order, from sipp's port
// (which we latch onto), with no loss.
func TestSippRTPEcho(t *testing.T) {
	sipp, err := exec.LookPath("sipp")
	if err != nil {
		t.Skip("sipp not installed (apt install sip-tester)")
	}
	defer goleak.VerifyNone(t)
	mediaPort := freeEvenRange(t, 2)
	sipPort := freeUDPPort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, sipp, "-sn", "uas", "-i", "127.0.0.1", "-p", strconv.Itoa(sipPort),
		"-mp", strconv.Itoa(mediaPort), "-rtp_echo", "-nostdin", "-timeout", "25s")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cancel()
		_ = cmd.Wait()
	}()

	s, err := NewSession(SessionConfig{IP: loopback})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	echo := netip.AddrPortFrom(loopback, uint16(mediaPort))
	if err := s.Start(Remote{Addr: echo, Codec: PCMU, PayloadType: 0}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []int16
	arrived := make(chan struct{}, 1)
	s.SetAudioSink(func(pcm []int16) {
		mu.Lock()
		got = append(got, pcm...)
		mu.Unlock()
		select {
		case arrived <- struct{}{}:
		default:
		}
	})
	// sipp needs a moment to open its media socket: probe with one frame
	// until the first echo comes back.
	probe := NewPromptPCM("probe", make([]int16, 160))
	for ready := false; !ready; {
		if err := s.Play(ctx, probe); err != nil {
			t.Fatalf("sipp did not echo: %v", err)
		}
		select {
		case <-arrived:
			ready = true
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			t.Fatal("sipp did not echo")
		}
	}
	mu.Lock()
	got = got[:0]
	mu.Unlock()
	before := s.Stats()

	p := NewPromptPCM("tone", Tone([]float64{440, 1000}, 500*time.Millisecond))
	if err := s.Play(ctx, p); err != nil {
		t.Fatal(err)
	}
	want := make([]int16, p.Samples())
	decodeG711(PCMU, want, p.Payload(PCMU))
	for {
		mu.Lock()
		n := len(trimSilentFrames(got))
		mu.Unlock()
		if n >= len(want) {
			break
		}
		select {
		case <-arrived:
		case <-ctx.Done():
			t.Fatalf("echoed %d of %d samples", n, len(want))
		}
	}
	mu.Lock()
	defer mu.Unlock()
	got = trimSilentFrames(got)
	if !equal16(got[:len(want)], want) {
		t.Fatal("echoed audio differs from the prompt")
	}
	st := s.Stats()
	if st.Lost != 0 || st.PacketsReceived-before.PacketsReceived < 25 || st.RemoteAddr != echo || !st.Latched {
		t.Fatalf("stats %+v", st)
	}
}

func freeUDPPort(t *testing.T) int {
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, 0)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return int(c.LocalAddr().(*net.UDPAddr).Port)
}

// trimSilentFrames drops leading all-zero frames: late echoes of the silent
// probe frames that may precede the prompt.
func trimSilentFrames(pcm []int16) []int16 {
	for len(pcm) >= 160 && equal16(pcm[:160], make([]int16, 160)) {
		pcm = pcm[160:]
	}
	return pcm
}
