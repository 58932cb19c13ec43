package recording_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/hotline-dev/hotline/recording"
)

// BenchmarkStorePut is one recording's write, per Store: a 10-minute mono
// call (9.6 MB); MB/s says how long a 2-hour split recording (230 MB)
// takes against the 15 s save timeout.
func BenchmarkStorePut(b *testing.B) {
	body := bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7, 8}, 10*60*16000/8)
	for _, im := range impls {
		b.Run(im.name, func(b *testing.B) {
			s, _, _ := im.open(b)
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				key := recording.Key(recording.NewID(), recording.FormatWAV)
				if _, err := s.Put(b.Context(), key, bytes.NewReader(body)); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if err := s.Delete(b.Context(), key); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}

// BenchmarkStoreRange is a browser's seek: open, seek into the middle of
// a 9.6 MB recording and read 64 KiB (what http.ServeContent does for a
// Range request).
func BenchmarkStoreRange(b *testing.B) {
	body := bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7, 8}, 10*60*16000/8)
	for _, im := range impls {
		b.Run(im.name, func(b *testing.B) {
			s, _, _ := im.open(b)
			key := recording.Key(recording.NewID(), recording.FormatWAV)
			if _, err := s.Put(b.Context(), key, bytes.NewReader(body)); err != nil {
				b.Fatal(err)
			}
			buf := make([]byte, 64<<10)
			b.SetBytes(int64(len(buf)))
			for b.Loop() {
				o, err := s.Open(b.Context(), key)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := o.Seek(int64(len(body)/2), io.SeekStart); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(o, buf); err != nil {
					b.Fatal(err)
				}
				_ = o.Close()
			}
		})
	}
}
