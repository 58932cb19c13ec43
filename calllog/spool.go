package calllog

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/hotline-dev/hotline/store"
)

// SpoolFile is the spool's name inside Options.SpoolDir.
const SpoolFile = "calls.spool"

// spool is the append-only file of records not yet in the database. It is
// not safe for concurrent use; Logger serialises access with its mutex
// except for reads of the part below size, which never changes until reset.
type spool struct {
	f     *os.File
	path  string
	size  int64 // bytes of valid records
	count int   // records in the file
	log   *slog.Logger
}

// openSpool opens (creating) dir/calls.spool, checks every record and cuts
// a torn tail off.
func openSpool(dir string, log *slog.Logger) (*spool, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("calllog: create spool dir: %w", err)
	}
	path := filepath.Join(dir, SpoolFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("calllog: open spool: %w", err)
	}
	if err := lockFile(f); err != nil {
		_ = f.Close()
		return nil, err
	}
	s := &spool{f: f, path: path, log: log}
	end, count, err := s.scan()
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("calllog: stat spool: %w", err)
	}
	if st.Size() > end {
		log.Warn("calllog: discarding a torn or corrupt spool tail (the process died while writing it)",
			"spool", path, "offset", end, "bytes", st.Size()-end)
		if err := f.Truncate(end); err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("calllog: truncate torn spool tail: %w", err)
		}
		if err := f.Sync(); err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("calllog: sync spool: %w", err)
		}
	}
	s.size, s.count = end, count
	return s, nil
}

// scan walks the file and returns where the last good record ends.
func (s *spool) scan() (end int64, count int, err error) {
	err = s.each(0, -1, func(_ store.CallRecord, _, next int64) bool {
		end, count = next, count+1
		return true
	})
	return end, count, err
}

// each decodes records from off, calling fn with each and the offset after
// it, until fn returns false or the file (or limit, when >= 0) ends. A
// damaged record that is still framed is skipped with a warning; torn or
// unframed data ends the walk.
func (s *spool) each(off, limit int64, fn func(r store.CallRecord, at, next int64) bool) error {
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
			s.log.Warn("calllog: spool record with an impossible length; ignoring the rest", "spool", s.path, "offset", off, "length", n)
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
		r, size, err := decodeRecord(buf)
		next := off + int64(size)
		if err != nil {
			s.log.Warn("calllog: skipping a damaged spool record", "spool", s.path, "offset", off, "err", err)
			off = next
			continue
		}
		if !fn(r, off, next) {
			return nil
		}
		off = next
	}
}

// append writes records and fsyncs; on failure the file is cut back so no
// half record stays behind.
func (s *spool) append(rs ...store.CallRecord) error {
	var buf []byte
	for _, r := range rs {
		var err error
		if buf, err = appendRecord(buf, r); err != nil {
			return err
		}
	}
	if _, err := s.f.WriteAt(buf, s.size); err != nil {
		_ = s.f.Truncate(s.size)
		return fmt.Errorf("calllog: write spool: %w", err)
	}
	if err := s.f.Sync(); err != nil {
		_ = s.f.Truncate(s.size)
		return fmt.Errorf("calllog: sync spool: %w", err)
	}
	s.size += int64(len(buf))
	s.count += len(rs)
	return nil
}

// read returns up to max records from off (below limit) and the offset
// after the last one returned.
func (s *spool) read(off, limit int64, max int) ([]store.CallRecord, int64, error) {
	var out []store.CallRecord
	next := off
	err := s.each(off, limit, func(r store.CallRecord, _, n int64) bool {
		out = append(out, r)
		next = n
		return len(out) < max
	})
	if len(out) == 0 && err == nil {
		next = limit // only damaged records were left
	}
	return out, next, err
}

// reset empties the spool once everything in it is in the database.
func (s *spool) reset() error {
	if err := s.f.Truncate(0); err != nil {
		return fmt.Errorf("calllog: truncate spool: %w", err)
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("calllog: sync spool: %w", err)
	}
	s.size, s.count = 0, 0
	return nil
}

func (s *spool) close() error { return s.f.Close() }
