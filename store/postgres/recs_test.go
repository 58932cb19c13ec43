package postgres

import (
	"testing"
	"time"

	"github.com/hotline-dev/hotline/store"
)

// The records' body gives back every field as written, whatever bytes the
// strings hold, and only the records at or after since.
func TestRecsRoundTrip(t *testing.T) {
	at := time.Date(2026, 12, 4, 19, 0, 0, 123456000, time.UTC)
	rs := []store.QueueRec{
		{ID: "acd000000000001-000000000001", Queue: "sales", At: at, Kind: store.RecJoined, CallID: "c1@10.0.0.1"},
		{ID: "odd", Queue: "q \"x\"\n", At: at.Add(-2 * time.Hour), Kind: store.RecAnswered, CallID: "a b\tc\x00", Duration: 1500 * time.Microsecond},
		{ID: "r3", Queue: "Ünïcode", At: at.Add(time.Second), Kind: store.RecAgentAnswered, CallID: "", Agent: "ag 1", Duration: -time.Microsecond},
	}
	body, last := encodeRecs(rs)
	if !last.Equal(at.Add(time.Second)) {
		t.Fatalf("last = %s; want %s", last, at.Add(time.Second))
	}
	got, err := decodeRecs(nil, body, time.Time{})
	if err != nil || len(got) != len(rs) {
		t.Fatalf("decode = %+v, %v", got, err)
	}
	for i, r := range rs {
		g := got[i]
		if g.ID != r.ID || g.Queue != r.Queue || !g.At.Equal(r.At) || g.Kind != r.Kind || g.CallID != r.CallID || g.Duration != r.Duration || g.Agent != r.Agent {
			t.Fatalf("record %d = %+v; want %+v", i, g, r)
		}
	}
	if got, err := decodeRecs(nil, body, at.Add(-time.Hour)); err != nil || len(got) != 2 || got[0].ID != rs[0].ID || got[1].ID != "r3" {
		t.Fatalf("decode since = %+v, %v; want records 1 and 3", got, err)
	}
	for _, bad := range []string{"\"x\" 1\n", "\"a\" \"b\" \"c\" \"d\" \"e\" 12\n", "\"a\" \"b\" \"c\" \"d\" \"e\" x 1\n"} {
		if _, err := decodeRecs(nil, bad, time.Time{}); err == nil {
			t.Fatalf("decode %q: no error", bad)
		}
	}
}
