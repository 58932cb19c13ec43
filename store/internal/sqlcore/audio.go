package sqlcore

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

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

// PutAudio writes the object's chunks under a fresh generation, then
// points the header at it and drops any older generation's chunks, all in
// one transaction: until it commits, nobody sees the new chunks, and a
// crash rolls all of them back.
func (s *Store) PutAudio(ctx context.Context, key string, r io.Reader) (store.AudioInfo, error) {
	op := "put recording audio " + key
	if err := checkAudioKey(key); err != nil {
		return store.AudioInfo{}, s.wrap(op, err)
	}
	var g [8]byte
	_, _ = rand.Read(g[:]) // never fails (Go 1.24)
	gen := int64(binary.BigEndian.Uint64(g[:]) >> 1)
	info := store.AudioInfo{Key: key, ModTime: s.clock()}
	err := s.c.Tx(ctx, func(q Querier) error {
		info.Size = 0
		buf := make([]byte, AudioChunk)
		for seq := 0; ; seq++ {
			if err := ctx.Err(); err != nil {
				return err
			}
			n, err := io.ReadFull(r, buf)
			if n > 0 {
				if err := q.Exec(ctx, `INSERT INTO recording_audio_chunks (key, generation, seq, data) VALUES ($1, $2, $3, $4)`,
					key, gen, seq, buf[:n]); err != nil {
					return err
				}
				info.Size += int64(n)
			}
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				break
			}
			if err != nil {
				return fmt.Errorf("read the audio: %w", err)
			}
		}
		if err := q.Exec(ctx, `INSERT INTO recording_audio (key, generation, size, chunk_size, created_at) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (key) DO UPDATE SET generation = excluded.generation, size = excluded.size,
			chunk_size = excluded.chunk_size, created_at = excluded.created_at`,
			key, gen, info.Size, AudioChunk, s.d.Time(info.ModTime)); err != nil {
			return err
		}
		return q.Exec(ctx, `DELETE FROM recording_audio_chunks WHERE key = $1 AND generation <> $2`, key, gen)
	})
	if err != nil {
		return store.AudioInfo{}, s.wrap(op, err)
	}
	return info, nil
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
