package say

import "time"

// Vietnamese fragments a digit takes after a tens word.
const (
	// FinalOne is 1 after a tens word from 20: "hai mươi mốt" (not một).
	FinalOne = "number-1-final"
	// FinalFive is 5 after any tens word: "mười lăm", "hai mươi lăm" (not
	// năm; but "một trăm linh năm", "năm mươi").
	FinalFive = "number-5-final"
)

// vietnamese says numbers as Vietnamese does (Northern: nghìn, linh):
// mười, mười một, mười lăm, hai mươi, hai mươi mốt, hai mươi lăm, một trăm
// linh năm, một nghìn không trăm linh năm; and times on the 24-hour clock:
// "mười bốn giờ năm phút", "tám giờ".
type vietnamese struct{}

func (v vietnamese) number(n int) []string {
	switch {
	case n < 100:
		return v.two(n)
	case n < 1000:
		return v.three(n)
	case n < 1_000_000:
		return append(append(v.number(n/1000), Thousand), v.group(n%1000)...)
	}
	out := append(v.number(n/1_000_000), Million)
	if th := n / 1000 % 1000; th > 0 {
		out = append(append(out, v.group(th)...), Thousand)
	}
	return append(out, v.group(n%1000)...)
}

// two says 0..99.
func (vietnamese) two(n int) []string {
	tens, u := n/10, n%10
	switch {
	case n <= 10:
		return []string{num(n)}
	case tens == 1:
		if u == 5 {
			return []string{num(10), FinalFive}
		}
		return []string{num(10), num(u)} // mười một, mười bốn
	}
	out := []string{num(tens * 10)}
	switch u {
	case 0:
	case 1:
		out = append(out, FinalOne)
	case 5:
		out = append(out, FinalFive)
	default:
		out = append(out, num(u))
	}
	return out
}

// three says 100..999: "một trăm", "một trăm linh năm", "hai trăm mười".
func (v vietnamese) three(n int) []string {
	out := []string{num(n / 100), Hundred}
	switch r := n % 100; {
	case r == 0:
	case r < 10:
		out = append(out, And, num(r))
	default:
		out = append(out, v.two(r)...)
	}
	return out
}

// group says the three digits after nghìn or triệu, where the hundreds
// are said even when zero: "không trăm linh năm", "không trăm hai mươi".
func (v vietnamese) group(n int) []string {
	switch {
	case n == 0:
		return nil
	case n >= 100:
		return v.three(n)
	case n < 10:
		return []string{num(0), Hundred, And, num(n)}
	}
	return append([]string{num(0), Hundred}, v.two(n)...)
}

func (v vietnamese) clock(h, m int) []string {
	out := append(v.number(h), Hour)
	if m > 0 {
		out = append(append(out, v.number(m)...), Minute)
	}
	return out
}

// dayTime: "tám giờ ngày mai", "tám giờ thứ Hai".
func (vietnamese) dayTime(day, clock []string) []string { return append(clock, day...) }

func (vietnamese) and(out []string) []string { return out }

// ordinal: thứ nhất (1), thứ tư (4), else thứ and the cardinal ("thứ hai
// mươi mốt", "thứ mười bốn").
func (v vietnamese) ordinal(n int) []string {
	switch n {
	case 1, 4:
		return []string{ord(n)}
	}
	return append([]string{OrdinalThe}, v.number(n)...)
}

// date: "ngày ba tháng mười hai", "... năm hai nghìn không trăm hai mươi
// bảy" (tháng carried by the month fragment).
func (v vietnamese) date(day int, m time.Month, year int) []string {
	out := append(append([]string{DateDay}, v.number(day)...), Month(m))
	if year > 0 {
		out = append(append(out, DateYear), v.number(year)...)
	}
	return out
}

// groups: ten digits 4-3-3 (0912 345 678), others in threes.
func (vietnamese) groups(d string) []string { return split(d) }

func (vietnamese) spaced() bool { return true }
