package say

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Fragments of money, durations, ordinals, dates and phone numbers.
const (
	// AboutWord precedes an estimate: "about six minutes", "khoảng sáu phút".
	AboutWord  = "duration-about"
	Second     = "duration-second"
	Seconds    = "duration-seconds"
	MinuteOne  = "duration-minute"
	Minutes    = "duration-minutes"
	HourOne    = "duration-hour"
	Hours      = "duration-hours"
	OrdinalThe = "ordinal-prefix" // Vietnamese "thứ" before a cardinal
	DateDay    = "date-day"       // Vietnamese "ngày" before the day of the month
	DateYear   = "date-year"      // Vietnamese "năm" before the year
	Pause      = "pause"          // a short silence between a phone number's groups
)

// Currency is one currency a Money value may be said in.
type Currency struct {
	Code string // ISO 4217: "VND", "USD"
	// Minor is the number of decimal places (USD 2, VND 0).
	Minor int
}

// Currencies lists the currencies with fragments, by code.
var Currencies = map[string]Currency{"VND": {"VND", 0}, "USD": {"USD", 2}, "EUR": {"EUR", 2}, "THB": {"THB", 2}}

func currencyCodes() []string { return []string{"EUR", "THB", "USD", "VND"} }

// Fragment names of a currency: the unit (plural and singular) and the
// minor unit (plural and singular). Languages without plurals give the
// same text to both.
func unitName(code string, one bool) string {
	n := "currency-" + strings.ToLower(code)
	if one {
		return n + "-one"
	}
	return n
}

func minorName(code string, one bool) string {
	n := "currency-" + strings.ToLower(code) + "-minor"
	if one {
		return n + "-one"
	}
	return n
}

// Money says amount minor units of cur: Money("en", 1250, USD) is "twelve
// dollars and fifty cents", Money("vi", 200000, VND) "hai trăm nghìn
// đồng". A negative amount is nil.
func Money(lang string, minor int64, cur Currency) []string {
	if minor < 0 {
		return nil
	}
	scale := int64(1)
	for i := 0; i < cur.Minor; i++ {
		scale *= 10
	}
	major, rest := minor/scale, minor%scale
	var out []string
	if major > 0 || rest == 0 {
		out = append(bigNumber(lang, major), unitName(cur.Code, major == 1))
	}
	if rest > 0 {
		if len(out) > 0 {
			out = grammarOf(lang).and(out)
		}
		out = append(append(out, Number(lang, int(rest))...), minorName(cur.Code, rest == 1))
	}
	return out
}

func bigNumber(lang string, n int64) []string {
	if n > MaxNumber {
		return Digits(lang, strconv.FormatInt(n, 10))
	}
	return Number(lang, int(n))
}

// Duration says d to the second: "one hour and five minutes", "một giờ
// năm phút" (zero parts are left out; under a second is "zero seconds").
func Duration(lang string, d time.Duration) []string {
	if d < 0 {
		d = -d
	}
	s := int(d / time.Second)
	h, m, sec := s/3600, s/60%60, s%60
	g := grammarOf(lang)
	var parts [][]string
	if h > 0 {
		parts = append(parts, append(bigNumber(lang, int64(h)), plural(h, HourOne, Hours)))
	}
	if m > 0 {
		parts = append(parts, append(Number(lang, m), plural(m, MinuteOne, Minutes)))
	}
	if sec > 0 || len(parts) == 0 {
		parts = append(parts, append(Number(lang, sec), plural(sec, Second, Seconds)))
	}
	out := parts[0]
	for i, p := range parts[1:] {
		if i == len(parts)-2 {
			out = g.and(out)
		}
		out = append(out, p...)
	}
	return out
}

// About says an estimate of d, rounded to the minute (at least one):
// "about six minutes", "khoảng sáu phút", "about one hour and ten
// minutes". A queue's estimated wait is said this way.
func About(lang string, d time.Duration) []string {
	m := int((d + 30*time.Second) / time.Minute)
	if m < 1 {
		m = 1
	}
	return append([]string{AboutWord}, Duration(lang, time.Duration(m)*time.Minute)...)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// Ordinal says n's rank: "twenty first", "thứ hai mươi mốt", "thứ nhất".
// n below 1 is nil.
func Ordinal(lang string, n int) []string {
	if n < 1 || n > MaxNumber {
		return nil
	}
	return grammarOf(lang).ordinal(n)
}

func ord(n int) string { return "ordinal-" + strconv.Itoa(n) }

// Month names a month's fragment: month-1 .. month-12.
func Month(m time.Month) string { return "month-" + strconv.Itoa(int(m)) }

// Date says a calendar date: its day and month, and its year unless it is
// now's year: "December third", "ngày ba tháng mười hai năm hai nghìn
// không trăm hai mươi bảy".
func Date(lang string, t, now time.Time) []string {
	year := 0
	if t.Year() != now.In(t.Location()).Year() {
		year = t.Year()
	}
	return grammarOf(lang).date(t.Day(), t.Month(), year)
}

// Phone reads a phone number digit by digit in groups with a pause
// between them: the groups the text gives (spaces, dashes, dots), else
// the language's (English and Vietnamese 4-3-3 for ten digits, Thai
// 3-3-4 and 02-XXX-XXXX for Bangkok), and threes from the left otherwise.
// A leading + is said as nothing (the country code follows).
func Phone(lang string, s string) []string {
	var groups []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '-' || r == '.' || r == '(' || r == ')' }) {
		if d := keep(f); d != "" {
			groups = append(groups, d)
		}
	}
	if len(groups) == 1 {
		groups = grammarOf(lang).groups(groups[0])
	}
	var out []string
	for i, g := range groups {
		if i > 0 {
			out = append(out, Pause)
		}
		out = append(out, Digits(lang, g)...)
	}
	return out
}

func keep(s string) string {
	var b strings.Builder
	for _, r := range s {
		if _, ok := Digit(r); ok {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func split(d string) []string {
	sizes := []int{}
	switch n := len(d); {
	case n <= 4:
		return []string{d}
	case n == 10:
		sizes = []int{4, 3, 3}
	default:
		for n > 0 {
			k := min(3, n)
			if n == 4 {
				k = 4 // a last four, not three and a lone digit
			}
			sizes = append(sizes, k)
			n -= k
		}
	}
	out := make([]string, 0, len(sizes))
	for _, k := range sizes {
		out = append(out, d[:k])
		d = d[k:]
	}
	return out
}

// ParseMoney reads an amount with its currency, as a lookup returns it:
// "200000 VND", "VND 200000", "12.50 USD", "USD 12.5", "1,250.00 USD".
// Thousands separators (',' for a currency with decimals, '.' or ',' for
// one without) are dropped; more decimals than the currency has is an
// error, as is any other character. The result is in minor units.
func ParseMoney(s string) (int64, Currency, error) {
	s = strings.TrimSpace(s)
	f := strings.Fields(s)
	if len(f) != 2 {
		return 0, Currency{}, fmt.Errorf("%w: money %q is not \"<amount> <currency>\"", ErrValue, s)
	}
	amount, code := f[0], strings.ToUpper(f[1])
	if _, ok := Currencies[code]; !ok {
		amount, code = f[1], strings.ToUpper(f[0])
	}
	cur, ok := Currencies[code]
	if !ok {
		return 0, Currency{}, fmt.Errorf("%w: money %q: currency is none of %s", ErrValue, s, strings.Join(currencyCodes(), ", "))
	}
	n, err := parseAmount(amount, cur.Minor)
	if err != nil {
		return 0, Currency{}, fmt.Errorf("%w: money %q: %v", ErrValue, s, err)
	}
	return n, cur, nil
}

// maxMinor bounds an amount so scaling never overflows.
const maxMinor = int64(1) << 53

func parseAmount(a string, decimals int) (int64, error) {
	whole, frac := a, ""
	if decimals > 0 {
		whole = strings.ReplaceAll(whole, ",", "")
		if w, f, ok := strings.Cut(whole, "."); ok {
			whole, frac = w, f
		}
	} else {
		whole = strings.NewReplacer(",", "", ".", "").Replace(whole)
	}
	if whole == "" || len(frac) > decimals || (decimals > 0 && strings.Contains(a, ".") && frac == "") {
		return 0, fmt.Errorf("amount %q wants at most %d decimals", a, decimals)
	}
	var n int64
	for _, r := range whole + frac + strings.Repeat("0", decimals-len(frac)) {
		if r < '0' || r > '9' {
			return 0, fmt.Errorf("amount %q is not a number", a)
		}
		n = n*10 + int64(r-'0')
		if n > maxMinor {
			return 0, fmt.Errorf("amount %q is too large", a)
		}
	}
	return n, nil
}

// ParseDuration reads a duration: Go's form ("6m", "1h30m", "90s") or a
// whole number of seconds ("370"); negative is an error.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 || n > 1<<31 {
			return 0, fmt.Errorf("%w: duration %q out of range", ErrValue, s)
		}
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 || d > time.Duration(1<<31)*time.Second {
		return 0, fmt.Errorf("%w: duration %q is neither seconds nor like 1h30m", ErrValue, s)
	}
	return d, nil
}
