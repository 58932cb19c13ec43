package calendar

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestNextOpen(t *testing.T) {
	cal, err := Parse(office) // Mon 08-12, 13-17:30; Sat 08-12; holiday Mon 2026-11-30
	if err != nil {
		t.Fatal(err)
	}
	hcm := cal.Location()
	at := func(d, h, m int) time.Time { return time.Date(2026, 11, d, h, m, 0, 0, hcm) }
	for _, tc := range []struct {
		name     string
		from     time.Time
		want     time.Time
		wantOpen bool
	}{
		{"open now", at(23, 10, 0), at(23, 10, 0), true},
		{"open now, mid-minute", at(23, 10, 0).Add(30 * time.Second), at(23, 10, 0).Add(30 * time.Second), true},
		{"before opening", at(23, 6, 0), at(23, 8, 0), true},
		{"lunch", at(23, 12, 0), at(23, 13, 0), true},
		{"at close on monday: saturday morning", at(23, 17, 30), at(28, 8, 0), true},
		{"friday night", at(27, 22, 0), at(28, 8, 0), true},
		{"saturday noon: the monday is a holiday, so the monday after", at(28, 12, 0), time.Date(2026, 12, 5, 8, 0, 0, 0, hcm), true},
		{"a second before opening", at(23, 8, 0).Add(-time.Second), at(23, 8, 0), true},
		{"from UTC", time.Date(2026, 11, 22, 23, 0, 0, 0, time.UTC), at(23, 8, 0), true},
	} {
		got, ok := cal.NextOpen(tc.from)
		if ok != tc.wantOpen || !got.Equal(tc.want) {
			t.Errorf("%s: NextOpen(%v) = %v, %v; want %v", tc.name, tc.from, got.In(hcm), ok, tc.want)
		}
		if ok && !cal.Open(got) {
			t.Errorf("%s: NextOpen gave %v, which is not open", tc.name, got)
		}
	}
	never, err := Parse(Spec{TimeZone: "UTC"})
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := never.NextOpen(at(23, 10, 0)); ok {
		t.Errorf("a calendar without hours opens at %v", got)
	}
}

func TestOpenUntil(t *testing.T) {
	cal, err := Parse(Spec{TimeZone: "Asia/Ho_Chi_Minh", Hours: map[string][]string{
		"mon": {"08:00-12:00", "12:00-17:00"}, "tue": {"20:00-24:00"}, "wed": {"00:00-02:00", "09:00-10:00"}}})
	if err != nil {
		t.Fatal(err)
	}
	hcm := cal.Location()
	at := func(d, h, m int) time.Time { return time.Date(2026, 11, d, h, m, 0, 0, hcm) }
	for _, tc := range []struct {
		name string
		from time.Time
		want time.Time
		ok   bool
	}{
		{"adjacent spans are one period", at(23, 9, 0), at(23, 17, 0), true},
		{"across midnight", at(24, 21, 0), at(25, 2, 0), true},
		{"closed", at(23, 18, 0), time.Time{}, false},
		{"the last minute", at(25, 9, 59), at(25, 10, 0), true},
	} {
		got, ok := cal.OpenUntil(tc.from)
		if ok != tc.ok || !got.Equal(tc.want) {
			t.Errorf("%s: OpenUntil(%v) = %v, %v; want %v, %v", tc.name, tc.from, got.In(hcm), ok, tc.want, tc.ok)
		}
	}
	always, err := Parse(Spec{TimeZone: "UTC", Hours: map[string][]string{"mon": {"00:00-24:00"}, "tue": {"00:00-24:00"},
		"wed": {"00:00-24:00"}, "thu": {"00:00-24:00"}, "fri": {"00:00-24:00"}, "sat": {"00:00-24:00"}, "sun": {"00:00-24:00"}}})
	if err != nil {
		t.Fatal(err)
	}
	if end, ok := always.OpenUntil(at(23, 9, 0)); ok {
		t.Errorf("an always-open calendar closes at %v", end)
	}
}

// TestNextOpenAgreesWithOpen walks minute by minute from random instants
// (a zone with daylight saving time included) and checks NextOpen and
// OpenUntil against Open.
func TestNextOpenAgreesWithOpen(t *testing.T) {
	specs := []Spec{
		office,
		{TimeZone: "Europe/Berlin", Hours: map[string][]string{"sun": {"01:30-03:30", "22:00-24:00"}, "mon": {"00:00-01:00"},
			"sat": {"02:00-02:45"}}, Holidays: []string{"2026-10-26"}},
		{TimeZone: "America/New_York", Hours: map[string][]string{"sun": {"00:30-02:30"}, "wed": {"09:00-17:00"}}},
		// 2026-03-29 02:00-02:45 does not exist in Berlin (clocks go 02:00 → 03:00).
		{TimeZone: "Europe/Berlin", Hours: map[string][]string{"sun": {"02:00-02:45", "02:50-03:10"}}},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	gap := time.Date(2026, 3, 28, 12, 0, 0, 0, time.UTC)
	for _, spec := range specs {
		cal, err := Parse(spec)
		if err != nil {
			t.Fatal(err)
		}
		for range 300 {
			// Around the DST changes (March, October/November) and elsewhere.
			from := base.Add(time.Duration(rng.Int64N(int64(300 * 24 * time.Hour)))).Truncate(time.Second)
			if rng.IntN(4) == 0 { // the day clocks go forward
				from = gap.Add(time.Duration(rng.Int64N(int64(24 * time.Hour))))
			}
			next, ok := cal.NextOpen(from)
			if !ok {
				t.Fatalf("%s: NextOpen(%v) found nothing", spec.TimeZone, from)
			}
			if next.Before(from) || !cal.Open(next) {
				t.Fatalf("%s: NextOpen(%v) = %v (open %v)", spec.TimeZone, from, next, cal.Open(next))
			}
			for m := from; m.Before(next); m = m.Truncate(time.Minute).Add(time.Minute) {
				if cal.Open(m) {
					t.Fatalf("%s: NextOpen(%v) = %v, but %v is open", spec.TimeZone, from, next, m)
				}
			}
			end, ok := cal.OpenUntil(next)
			if !ok {
				t.Fatalf("%s: OpenUntil(%v) found no end", spec.TimeZone, next)
			}
			if cal.Open(end) || !end.After(next) {
				t.Fatalf("%s: OpenUntil(%v) = %v, open %v", spec.TimeZone, next, end, cal.Open(end))
			}
			for m := next; m.Before(end); m = m.Add(time.Minute) {
				if !cal.Open(m) {
					t.Fatalf("%s: OpenUntil(%v) = %v, but %v is closed", spec.TimeZone, next, end, m)
				}
			}
		}
	}
}
