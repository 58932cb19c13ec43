package recording_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/hotline-dev/hotline/recording"
	"github.com/hotline-dev/hotline/store"
)

// TestStore: every Store puts, stats, opens (seekable, across the
// database store's chunk boundaries), replaces, deletes and refuses keys
// that are not plain names, alike.
func TestStore(t *testing.T) {
	eachImpl(t, func(t *testing.T, s recording.Store, _ store.Recordings, left rowCounter) {
		ctx := t.Context()
		id := recording.NewID()
		key := recording.Key(id, recording.FormatWAV)
		if !recording.ValidKey(key) {
			t.Fatalf("NewID gave an invalid key %q", key)
		}
		body := bytes.Repeat([]byte("RIFF-data-"), 60000) // 600 kB: three chunks in the database
		info, err := s.Put(ctx, key, bytes.NewReader(body))
		if err != nil || info.Size != int64(len(body)) || info.Key != key || info.ModTime.IsZero() {
			t.Fatalf("Put = %+v, %v", info, err)
		}
		if st, err := s.Stat(ctx, key); err != nil || st.Size != int64(len(body)) {
			t.Fatalf("Stat = %+v, %v", st, err)
		}
		o, err := s.Open(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		for _, off := range []int64{5000, 262140, 524300, int64(len(body)) - 3} {
			if _, err := o.Seek(off, io.SeekStart); err != nil {
				t.Fatal(err)
			}
			part := make([]byte, min(100, int64(len(body))-off))
			if _, err := io.ReadFull(o, part); err != nil || !bytes.Equal(part, body[off:off+int64(len(part))]) {
				t.Fatalf("read at %d: %v", off, err)
			}
		}
		if _, err := o.Seek(0, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(o)
		_ = o.Close()
		if err != nil || !bytes.Equal(got, body) || o.Info().Size != int64(len(body)) {
			t.Fatalf("read whole: %d bytes, %v, info %+v", len(got), err, o.Info())
		}
		if d, ok := s.(*recording.Dir); ok {
			if fi, err := os.Stat(d.Path(key)); err != nil || fi.Mode().Perm() != 0o640 {
				t.Fatalf("file mode: %v %v", fi, err)
			}
			if tmp, _ := filepath.Glob(filepath.Join(filepath.Dir(d.Path(key)), ".put-*")); len(tmp) != 0 {
				t.Fatalf("temporary files left: %v", tmp)
			}
		}
		// Replaced: the new object whole.
		if _, err := s.Put(ctx, key, bytes.NewReader(body[:1000])); err != nil {
			t.Fatal(err)
		}
		if o, err := s.Open(ctx, key); err != nil {
			t.Fatal(err)
		} else if got, err := io.ReadAll(o); err != nil || !bytes.Equal(got, body[:1000]) {
			t.Fatalf("replaced: %d bytes, %v", len(got), err)
		} else {
			_ = o.Close()
		}
		// A Put whose reader fails leaves nothing under its key.
		halfKey := recording.Key(recording.NewID(), recording.FormatWAV)
		boom := errors.New("disk on fire")
		if _, err := s.Put(ctx, halfKey, io.MultiReader(bytes.NewReader(body), errReader{boom})); !errors.Is(err, boom) {
			t.Fatalf("Put with a failing reader = %v, want %v", err, boom)
		}
		if _, err := s.Stat(ctx, halfKey); !errors.Is(err, recording.ErrNotFound) {
			t.Fatalf("half-written object: Stat = %v, want ErrNotFound", err)
		}
		if left != nil {
			if n := left(t, halfKey); n != 0 {
				t.Fatalf("a failed Put left %d chunk rows", n)
			}
		}
		if err := s.Delete(ctx, key); err != nil {
			t.Fatal(err)
		}
		if left != nil {
			if n := left(t, key); n != 0 {
				t.Fatalf("Delete left %d chunk rows", n)
			}
		}
		for name, err := range map[string]error{
			"open deleted":   func() error { _, err := s.Open(ctx, key); return err }(),
			"stat deleted":   func() error { _, err := s.Stat(ctx, key); return err }(),
			"delete deleted": s.Delete(ctx, key),
		} {
			if !errors.Is(err, recording.ErrNotFound) {
				t.Errorf("%s: %v, want ErrNotFound", name, err)
			}
		}
		for _, bad := range []string{"", "../x.wav", "a/b", ".hidden", "x\x00.wav", "x.wav/../../etc"} {
			if _, err := s.Put(ctx, bad, bytes.NewReader(nil)); !errors.Is(err, recording.ErrBadKey) {
				t.Errorf("Put(%q) = %v, want ErrBadKey", bad, err)
			}
			if _, err := s.Open(ctx, bad); !errors.Is(err, recording.ErrBadKey) {
				t.Errorf("Open(%q) = %v, want ErrBadKey", bad, err)
			}
		}
	})
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// blockingReader gives first, then blocks until release closes, then
// fails: a write stopped midway (a process killed mid-write rolls back
// the same way).
type blockingReader struct {
	first   []byte
	reached chan struct{}
	release chan struct{}
}

func (b *blockingReader) Read(p []byte) (int, error) {
	if len(b.first) > 0 {
		n := copy(p, b.first)
		b.first = b.first[n:]
		return n, nil
	}
	close(b.reached)
	<-b.release
	return 0, errors.New("writer gone")
}

// TestDatabaseWriteInvisible: while a database Put is midway (two chunks
// written in its open transaction), other connections see neither the
// object nor its chunks; when it fails, nothing is left. On SQLite and
// PostgreSQL.
func TestDatabaseWriteInvisible(t *testing.T) {
	for _, im := range impls[1:] {
		t.Run(im.name, func(t *testing.T) {
			s, _, left := im.open(t)
			key := recording.Key(recording.NewID(), recording.FormatWAV)
			r := &blockingReader{first: bytes.Repeat([]byte{7}, 600000), reached: make(chan struct{}), release: make(chan struct{})}
			done := make(chan error, 1)
			go func() { _, err := s.Put(t.Context(), key, r); done <- err }()
			select {
			case <-r.reached:
			case err := <-done:
				t.Fatalf("Put ended early: %v", err)
			}
			if _, err := s.Stat(t.Context(), key); !errors.Is(err, recording.ErrNotFound) {
				t.Errorf("midway: Stat = %v, want ErrNotFound", err)
			}
			if n := left(t, key); n != 0 {
				t.Errorf("midway: %d chunk rows visible", n)
			}
			close(r.release)
			if err := <-done; err == nil {
				t.Fatal("the stopped Put succeeded")
			}
			if n := left(t, key); n != 0 {
				t.Errorf("after: %d chunk rows left", n)
			}
		})
	}
}
