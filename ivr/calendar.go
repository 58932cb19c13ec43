package ivr

import (
	"fmt"
	"strings"
	"time"

	"github.com/hotline-dev/hotline/config"
)

// calendar is a parsed config.Calendar: open hours per weekday in a time
// zone, and whole-day holidays (closed) in that zone.
type calendar struct {
	loc      *time.Location
	hours    map[time.Weekday][]span
	holidays map[string]bool // YYYY-MM-DD
}

// span is [from, to) in minutes after local midnight.
type span struct{ from, to int }

var weekdays = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

func parseCalendar(c config.Calendar) (calendar, error) {
	cal := calendar{hours: map[time.Weekday][]span{}, holidays: map[string]bool{}}
	loc, err := time.LoadLocation(c.TimeZone)
	if err != nil {
		return cal, fmt.Errorf("timezone: %w", err)
	}
	cal.loc = loc
	for day, ranges := range c.Hours {
		key := strings.ToLower(day)
		if len(key) > 3 {
			key = key[:3]
		}
		wd, ok := weekdays[key]
		if !ok {
			return cal, fmt.Errorf("hours: %q is not a day (mon..sun)", day)
		}
		for _, rg := range ranges {
			sp, err := parseSpan(rg)
			if err != nil {
				return cal, fmt.Errorf("hours.%s: %w", day, err)
			}
			cal.hours[wd] = append(cal.hours[wd], sp)
		}
	}
	for _, h := range c.Holidays {
		if _, err := time.Parse(time.DateOnly, h); err != nil {
			return cal, fmt.Errorf("holidays: %q is not YYYY-MM-DD", h)
		}
		cal.holidays[h] = true
	}
	return cal, nil
}

func parseSpan(s string) (span, error) {
	from, to, ok := strings.Cut(strings.TrimSpace(s), "-")
	if !ok {
		return span{}, fmt.Errorf("%q is not HH:MM-HH:MM", s)
	}
	f, err1 := parseClock(from)
	t, err2 := parseClock(to)
	if err1 != nil || err2 != nil || f >= t {
		return span{}, fmt.Errorf("%q is not HH:MM-HH:MM with start before end", s)
	}
	return span{f, t}, nil
}

func parseClock(s string) (int, error) {
	var h, m int
	if _, err := fmt.Sscanf(strings.TrimSpace(s), "%d:%d", &h, &m); err != nil {
		return 0, err
	}
	if h < 0 || m < 0 || m > 59 || h*60+m > 24*60 {
		return 0, fmt.Errorf("%q is not a time of day", s)
	}
	return h*60 + m, nil
}

// open reports whether t falls in open hours, in the calendar's zone.
func (c calendar) open(t time.Time) bool {
	lt := t.In(c.loc)
	if c.holidays[lt.Format(time.DateOnly)] {
		return false
	}
	min := lt.Hour()*60 + lt.Minute()
	for _, sp := range c.hours[lt.Weekday()] {
		if min >= sp.from && min < sp.to {
			return true
		}
	}
	return false
}
