package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hotline-dev/hotline/recording"
	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/store/sqlite"
)

// TestRecordingsImportCmd: `hotline recordings import` copies
// recordings.dir's files with a row into the configured database, says
// what it did, and copies nothing twice.
func TestRecordingsImportCmd(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "h.db")
	recDir := filepath.Join(dir, "recordings")
	cfgPath := filepath.Join(dir, "hotline.yaml")
	if err := os.WriteFile(cfgPath, []byte("database: {url: 'sqlite:"+dbPath+"'}\nrecordings: {store: database, dir: "+recDir+"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOTLINE_DATABASE_URL", "")
	st, err := sqlite.Open(t.Context(), dbPath, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	from, err := recording.NewDir(recDir)
	if err != nil {
		t.Fatal(err)
	}
	id := recording.NewID()
	key := recording.Key(id, recording.FormatWAV)
	body := bytes.Repeat([]byte("wav!"), 100000)
	if _, err := from.Put(t.Context(), key, bytes.NewReader(body)); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateRecording(t.Context(), &store.Recording{ID: id, CallID: "c1", Kind: store.RecordingVoicemail, Format: recording.FormatWAV, Size: int64(len(body))}); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := recordingsCmd(t.Context(), []string{"import", "--config", cfgPath}, &out, &errb); code != 0 ||
		!strings.Contains(out.String(), "imported 1, already in the database 0, skipped 0") {
		t.Fatalf("import: %d %q %q", code, out.String(), errb.String())
	}
	o, err := recording.NewDatabase(st).Open(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(o)
	_ = o.Close()
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("in the database: %d bytes, %v", len(got), err)
	}
	out.Reset()
	if code := recordingsCmd(t.Context(), []string{"import", "--config", cfgPath}, &out, &errb); code != 0 ||
		!strings.Contains(out.String(), "imported 0, already in the database 1") {
		t.Fatalf("second import: %d %q %q", code, out.String(), errb.String())
	}
	if code := recordingsCmd(t.Context(), []string{"export"}, &out, &errb); code != 2 {
		t.Fatalf("unknown subcommand: %d", code)
	}
}
