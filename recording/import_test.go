package recording_test

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/recording"
	"github.com/hotline-dev/hotline/store"
)

// TestImport: moving a deployment from recordings.dir to the database
// copies each file with a live row, byte for byte; not a deleted
// recording's, an unknown one's or a temporary file; a second run copies
// nothing again. On the database store on SQLite and PostgreSQL.
func TestImport(t *testing.T) {
	for _, im := range impls[1:] {
		t.Run(im.name, func(t *testing.T) {
			to, index, _ := im.open(t)
			from, err := recording.NewDir(filepath.Join(t.TempDir(), "recordings"))
			if err != nil {
				t.Fatal(err)
			}
			body := func(n int) []byte { return bytes.Repeat([]byte{byte(n)}, 300000+n) } // two chunks
			put := func(id string, n int, row, deleted bool) string {
				t.Helper()
				key := recording.Key(id, recording.FormatWAV)
				if _, err := from.Put(t.Context(), key, bytes.NewReader(body(n))); err != nil {
					t.Fatal(err)
				}
				if row {
					if err := index.CreateRecording(t.Context(), &store.Recording{ID: id, CallID: "c-" + id, Kind: store.RecordingVoicemail,
						Format: recording.FormatWAV, DurationMillis: 1000, Size: int64(len(body(n)))}); err != nil {
						t.Fatal(err)
					}
				}
				if deleted {
					if err := index.DeleteRecording(t.Context(), id, time.Now()); err != nil {
						t.Fatal(err)
					}
				}
				return key
			}
			a := put("rec_a", 1, true, false)
			b := put("rec_b", 2, true, false)
			gone := put("rec_gone", 3, true, true)
			stray := put("rec_stray", 4, false, false)
			if err := os.WriteFile(filepath.Join(filepath.Dir(from.Path(a)), ".put-123"), []byte("half"), 0o600); err != nil {
				t.Fatal(err)
			}
			res, err := recording.Import(t.Context(), from, to, index)
			if err != nil || res != (recording.ImportResult{Imported: 2, Skipped: 2}) {
				t.Fatalf("Import = %+v, %v; want 2 imported, 2 skipped", res, err)
			}
			for key, n := range map[string]int{a: 1, b: 2} {
				o, err := to.Open(t.Context(), key)
				if err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(o)
				_ = o.Close()
				if err != nil || !bytes.Equal(got, body(n)) {
					t.Fatalf("%s in the database: %d bytes, %v", key, len(got), err)
				}
			}
			for _, key := range []string{gone, stray} {
				if _, err := to.Stat(t.Context(), key); err == nil {
					t.Errorf("%s imported", key)
				}
			}
			res, err = recording.Import(t.Context(), from, to, index)
			if err != nil || res != (recording.ImportResult{Present: 2, Skipped: 2}) {
				t.Fatalf("second Import = %+v, %v; want 2 present", res, err)
			}
		})
	}
}
