package calendar

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var office = Spec{TimeZone: "Asia/Ho_Chi_Minh",
	Hours:    map[string][]string{"mon": {"08:00-12:00", "13:00-17:30"}, "saturday": {"8:00-12:00"}},
	Holidays: []string{"2026-11-30"}}

func TestOpen(t *testing.T) {
	cal, err := Parse(office)
	if err != nil {
		t.Fatal(err)
	}
	hcm := cal.Location()
	for _, tc := range []struct {
		name string
		at   time.Time
		open bool
	}{
		{"monday morning", time.Date(2026, 11, 23, 10, 0, 0, 0, hcm), true},
		{"lunch break", time.Date(2026, 11, 23, 12, 30, 0, 0, hcm), false},
		{"just before close", time.Date(2026, 11, 23, 17, 29, 0, 0, hcm), true},
		{"at close", time.Date(2026, 11, 23, 17, 30, 0, 0, hcm), false},
		{"01:30 UTC is 08:30 in Ho Chi Minh City", time.Date(2026, 11, 23, 1, 30, 0, 0, time.UTC), true},
		{"sunday", time.Date(2026, 11, 29, 10, 0, 0, 0, hcm), false},
		{"saturday (full day name)", time.Date(2026, 11, 28, 9, 0, 0, 0, hcm), true},
		{"holiday monday", time.Date(2026, 11, 30, 10, 0, 0, 0, hcm), false},
	} {
		if got := cal.Open(tc.at); got != tc.open {
			t.Errorf("%s: Open(%v) = %v, want %v", tc.name, tc.at, got, tc.open)
		}
	}
}

func TestParseNamesTheField(t *testing.T) {
	for _, tc := range []struct {
		spec Spec
		want string
	}{
		{Spec{}, "timezone: invalid calendar: required"},
		{Spec{TimeZone: "Mars/Olympus"}, `timezone: invalid calendar: "Mars/Olympus" is not an IANA time zone`},
		{Spec{TimeZone: "UTC", Hours: map[string][]string{"someday": {"08:00-09:00"}}}, "hours.someday: invalid calendar: not a day"},
		{Spec{TimeZone: "UTC", Hours: map[string][]string{"month": {"08:00-09:00"}}}, "hours.month: invalid calendar: not a day"},
		{Spec{TimeZone: "UTC", Hours: map[string][]string{"mon": {"09:00-08:00"}}}, `hours.mon: invalid calendar: "09:00-08:00" is not HH:MM-HH:MM`},
		{Spec{TimeZone: "UTC", Hours: map[string][]string{"mon": {"9am-5pm"}}}, `hours.mon: invalid calendar: "9am-5pm"`},
		{Spec{TimeZone: "UTC", Hours: map[string][]string{"mon": {"08:00-17:00junk"}}}, `hours.mon: invalid calendar`},
		{Spec{TimeZone: "UTC", Hours: map[string][]string{"mon": {"08:-1-17:00"}}}, `hours.mon: invalid calendar`},
		{Spec{TimeZone: "UTC", Hours: map[string][]string{"mon": {"08:00-24:01"}}}, `hours.mon: invalid calendar`},
		{Spec{TimeZone: "UTC", Holidays: []string{"2026-12-25", "25/12/2026"}}, `holidays[1]: invalid calendar: "25/12/2026" is not a date`},
	} {
		_, err := Parse(tc.spec)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%+v) = %v, want an error containing %q", tc.spec, err, tc.want)
		}
	}
	both := Spec{TimeZone: "UTC", Hours: map[string][]string{"mon": {"08:00-09:00"}, "monday": {"10:00-11:00"}}}
	if _, err := Parse(both); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "the same day as") {
		t.Errorf("mon and monday both given: %v", err)
	}
	if _, err := Parse(Spec{TimeZone: "UTC", Hours: map[string][]string{"sun": {"00:00-24:00"}}}); err != nil {
		t.Errorf("a whole day: %v", err)
	}
}

// FuzzParse: hours and holidays come from the configuration file; whatever
// Parse accepts is a span inside one day, start before end.
func FuzzParse(f *testing.F) {
	f.Add("mon", "08:00-12:00", "2026-12-25")
	f.Add("saturday", "00:00-24:00", "")
	f.Add("x", "25:99-1:00", "2026-02-30")
	f.Add("tue", "+8:00-9:00", "2026-1-1")
	monday10 := time.Date(2026, 11, 23, 3, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, day, hours, holiday string) {
		cal, err := Parse(Spec{TimeZone: "Asia/Ho_Chi_Minh",
			Hours: map[string][]string{day: {hours}}, Holidays: []string{holiday}})
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		_ = cal.Open(monday10)
		for _, sps := range cal.hours {
			for _, sp := range sps {
				if sp.from < 0 || sp.to > 24*60 || sp.from >= sp.to {
					t.Fatalf("accepted span %+v from %q", sp, hours)
				}
			}
		}
	})
}
