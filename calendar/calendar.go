// Package calendar is business hours: open spans per weekday in a time zone,
// and whole-day holidays. The configuration (hotline.yaml `calendars:`)
// holds Specs; Parse is the one validation, so `hotline flows check`, the
// server's configuration check and every reader (IVR branch cases, queues,
// callbacks) agree on what a calendar means.
package calendar

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrInvalid is wrapped by every Parse error; the message names the field
// ("timezone", "hours.mon", "holidays[2]").
var ErrInvalid = errors.New("invalid calendar")

// Spec is a calendar as written in hotline.yaml.
type Spec struct {
	TimeZone string              `yaml:"timezone"` // IANA, e.g. Asia/Ho_Chi_Minh; required
	Hours    map[string][]string `yaml:"hours"`    // mon..sun (or monday..sunday) -> ["08:00-12:00","13:00-17:30"]
	Holidays []string            `yaml:"holidays"` // YYYY-MM-DD, closed all day in the calendar's zone
}

// Calendar is a parsed Spec. It is immutable and safe for concurrent use.
type Calendar struct {
	loc      *time.Location
	hours    [7][]span       // by time.Weekday
	holidays map[string]bool // YYYY-MM-DD
}

// span is [from, to) in minutes after local midnight.
type span struct{ from, to int }

var weekdays = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
	"sunday": time.Sunday, "monday": time.Monday, "tuesday": time.Tuesday, "wednesday": time.Wednesday,
	"thursday": time.Thursday, "friday": time.Friday, "saturday": time.Saturday,
}

// Parse checks a Spec and builds its Calendar. The error names the field
// that is wrong, relative to the calendar ("hours.mon: ...").
func Parse(s Spec) (*Calendar, error) {
	cal := &Calendar{holidays: map[string]bool{}}
	if strings.TrimSpace(s.TimeZone) == "" {
		return nil, fmt.Errorf("timezone: %w: required (an IANA name such as Asia/Ho_Chi_Minh)", ErrInvalid)
	}
	loc, err := time.LoadLocation(s.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("timezone: %w: %q is not an IANA time zone", ErrInvalid, s.TimeZone)
	}
	cal.loc = loc
	seen := map[time.Weekday]string{}
	for day, ranges := range s.Hours {
		wd, ok := weekdays[strings.ToLower(day)]
		if !ok {
			return nil, fmt.Errorf("hours.%s: %w: not a day (mon..sun)", day, ErrInvalid)
		}
		if other, dup := seen[wd]; dup {
			return nil, fmt.Errorf("hours.%s: %w: the same day as hours.%s", day, ErrInvalid, other)
		}
		seen[wd] = day
		for _, rg := range ranges {
			sp, err := parseSpan(rg)
			if err != nil {
				return nil, fmt.Errorf("hours.%s: %w: %w", day, ErrInvalid, err)
			}
			cal.hours[wd] = append(cal.hours[wd], sp)
		}
	}
	for i, h := range s.Holidays {
		if _, err := time.Parse(time.DateOnly, h); err != nil {
			return nil, fmt.Errorf("holidays[%d]: %w: %q is not a date (YYYY-MM-DD)", i, ErrInvalid, h)
		}
		cal.holidays[h] = true
	}
	return cal, nil
}

func parseSpan(s string) (span, error) {
	from, to, ok := strings.Cut(strings.TrimSpace(s), "-")
	f, err1 := parseClock(from)
	t, err2 := parseClock(to)
	if !ok || err1 != nil || err2 != nil || f >= t {
		return span{}, fmt.Errorf("%q is not HH:MM-HH:MM with the start before the end", s)
	}
	return span{f, t}, nil
}

// parseClock reads H:MM or HH:MM, 00:00 to 24:00 (24:00 ends a day).
func parseClock(s string) (int, error) {
	hs, ms, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok || len(hs) < 1 || len(hs) > 2 || len(ms) != 2 || strings.Trim(hs+ms, "0123456789") != "" {
		return 0, fmt.Errorf("%q is not HH:MM", s)
	}
	h, _ := strconv.Atoi(hs)
	m, _ := strconv.Atoi(ms)
	if m > 59 || h*60+m > 24*60 {
		return 0, fmt.Errorf("%q is not a time of day", s)
	}
	return h*60 + m, nil
}

// Open reports whether t falls in open hours, in the calendar's zone; a
// holiday is closed all day.
func (c *Calendar) Open(t time.Time) bool {
	lt := t.In(c.loc)
	if c.holidays[lt.Format(time.DateOnly)] {
		return false
	}
	minute := lt.Hour()*60 + lt.Minute()
	for _, sp := range c.hours[lt.Weekday()] {
		if minute >= sp.from && minute < sp.to {
			return true
		}
	}
	return false
}

// Location is the calendar's time zone ("today" for statistics).
func (c *Calendar) Location() *time.Location { return c.loc }

// horizon bounds how far NextOpen and OpenUntil look: two years covers any
// holiday list a calendar sensibly holds.
const horizon = 2 * 366

// NextOpen is the first moment at or after t when the calendar is open: t
// itself when it is open, else the start of the next open span (a
// holiday's spans are skipped). ok is false for a calendar that is never
// open within two years (no hours at all, or every open day a holiday).
// Open(NextOpen(t)) holds, and nothing between t and it is open, at the
// minute granularity Open uses.
func (c *Calendar) NextOpen(t time.Time) (next time.Time, ok bool) {
	if c.Open(t) {
		return t, true
	}
	lt := t.In(c.loc)
	y, m, d := lt.Date()
	for off := range horizon {
		day := time.Date(y, m, d+off, 0, 0, 0, 0, c.loc)
		if c.holidays[day.Format(time.DateOnly)] {
			continue
		}
		best := time.Time{}
		for _, sp := range c.hours[day.Weekday()] {
			start := atMinute(day, sp.from)
			if !atMinute(day, sp.to).After(t) {
				continue // this span is over by t
			}
			if start.Before(t) {
				start = t // t is inside the span, between minutes Open rounds
			}
			if !c.Open(start) {
				// The span starts in a daylight-saving gap (02:00 that
				// never happens): it opens at its first real minute.
				start = firstOpenMinute(c, start, atMinute(day, sp.to))
			}
			if !start.IsZero() && (best.IsZero() || start.Before(best)) {
				best = start
			}
		}
		if !best.IsZero() {
			return best, true
		}
	}
	return time.Time{}, false
}

// OpenUntil is when the open period t falls in ends (the first closed
// moment after t; adjacent spans, also across midnight, count as one
// period). ok is false when t is closed, or when the calendar stays open
// for more than a week from t (always-open calendars never close).
func (c *Calendar) OpenUntil(t time.Time) (end time.Time, ok bool) {
	if !c.Open(t) {
		return time.Time{}, false
	}
	end = t
	limit := t.Add(8 * 24 * time.Hour)
	for c.Open(end) {
		lt := end.In(c.loc)
		y, m, d := lt.Date()
		day := time.Date(y, m, d, 0, 0, 0, 0, c.loc)
		minute := lt.Hour()*60 + lt.Minute()
		to := -1
		for _, sp := range c.hours[lt.Weekday()] {
			if minute >= sp.from && minute < sp.to && sp.to > to {
				to = sp.to
			}
		}
		next := atMinute(day, to)
		if !next.After(end) { // a DST fold: step a minute rather than loop
			next = end.Add(time.Minute)
		}
		end = next
		if end.After(limit) {
			return time.Time{}, false
		}
	}
	return end, true
}

// firstOpenMinute is the first whole minute from start, before end, that
// is open; zero if none.
func firstOpenMinute(c *Calendar, start, end time.Time) time.Time {
	for m := start.Truncate(time.Minute); m.Before(end); m = m.Add(time.Minute) {
		if !m.Before(start) && c.Open(m) {
			return m
		}
		if m.Before(start) && c.Open(start) {
			return start
		}
	}
	return time.Time{}
}

// atMinute is minute (0..1440) after local midnight of day; 1440 is the
// next midnight.
// A wall-clock time that happens twice (the hour clocks go back) is its
// first occurrence.
func atMinute(day time.Time, minute int) time.Time {
	y, m, d := day.Date()
	t := time.Date(y, m, d, minute/60, minute%60, 0, 0, day.Location())
	for _, back := range []time.Duration{2 * time.Hour, time.Hour, 30 * time.Minute} {
		if e := t.Add(-back); sameWall(e, t) {
			return e
		}
	}
	return t
}

func sameWall(a, b time.Time) bool {
	ay, am, ad := a.Date()
	by, bm, bd := b.Date()
	return ay == by && am == bm && ad == bd && a.Hour() == b.Hour() && a.Minute() == b.Minute()
}
