package recording

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"time"
)

// Kinds of recording (store.Recording.Kind).
const (
	KindVoicemail = "voicemail"
	KindCall      = "call"
)

// FormatWAV is 16-bit linear PCM, 8 kHz, mono, in a RIFF/WAVE file
// (media.WriteWAV); ContentTypeWAV is how HTTP names it.
const (
	FormatWAV      = "wav"
	ContentTypeWAV = "audio/wav"
)

// Info describes one stored object.
type Info struct {
	Key     string
	Size    int64
	ModTime time.Time
}

// Object is an opened recording: seekable, so HTTP range requests can be
// served from it (http.ServeContent).
type Object interface {
	io.ReadSeekCloser
	Info() Info
}

// Store keeps recordings by key. Put replaces atomically: a reader sees
// the old object or the whole new one, never a part. Implementations are
// safe for concurrent use.
type Store interface {
	Put(ctx context.Context, key string, r io.Reader) (Info, error)
	Open(ctx context.Context, key string) (Object, error)
	Stat(ctx context.Context, key string) (Info, error)
	// Delete removes the object; deleting a missing key is ErrNotFound.
	Delete(ctx context.Context, key string) error
}

var keyRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,99}(\.[a-z0-9]{1,5})?$`)

// ValidKey reports whether key is a plain object name: letters, digits, _
// and -, with an optional extension; no path separators, so a key can
// never leave the store's directory or bucket prefix.
func ValidKey(key string) bool { return keyRE.MatchString(key) }

// NewID returns a new recording id: "rec_" and 24 hex digits of
// randomness, unguessable (the id is in URLs) and a valid key.
func NewID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24)
	return "rec_" + hex.EncodeToString(b[:])
}

// Key is the object key of recording id in format (e.g. "rec_…wav").
func Key(id, format string) string { return id + "." + format }

// Dir is a Store on the filesystem: one file per key in a directory.
type Dir struct {
	dir string
}

var _ Store = (*Dir)(nil)

// NewDir returns a Store in dir, creating it (mode 0750: recordings are
// personal data) if needed.
func NewDir(dir string) (*Dir, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("recording: store directory %s: %w", dir, err)
	}
	return &Dir{dir: dir}, nil
}

// Path is the file of key (for the log and the tests).
func (d *Dir) Path(key string) string { return filepath.Join(d.dir, key) }

func (d *Dir) path(key string) (string, error) {
	if !ValidKey(key) {
		return "", fmt.Errorf("%w: %q", ErrBadKey, key)
	}
	return filepath.Join(d.dir, key), nil
}

// Put writes r to a temporary file, syncs it and renames it over key.
func (d *Dir) Put(ctx context.Context, key string, r io.Reader) (Info, error) {
	p, err := d.path(key)
	if err != nil {
		return Info{}, err
	}
	f, err := os.CreateTemp(d.dir, ".put-*")
	if err != nil {
		return Info{}, fmt.Errorf("recording: put %s: %w", key, err)
	}
	tmp := f.Name()
	fail := func(err error) (Info, error) {
		_ = f.Close()
		_ = os.Remove(tmp)
		return Info{}, fmt.Errorf("recording: put %s: %w", key, err)
	}
	n, err := io.Copy(f, ctxReader{ctx, r})
	if err != nil {
		return fail(err)
	}
	if err := f.Chmod(0o640); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, p); err != nil {
		_ = os.Remove(tmp)
		return Info{}, fmt.Errorf("recording: put %s: %w", key, err)
	}
	syncDir(d.dir)
	st, err := os.Stat(p)
	if err != nil {
		return Info{}, fmt.Errorf("recording: put %s: %w", key, err)
	}
	return Info{Key: key, Size: n, ModTime: st.ModTime()}, nil
}

// syncDir makes a rename durable; best effort (not every OS can).
func syncDir(dir string) {
	if f, err := os.Open(dir); err == nil {
		_ = f.Sync()
		_ = f.Close()
	}
}

type fileObject struct {
	*os.File
	info Info
}

func (o fileObject) Info() Info { return o.info }

// Open opens key for reading.
func (d *Dir) Open(_ context.Context, key string) (Object, error) {
	p, err := d.path(key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, notFound(key, err)
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("recording: open %s: %w", key, err)
	}
	return fileObject{f, Info{Key: key, Size: st.Size(), ModTime: st.ModTime()}}, nil
}

// Stat describes key.
func (d *Dir) Stat(_ context.Context, key string) (Info, error) {
	p, err := d.path(key)
	if err != nil {
		return Info{}, err
	}
	st, err := os.Stat(p)
	if err != nil {
		return Info{}, notFound(key, err)
	}
	return Info{Key: key, Size: st.Size(), ModTime: st.ModTime()}, nil
}

// Delete removes key.
func (d *Dir) Delete(_ context.Context, key string) error {
	p, err := d.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil {
		return notFound(key, err)
	}
	syncDir(d.dir)
	return nil
}

func notFound(key string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	return fmt.Errorf("recording: %s: %w", key, err)
}

// ctxReader stops a copy when ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
