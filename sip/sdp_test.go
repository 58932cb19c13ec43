package sip

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pion/sdp/v3"

	"github.com/hotline-dev/hotline/media"
)

var both = []media.Codec{media.PCMU, media.PCMA}

func TestNegotiateGolden(t *testing.T) {
	tests := []struct {
		file     string
		codec    media.Codec
		pt, dtmf uint8
		remote   string
		ptime    time.Duration
		answer   string // direction we answer with
		err      error
	}{
		{"asterisk.sdp", media.PCMU, 0, 101, "203.0.113.10:14582", 20 * time.Millisecond, SendRecv, nil},
		{"freeswitch.sdp", media.PCMA, 8, 101, "198.51.100.7:24680", 20 * time.Millisecond, SendRecv, nil},
		{"twilio.sdp", media.PCMU, 0, 101, "54.172.60.1:13846", 20 * time.Millisecond, SendRecv, nil},
		{"linphone.sdp", media.PCMU, 0, 100, "192.168.1.20:7078", 20 * time.Millisecond, SendRecv, nil},
		{"baresip.sdp", media.PCMA, 8, 96, "[::1]:10000", 30 * time.Millisecond, SendRecv, nil},
		{"hold-sendonly.sdp", media.PCMU, 0, 101, "203.0.113.10:14582", 20 * time.Millisecond, RecvOnly, nil},
		{"hold-rfc2543.sdp", media.PCMA, 8, 0, "0.0.0.0:14582", 20 * time.Millisecond, RecvOnly, nil},
		{"g722-only.sdp", 0, 0, 0, "", 0, "", ErrNoCommonCodec},
		{"srtp-only.sdp", 0, 0, 0, "", 0, "", ErrNoCommonCodec},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			n, err := NegotiateOffer(body, both)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if n.Codec != tt.codec || n.PayloadType != tt.pt || n.DTMFPT != tt.dtmf {
				t.Errorf("codec %v pt %d dtmf %d, want %v %d %d", n.Codec, n.PayloadType, n.DTMFPT, tt.codec, tt.pt, tt.dtmf)
			}
			if got := n.Remote.String(); got != tt.remote {
				t.Errorf("remote %s, want %s", got, tt.remote)
			}
			if n.Ptime != tt.ptime {
				t.Errorf("ptime %v, want %v", n.Ptime, tt.ptime)
			}
			if d := n.AnswerDirection(); d != tt.answer {
				t.Errorf("answer direction %s, want %s", d, tt.answer)
			}
			ans, err := BuildAnswer(LocalSDP{Addr: netip.MustParseAddrPort("127.0.0.1:20000"), SessionID: 1, Version: 1}, n)
			if err != nil {
				t.Fatal(err)
			}
			checkAnswer(t, body, ans, n)
		})
	}
}

// checkAnswer verifies RFC 3264 §6 shape: same m= count, one live audio line
// with each payload type listed exactly once.
func checkAnswer(t *testing.T, offer, answer []byte, n Negotiated) {
	t.Helper()
	var o, a sdp.SessionDescription
	if err := o.Unmarshal(offer); err != nil {
		t.Fatal(err)
	}
	if err := a.Unmarshal(answer); err != nil {
		t.Fatalf("answer does not parse: %v\n%s", err, answer)
	}
	if len(o.MediaDescriptions) != len(a.MediaDescriptions) {
		t.Fatalf("answer has %d m= lines, offer %d", len(a.MediaDescriptions), len(o.MediaDescriptions))
	}
	live := 0
	for _, md := range a.MediaDescriptions {
		if md.MediaName.Port.Value == 0 {
			continue
		}
		live++
		seen := map[string]bool{}
		for _, f := range md.MediaName.Formats {
			if seen[f] {
				t.Errorf("format %s listed twice: %v", f, md.MediaName.Formats)
			}
			seen[f] = true
		}
		if _, ok := md.Attribute(n.AnswerDirection()); !ok {
			t.Errorf("answer lacks a=%s:\n%s", n.AnswerDirection(), answer)
		}
	}
	if live != 1 {
		t.Errorf("answer has %d live m= lines, want 1", live)
	}
}

func TestNegotiateTable(t *testing.T) {
	const head = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
	tests := []struct {
		name      string
		body      string
		supported []media.Codec
		codec     media.Codec
		ptime     time.Duration
		dir       string
		err       error
	}{
		{"static no rtpmap", head + "m=audio 5000 RTP/AVP 8 0\r\n", both, media.PCMA, 20 * time.Millisecond, SendRecv, nil},
		{"only PCMA allowed", head + "m=audio 5000 RTP/AVP 0 8\r\n", []media.Codec{media.PCMA}, media.PCMA, 20 * time.Millisecond, SendRecv, nil},
		{"dynamic PCMU", head + "m=audio 5000 RTP/AVP 110\r\na=rtpmap:110 PCMU/8000\r\n", both, media.PCMU, 20 * time.Millisecond, SendRecv, nil},
		{"ptime 10", head + "m=audio 5000 RTP/AVP 0\r\na=ptime:10\r\n", both, media.PCMU, 10 * time.Millisecond, SendRecv, nil},
		{"ptime 60", head + "m=audio 5000 RTP/AVP 0\r\na=ptime:60\r\n", both, media.PCMU, 60 * time.Millisecond, SendRecv, nil},
		{"ptime 25 rounds", head + "m=audio 5000 RTP/AVP 0\r\na=ptime:25\r\n", both, media.PCMU, 30 * time.Millisecond, SendRecv, nil},
		{"ptime 200 clamps", head + "m=audio 5000 RTP/AVP 0\r\na=ptime:200\r\n", both, media.PCMU, 60 * time.Millisecond, SendRecv, nil},
		{"session ptime", head + "a=ptime:40\r\nm=audio 5000 RTP/AVP 0\r\n", both, media.PCMU, 40 * time.Millisecond, SendRecv, nil},
		{"recvonly", head + "m=audio 5000 RTP/AVP 0\r\na=recvonly\r\n", both, media.PCMU, 20 * time.Millisecond, SendOnly, nil},
		{"inactive", head + "m=audio 5000 RTP/AVP 0\r\na=inactive\r\n", both, media.PCMU, 20 * time.Millisecond, Inactive, nil},
		{"session sendonly", head + "a=sendonly\r\nm=audio 5000 RTP/AVP 0\r\n", both, media.PCMU, 20 * time.Millisecond, RecvOnly, nil},
		{"video then audio", head + "m=video 6000 RTP/AVP 96\r\nm=audio 5000 RTP/AVP 0\r\n", both, media.PCMU, 20 * time.Millisecond, SendRecv, nil},
		{"audio port 0", head + "m=audio 0 RTP/AVP 0\r\n", both, 0, 0, "", ErrNoCommonCodec},
		{"no audio", head + "m=video 6000 RTP/AVP 96\r\n", both, 0, 0, "", ErrNoCommonCodec},
		{"no c=", "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n", both, 0, 0, "", ErrBadSDP},
		{"garbage", "hello", both, 0, 0, "", ErrBadSDP},
		{"empty", "", both, 0, 0, "", ErrBadSDP},
		{"hostname c=", strings.Replace(head, "10.0.0.1\r\nt", "pbx.example.com\r\nt", 1) + "m=audio 5000 RTP/AVP 0\r\n", both, 0, 0, "", ErrBadSDP},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := NegotiateOffer([]byte(tt.body), tt.supported)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if n.Codec != tt.codec || n.Ptime != tt.ptime || n.AnswerDirection() != tt.dir {
				t.Errorf("got %v %v %s, want %v %v %s", n.Codec, n.Ptime, n.AnswerDirection(), tt.codec, tt.ptime, tt.dir)
			}
			ans, err := BuildAnswer(LocalSDP{Addr: netip.MustParseAddrPort("127.0.0.1:20000")}, n)
			if err != nil {
				t.Fatal(err)
			}
			checkAnswer(t, []byte(tt.body), ans, n)
		})
	}
}

func TestOfferAnswerRoundTrip(t *testing.T) {
	offer, err := BuildOffer(LocalSDP{Addr: netip.MustParseAddrPort("127.0.0.1:30000"), SessionID: 7, Version: 1}, []media.Codec{media.PCMA, media.PCMU}, 20*time.Millisecond, SendRecv)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(offer), "m=audio 30000 RTP/AVP 8 0 101\r\n") != 1 {
		t.Fatalf("offer m= line wrong:\n%s", offer)
	}
	n, err := NegotiateOffer(offer, both)
	if err != nil {
		t.Fatal(err)
	}
	if n.Codec != media.PCMA || n.DTMFPT != 101 {
		t.Fatalf("got %v dtmf %d", n.Codec, n.DTMFPT)
	}
	ans, err := BuildAnswer(LocalSDP{Addr: netip.MustParseAddrPort("127.0.0.1:20000")}, n)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseAnswer(ans, []media.Codec{media.PCMA, media.PCMU})
	if err != nil {
		t.Fatal(err)
	}
	if back.Codec != media.PCMA || back.Remote.Port() != 20000 || back.DTMFPT != 101 {
		t.Fatalf("answer parsed as %+v", back)
	}
}

func FuzzNegotiateOffer(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.sdp"))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("v=0\r\nm=audio 1 RTP/AVP 0\r\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		n, err := NegotiateOffer(body, both)
		if err != nil {
			if !errors.Is(err, ErrBadSDP) && !errors.Is(err, ErrNoCommonCodec) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		if n.Codec != media.PCMU && n.Codec != media.PCMA {
			t.Fatalf("negotiated %v", n.Codec)
		}
		if n.Ptime < 10*time.Millisecond || n.Ptime > 60*time.Millisecond {
			t.Fatalf("ptime %v", n.Ptime)
		}
		if _, err := BuildAnswer(LocalSDP{Addr: netip.MustParseAddrPort("127.0.0.1:2")}, n); err != nil {
			t.Fatalf("answer: %v", err)
		}
	})
}
