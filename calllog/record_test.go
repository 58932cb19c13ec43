package calllog

import (
	"errors"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/store"
)

func sample(id string) store.CallRecord {
	t0 := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	return store.CallRecord{StartedAt: t0, EndedAt: t0.Add(time.Minute), Direction: store.DirectionInbound, Category: "technical",
		Voice: store.VoiceDetails{CallID: id, CallerNumber: "0912345678", Outcome: store.OutcomeCompleted,
			Path: []store.IVRStep{{Node: "main", Type: "menu", At: t0, Digits: "1"}}}}
}

func TestRecordRoundTrip(t *testing.T) {
	b, err := appendRecord(nil, sample("a@b"))
	if err != nil {
		t.Fatal(err)
	}
	r, n, err := decodeRecord(b)
	if err != nil || n != len(b) || r.Voice.CallID != "a@b" || r.Voice.Path[0].Digits != "1" {
		t.Fatalf("decode = %+v, %d, %v", r, n, err)
	}
	for cut := range len(b) {
		if _, _, err := decodeRecord(b[:cut]); !errors.Is(err, ErrTorn) && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("cut at %d: err %v; want torn", cut, err)
		}
	}
	bad := append([]byte(nil), b...)
	bad[len(bad)-2] ^= 0x40
	if _, n, err := decodeRecord(bad); !errors.Is(err, ErrCorrupt) || n != len(b) {
		t.Fatalf("flipped bit: %d, %v; want ErrCorrupt with its size", n, err)
	}
}

func FuzzDecodeRecord(f *testing.F) {
	good, _ := appendRecord(nil, sample("seed"))
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4})
	f.Add([]byte{0, 0, 0, 2, 0, 0, 0, 0, '{', '}'})
	two, _ := appendRecord(append([]byte(nil), good...), sample("second"))
	f.Add(two)
	f.Fuzz(func(t *testing.T, b []byte) {
		r, n, err := decodeRecord(b)
		if n < 0 || n > len(b) {
			t.Fatalf("size %d outside input of %d", n, len(b))
		}
		if err != nil {
			if !errors.Is(err, ErrTorn) && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("unexpected error kind %v", err)
			}
			return
		}
		// A record that decodes re-encodes to a record that decodes the same.
		again, err := appendRecord(nil, r)
		if err != nil {
			t.Fatal(err)
		}
		r2, _, err := decodeRecord(again)
		if err != nil || r2.Voice.CallID != r.Voice.CallID {
			t.Fatalf("re-decode = %+v, %v", r2, err)
		}
	})
}
