package e2e

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/internal/siptest"
	"github.com/hotline-dev/hotline/media"
	"github.com/hotline-dev/hotline/sip"
)

// Attacks on a call's media over loopback (issue 8, points 4 and 9). The
// RTP ports of these tests lie below the kernel's ephemeral range, so the
// spray hits Hotline's calls and nothing of other tests.
const (
	attackPortMin, attackPortMax = 30500, 30519 // Hotline's RTP pool here
	callerPortMin, callerPortMax = 30600, 30619 // the Go caller's
)

// sprayer is a third party on another loopback address: every 20 ms it
// sends each even port of a range a burst of two PCMU frames and two
// RFC 4733 end packets for its digit (a new press each round), in
// sequence per port, so the old "3 packets in a row move the latch" rule
// would hand it the call even while the caller streams. It counts what it
// receives back.
type sprayer struct {
	conn      *net.UDPConn
	got, sent atomic.Int64 // bytes received, packets sent
	stop      chan struct{}
	wg        sync.WaitGroup
}

func startSprayer(t *testing.T, ip string, lo, hi int, event uint8) *sprayer {
	t.Helper()
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(ip+":0")))
	must(t, err)
	s := &sprayer{conn: conn, stop: make(chan struct{})}
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		buf := make([]byte, 2048)
		for {
			n, _, err := conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				return // closed by stopNow
			}
			s.got.Add(int64(n))
		}
	}()
	go func() {
		defer s.wg.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		seq := map[int]uint16{}
		pkt := make([]byte, 12+160)
		for round := uint32(0); ; round++ {
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
			for port := lo &^ 1; port <= hi; port += 2 {
				to := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
				for _, ev := range []bool{false, true, false, true} {
					q := seq[port]
					seq[port] = q + 1
					pkt = pkt[:12]
					pkt[0], pkt[1] = 0x80, 0 // V=2, PCMU
					if ev {
						pkt[1] = 101 // telephone-event, End bit, duration 800: one press per round
						pkt = append(pkt, event, 0x8a, 0x03, 0x20)
					} else {
						pkt = pkt[:12+160]
						for i := 12; i < len(pkt); i++ {
							pkt[i] = 0x7f
						}
					}
					binary.BigEndian.PutUint16(pkt[2:], q)
					binary.BigEndian.PutUint32(pkt[4:], round*160)
					binary.BigEndian.PutUint32(pkt[8:], 0xbad)
					if _, err := conn.WriteToUDPAddrPort(pkt, to); err == nil {
						s.sent.Add(1)
					}
				}
			}
		}
	}()
	t.Cleanup(s.stopNow)
	return s
}

func (s *sprayer) stopNow() {
	select {
	case <-s.stop:
		return
	default:
	}
	close(s.stop)
	s.conn.Close()
	s.wg.Wait()
}

// udpSink counts what arrives on one or more sockets (a victim, or the
// private address a NAT-style caller names in its SDP).
type udpSink struct {
	conns []*net.UDPConn
	got   atomic.Int64
	wg    sync.WaitGroup
}

func listenSink(t *testing.T, ip string, ports ...int) *udpSink {
	t.Helper()
	s := &udpSink{}
	for _, p := range ports {
		c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(ip), uint16(p))))
		must(t, err)
		s.conns = append(s.conns, c)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			buf := make([]byte, 2048)
			for {
				n, _, err := c.ReadFromUDPAddrPort(buf)
				if err != nil {
					return
				}
				s.got.Add(int64(n))
			}
		}()
	}
	t.Cleanup(func() {
		for _, c := range s.conns {
			c.Close()
		}
		s.wg.Wait()
	})
	return s
}

func evenPorts(lo, hi int) []int {
	var ps []int
	for p := lo &^ 1; p <= hi; p += 2 {
		ps = append(ps, p)
	}
	return ps
}

// metric reads one sample of Hotline's /metrics, 0 if absent.
func metric(t *testing.T, h *harness, series string) float64 {
	t.Helper()
	res, err := http.Get("http://" + h.app.HTTPAddr().String() + "/metrics")
	must(t, err)
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			must(t, err)
			return f
		}
	}
	return 0
}

const rejectedSeries = `hotline_rtp_packets_total{kind="rejected"}`

// sendSilence makes the Go caller behave like a phone: RTP (silence) flows from
// the answer on, as real endpoints send, until ctx ends.
func sendSilence(ctx context.Context, call *sip.OutboundCall) {
	go func() { _ = call.Media().Play(ctx, media.NewPromptPCM("silence", make([]int16, 60*media.SampleRate))) }()
}

// TestRTPSprayGoCaller: while a third party on 127.0.0.9 sprays RTP and
// RFC 4733 "9"s at every port of Hotline's RTP range, the project's Go
// caller walks the e2e flow with its own digits, once as an ordinary
// caller and once NAT-style (its SDP names 127.0.0.5, its RTP and SIP come
// from 127.0.0.1). The caller hears the prompts; the attacker's digits are
// not taken and it receives no RTP; nothing goes to the private address;
// Hotline counts the rejected packets.
func TestRTPSprayGoCaller(t *testing.T) {
	leakCheck(t)
	h := start(t, func(c *config.Config) { c.Media.PortMin, c.Media.PortMax = attackPortMin, attackPortMax })
	for _, tc := range []struct {
		name, public string
	}{
		{"plain", "127.0.0.1"},
		{"nat", "127.0.0.5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			attacker := startSprayer(t, "127.0.0.9", attackPortMin, attackPortMax, 9)
			private := listenSink(t, "127.0.0.5", evenPorts(callerPortMin, callerPortMax)...)
			pool, err := media.NewPortPool(callerPortMin, callerPortMax)
			must(t, err)
			c := siptest.Client(t, sip.ClientConfig{Addr: "127.0.0.1:0", PublicAddr: tc.public, RTP: pool, InactivityTimeout: time.Minute})
			defer c.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			call, err := c.Dial(ctx, "sip:200@"+h.sipAddr("udp"), sip.DialOptions{From: "0281234567"})
			cancel()
			must(t, err)
			meter := &audioMeter{}
			call.Media().SetAudioSink(meter.sink)
			talkCtx, stopTalk := context.WithCancel(context.Background())
			defer stopTalk()
			sendSilence(talkCtx, call)
			id := call.ID()
			rejectedBefore := metric(t, h, rejectedSeries)

			h.menus(call, "first", "1", "second", "3")
			h.node(id, "done")
			if tc.name == "nat" {
				// Hotline's BYE would go to the Contact (127.0.0.5): the
				// NAT-style caller hangs up itself.
				hctx, hcancel := context.WithTimeout(context.Background(), 10*time.Second)
				if err := call.Hangup(hctx); err != nil && !errors.Is(err, sip.ErrCallEnded) {
					t.Errorf("hangup: %v", err)
				}
				hcancel()
			}
			select {
			case <-call.Done():
			case <-time.After(30 * time.Second):
				t.Fatalf("call did not end; events:\n%s", h.dump())
			}
			stopTalk()
			it := h.interaction(id) // the call's media counters are in /metrics now
			attacker.stopNow()

			t.Logf("attacker sent %d packets, got %d bytes; caller heard %d loud frames; rejected %v",
				attacker.sent.Load(), attacker.got.Load(), meter.loud.Load(), metric(t, h, rejectedSeries)-rejectedBefore)
			if p := path(it); len(p) < 4 || strings.Join(p[:4], " ") != "welcome first second done" {
				t.Errorf("path = %v, want welcome first second done", p)
			}
			assertDigits(t, h, id, "13", media.SourceRFC4733)
			if loud := meter.loud.Load(); loud < 100 {
				t.Errorf("caller heard %d non-silent frames of %d, want the prompts", loud, meter.frames.Load())
			}
			if n := attacker.got.Load(); n != 0 {
				t.Errorf("attacker received %d bytes of the call's RTP", n)
			}
			if n := private.got.Load(); n != 0 {
				t.Errorf("%d bytes went to the private SDP address", n)
			}
			if got := metric(t, h, rejectedSeries) - rejectedBefore; got < 100 {
				t.Errorf("rejected RTP counted %v for the call, want the attacker's packets (it sent %d in all)", got, attacker.sent.Load())
			}
		})
	}
	h.shutdown()
	if n := h.app.Ports().InUse(); n != 0 {
		t.Errorf("%d RTP ports in use", n)
	}
}

// TestRTPSpraySippNATCaller: the same attack against sipp, an independent
// caller that replays RFC 4733 digits 1 and 3 from its pcap and names a
// private address (127.0.0.5) in its SDP while its RTP comes from
// 127.0.0.1: its digits walk the flow, the attacker's do not, the attacker
// receives nothing and nothing goes to the private address.
func TestRTPSpraySippNATCaller(t *testing.T) {
	leakCheck(t)
	h := start(t, func(c *config.Config) { c.Media.PortMin, c.Media.PortMax = attackPortMin, attackPortMax })
	attacker := startSprayer(t, "127.0.0.9", attackPortMin, attackPortMax, 9)
	sdpPort := ports(t).media() // the NAT maps the port too: sipp's RTP leaves from -mp
	private := listenSink(t, "127.0.0.5", sdpPort)
	sipp(t, h, "uac_nat_rfc2833.xml", "200", "udp", "-key", "sdp_ip", "127.0.0.5", "-key", "sdp_port", fmt.Sprint(sdpPort))
	id := h.waitEvent(5*time.Second, "call", func(e events.Event) bool { return e.Type == events.CallStarted }).CallID
	it := h.interaction(id)
	attacker.stopNow()
	if p := path(it); strings.Join(p, " ") != "welcome first second done" {
		t.Errorf("path = %v, want welcome first second done", p)
	}
	assertDigits(t, h, id, "13", media.SourceRFC4733)
	if n := attacker.got.Load(); n != 0 {
		t.Errorf("attacker received %d bytes of the call's RTP", n)
	}
	if n := private.got.Load(); n != 0 {
		t.Errorf("%d bytes went to the private SDP address", n)
	}
	if got := metric(t, h, rejectedSeries); got < 100 {
		t.Errorf("rejected RTP counted %v, want the attacker's packets (it sent %d)", got, attacker.sent.Load())
	}
	h.shutdown()
}

// TestMediaReflection: an INVITE (sipp) whose SDP names a victim that
// never sends RTP. A victim on a third address (127.0.0.7) gets nothing;
// one on the INVITE's own IP (a neighbour behind the same NAT) gets at
// most media.UnansweredSendLimit of audio. Either way Hotline ends the
// call by its inactivity timeout.
func TestMediaReflection(t *testing.T) {
	leakCheck(t)
	const inactivity = 10 * time.Second // the flow plays 7.2 s of prompts before its first silence
	for _, tc := range []struct {
		victim   string
		maxBytes int64
	}{
		{"127.0.0.7", 0},
		{"127.0.0.1", int64(media.UnansweredSendLimit/(20*time.Millisecond)+1) * (12 + 160)},
	} {
		t.Run(tc.victim, func(t *testing.T) {
			h := start(t, func(c *config.Config) { c.Media.InactivityTimeout = inactivity })
			port := ports(t).media()
			victim := listenSink(t, tc.victim, port)
			sipp(t, h, "uac_reflect.xml", "200", "udp", "-key", "sdp_ip", tc.victim, "-key", "sdp_port", fmt.Sprint(port))
			e := h.waitEvent(5*time.Second, "call.ended", func(e events.Event) bool { return e.Type == events.CallEnded })
			if p, _ := e.Payload.(sip.CallEnd); p.Cause != sip.CauseMediaTimeout {
				t.Errorf("call ended with %v, want %s (the inactivity timeout)", p.Cause, sip.CauseMediaTimeout)
			}
			got := victim.got.Load()
			t.Logf("victim %s received %d bytes (limit %d)", tc.victim, got, tc.maxBytes)
			if got > tc.maxBytes {
				t.Errorf("victim %s received %d bytes, want at most %d", tc.victim, got, tc.maxBytes)
			}
			if tc.maxBytes > 0 && got == 0 {
				t.Errorf("nothing sent to an SDP address on the INVITE's IP: the caller would hear no prompt")
			}
			h.shutdown()
		})
	}
}
