package e2e

import (
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/zaf/g711"

	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/internal/testenv"
	"github.com/hotline-dev/hotline/media"
)

// TestVoicemailEndToEnd's check with sipp as the caller: the same after-hours
// flow and assertions (checkVoicemail), the tone and the digits replayed
// from pcaps as PCMU and RFC 4733 by sipp's media thread.
func TestVoicemailSipp(t *testing.T) {
	leakCheck(t)
	testenv.Tool(t, "sipp", "Debian: apt-get install sip-tester")
	scenario, err := filepath.Abs("testdata/uac_voicemail.xml")
	must(t, err)
	dir := t.TempDir()
	writeVoicemailPcaps(t, dir, vmToneLen)
	h := startVoicemail(t, media.SourceRFC4733)
	b, err := toolPorts.Reserve()
	must(t, err)
	const callID = "vmsipp-1@127.0.0.1" // -cid_str for sipp's first call
	done := make(chan error, 1)
	go func() {
		done <- sippRunIn(h, dir, b, scenario, "100", "udp", "-cid_str", "vmsipp-%u@%s")
	}()
	ctl, err := net.ListenPacket("udp", "127.0.0.1:0")
	must(t, err)
	defer ctl.Close()
	step := 0
	goAhead := func() {
		step++
		msg := fmt.Sprintf("INFO sip:sipp@127.0.0.1:%d SIP/2.0\r\n"+
			"Via: SIP/2.0/UDP %s;branch=z9hG4bK-vmsipp-%d\r\n"+
			"From: <sip:e2e@127.0.0.1>;tag=e2e\r\nTo: <sip:sipp@127.0.0.1>\r\n"+
			"Call-ID: %s\r\nCSeq: %d INFO\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
			b.SIP(), ctl.LocalAddr(), step, callID, 100+step)
		_, err := ctl.WriteTo([]byte(msg), &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: b.SIP()})
		must(t, err)
	}
	id := h.waitEvent(30*time.Second, "call", func(e events.Event) bool { return e.Type == events.CallStarted }).CallID
	h.node(id, "language")
	goAhead()
	h.node(id, "closed-menu")
	goAhead()
	h.node(id, "voicemail")
	h.waitBeep(id)
	goAhead()
	h.waitDigit(id, "#")
	goAhead()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%v\nserver events:\n%s", err, h.dump())
		}
	case <-time.After(120 * time.Second):
		t.Fatalf("sipp never ended; events:\n%s", h.dump())
	}
	h.waitEvent(30*time.Second, "call.ended", func(e events.Event) bool { return e.CallID == id && e.Type == events.CallEnded })
	checkVoicemail(t, h, id)
}

// writeVoicemailPcaps writes the four pcaps uac_voicemail.xml replays: one
// RTP stream (one SSRC, continuing sequence numbers and timestamps) split
// at the points where the caller waits for Hotline.
func writeVoicemailPcaps(t *testing.T, dir string, tone time.Duration) {
	t.Helper()
	s := &rtpStream{ssrc: 0x564D5350, seq: 2000, ts: 32000}
	files := []struct {
		name string
		add  func()
	}{
		{"vm_1_language.pcap", func() { s.digit(1) }},
		{"vm_2_closed.pcap", func() { s.digit(1) }},
		{"vm_3_tone_hash.pcap", func() { s.audio(media.Tone([]float64{600}, tone)); s.digit(11) }}, // 11: #
		{"vm_4_keep.pcap", func() { s.digit(1) }},
	}
	for _, f := range files {
		s.pkts, s.frames = nil, 0
		f.add()
		must(t, os.WriteFile(filepath.Join(dir, f.name), pcapFile(s.pkts), 0o644))
	}
}

// rtpStream builds RTP packets paced 20 ms apart: PCMU (PT 0) and RFC 4733
// telephone-events (PT 101, as the scenario offers).
type rtpStream struct {
	ssrc, ts uint32
	seq      uint16
	marker   bool
	frames   int // 20 ms slots in the current file: the packet's send time
	pkts     []pcapPacket
}

type pcapPacket struct {
	at  time.Duration
	rtp []byte
}

func (s *rtpStream) packet(pt byte, marker bool, ts uint32, payload []byte) {
	h := make([]byte, 12, 12+len(payload))
	h[0] = 0x80
	h[1] = pt
	if marker {
		h[1] |= 0x80
	}
	binary.BigEndian.PutUint16(h[2:], s.seq)
	binary.BigEndian.PutUint32(h[4:], ts)
	binary.BigEndian.PutUint32(h[8:], s.ssrc)
	s.seq++
	s.pkts = append(s.pkts, pcapPacket{at: time.Duration(s.frames) * 20 * time.Millisecond, rtp: append(h, payload...)})
}

// audio adds pcm as 20 ms PCMU frames, the first one marked (a talkspurt).
func (s *rtpStream) audio(pcm []int16) {
	for i := 0; i+160 <= len(pcm); i += 160 {
		p := make([]byte, 160)
		for j := range p {
			p[j] = g711.EncodeUlawFrame(pcm[i+j])
		}
		s.packet(0, i == 0, s.ts, p)
		s.ts += 160
		s.frames++
	}
}

// digit adds one 160 ms key press: a marked start, updates every 20 ms, and
// three end packets sharing the event's timestamp (RFC 4733 §2.5.1.4).
func (s *rtpStream) digit(event byte) {
	const n = 8
	for k := range n {
		dur := uint16((k + 1) * 160)
		reps, flags := 1, byte(10) // volume -10 dBm0
		if k == n-1 {
			reps, flags = 3, flags|0x80 // E bit
		}
		for range reps {
			s.packet(101, k == 0, s.ts, []byte{event, flags, byte(dur >> 8), byte(dur)})
		}
		s.frames++
	}
	s.ts += n * 160
}

// pcapFile is a classic pcap (Ethernet link type) of IPv4/UDP frames around
// each RTP packet: the format sipp's play_pcap_audio reads. sipp replaces
// the addresses and ports, and paces by the capture times.
func pcapFile(pkts []pcapPacket) []byte {
	out := binary.LittleEndian.AppendUint32(nil, 0xA1B2C3D4)
	out = binary.LittleEndian.AppendUint16(out, 2)
	out = binary.LittleEndian.AppendUint16(out, 4)
	out = binary.LittleEndian.AppendUint32(out, 0)     // timezone
	out = binary.LittleEndian.AppendUint32(out, 0)     // sigfigs
	out = binary.LittleEndian.AppendUint32(out, 65535) // snaplen
	out = binary.LittleEndian.AppendUint32(out, 1)     // Ethernet
	const base = 1_700_000_000
	for _, p := range pkts {
		udp := binary.BigEndian.AppendUint16(nil, 6000)
		udp = binary.BigEndian.AppendUint16(udp, 20000)
		udp = binary.BigEndian.AppendUint16(udp, uint16(8+len(p.rtp)))
		udp = binary.BigEndian.AppendUint16(udp, 0) // no checksum
		udp = append(udp, p.rtp...)
		ip := []byte{0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1}
		binary.BigEndian.PutUint16(ip[2:], uint16(20+len(udp)))
		binary.BigEndian.PutUint16(ip[10:], ipChecksum(ip))
		frame := append([]byte{0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 1, 0x08, 0x00}, ip...)
		frame = append(frame, udp...)
		out = binary.LittleEndian.AppendUint32(out, uint32(base+p.at/time.Second))
		out = binary.LittleEndian.AppendUint32(out, uint32(p.at%time.Second/time.Microsecond))
		out = binary.LittleEndian.AppendUint32(out, uint32(len(frame)))
		out = binary.LittleEndian.AppendUint32(out, uint32(len(frame)))
		out = append(out, frame...)
	}
	return out
}

func ipChecksum(h []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(h); i += 2 {
		s += uint32(binary.BigEndian.Uint16(h[i:]))
	}
	for s>>16 != 0 {
		s = s&0xFFFF + s>>16
	}
	return ^uint16(s)
}
