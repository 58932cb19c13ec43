package recording

import (
	"io"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/media"
)

// BenchmarkRecordMinute is the CPU of one recorded minute of a call: 3000
// frames placed by timestamp (with the loudness check) and the WAV written.
func BenchmarkRecordMinute(b *testing.B) {
	tone := media.Tone([]float64{440}, time.Second)
	b.ReportAllocs()
	for b.Loop() {
		c := NewCapture(time.Minute)
		for i := range 3000 {
			off := (i % 50) * 160
			c.Add(media.Frame{SSRC: 1, Sequence: uint16(i), Timestamp: uint32(i * 160), PCM: tone[off : off+160]})
		}
		if err := media.WriteWAV(io.Discard, c.PCM()); err != nil {
			b.Fatal(err)
		}
	}
}
