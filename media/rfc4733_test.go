package media

import (
	"errors"
	"os"
	"testing"
	"time"
)

func TestTelephoneEventWire(t *testing.T) {
	tests := []struct {
		name string
		wire []byte
		ev   TelephoneEvent
		key  rune
	}{
		// RFC 4733 §2.3 layout: event, E|R|volume, duration.
		{"digit 5 start", []byte{5, 10, 0x00, 0xA0}, TelephoneEvent{Event: 5, Volume: 10, Duration: 160}, '5'},
		{"star end", []byte{10, 0x80 | 7, 0x03, 0x20}, TelephoneEvent{Event: 10, End: true, Volume: 7, Duration: 800}, '*'},
		{"hash", []byte{11, 0, 0, 0}, TelephoneEvent{Event: 11}, '#'},
		{"D max duration", []byte{15, 63, 0xFF, 0xFF}, TelephoneEvent{Event: 15, Volume: 63, Duration: 65535}, 'D'},
		{"flash hook is not DTMF", []byte{16, 0, 0, 0}, TelephoneEvent{Event: 16}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := ParseTelephoneEvent(tt.wire)
			if err != nil {
				t.Fatal(err)
			}
			if ev != tt.ev || ev.Key() != tt.key {
				t.Fatalf("parsed %+v key %q, want %+v key %q", ev, ev.Key(), tt.ev, tt.key)
			}
			if got := ev.AppendTo(nil); string(got) != string(tt.wire) {
				t.Fatalf("marshal = %x, want %x", got, tt.wire)
			}
		})
	}
	if _, err := ParseTelephoneEvent([]byte{1, 2, 3}); !errors.Is(err, ErrBadEvent) {
		t.Fatalf("short payload: err = %v, want ErrBadEvent", err)
	}
}

// TestEventReceiver drives the receiver with packet sequences as they arrive
// from the network, including loss and the three redundant end packets.
func TestEventReceiver(t *testing.T) {
	type pkt struct {
		ts    uint32
		audio bool
		ev    uint8
		end   bool
		dur   uint16
	}
	start := func(ts uint32, ev uint8, dur uint16) pkt { return pkt{ts: ts, ev: ev, dur: dur} }
	end := func(ts uint32, ev uint8, dur uint16) pkt { return pkt{ts: ts, ev: ev, dur: dur, end: true} }
	audio := func(ts uint32) pkt { return pkt{ts: ts, audio: true} }
	tests := []struct {
		name string
		pkts []pkt
		want string // keys in order
		durs []time.Duration
	}{
		{"complete event, end x3", []pkt{start(1000, 5, 160), start(1000, 5, 320), start(1000, 5, 480), end(1000, 5, 800), end(1000, 5, 800), end(1000, 5, 800)}, "5", []time.Duration{100 * time.Millisecond}},
		{"start packets lost", []pkt{end(1000, 7, 800), end(1000, 7, 800), end(1000, 7, 800)}, "7", nil},
		{"same key pressed twice", []pkt{start(1000, 1, 160), end(1000, 1, 640), end(1000, 1, 640), start(3000, 1, 160), end(3000, 1, 640), end(3000, 1, 640), end(3000, 1, 640)}, "11", nil},
		{"end packets lost, next event", []pkt{start(1000, 2, 160), start(1000, 2, 320), start(5000, 3, 160), end(5000, 3, 480)}, "23", []time.Duration{40 * time.Millisecond, 60 * time.Millisecond}},
		{"end packets lost, audio resumes", []pkt{start(1000, 4, 160), start(1000, 4, 320), audio(1480), audio(2640), audio(2800)}, "4", nil},
		{"audio during event does not end it", []pkt{start(1000, 4, 160), audio(1160), start(1000, 4, 320), end(1000, 4, 480)}, "4", []time.Duration{60 * time.Millisecond}},
		{"late update after end ignored", []pkt{end(1000, 9, 800), start(1000, 9, 320)}, "9", nil},
		{"timestamp wrap", []pkt{start(0xFFFFFF00, 6, 160), end(0xFFFFFF00, 6, 800), start(0x00000400, 6, 160), end(0x00000400, 6, 800)}, "66", nil},
		{"non-DTMF event ignored", []pkt{start(1000, 16, 160), end(1000, 16, 800)}, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r eventReceiver
			var got []eventDigit
			for _, p := range tt.pkts {
				if p.audio {
					got = r.audio(p.ts, got)
				} else {
					got = r.event(p.ts, TelephoneEvent{Event: p.ev, End: p.end, Duration: p.dur}, got)
				}
			}
			var keys string
			for _, d := range got {
				keys += string(d.key)
			}
			if keys != tt.want {
				t.Fatalf("digits %q, want %q", keys, tt.want)
			}
			for i, want := range tt.durs {
				if got[i].dur != want {
					t.Errorf("digit %d duration %v, want %v", i, got[i].dur, want)
				}
			}
		})
	}
}

func FuzzTelephoneEvent(f *testing.F) {
	if b, err := os.ReadFile("testdata/rfc4733-digit5-end.bin"); err == nil {
		f.Add(b)
	}
	f.Add([]byte{5, 10, 0, 160})
	f.Add([]byte{11, 0x80, 3, 32, 0, 0, 0, 0})
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := ParseTelephoneEvent(b)
		if err != nil {
			if !errors.Is(err, ErrBadEvent) {
				t.Fatalf("error %v does not wrap ErrBadEvent", err)
			}
			return
		}
		// The reserved R bit is dropped; everything else round-trips.
		want := []byte{b[0], b[1] &^ 0x40, b[2], b[3]}
		if got := ev.AppendTo(nil); string(got) != string(want) {
			t.Fatalf("round trip %x, want %x", got, want)
		}
		var r eventReceiver
		_ = r.event(1, ev, nil)
	})
}
