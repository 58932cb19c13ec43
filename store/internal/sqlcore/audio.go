package sqlcore

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hotline-dev/hotline/store"
)

var _ store.RecordingAudio = (*Store)(nil)

// AudioChunk is the size of one stored chunk of recording audio. A range
// request reads the chunks it covers (at most two for a browser's seek),
// so a 2-hour stereo call recording (about 230 MB) is never loaded whole;
// 256 KiB keeps the row count low (about 900 for that call) and is well
// under PostgreSQL's 1 GB bytea limit and SQLite's default blob limit.
const AudioChunk = 256 << 10

// ErrAudioChanged means the object being read was replaced or deleted
// since it was opened: its next chunk is gone.
var ErrAudioChanged = errors.New("recording audio changed while read")

func checkAudioKey(key string) error {
	if key == "" {
		return fieldErr("key", "required")
	}
	return checkText("key", key, 200)
}

// audioChunksPerTx is how many chunks one of PutAudio's transactions
// writes: 1 MiB, so SQLite's one writer lock is held for tens of
// milliseconds at a time, not the seconds a 2-hour recording takes (the
// call log's writes wait for that lock).
const audioChunksPerTx = 4

// audioGeneration is a fresh generation for a Put begun at t: its start
// in milliseconds, then 20 random bits, so DeleteAudioOrphans tells a
// crashed Put's chunks (old, no header) from a running Put's (recent).
// Before this scheme generations were 63 random bits; those all have a
// header (their Put was one transaction), so their value is never read.
func audioGeneration(t time.Time) int64 {
	var g [4]byte
	_, _ = rand.Read(g[:]) // never fails (Go 1.24)
	return t.UnixMilli()<<20 | int64(binary.BigEndian.Uint32(g[:])&(1<<20-1))
}

// DeleteAudioOrphans deletes the chunks of Puts begun more than age ago
// that no header names: a Put cut short by a crash (one that fails
// deletes its own) whose key was not put again.
func (s *Store) DeleteAudioOrphans(ctx context.Context, age time.Duration) (int, error) {
	cutoff := s.clock().Add(-age).UnixMilli() << 20
	var n int
	err := s.c.Tx(ctx, func(q Querier) error {
		n = 0
		rows, err := q.Query(ctx, `DELETE FROM recording_audio_chunks WHERE generation < $1 AND NOT EXISTS
			(SELECT 1 FROM recording_audio a WHERE a.key = recording_audio_chunks.key AND a.generation = recording_audio_chunks.generation)
			RETURNING seq`, cutoff)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			n++
		}
		return rows.Err()
	})
	return n, s.wrap("delete orphaned recording audio", err)
}

// PutAudio writes the object's chunks under a fresh generation, a few
// per transaction, then in one last transaction points the header at
// them and drops any older generation's chunks. Nobody reads a
// generation before its header names it, so readers see the old object
// or the whole new one. A Put that fails deletes the chunks it wrote; a
// crash midway leaves chunks that no header names, deleted when the key
// is put again (the recording spool puts it again at start).
func (s *Store) PutAudio(ctx context.Context, key string, r io.Reader) (store.AudioInfo, error) {
	op := "put recording audio " + key
	if err := checkAudioKey(key); err != nil {
		return store.AudioInfo{}, s.wrap(op, err)
	}
	info := store.AudioInfo{Key: key, ModTime: s.clock()}
	gen := audioGeneration(info.ModTime)
	chunks, err := s.putAudioChunks(ctx, key, gen, r, &info.Size)
	if err == nil {
		err = s.c.Tx(ctx, func(q Querier) error {
			// A Put of the same key that finished meanwhile deleted this
			// generation's chunks: the header must not name missing audio.
			var n int
			if err := q.QueryRow(ctx, `SELECT count(*) FROM recording_audio_chunks WHERE key = $1 AND generation = $2`, key, gen).Scan(&n); err != nil {
				return err
			}
			if n != chunks {
				return fmt.Errorf("replaced by another put while written (%d of %d chunks left)", n, chunks)
			}
			if err := q.Exec(ctx, `INSERT INTO recording_audio (key, generation, size, chunk_size, created_at) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (key) DO UPDATE SET generation = excluded.generation, size = excluded.size,
			chunk_size = excluded.chunk_size, created_at = excluded.created_at`,
				key, gen, info.Size, AudioChunk, s.d.Time(info.ModTime)); err != nil {
				return err
			}
			return q.Exec(ctx, `DELETE FROM recording_audio_chunks WHERE key = $1 AND generation <> $2`, key, gen)
		})
	}
	if err != nil {
		if chunks > 0 {
			// The put's own context may be what ended it.
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			if e := s.c.Exec(dctx, `DELETE FROM recording_audio_chunks WHERE key = $1 AND generation = $2`, key, gen); e != nil {
				err = fmt.Errorf("%w (and its chunks written so far stay until the key is put again: %v)", err, e)
			}
			cancel()
		}
		return store.AudioInfo{}, s.wrap(op, err)
	}
	return info, nil
}

// putAudioChunks writes r's chunks under gen, audioChunksPerTx per
// transaction, read before the transaction begins, and returns how many
// it committed (also when it fails).
func (s *Store) putAudioChunks(ctx context.Context, key string, gen int64, r io.Reader, size *int64) (int, error) {
	buf := make([]byte, audioChunksPerTx*AudioChunk)
	committed := 0
	for {
		if err := ctx.Err(); err != nil {
			return committed, err
		}
		n, rerr := io.ReadFull(r, buf)
		if rerr != nil && !errors.Is(rerr, io.EOF) && !errors.Is(rerr, io.ErrUnexpectedEOF) {
			return committed, fmt.Errorf("read the audio: %w", rerr)
		}
		if n > 0 {
			err := s.c.Tx(ctx, func(q Querier) error {
				for i, seq := 0, committed; i < n; i, seq = i+AudioChunk, seq+1 {
					if err := q.Exec(ctx, `INSERT INTO recording_audio_chunks (key, generation, seq, data) VALUES ($1, $2, $3, $4)`,
						key, gen, seq, buf[i:min(i+AudioChunk, n)]); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				return committed, err
			}
			committed += (n + AudioChunk - 1) / AudioChunk
			*size += int64(n)
		}
		if rerr != nil {
			return committed, nil
		}
	}
}

type audioHead struct {
	info  store.AudioInfo
	gen   int64
	chunk int64
}

func (s *Store) audioHead(ctx context.Context, op, key string) (audioHead, error) {
	if err := checkAudioKey(key); err != nil {
		return audioHead{}, s.wrap(op, err)
	}
	h := audioHead{info: store.AudioInfo{Key: key}}
	err := s.c.QueryRow(ctx, `SELECT generation, size, chunk_size, created_at FROM recording_audio WHERE key = $1`, key).
		Scan(&h.gen, &h.info.Size, &h.chunk, ts(&h.info.ModTime))
	if err == nil && h.chunk <= 0 {
		err = fmt.Errorf("chunk size %d", h.chunk)
	}
	return h, s.wrap(op, err)
}

// StatAudio reads the object's header.
func (s *Store) StatAudio(ctx context.Context, key string) (store.AudioInfo, error) {
	h, err := s.audioHead(ctx, "stat recording audio "+key, key)
	return h.info, err
}

// OpenAudio reads the header; the chunks are read as Read reaches them,
// with ctx (a request's context: reading stops with the request).
func (s *Store) OpenAudio(ctx context.Context, key string) (store.AudioObject, error) {
	h, err := s.audioHead(ctx, "open recording audio "+key, key)
	if err != nil {
		return nil, err
	}
	return &audioObject{s: s, ctx: ctx, h: h, seq: -1}, nil
}

// DeleteAudio removes the header and the chunks in one transaction.
func (s *Store) DeleteAudio(ctx context.Context, key string) error {
	op := "delete recording audio " + key
	if err := checkAudioKey(key); err != nil {
		return s.wrap(op, err)
	}
	err := s.c.Tx(ctx, func(q Querier) error {
		var got string
		if err := q.QueryRow(ctx, `DELETE FROM recording_audio WHERE key = $1 RETURNING key`, key).Scan(&got); err != nil {
			return err
		}
		return q.Exec(ctx, `DELETE FROM recording_audio_chunks WHERE key = $1`, key)
	})
	return s.wrap(op, err)
}

// audioObject reads one generation of an object chunk by chunk, keeping
// the current chunk.
type audioObject struct {
	s    *Store
	ctx  context.Context
	h    audioHead
	pos  int64
	seq  int64 // of data; -1 for none
	data []byte
}

func (o *audioObject) Info() store.AudioInfo { return o.h.info }

func (o *audioObject) Read(p []byte) (int, error) {
	if o.pos >= o.h.info.Size {
		return 0, io.EOF
	}
	seq := o.pos / o.h.chunk
	if seq != o.seq {
		if err := o.load(seq); err != nil {
			return 0, err
		}
	}
	n := copy(p, o.data[o.pos-seq*o.h.chunk:])
	o.pos += int64(n)
	return n, nil
}

func (o *audioObject) load(seq int64) error {
	key := o.h.info.Key
	op := fmt.Sprintf("read recording audio %s chunk %d", key, seq)
	var data []byte
	err := o.s.c.QueryRow(o.ctx, `SELECT data FROM recording_audio_chunks WHERE key = $1 AND generation = $2 AND seq = $3`,
		key, o.h.gen, seq).Scan(&data)
	if errors.Is(err, ErrNoRows) {
		return fmt.Errorf("%s: %w", op, ErrAudioChanged)
	}
	if err != nil {
		return o.s.wrap(op, err)
	}
	if want := min(o.h.chunk, o.h.info.Size-seq*o.h.chunk); int64(len(data)) != want {
		return fmt.Errorf("%s: %d bytes, want %d", op, len(data), want)
	}
	o.seq, o.data = seq, data
	return nil
}

func (o *audioObject) Seek(offset int64, whence int) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = o.pos + offset
	case io.SeekEnd:
		abs = o.h.info.Size + offset
	default:
		return 0, fmt.Errorf("recording audio %s: seek: bad whence %d", o.h.info.Key, whence)
	}
	if abs < 0 {
		return 0, fmt.Errorf("recording audio %s: seek to %d: negative position", o.h.info.Key, abs)
	}
	o.pos = abs
	return abs, nil
}

func (o *audioObject) Close() error {
	o.data = nil
	return nil
}
