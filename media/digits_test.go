package media

import (
	"testing"
	"time"
)

func TestDigitQueueDedup(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	d := func(key rune, src DigitSource, ms int) Digit {
		return Digit{Key: key, Source: src, At: t0.Add(time.Duration(ms) * time.Millisecond)}
	}
	tests := []struct {
		name string
		in   []Digit
		want string
	}{
		{"4733 then INFO same key", []Digit{d('5', SourceRFC4733, 0), d('5', SourceINFO, 120)}, "5"},
		{"INFO then 4733 same key", []Digit{d('5', SourceINFO, 0), d('5', SourceRFC4733, 30)}, "5"},
		{"three sources", []Digit{d('1', SourceRFC4733, 0), d('1', SourceInband, 10), d('1', SourceINFO, 50)}, "1"},
		{"same source twice is two presses", []Digit{d('5', SourceRFC4733, 0), d('5', SourceRFC4733, 150)}, "55"},
		{"different keys", []Digit{d('1', SourceRFC4733, 0), d('2', SourceINFO, 20)}, "12"},
		{"outside the window", []Digit{d('5', SourceRFC4733, 0), d('5', SourceINFO, 900)}, "55"},
		{"pairs from two sources", []Digit{d('5', SourceRFC4733, 0), d('5', SourceINFO, 10), d('5', SourceRFC4733, 1000), d('5', SourceINFO, 1010)}, "55"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := newDigitQueue(0)
			for _, x := range tt.in {
				q.push(x)
			}
			var got string
			for len(q.ch) > 0 {
				got += string((<-q.ch).Key)
			}
			if got != tt.want {
				t.Fatalf("delivered %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDigitQueueNeverBlocks(t *testing.T) {
	q := newDigitQueue(0)
	for i := 0; i < digitsBuffer+5; i++ {
		q.push(Digit{Key: '1', Source: SourceRFC4733})
	}
	var s Stats
	q.stats(&s)
	if s.DigitsDropped != 5 || s.DigitsRFC4733 != digitsBuffer {
		t.Fatalf("dropped %d delivered %d, want 5 and %d", s.DigitsDropped, s.DigitsRFC4733, digitsBuffer)
	}
}
