package flows

import (
	"testing"
	"time"
)

func TestParseChosenTime(t *testing.T) {
	z := time.FixedZone("+07", 7*3600)
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, z) // a Monday
	tests := []struct {
		in   string
		want time.Time
		err  bool
	}{
		{in: "", want: time.Time{}},
		{in: "14:05", want: time.Date(2026, 11, 23, 14, 5, 0, 0, z)},
		{in: "9:30", want: time.Date(2026, 11, 24, 9, 30, 0, 0, z)}, // past today: tomorrow
		{in: "10:00", want: time.Date(2026, 11, 24, 10, 0, 0, 0, z)},
		{in: "tomorrow 10:00", want: time.Date(2026, 11, 24, 10, 0, 0, 0, z)},
		{in: " tomorrow  08:15 ", want: time.Date(2026, 11, 24, 8, 15, 0, 0, z)},
		{in: "2026-12-01T08:00:00Z", want: time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)},
		{in: "24:00", err: true},
		{in: "10:5", err: true},
		{in: "+1:00", err: true},
		{in: "soon", err: true},
		{in: "tomorrow", err: true},
	}
	for _, tt := range tests {
		got, err := ParseChosenTime(tt.in, now)
		if (err != nil) != tt.err || !got.Equal(tt.want) {
			t.Errorf("ParseChosenTime(%q) = %v, %v; want %v (error %v)", tt.in, got, err, tt.want, tt.err)
		}
	}
}
