package say

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Fragment names shared by every language (see Fragments).
const (
	Hundred  = "number-hundred"
	Thousand = "number-thousand"
	Million  = "number-million"
	// And joins a remainder to hundreds or thousands: English "and" (one
	// hundred and five), Vietnamese "linh" (một trăm linh năm).
	And = "number-and"
	// Oh is the zero before a one-digit minute: "two oh five", "hai giờ
	// không năm".
	Oh       = "time-oh"
	AM       = "time-am" // "a.m.", "sáng"
	PM       = "time-pm" // "p.m.", "chiều"
	Hour     = "time-hour"
	Minute   = "time-minute"
	Today    = "day-today"
	Tomorrow = "day-tomorrow"
	Star     = "star"
	Pound    = "pound"
)

// MaxNumber is the largest number Number says as a cardinal; larger ones
// are read digit by digit.
const MaxNumber = 999_999_999

// Kinds of value for Value.
const (
	KindNumber   = "number"   // a cardinal: "42"
	KindDigits   = "digits"   // digit by digit: "0912345678", keys * and # too
	KindTime     = "time"     // a clock time: "14:05" or RFC 3339
	KindDay      = "day"      // a date: "2026-12-03" or RFC 3339 (today, tomorrow, weekday)
	KindDate     = "date"     // a calendar date: "2026-12-03" or RFC 3339 (December third)
	KindMoney    = "money"    // an amount and currency: "200000 VND", "12.50 USD"
	KindDuration = "duration" // exact: "370" seconds or "1h30m"
	KindAbout    = "about"    // an estimate, to the minute: "about six minutes"
	KindOrdinal  = "ordinal"  // a rank: "21" is twenty first
	KindPhone    = "phone"    // a phone number in groups: "0912 345 678"
)

// ErrValue is wrapped by Value for a value it cannot say.
var ErrValue = errors.New("say: value cannot be said")

// grammar is one language's way of saying values.
type grammar interface {
	number(n int) []string
	clock(h, m int) []string
	// dayTime orders a day word and a time: "eight a.m. tomorrow", "tám
	// giờ sáng mai".
	dayTime(day, clock []string) []string
	// and joins a last part to what precedes: English "and", Vietnamese
	// nothing ("mười hai đô la năm mươi xu").
	and(out []string) []string
	ordinal(n int) []string
	// date says a day of the month and a month, and year unless 0 (in
	// the Common Era; Thai says the Buddhist era's).
	date(day int, m time.Month, year int) []string
	// groups splits a phone number's digits, given as one run, into the
	// groups the language's numbers are written in.
	groups(digits string) []string
	// spaced reports whether the language writes a space between words
	// (Thai does not).
	spaced() bool
}

var grammars = map[string]grammar{"en": english{}, "vi": vietnamese{}, "th": thai{}}

func grammarOf(lang string) grammar {
	if g, ok := grammars[lang]; ok {
		return g
	}
	return english{}
}

// Supported reports whether lang has a grammar of its own (others are
// said with English's).
func Supported(lang string) bool {
	_, ok := grammars[lang]
	return ok
}

// Languages lists the languages with a grammar, sorted.
func Languages() []string { return []string{"en", "th", "vi"} }

// Number says n as a cardinal number. A negative n is nil; one above
// MaxNumber is read digit by digit.
func Number(lang string, n int) []string {
	switch {
	case n < 0:
		return nil
	case n > MaxNumber:
		return Digits(lang, strconv.Itoa(n))
	}
	return grammarOf(lang).number(n)
}

// Digit names the fragment of one key: digit-0..digit-9, star, pound; ok
// is false for any other rune.
func Digit(key rune) (string, bool) {
	switch {
	case key >= '0' && key <= '9':
		return "digit-" + string(key), true
	case key == '*':
		return Star, true
	case key == '#':
		return Pound, true
	}
	return "", false
}

// Digits reads s key by key (the same words in every language's grammar:
// each language's digit-N fragment). Anything but 0-9, * and # (spaces,
// a leading +) is skipped.
func Digits(_ string, s string) []string {
	out := make([]string, 0, len(s))
	for _, k := range s {
		if name, ok := Digit(k); ok {
			out = append(out, name)
		}
	}
	return out
}

// Time says t's clock time (in t's location, to the minute) as a
// language says a time of day: English "two oh five p.m.", Vietnamese
// "mười bốn giờ năm phút".
func Time(lang string, t time.Time) []string {
	return grammarOf(lang).clock(t.Hour(), t.Minute())
}

// Day says which day t is, seen from now (both in t's location): today,
// tomorrow, or the weekday's name.
func Day(_ string, t, now time.Time) []string {
	now = now.In(t.Location())
	d := dayNumber(t) - dayNumber(now)
	switch d {
	case 0:
		return []string{Today}
	case 1:
		return []string{Tomorrow}
	}
	return []string{Weekday(t.Weekday())}
}

// Weekday names a weekday's fragment: day-monday .. day-sunday.
func Weekday(d time.Weekday) string { return "day-" + strings.ToLower(d.String()) }

// DayTime says a moment: its time, and its day unless it is today, in the
// language's order ("eight a.m. tomorrow", "tám giờ sáng mai").
func DayTime(lang string, t, now time.Time) []string {
	g := grammarOf(lang)
	clock := g.clock(t.Hour(), t.Minute())
	day := Day(lang, t, now)
	if day[0] == Today {
		return clock
	}
	return g.dayTime(day, clock)
}

func dayNumber(t time.Time) int {
	y, m, d := t.Date()
	return int(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// Value says a value given as text, for flows (a `say` node reading a
// variable): kind is KindNumber, KindDigits, KindTime or KindDay; now and
// loc are for days and times given as RFC 3339 (loc nil: the value's own
// zone). Bad input is an error wrapping ErrValue, never a panic.
func Value(lang, kind, value string, now time.Time, loc *time.Location) ([]string, error) {
	value = strings.TrimSpace(value)
	switch kind {
	case KindNumber:
		n, err := strconv.Atoi(value)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%w: number %q is not a whole number from 0", ErrValue, value)
		}
		return Number(lang, n), nil
	case KindDigits:
		out := Digits(lang, value)
		if len(out) == 0 {
			return nil, fmt.Errorf("%w: digits %q has no digit", ErrValue, value)
		}
		return out, nil
	case KindTime:
		if h, m, ok := clockOf(value); ok {
			return grammarOf(lang).clock(h, m), nil
		}
		t, err := moment(value, loc)
		if err != nil {
			return nil, fmt.Errorf("%w: time %q is neither HH:MM nor RFC 3339", ErrValue, value)
		}
		return Time(lang, t), nil
	case KindDay:
		t, err := moment(value, loc)
		if err != nil {
			t, err = time.ParseInLocation(time.DateOnly, value, zone(loc, now))
		}
		if err != nil {
			return nil, fmt.Errorf("%w: day %q is neither YYYY-MM-DD nor RFC 3339", ErrValue, value)
		}
		return Day(lang, t, now), nil
	case KindDate:
		t, err := moment(value, loc)
		if err != nil {
			t, err = time.ParseInLocation(time.DateOnly, value, zone(loc, now))
		}
		if err != nil {
			return nil, fmt.Errorf("%w: date %q is neither YYYY-MM-DD nor RFC 3339", ErrValue, value)
		}
		return Date(lang, t, now), nil
	case KindMoney:
		n, cur, err := ParseMoney(value)
		if err != nil {
			return nil, err
		}
		return Money(lang, n, cur), nil
	case KindDuration, KindAbout:
		d, err := ParseDuration(value)
		if err != nil {
			return nil, err
		}
		if kind == KindAbout {
			return About(lang, d), nil
		}
		return Duration(lang, d), nil
	case KindOrdinal:
		n, err := strconv.Atoi(value)
		if err != nil || n < 1 || n > MaxNumber {
			return nil, fmt.Errorf("%w: ordinal %q is not a whole number from 1 to %d", ErrValue, value, MaxNumber)
		}
		return Ordinal(lang, n), nil
	case KindPhone:
		out := Phone(lang, value)
		if len(out) == 0 {
			return nil, fmt.Errorf("%w: phone %q has no digit", ErrValue, value)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: unknown kind %q (%s)", ErrValue, kind, strings.Join(Kinds(), ", "))
}

// Kinds lists the kinds Value says.
func Kinds() []string {
	return []string{KindNumber, KindDigits, KindTime, KindDay, KindDate, KindMoney, KindDuration, KindAbout, KindOrdinal, KindPhone}
}

func zone(loc *time.Location, now time.Time) *time.Location {
	if loc != nil {
		return loc
	}
	return now.Location()
}

func moment(value string, loc *time.Location) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, value)
	if err == nil && loc != nil {
		t = t.In(loc)
	}
	return t, err
}

// clockOf reads "H:MM" or "HH:MM" (00:00 to 23:59).
func clockOf(s string) (h, m int, ok bool) {
	hs, ms, found := strings.Cut(s, ":")
	if !found || len(hs) < 1 || len(hs) > 2 || len(ms) != 2 {
		return 0, 0, false
	}
	h, err1 := strconv.Atoi(hs)
	m, err2 := strconv.Atoi(ms)
	if err1 != nil || err2 != nil || h < 0 || h > 23 || m < 0 || m > 59 || hs[0] == '+' || hs[0] == '-' || ms[0] == '+' || ms[0] == '-' {
		return 0, 0, false
	}
	return h, m, true
}

func num(n int) string { return "number-" + strconv.Itoa(n) }

// CoreFragments lists the fragments of cardinals, clock times and days
// (Number, Time, Day, DayTime): all the callback dialogue says, so a
// prompt folder made for it need not have money or dates.
func CoreFragments() []string {
	out := make([]string, 0, 50)
	for n := 0; n <= 19; n++ {
		out = append(out, num(n))
	}
	for n := 20; n <= 90; n += 10 {
		out = append(out, num(n))
	}
	out = append(out, FinalOne, FinalFive, Hundred, Thousand, TenThousand, HundredThousand, Million, And, Oh, AM, PM, Hour, Minute, Today, Tomorrow)
	for d := time.Monday; d <= time.Saturday; d++ {
		out = append(out, Weekday(d))
	}
	return append(out, Weekday(time.Sunday))
}

// Fragments lists every fragment name any grammar produces, in a stable
// order: each must exist in every language a flow declares (the prompt
// list has them all for en and vi). The digit keys are not included
// (digit-0..digit-9, star and pound are the read-back's, see Digit).
func Fragments() []string {
	out := CoreFragments()
	for m := time.January; m <= time.December; m++ {
		out = append(out, Month(m))
	}
	for n := 1; n <= 19; n++ {
		out = append(out, ord(n))
	}
	for n := 20; n <= 90; n += 10 {
		out = append(out, ord(n))
	}
	out = append(out, ordHundred, ordThousand, ordMillion, OrdinalThe, DateDay, DateYear, Pause,
		AboutWord, Second, Seconds, MinuteOne, Minutes, HourOne, Hours)
	for _, c := range currencyCodes() {
		out = append(out, unitName(c, false), unitName(c, true))
		if Currencies[c].Minor > 0 {
			out = append(out, minorName(c, false), minorName(c, true))
		}
	}
	return out
}

// Join writes a value's fragments as the language writes words: text
// gives each fragment's spoken text. English and Vietnamese put a space
// between words; Thai writes none between words and a space between
// phrases, here where a Pause is ("ศูนย์แปดหนึ่ง สองสามสี่ ...").
// Package say itself never needs it; the simulator and tests print with it.
func Join(lang string, frags []string, text func(name string) string) string {
	spaced := grammarOf(lang).spaced()
	var b strings.Builder
	for i, f := range frags {
		switch {
		case !spaced && f == Pause:
			b.WriteByte(' ')
			continue
		case i > 0 && spaced:
			b.WriteByte(' ')
		}
		b.WriteString(text(f))
	}
	return b.String()
}
