package say

import (
	"strings"
	"time"
)

// english says numbers the British way ("one hundred and five", "two
// thousand and twenty four") and times on the 12-hour clock ("two oh five
// p.m.", "eight a.m.").
type english struct{}

func (english) number(n int) []string {
	switch {
	case n < 20:
		return []string{num(n)}
	case n < 100:
		out := []string{num(n / 10 * 10)}
		if u := n % 10; u > 0 {
			out = append(out, num(u))
		}
		return out
	case n < 1000:
		return english{}.join(english{}.number(n/100), Hundred, n%100, true)
	case n < 1_000_000:
		return english{}.join(english{}.number(n/1000), Thousand, n%1000, n%1000 < 100)
	}
	return english{}.join(english{}.number(n/1_000_000), Million, n%1_000_000, n%1_000_000 < 100)
}

// join says "<head> <unit>", then the rest, with "and" before it when and.
func (english) join(head []string, unit string, rest int, and bool) []string {
	out := append(head, unit)
	if rest == 0 {
		return out
	}
	if and {
		out = append(out, And)
	}
	return append(out, english{}.number(rest)...)
}

func (english) clock(h, m int) []string {
	h12 := h % 12
	if h12 == 0 {
		h12 = 12
	}
	out := english{}.number(h12)
	switch {
	case m == 0:
	case m < 10:
		out = append(out, Oh, num(m))
	default:
		out = append(out, english{}.number(m)...)
	}
	if h < 12 {
		return append(out, AM)
	}
	return append(out, PM)
}

// dayTime: "eight a.m. tomorrow", "eight a.m. on Monday" reads as well
// without the "on" a fragment would need.
func (english) dayTime(day, clock []string) []string { return append(clock, day...) }

func (english) and(out []string) []string { return append(out, And) }

// Ordinal fragments English needs for the last word of a large ordinal.
const (
	ordHundred  = "ordinal-hundred"
	ordThousand = "ordinal-thousand"
	ordMillion  = "ordinal-million"
)

// ordinal says the cardinal with its last word made ordinal: "twenty
// first", "one hundred and fifth", "two thousandth".
func (english) ordinal(n int) []string {
	out := english{}.number(n)
	last := out[len(out)-1]
	switch last {
	case Hundred:
		last = ordHundred
	case Thousand:
		last = ordThousand
	case Million:
		last = ordMillion
	default:
		last = "ordinal-" + strings.TrimPrefix(last, "number-")
	}
	out[len(out)-1] = last
	return out
}

// date: "December third", "December third two thousand and twenty seven".
func (english) date(day int, m time.Month, year int) []string {
	out := append([]string{Month(m)}, english{}.ordinal(day)...)
	if year > 0 {
		out = append(out, english{}.number(year)...)
	}
	return out
}

// groups: ten digits 4-3-3 (0912 345 678), others in threes.
func (english) groups(d string) []string { return split(d) }

func (english) spaced() bool { return true }
