package recording

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestDirStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "recordings")
	s, err := NewDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	id := NewID()
	key := Key(id, FormatWAV)
	if !ValidKey(key) {
		t.Fatalf("NewID gave an invalid key %q", key)
	}
	body := bytes.Repeat([]byte("RIFF-data-"), 1000)
	info, err := s.Put(ctx, key, bytes.NewReader(body))
	if err != nil || info.Size != int64(len(body)) || info.Key != key {
		t.Fatalf("Put = %+v, %v", info, err)
	}
	if st, err := s.Stat(ctx, key); err != nil || st.Size != int64(len(body)) {
		t.Fatalf("Stat = %+v, %v", st, err)
	}
	o, err := s.Open(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.Seek(5000, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(o)
	_ = o.Close()
	if !bytes.Equal(got, body[5000:]) || o.Info().Size != int64(len(body)) {
		t.Fatalf("read after seek: %d bytes, info %+v", len(got), o.Info())
	}
	if fi, err := os.Stat(s.Path(key)); err != nil || fi.Mode().Perm() != 0o640 {
		t.Fatalf("file mode: %v %v", fi, err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".put-*")); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
	if err := s.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"open deleted":   func() error { _, err := s.Open(ctx, key); return err }(),
		"stat deleted":   func() error { _, err := s.Stat(ctx, key); return err }(),
		"delete deleted": s.Delete(ctx, key),
	} {
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: %v, want ErrNotFound", name, err)
		}
	}
	for _, bad := range []string{"", "../x.wav", "a/b", ".hidden", "x\x00.wav", "x.wav/../../etc"} {
		if _, err := s.Put(ctx, bad, bytes.NewReader(nil)); !errors.Is(err, ErrBadKey) {
			t.Errorf("Put(%q) = %v, want ErrBadKey", bad, err)
		}
		if _, err := s.Open(ctx, bad); !errors.Is(err, ErrBadKey) {
			t.Errorf("Open(%q) = %v, want ErrBadKey", bad, err)
		}
	}
}
