package api_test

import (
	"bytes"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/api"
	"github.com/hotline-dev/hotline/media"
	"github.com/hotline-dev/hotline/recording"
	"github.com/hotline-dev/hotline/store"
)

// TestRecordingServed: GET /recordings/{id} serves the WAV to read and
// write tokens with range requests; to an agent only for a call it
// answered (not a voicemail left in the IVR); not without a token;
// 404 for unknown, deleted and missing files.
func TestRecordingServed(t *testing.T) {
	dir, err := recording.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, withAgentToken, func(c *api.Config) { c.Recordings = dir })
	var wav bytes.Buffer
	if err := media.WriteWAV(&wav, media.Tone([]float64{440}, time.Second)); err != nil {
		t.Fatal(err)
	}
	body := wav.Bytes()
	logged := func(id, callID string, legs ...store.CallLeg) store.LogResult {
		if _, err := dir.Put(t.Context(), recording.Key(id, recording.FormatWAV), bytes.NewReader(body)); err != nil {
			t.Fatal(err)
		}
		res, err := e.store.LogCall(t.Context(), store.CallRecord{StartedAt: time.Now().Add(-time.Minute), EndedAt: time.Now(),
			Voice: store.VoiceDetails{CallID: callID, CallerNumber: "0912345678", Outcome: store.OutcomeVoicemail, Legs: legs,
				Recordings: []store.Recording{{ID: id, Kind: store.RecordingVoicemail, Format: recording.FormatWAV,
					DurationMillis: 1000, Size: int64(len(body))}}}})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	id := recording.NewID()
	res := logged(id, "vm-call-1")
	path := "/api/v1/recordings/" + id

	// The interaction links it.
	in := e.do("GET", "/api/v1/interactions/"+strconv.FormatInt(res.InteractionID, 10), readToken, nil)
	if in.status != 200 || !bytes.Contains(in.body, []byte(`"recordings":[{"id":"`+id+`"`)) {
		t.Fatalf("interaction %d: %s", in.status, in.body)
	}
	for _, tok := range []string{readToken, writeToken} {
		r := e.do("GET", path, tok, nil)
		if r.status != 200 || !bytes.Equal(r.body, body) || r.header.Get("Content-Type") != "audio/wav" ||
			r.header.Get("Accept-Ranges") != "bytes" || r.header.Get("ETag") != `"`+id+`"` {
			t.Fatalf("GET: %d %q %v (%d bytes)", r.status, r.header.Get("Content-Type"), r.header, len(r.body))
		}
	}
	r := e.doWith("GET", path, readToken, nil, map[string]string{"Range": "bytes=44-1043"})
	if r.status != http.StatusPartialContent || !bytes.Equal(r.body, body[44:1044]) ||
		r.header.Get("Content-Range") != "bytes 44-1043/"+strconv.Itoa(len(body)) {
		t.Fatalf("range: %d %q, %d bytes", r.status, r.header.Get("Content-Range"), len(r.body))
	}
	r = e.doWith("GET", path, readToken, nil, map[string]string{"Range": "bytes=-100", "If-Range": `"` + id + `"`})
	if r.status != http.StatusPartialContent || !bytes.Equal(r.body, body[len(body)-100:]) {
		t.Fatalf("suffix range with If-Range: %d, %d bytes", r.status, len(r.body))
	}
	r = e.doWith("GET", path, readToken, nil, map[string]string{"Range": "bytes=0-9", "If-Range": `"other"`})
	if r.status != 200 || len(r.body) != len(body) {
		t.Fatalf("If-Range of another version: %d, %d bytes; want the whole file", r.status, len(r.body))
	}
	r = e.doWith("GET", path, readToken, nil, map[string]string{"Range": "bytes=999999-"})
	if r.status != http.StatusRequestedRangeNotSatisfiable {
		t.Fatalf("range past the end: %d", r.status)
	}
	if r := e.do("HEAD", path, readToken, nil); r.status != 200 || r.header.Get("Content-Length") != strconv.Itoa(len(body)) {
		t.Fatalf("HEAD: %d %v", r.status, r.header)
	}
	for name, tc := range map[string]struct {
		path, token string
		status      int
	}{
		"no token":      {path, "", http.StatusUnauthorized},
		"unknown token": {path, "nope-0123456789", http.StatusUnauthorized},
		"agent token":   {path, agentToken, http.StatusForbidden},
		"unknown id":    {"/api/v1/recordings/rec_000000000000000000000000", readToken, http.StatusNotFound},
		"bad id":        {"/api/v1/recordings/..%2Fhotline.db", readToken, http.StatusNotFound},
	} {
		if r := e.do("GET", tc.path, tc.token, nil); r.status != tc.status {
			t.Errorf("%s: %d, want %d (%s)", name, r.status, tc.status, r.body)
		}
	}
	// An agent may fetch a recording of a call it answered.
	now := time.Now().UTC()
	answered := now.Add(-30 * time.Second)
	mine := recording.NewID()
	logged(mine, "answered-call", store.CallLeg{Queue: "technical", Agent: "a", JoinedAt: now.Add(-time.Minute), AnsweredAt: &answered,
		EndedAt: now, End: store.LegHangup, EndedBy: store.SideCaller})
	if r := e.do("GET", "/api/v1/recordings/"+mine, agentToken, nil); r.status != 200 || !bytes.Equal(r.body, body) {
		t.Fatalf("agent, own call: %d %s", r.status, r.body)
	}
	// Deleted: 404, and no longer on the interaction.
	if err := e.store.(store.Recordings).DeleteRecording(t.Context(), id, time.Now()); err != nil {
		t.Fatal(err)
	}
	if r := e.do("GET", path, readToken, nil); r.status != 404 {
		t.Fatalf("deleted: %d", r.status)
	}
	// Its file gone: 404 too.
	gone := recording.NewID()
	logged(gone, "vm-call-2")
	if err := os.Remove(dir.Path(recording.Key(gone, recording.FormatWAV))); err != nil {
		t.Fatal(err)
	}
	if r := e.do("GET", "/api/v1/recordings/"+gone, readToken, nil); r.status != 404 {
		t.Fatalf("file missing: %d", r.status)
	}
	// No recording store configured: 503.
	bare := newEnv(t)
	if r := bare.do("GET", path, readToken, nil); r.status != http.StatusServiceUnavailable {
		t.Fatalf("no store: %d", r.status)
	}
}

// TestRecordingServedFromDatabase: with the audio in the database
// (recordings.store: database) on SQLite and on PostgreSQL, GET serves the
// whole WAV, ranges inside one chunk and across the 256 KiB chunk
// boundary, a suffix range, 416 past the end, and 404 once the audio's
// rows are gone.
func TestRecordingServedFromDatabase(t *testing.T) {
	for name, open := range map[string]func(*testing.T) store.Store{"sqlite": openSQLite, "postgres": openPostgres} {
		t.Run(name, func(t *testing.T) {
			st := open(t)
			db := recording.NewDatabase(st.(store.RecordingAudio))
			e := newEnvWith(t, st, func(c *api.Config) { c.Recordings = db })
			var wav bytes.Buffer
			if err := media.WriteWAV(&wav, media.Tone([]float64{440, 697}, 20*time.Second)); err != nil { // 320 kB: two chunks
				t.Fatal(err)
			}
			body := wav.Bytes()
			id := recording.NewID()
			if _, err := db.Put(t.Context(), recording.Key(id, recording.FormatWAV), bytes.NewReader(body)); err != nil {
				t.Fatal(err)
			}
			if _, err := e.store.LogCall(t.Context(), store.CallRecord{StartedAt: time.Now().Add(-time.Minute), EndedAt: time.Now(),
				Voice: store.VoiceDetails{CallID: "vm-db-1", CallerNumber: "0912345678", Outcome: store.OutcomeVoicemail,
					Recordings: []store.Recording{{ID: id, Kind: store.RecordingVoicemail, Format: recording.FormatWAV,
						DurationMillis: 20000, Size: int64(len(body))}}}}); err != nil {
				t.Fatal(err)
			}
			path := "/api/v1/recordings/" + id
			r := e.do("GET", path, readToken, nil)
			if r.status != 200 || !bytes.Equal(r.body, body) || r.header.Get("Content-Type") != "audio/wav" ||
				r.header.Get("Accept-Ranges") != "bytes" || r.header.Get("Content-Length") != strconv.Itoa(len(body)) {
				t.Fatalf("GET: %d %v (%d bytes of %d)", r.status, r.header, len(r.body), len(body))
			}
			for _, rg := range []struct{ from, to int }{{44, 1043}, {262000, 263999}, {len(body) - 10, len(body) - 1}} {
				want := "bytes " + strconv.Itoa(rg.from) + "-" + strconv.Itoa(rg.to) + "/" + strconv.Itoa(len(body))
				r := e.doWith("GET", path, readToken, nil, map[string]string{"Range": "bytes=" + strconv.Itoa(rg.from) + "-" + strconv.Itoa(rg.to)})
				if r.status != http.StatusPartialContent || !bytes.Equal(r.body, body[rg.from:rg.to+1]) || r.header.Get("Content-Range") != want {
					t.Fatalf("range %d-%d: %d %q, %d bytes", rg.from, rg.to, r.status, r.header.Get("Content-Range"), len(r.body))
				}
			}
			r = e.doWith("GET", path, readToken, nil, map[string]string{"Range": "bytes=-100", "If-Range": `"` + id + `"`})
			if r.status != http.StatusPartialContent || !bytes.Equal(r.body, body[len(body)-100:]) {
				t.Fatalf("suffix range: %d, %d bytes", r.status, len(r.body))
			}
			if r := e.doWith("GET", path, readToken, nil, map[string]string{"Range": "bytes=999999-"}); r.status != http.StatusRequestedRangeNotSatisfiable {
				t.Fatalf("range past the end: %d", r.status)
			}
			if r := e.do("GET", path, "", nil); r.status != http.StatusUnauthorized {
				t.Fatalf("no token: %d", r.status)
			}
			if err := db.Delete(t.Context(), recording.Key(id, recording.FormatWAV)); err != nil {
				t.Fatal(err)
			}
			if r := e.do("GET", path, readToken, nil); r.status != 404 {
				t.Fatalf("audio gone: %d", r.status)
			}
		})
	}
}
