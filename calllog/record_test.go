package calllog

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash/crc32"
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

// end frames r as an end entry without a mark.
func end(t testing.TB, r store.CallRecord) []byte {
	t.Helper()
	b, err := appendEntry(nil, entry{Kind: kindEnd, Record: r})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// legacyFrame frames a bare record, as spools written before marks did.
func legacyFrame(t testing.TB, r store.CallRecord) []byte {
	t.Helper()
	body, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	b := binary.BigEndian.AppendUint32(nil, uint32(len(body)))
	b = binary.BigEndian.AppendUint32(b, crc32.Checksum(body, castagnoli))
	return append(b, body...)
}

func TestEntryRoundTrip(t *testing.T) {
	b, err := appendEntry(nil, entry{Kind: kindBegin, Mark: 7, Record: sample("a@b")})
	if err != nil {
		t.Fatal(err)
	}
	e, n, err := decodeEntry(b)
	if err != nil || n != len(b) || e.Kind != kindBegin || e.Mark != 7 || e.Record.Voice.CallID != "a@b" || e.Record.Voice.Path[0].Digits != "1" {
		t.Fatalf("decode = %+v, %d, %v", e, n, err)
	}
	for cut := range len(b) {
		if _, _, err := decodeEntry(b[:cut]); !errors.Is(err, ErrTorn) && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("cut at %d: err %v; want torn", cut, err)
		}
	}
	bad := append([]byte(nil), b...)
	bad[len(bad)-2] ^= 0x40
	if _, n, err := decodeEntry(bad); !errors.Is(err, ErrCorrupt) || n != len(b) {
		t.Fatalf("flipped bit: %d, %v; want ErrCorrupt with its size", n, err)
	}
}

// A spool written by an older Hotline holds bare records: they are ends.
func TestEntryLegacyRecord(t *testing.T) {
	e, _, err := decodeEntry(legacyFrame(t, sample("old@host")))
	if err != nil || e.Kind != kindEnd || e.Mark != 0 || e.Record.Voice.CallID != "old@host" || e.Record.Category != "technical" {
		t.Fatalf("legacy decode = %+v, %v", e, err)
	}
}

func TestEntryRefused(t *testing.T) {
	for name, body := range map[string]string{
		"unknown kind":          `{"kind":"later","record":{}}`,
		"begin without mark":    `{"kind":"begin","record":{}}`,
		"not json":              `{"kind":`,
		"legacy not a record":   `{"voice":7}`,
		"record of wrong shape": `{"kind":"end","record":[]}`,
	} {
		b := binary.BigEndian.AppendUint32(nil, uint32(len(body)))
		b = binary.BigEndian.AppendUint32(b, crc32.Checksum([]byte(body), castagnoli))
		b = append(b, body...)
		if _, n, err := decodeEntry(b); !errors.Is(err, ErrCorrupt) || n != len(b) {
			t.Errorf("%s: %d, %v; want ErrCorrupt with its size", name, n, err)
		}
	}
}

func FuzzDecodeEntry(f *testing.F) {
	good := end(f, sample("seed"))
	f.Add(good)
	f.Add(good[:len(good)/2])
	begin, _ := appendEntry(nil, entry{Kind: kindBegin, Mark: 3, Record: sample("seed")})
	f.Add(begin)
	f.Add(legacyFrame(f, sample("legacy")))
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4})
	f.Add([]byte{0, 0, 0, 2, 0, 0, 0, 0, '{', '}'})
	f.Add(append(append([]byte(nil), good...), end(f, sample("second"))...))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, n, err := decodeEntry(b)
		if n < 0 || n > len(b) {
			t.Fatalf("size %d outside input of %d", n, len(b))
		}
		if err != nil {
			if !errors.Is(err, ErrTorn) && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("unexpected error kind %v", err)
			}
			return
		}
		if e.Kind != kindBegin && e.Kind != kindEnd || e.Kind == kindBegin && e.Mark == 0 {
			t.Fatalf("decoded an entry the spool cannot hold: %+v", e)
		}
		// An entry that decodes re-encodes to one that decodes the same.
		again, err := appendEntry(nil, e)
		if err != nil {
			t.Fatal(err)
		}
		e2, _, err := decodeEntry(again)
		if err != nil || e2.Kind != e.Kind || e2.Mark != e.Mark || e2.Record.Voice.CallID != e.Record.Voice.CallID {
			t.Fatalf("re-decode = %+v, %v", e2, err)
		}
	})
}
