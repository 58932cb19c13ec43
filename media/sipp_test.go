package media

import (
	"context"
	"net"
	"net/netip"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/hotline-dev/hotline/internal/testenv"
	"github.com/hotline-dev/hotline/internal/testports"
)

// TestSippRTPEcho checks the session against an independent RTP peer: sipp
// (Debian's sip-tester) with -rtp_echo returns every datagram to its
// sender. The prompt must come back complete, in order, from sipp's port
// (which we latch onto), with no loss, while a third party on 127.0.0.9
// sprays bursts of in-sequence RTP and RFC 4733 digits at our port: none
// of it is heard or taken, and it receives nothing.
func TestSippRTPEcho(t *testing.T) {
	sipp := testenv.Tool(t, "sipp", "Debian: apt-get install sip-tester")
	defer goleak.VerifyNone(t)
	b := toolPorts.Block(t)
	mediaPort, sipPort := b.Media(), b.SIP()
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
	if err := s.Start(Remote{Addr: echo, Codec: PCMU, PayloadType: 0, Signal: loopback}); err != nil {
		t.Fatal(err)
	}
	attacker := spray(t, netip.MustParseAddr("127.0.0.9"), s.LocalAddr())
	defer attacker.stop() // before the leak check on a failure path
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
	sent, recv := attacker.stop()
	if recv != 0 || st.PacketsRejected == 0 || len(readDigits(s)) != 0 {
		t.Fatalf("attacker sent %d, received %d packets; %d rejected", sent, recv, st.PacketsRejected)
	}
}

// sprayer sends bursts of 3 in-sequence RTP packets (audio, digit '9',
// audio) to a session every 10 ms from its own address, and counts what
// comes back.
type sprayer struct {
	conn       *net.UDPConn
	sent, recv atomic.Int64
	done       chan struct{}
	wg         sync.WaitGroup
}

func spray(t *testing.T, from netip.Addr, to netip.AddrPort) *sprayer {
	t.Helper()
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(from, 0)))
	if err != nil {
		t.Fatal(err)
	}
	a := &sprayer{conn: c, done: make(chan struct{})}
	a.wg.Add(2)
	go func() {
		defer a.wg.Done()
		buf := make([]byte, maxDatagram)
		for {
			if _, _, err := c.ReadFromUDPAddrPort(buf); err != nil {
				return
			}
			a.recv.Add(1)
		}
	}()
	go func() {
		defer a.wg.Done()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for seq := uint16(0); ; seq += 3 {
			select {
			case <-a.done:
				return
			case <-tick.C:
			}
			for _, pkt := range [][]byte{
				rtpBytes(0, seq, uint32(seq)*160, make([]byte, 160)),
				eventBytes(seq+1, 9),
				rtpBytes(0, seq+2, uint32(seq+2)*160, make([]byte, 160)),
			} {
				if _, err := c.WriteToUDPAddrPort(pkt, to); err == nil {
					a.sent.Add(1)
				}
			}
		}
	}()
	t.Cleanup(func() { a.stop() })
	return a
}

// stop ends the spray (idempotent) and reports packets sent and received.
func (a *sprayer) stop() (sent, recv int64) {
	select {
	case <-a.done:
	default:
		close(a.done)
		a.conn.Close()
		a.wg.Wait()
	}
	return a.sent.Load(), a.recv.Load()
}

// toolPorts are the ports this package's tests name for sipp (-p, and -mp,
// which it binds with -mp+2): this package's range in internal/testports,
// below the kernel's ephemeral range, where a port-0 bind (the session's
// own RTP socket, the sprayer's) cannot take them between the check and
// sipp's bind.
var toolPorts = testports.New(12400, 12799)

// trimSilentFrames drops leading all-zero frames: late echoes of the silent
// probe frames that may precede the prompt.
func trimSilentFrames(pcm []int16) []int16 {
	for len(pcm) >= 160 && equal16(pcm[:160], make([]int16, 160)) {
		pcm = pcm[160:]
	}
	return pcm
}
