package e2e

import (
	"bytes"
	"context"
	"io/fs"
	"net/http"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/media"
	"github.com/hotline-dev/hotline/sip"
	"github.com/hotline-dev/hotline/store/postgres/pgtest"
)

// TestVoicemailClusterDatabase: issues 12 and 14, recordings cluster-wide.
// Two nodes on one PostgreSQL database, each with its own recordings.dir
// and recordings.store left to its cluster default (database): node A (in
// this process) takes a caller's voicemail (the checks of
// TestVoicemailEndToEnd, the audio in the database and no file on A's
// disk); node B, a separate process (the test binary re-executed as a
// node), serves the same WAV through its API, whole and by range, and
// refuses a request with no token.
func TestVoicemailClusterDatabase(t *testing.T) {
	db := pgtest.Schema(t)
	dir := t.TempDir()
	cfg := clusterChildConfig(t, dir, db, "a", 23000, "")
	afterHours(t, &cfg, media.SourceRFC4733)
	must(t, cfg.Validate())
	if cfg.Recordings.Store != config.RecordingsDatabase {
		t.Fatalf("recordings.store in a cluster = %q, want the default database", cfg.Recordings.Store)
	}
	a := startWith(t, dir, cfg)
	b := startClusterProc(t, db, "b", 20000)

	_, call, _ := dial(t, a, "sip:100@"+a.sipAddr("udp"), sip.DialOptions{From: "0912345678"})
	id := call.ID()
	a.menus(call, "language", "1", "closed-menu", "1")
	a.node(id, "voicemail")
	a.waitBeep(id)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	must(t, call.Media().Play(ctx, media.NewPromptPCM("caller-tone", media.Tone([]float64{600}, vmToneLen))))
	cancel()
	press(t, call, "#", media.SourceRFC4733)
	a.waitDigit(id, "#")
	press(t, call, "1", media.SourceRFC4733)
	select {
	case <-call.Done():
	case <-time.After(60 * time.Second):
		t.Fatalf("Hotline did not hang up after the message; events:\n%s", a.dump())
	}
	rec, wav := checkVoicemail(t, a, id)
	// Nothing on A's disk: not in recordings.dir, not in its outage spool.
	var files []string
	must(t, filepath.WalkDir(cfg.Recordings.Dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			files = append(files, p)
		}
		return err
	}))
	if len(files) != 0 {
		t.Fatalf("files under node A's recordings.dir: %v", files)
	}

	// Node B: its own disk has nothing; its API serves A's recording.
	get := func(token string, header map[string]string) (int, http.Header, []byte) {
		return getRecording(t, b.http, rec.ID, token, header)
	}
	status, hdr, whole := get(testToken, nil)
	if status != 200 || hdr.Get("Content-Type") != "audio/wav" || !bytes.Equal(whole, wav) {
		t.Fatalf("node B GET: %d %q, %d bytes (node A served %d)", status, hdr.Get("Content-Type"), len(whole), len(wav))
	}
	from, to := len(wav)/3, len(wav)/3+4095
	status, hdr, part := get(testToken, map[string]string{"Range": "bytes=" + strconv.Itoa(from) + "-" + strconv.Itoa(to)})
	if status != http.StatusPartialContent || !bytes.Equal(part, wav[from:to+1]) ||
		hdr.Get("Content-Range") != "bytes "+strconv.Itoa(from)+"-"+strconv.Itoa(to)+"/"+strconv.Itoa(len(wav)) {
		t.Fatalf("node B range: %d %q, %d bytes", status, hdr.Get("Content-Range"), len(part))
	}
	if status, _, _ := get("", nil); status != http.StatusUnauthorized {
		t.Fatalf("node B, no token: %d, want 401", status)
	}
}
