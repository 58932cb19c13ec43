package storetest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/store/internal/sqlcore"
)

func audioOf(t *testing.T, s store.Store) store.RecordingAudio {
	t.Helper()
	a, ok := s.(store.RecordingAudio)
	if !ok {
		t.Fatalf("%T does not implement store.RecordingAudio", s)
	}
	return a
}

func audioBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// failingReader gives n bytes of b, then err.
type failingReader struct {
	b   []byte
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if len(f.b) == 0 {
		return 0, f.err
	}
	n := copy(p, f.b)
	f.b = f.b[n:]
	return n, nil
}

// testRecordingAudio: audio stored in chunks reads back whole and from any
// position, across chunk boundaries; a replaced object is the new one
// whole, and a reader of the old one gets an error rather than a mix; a
// Put that fails midway leaves nothing (or the old object) visible;
// Delete removes it.
func testRecordingAudio(t *testing.T, s store.Store) {
	a := audioOf(t, s)
	const chunk = sqlcore.AudioChunk
	body := audioBytes(2*chunk+1234, 1)
	info, err := a.PutAudio(ctx(t), "rec_a.wav", bytes.NewReader(body))
	must(t, err)
	if info.Key != "rec_a.wav" || info.Size != int64(len(body)) || info.ModTime.IsZero() {
		t.Fatalf("PutAudio = %+v", info)
	}
	st, err := a.StatAudio(ctx(t), "rec_a.wav")
	must(t, err)
	if st.Size != info.Size || !st.ModTime.Equal(info.ModTime) {
		t.Fatalf("StatAudio = %+v, put %+v", st, info)
	}
	o, err := a.OpenAudio(ctx(t), "rec_a.wav")
	must(t, err)
	got, err := io.ReadAll(o)
	must(t, err)
	if !bytes.Equal(got, body) || o.Info().Size != int64(len(body)) {
		t.Fatalf("read %d bytes, want %d (equal %v)", len(got), len(body), bytes.Equal(got, body))
	}
	// Seeks: inside a chunk, across a boundary, from the end, past the end.
	for _, tc := range []struct {
		off    int64
		whence int
		pos, n int64
	}{
		{10, io.SeekStart, 10, 100},
		{chunk - 50, io.SeekStart, chunk - 50, 100},
		{-1300, io.SeekEnd, int64(len(body)) - 1300, 1300},
		{2*chunk - 1, io.SeekStart, 2*chunk - 1, 2},
		{5, io.SeekCurrent, 2*chunk - 1 + 2 + 5, 10},
	} {
		pos, err := o.Seek(tc.off, tc.whence)
		must(t, err)
		if pos != tc.pos {
			t.Fatalf("Seek(%d, %d) = %d, want %d", tc.off, tc.whence, pos, tc.pos)
		}
		part := make([]byte, tc.n)
		if _, err := io.ReadFull(o, part); err != nil || !bytes.Equal(part, body[pos:pos+tc.n]) {
			t.Fatalf("read %d at %d: %v, equal %v", tc.n, pos, err, bytes.Equal(part, body[pos:pos+tc.n]))
		}
	}
	if _, err := o.Seek(int64(len(body))+10, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if n, err := o.Read(make([]byte, 10)); n != 0 || err != io.EOF {
		t.Fatalf("read past the end: %d, %v", n, err)
	}
	if _, err := o.Seek(-1, io.SeekStart); err == nil {
		t.Fatal("seek before the start: no error")
	}

	// Replaced: the new object whole; the old reader fails on its next
	// chunk instead of mixing two versions.
	old, err := a.OpenAudio(ctx(t), "rec_a.wav")
	must(t, err)
	first := make([]byte, 10)
	_, err = io.ReadFull(old, first)
	must(t, err)
	small := audioBytes(chunk+7, 2)
	_, err = a.PutAudio(ctx(t), "rec_a.wav", bytes.NewReader(small))
	must(t, err)
	if _, err := old.Seek(chunk, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if _, err := old.Read(make([]byte, 10)); err == nil {
		t.Fatal("a reader of the replaced object read on")
	}
	_ = old.Close()
	readAll := func(key string) []byte {
		t.Helper()
		o, err := a.OpenAudio(ctx(t), key)
		must(t, err)
		defer o.Close()
		b, err := io.ReadAll(o)
		must(t, err)
		return b
	}
	if got := readAll("rec_a.wav"); !bytes.Equal(got, small) {
		t.Fatalf("replaced: %d bytes, want %d", len(got), len(small))
	}

	// A Put whose reader fails after two chunks: nothing new is visible,
	// the old object is intact.
	boom := errors.New("caller hung up mid-write")
	_, err = a.PutAudio(ctx(t), "rec_half.wav", &failingReader{audioBytes(2*chunk+10, 3), boom})
	wantIs(t, err, boom)
	_, err = a.StatAudio(ctx(t), "rec_half.wav")
	wantIs(t, err, store.ErrNotFound)
	_, err = a.PutAudio(ctx(t), "rec_a.wav", &failingReader{audioBytes(3*chunk, 4), boom})
	wantIs(t, err, boom)
	if got := readAll("rec_a.wav"); !bytes.Equal(got, small) {
		t.Fatalf("after a failed replace: %d bytes, want the old %d", len(got), len(small))
	}
	// Cancelled midway: the same.
	cctx, cancel := contextWithCancel(t)
	cancelAfter := &cancellingReader{r: bytes.NewReader(audioBytes(3*chunk, 5)), after: chunk + 1, cancel: cancel}
	_, err = a.PutAudio(cctx, "rec_cancel.wav", cancelAfter)
	if err == nil {
		t.Fatal("a cancelled Put succeeded")
	}
	_, err = a.StatAudio(ctx(t), "rec_cancel.wav")
	wantIs(t, err, store.ErrNotFound)

	// Empty.
	info, err = a.PutAudio(ctx(t), "rec_empty.wav", bytes.NewReader(nil))
	must(t, err)
	if info.Size != 0 || len(readAll("rec_empty.wav")) != 0 {
		t.Fatalf("empty: %+v", info)
	}

	// Deleted.
	must(t, a.DeleteAudio(ctx(t), "rec_a.wav"))
	_, err = a.OpenAudio(ctx(t), "rec_a.wav")
	wantIs(t, err, store.ErrNotFound)
	_, err = a.StatAudio(ctx(t), "rec_a.wav")
	wantIs(t, err, store.ErrNotFound)
	wantIs(t, a.DeleteAudio(ctx(t), "rec_a.wav"), store.ErrNotFound)
	// Put again after a delete: a fresh object.
	_, err = a.PutAudio(ctx(t), "rec_a.wav", bytes.NewReader(body[:100]))
	must(t, err)
	if got := readAll("rec_a.wav"); !bytes.Equal(got, body[:100]) {
		t.Fatalf("put after delete: %d bytes", len(got))
	}
	_, err = a.PutAudio(ctx(t), "", bytes.NewReader(nil))
	wantField(t, err, "key")
	_, err = a.OpenAudio(ctx(t), "x\x00.wav")
	wantField(t, err, "key")
}

// cancellingReader cancels its context once after bytes were read.
type cancellingReader struct {
	r      io.Reader
	after  int
	read   int
	cancel func()
}

func (c *cancellingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.read += n
	if c.read >= c.after {
		c.cancel()
	}
	return n, err
}

func contextWithCancel(t *testing.T) (context.Context, context.CancelFunc) {
	c, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	return c, cancel
}

// pausingReader gives b, stopping once before byte at: it closes paused
// and waits for resume.
type pausingReader struct {
	b              []byte
	at             int
	paused, resume chan struct{}
}

func (p *pausingReader) Read(dst []byte) (int, error) {
	if p.at == 0 && p.paused != nil {
		close(p.paused)
		<-p.resume
		p.paused = nil
	}
	if len(p.b) == 0 {
		return 0, io.EOF
	}
	if p.at > 0 {
		dst = dst[:min(len(dst), p.at)]
	}
	n := copy(dst, p.b)
	p.b, p.at = p.b[n:], p.at-n
	return n, nil
}

// testRecordingAudioLongPut: a long recording's Put does not hold the
// store's writes up while it reads the audio (SQLite has one writer: the
// call log waited seconds for a 2-hour call's audio), and its chunks are
// invisible until it ends; one that fails past its first transactions
// leaves the old object intact.
func testRecordingAudioLongPut(t *testing.T, s store.Store) {
	a := audioOf(t, s)
	const chunk = sqlcore.AudioChunk
	body := audioBytes(9*chunk+5, 7)
	r := &pausingReader{b: body, at: 4*chunk + 1, paused: make(chan struct{}), resume: make(chan struct{})}
	done := make(chan error, 1)
	go func() {
		_, err := a.PutAudio(ctx(t), "rec_long.wav", r)
		done <- err
	}()
	select {
	case <-r.paused:
	case err := <-done:
		t.Fatalf("PutAudio ended before reading its audio: %v", err)
	}
	// The put is waiting for more audio, past its first chunks.
	wctx, cancel := context.WithTimeout(ctx(t), 5*time.Second)
	err := s.CreateCustomer(wctx, &store.Customer{Name: "Lan"})
	cancel()
	if err != nil {
		close(r.resume)
		<-done
		t.Fatalf("a write while a long PutAudio reads its audio: %v; want it done at once", err)
	}
	_, err = a.StatAudio(ctx(t), "rec_long.wav")
	wantIs(t, err, store.ErrNotFound)
	close(r.resume)
	must(t, <-done)
	o, err := a.OpenAudio(ctx(t), "rec_long.wav")
	must(t, err)
	got, err := io.ReadAll(o)
	must(t, err)
	_ = o.Close()
	if !bytes.Equal(got, body) {
		t.Fatalf("long put read back %d bytes, want %d", len(got), len(body))
	}

	boom := errors.New("the spool file went away")
	_, err = a.PutAudio(ctx(t), "rec_long.wav", &failingReader{audioBytes(6*chunk, 8), boom})
	wantIs(t, err, boom)
	o, err = a.OpenAudio(ctx(t), "rec_long.wav")
	must(t, err)
	got, err = io.ReadAll(o)
	must(t, err)
	_ = o.Close()
	if !bytes.Equal(got, body) {
		t.Fatalf("after a failed long replace: %d bytes, want the old %d", len(got), len(body))
	}
}

// testRecordingAudioOrphans: DeleteAudioOrphans removes the chunks of a
// Put a crash cut short (old, named by no header) and keeps a running
// Put's (recent) and every stored object's, also one stored before
// generations carried their time; a Put that fails after some of its
// chunk transactions committed deletes what it wrote.
func testRecordingAudioOrphans(t *testing.T, s store.Store) {
	a := audioOf(t, s)
	db, ok := s.(interface{ Conn() sqlcore.Conn })
	if !ok {
		t.Skipf("%T has no SQL connection to look at its chunks with", s)
	}
	c := db.Conn()
	exec := func(q string, args ...any) {
		t.Helper()
		if err := c.Exec(ctx(t), q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	chunks := func() string {
		t.Helper()
		rows, err := c.Query(ctx(t), `SELECT key FROM recording_audio_chunks ORDER BY key`)
		must(t, err)
		defer rows.Close()
		var keys []string
		for rows.Next() {
			var k string
			must(t, rows.Scan(&k))
			keys = append(keys, k)
		}
		must(t, rows.Err())
		return strings.Join(keys, ",")
	}
	for _, key := range []string{"rec_kept.wav", "rec_old.wav"} {
		_, err := a.PutAudio(ctx(t), key, bytes.NewReader([]byte("RIFF")))
		must(t, err)
	}
	boom := errors.New("spool read failed")
	for _, key := range []string{"rec_kept.wav", "rec_new.wav"} {
		_, err := a.PutAudio(ctx(t), key, &failingReader{audioBytes(9*sqlcore.AudioChunk, 9), boom})
		wantIs(t, err, boom)
	}
	if got := chunks(); got != "rec_kept.wav,rec_old.wav" {
		t.Fatalf("chunks after two failed puts: %s; want only the stored objects'", got)
	}

	now := time.Now()
	gen := func(ago time.Duration) int64 { return now.Add(-ago).UnixMilli() << 20 }
	for _, o := range []struct {
		key string
		gen int64
	}{
		{"rec_crashed.wav", gen(7 * time.Hour)},   // orphan
		{"rec_crashed.wav", gen(7*time.Hour) + 1}, // orphan, another attempt
		{"rec_running.wav", gen(time.Minute)},     // a Put under way
		{"rec_old.wav", 12345},                    // a random generation of before, with its header
	} {
		exec(`INSERT INTO recording_audio_chunks (key, generation, seq, data) VALUES ($1, $2, 0, $3)`, o.key, o.gen, []byte{0})
	}
	exec(`UPDATE recording_audio SET generation = 12345 WHERE key = 'rec_old.wav'`)
	exec(`DELETE FROM recording_audio_chunks WHERE key = 'rec_old.wav' AND generation <> 12345`)
	n, err := a.DeleteAudioOrphans(ctx(t), 6*time.Hour)
	if err != nil || n != 2 {
		t.Fatalf("DeleteAudioOrphans = %d, %v; want the crashed put's 2 chunks", n, err)
	}
	if got := chunks(); got != "rec_kept.wav,rec_old.wav,rec_running.wav" {
		t.Fatalf("chunks left: %s", got)
	}
}
