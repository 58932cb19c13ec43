package recording_test

import (
	"bytes"
	"errors"
	"io"
	"path/filepath"
	"testing"

	"github.com/hotline-dev/hotline/recording"
	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/store/sqlite"
)

// TestFallbackSpoolsDuringOutage: with the database gone (its handle
// closed), a recording is written to the node's spool instead of being
// lost; once the database answers it is served from the spool until its
// row exists, then Move puts it into the database, byte for byte, and
// removes the file. A reader that cannot be rewound is not spooled.
func TestFallbackSpoolsDuringOutage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.db")
	down, err := sqlite.Open(t.Context(), path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	up, err := sqlite.Open(t.Context(), path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = up.Close() })
	spool, err := recording.NewDir(filepath.Join(t.TempDir(), "spool"))
	if err != nil {
		t.Fatal(err)
	}
	_ = down.Close() // the outage
	during := &recording.Fallback{Primary: recording.NewDatabase(down), Spool: spool, Index: down}
	id := recording.NewID()
	key := recording.Key(id, recording.FormatWAV)
	body := bytes.Repeat([]byte("pcm."), 100000)
	if info, err := during.Put(t.Context(), key, bytes.NewReader(body)); err != nil || info.Size != int64(len(body)) {
		t.Fatalf("Put during the outage = %+v, %v; want spooled", info, err)
	}
	if _, err := spool.Stat(t.Context(), key); err != nil {
		t.Fatalf("not in the spool: %v", err)
	}
	if _, err := during.Put(t.Context(), recording.Key(recording.NewID(), "wav"), io.MultiReader(bytes.NewReader(body))); err == nil {
		t.Fatal("a reader that cannot be rewound was spooled after the database consumed it")
	}

	after := &recording.Fallback{Primary: recording.NewDatabase(up), Spool: spool, Index: up}
	read := func() []byte {
		t.Helper()
		o, err := after.Open(t.Context(), key)
		if err != nil {
			t.Fatal(err)
		}
		defer o.Close()
		b, err := io.ReadAll(o)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if n, err := after.Move(t.Context()); err != nil || n != 0 {
		t.Fatalf("Move before the row = %d, %v; want 0", n, err)
	}
	if !bytes.Equal(read(), body) {
		t.Fatal("not served from the spool")
	}
	if err := up.CreateRecording(t.Context(), &store.Recording{ID: id, CallID: "c1", Kind: store.RecordingVoicemail, Format: recording.FormatWAV,
		Size: int64(len(body))}); err != nil {
		t.Fatal(err)
	}
	if n, err := after.Move(t.Context()); err != nil || n != 1 {
		t.Fatalf("Move = %d, %v; want 1", n, err)
	}
	if _, err := spool.Stat(t.Context(), key); !errors.Is(err, recording.ErrNotFound) {
		t.Fatalf("still in the spool after the move: %v", err)
	}
	if _, err := recording.NewDatabase(up).Stat(t.Context(), key); err != nil {
		t.Fatalf("not in the database: %v", err)
	}
	if !bytes.Equal(read(), body) {
		t.Fatal("moved audio differs")
	}
	if err := after.Delete(t.Context(), key); err != nil {
		t.Fatal(err)
	}
	if err := after.Delete(t.Context(), key); !errors.Is(err, recording.ErrNotFound) {
		t.Fatalf("second Delete = %v, want ErrNotFound", err)
	}
}
