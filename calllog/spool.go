package calllog

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/hotline-dev/hotline/store"
)

// SpoolFile is the spool's name inside Options.SpoolDir; LockFile is the
// file locked so that one process at a time uses the directory (a separate
// file, because compaction replaces the spool by renaming over it).
const (
	SpoolFile = "calls.spool"
	LockFile  = "calls.lock"
)

// spool is the append-only journal file. It is not safe for concurrent
// use: Logger serialises appends and compaction (fileMu) and reads only
// below the durable size, which appends never touch.
type spool struct {
	f    *os.File
	path string
	lock *os.File
	log  *slog.Logger
}

// recovered is what a spool left by a previous process holds.
type recovered struct {
	size    int64           // bytes of valid entries
	ends    int             // end entries (records for the database)
	open    map[uint64]head // begin entries without an end: calls cut off by the stop
	maxMark uint64
	modTime time.Time // last write: the stop happened after it
}

// openSpool locks dir, opens (creating) dir/calls.spool, checks every
// entry, cuts a torn tail off and reports what the file holds.
func openSpool(dir string, log *slog.Logger) (*spool, recovered, error) {
	var rec recovered
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, rec, fmt.Errorf("calllog: create spool dir: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, LockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, rec, fmt.Errorf("calllog: open spool lock: %w", err)
	}
	if err := lockFile(lock); err != nil {
		_ = lock.Close()
		return nil, rec, err
	}
	path := filepath.Join(dir, SpoolFile)
	// A compaction cut short leaves its half-built copy; the spool itself
	// is intact (the copy only replaces it by rename once complete).
	if err := os.Remove(path + ".tmp"); err != nil && !errors.Is(err, os.ErrNotExist) {
		_ = lock.Close()
		return nil, rec, fmt.Errorf("calllog: remove unfinished compaction: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		_ = lock.Close()
		return nil, rec, fmt.Errorf("calllog: open spool: %w", err)
	}
	s := &spool{f: f, path: path, lock: lock, log: log}
	fail := func(err error) (*spool, recovered, error) {
		_ = s.close()
		return nil, recovered{}, err
	}
	st, err := f.Stat()
	if err != nil {
		return fail(fmt.Errorf("calllog: stat spool: %w", err))
	}
	rec.modTime = st.ModTime()
	rec.open = map[uint64]head{}
	err = s.each(0, -1, func(e head, _, next int64) bool {
		if e.Kind == kindDamaged {
			return true // a damaged tail is cut below like a torn one
		}
		rec.size = next
		switch e.Kind {
		case kindBegin:
			rec.open[e.Mark] = e
			rec.maxMark = max(rec.maxMark, e.Mark)
		case kindEnd:
			rec.ends++
			delete(rec.open, e.Mark)
		}
		return true
	})
	if err != nil {
		return fail(err)
	}
	if st.Size() > rec.size {
		log.Warn("calllog: discarding a torn or corrupt spool tail (the process died while writing it)",
			"spool", path, "offset", rec.size, "bytes", st.Size()-rec.size)
		if err := f.Truncate(rec.size); err != nil {
			return fail(fmt.Errorf("calllog: truncate torn spool tail: %w", err))
		}
		if err := f.Sync(); err != nil {
			return fail(fmt.Errorf("calllog: sync spool: %w", err))
		}
	}
	return s, rec, nil
}

// each decodes entries from off, calling fn with each and the offset after
// it, until fn returns false or the file (or limit, when >= 0) ends. A
// damaged entry that is still framed is logged and passed to fn with kind
// kindDamaged, so a reader can step over it; torn or unframed data ends
// the walk.
func (s *spool) each(off, limit int64, fn func(e head, at, next int64) bool) error {
	var src io.Reader = io.NewSectionReader(s.f, off, 1<<62)
	if limit >= 0 {
		src = io.NewSectionReader(s.f, off, limit-off)
	}
	br := bufio.NewReaderSize(src, 64<<10)
	hdr := make([]byte, headerLen)
	var buf []byte
	for {
		if _, err := io.ReadFull(br, hdr); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil
			}
			return fmt.Errorf("calllog: read spool: %w", err)
		}
		n, ok := bodyLen(hdr)
		if !ok {
			s.log.Warn("calllog: spool entry with an impossible length; ignoring the rest", "spool", s.path, "offset", off, "length", n)
			return nil
		}
		buf = append(buf[:0], hdr...)
		buf = append(buf, make([]byte, n)...)
		if _, err := io.ReadFull(br, buf[headerLen:]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil
			}
			return fmt.Errorf("calllog: read spool: %w", err)
		}
		e, size, err := decodeHead(buf)
		next := off + int64(size)
		if err != nil {
			s.log.Warn("calllog: skipping a damaged spool entry", "spool", s.path, "offset", off, "err", err)
			e = head{Kind: kindDamaged}
		}
		if !fn(e, off, next) {
			return nil
		}
		off = next
	}
}

// writeAt writes buf at off (the end of the valid entries) and fsyncs; on
// failure the file is cut back to off so no half entry stays behind.
func (s *spool) writeAt(off int64, buf []byte) error {
	if _, err := s.f.WriteAt(buf, off); err != nil {
		_ = s.f.Truncate(off)
		return fmt.Errorf("calllog: write spool: %w", err)
	}
	if err := s.f.Sync(); err != nil {
		_ = s.f.Truncate(off)
		return fmt.Errorf("calllog: sync spool: %w", err)
	}
	return nil
}

// readEnds returns the records of up to max end entries from off (below
// limit), skipping begin entries, and the offset after the last entry it
// walked past.
func (s *spool) readEnds(off, limit int64, max int) ([]store.CallRecord, int64, error) {
	var out []store.CallRecord
	next := off
	err := s.each(off, limit, func(e head, at, n int64) bool {
		if e.Kind == kindEnd {
			if len(out) == max {
				return false
			}
			r, err := e.record()
			if err != nil {
				s.log.Warn("calllog: skipping a damaged spool entry", "spool", s.path, "offset", at, "err", err)
			} else {
				out = append(out, r)
			}
		}
		next = n
		return true
	})
	return out, next, err
}

// compact replaces the spool by marks (framed begin entries of the calls
// in progress) followed by the entries from off to size (not yet in the
// database), through a synced copy renamed over the file, so a crash at any
// point leaves either the old or the new spool whole. With nothing to keep
// it truncates instead. It returns the new size and where the copied
// entries start.
func (s *spool) compact(off, size int64, marks []byte) (newSize, newOff int64, err error) {
	if off == size && len(marks) == 0 {
		if err := s.f.Truncate(0); err != nil {
			return 0, 0, fmt.Errorf("calllog: truncate spool: %w", err)
		}
		if err := s.f.Sync(); err != nil {
			return 0, 0, fmt.Errorf("calllog: sync spool: %w", err)
		}
		return 0, 0, nil
	}
	tmp := s.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, 0, fmt.Errorf("calllog: compact spool: %w", err)
	}
	fail := func(err error) (int64, int64, error) {
		_ = f.Close()
		_ = os.Remove(tmp)
		return 0, 0, fmt.Errorf("calllog: compact spool: %w", err)
	}
	if _, err := f.Write(marks); err != nil {
		return fail(err)
	}
	if _, err := io.Copy(f, io.NewSectionReader(s.f, off, size-off)); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, s.path); err != nil {
		return fail(err)
	}
	if err := syncDir(filepath.Dir(s.path)); err != nil {
		// The rename happened; only its durability is in doubt, and either
		// file is a whole spool. Carry on with the new one.
		s.log.Warn("calllog: sync spool directory after compaction", "err", err)
	}
	_ = s.f.Close()
	s.f = f
	return int64(len(marks)) + size - off, int64(len(marks)), nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func (s *spool) close() error {
	return errors.Join(s.f.Close(), s.lock.Close())
}
