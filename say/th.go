package say

import "time"

// Thai place words above a thousand (English and Vietnamese group by
// thousands; Thai names each place up to a hundred thousand).
const (
	TenThousand     = "number-ten-thousand"     // หมื่น
	HundredThousand = "number-hundred-thousand" // แสน
)

// buddhistEra is what Thai adds to the Common Era year: a Thai speaker
// says 2026 as พ.ศ. 2569.
const buddhistEra = 543

// thai says numbers as the Royal Institute and Excel's BAHTTEXT write
// them: สิบ for 10 (not หนึ่งสิบ), ยี่สิบ for 20, เอ็ด for a last 1 after
// any higher place (สิบเอ็ด, ยี่สิบเอ็ด, หนึ่งร้อยเอ็ด, หนึ่งล้านเอ็ด) and
// หนึ่ง alone; each place named (ร้อย, พัน, หมื่น, แสน) and ล้าน after a
// multiplier said by the same rules (ยี่สิบเอ็ดล้าน). Times are on the
// official 24-hour clock with นาฬิกา and นาที, as announcements say them
// ("สิบสี่นาฬิกาห้านาที"), not the colloquial six-hour clock (โมง, ทุ่ม,
// ตี) whose words change with the time of day.
type thai struct{}

func (t thai) number(n int) []string {
	if n < 1_000_000 {
		return t.below(n, false)
	}
	out := append(t.below(n/1_000_000, false), Million)
	if r := n % 1_000_000; r > 0 {
		out = append(out, t.below(r, true)...)
	}
	return out
}

// placeWords names the places from a hundred thousand down to a hundred.
var placeWords = []struct {
	value int
	name  string
}{{100_000, HundredThousand}, {10_000, TenThousand}, {1000, Thousand}, {100, Hundred}}

// below says 0..999,999; after is true when a higher place (ล้าน) was
// said, so that a last 1 is เอ็ด there too.
func (thai) below(n int, after bool) []string {
	if n == 0 {
		return []string{num(0)}
	}
	var out []string
	for _, p := range placeWords {
		if d := n / p.value % 10; d > 0 {
			out = append(out, num(d), p.name)
		}
	}
	higher := after || n >= 10
	switch r := n % 100; {
	case r == 0:
	case r == 1 && higher:
		out = append(out, FinalOne) // เอ็ด
	case r < 20:
		out = append(out, num(r)) // หนึ่ง .. เก้า, สิบ, สิบเอ็ด .. สิบเก้า
	default:
		out = append(out, num(r/10*10)) // ยี่สิบ, สามสิบ
		switch u := r % 10; u {
		case 0:
		case 1:
			out = append(out, FinalOne)
		default:
			out = append(out, num(u))
		}
	}
	return out
}

func (t thai) clock(h, m int) []string {
	out := append(t.number(h), Hour)
	if m > 0 {
		out = append(append(out, t.number(m)...), Minute)
	}
	return out
}

// dayTime: the day first, "พรุ่งนี้แปดนาฬิกา", "วันจันทร์แปดนาฬิกา".
func (thai) dayTime(day, clock []string) []string { return append(day, clock...) }

func (thai) and(out []string) []string { return out }

// ordinal: ที่ and the cardinal, "ที่หนึ่ง", "ที่ยี่สิบเอ็ด".
func (t thai) ordinal(n int) []string { return append([]string{OrdinalThe}, t.number(n)...) }

// date: "วันที่สามธันวาคม", "... พุทธศักราชสองพันห้าร้อยเจ็ดสิบ": the
// year in the Buddhist era (CE + 543), as Thai dates are written and said.
func (t thai) date(day int, m time.Month, year int) []string {
	out := append(append([]string{DateDay}, t.number(day)...), Month(m))
	if year > 0 {
		out = append(append(out, DateYear), t.number(year+buddhistEra)...)
	}
	return out
}

// groups: Thai numbers are written 0XX-XXX-XXXX (mobile, ten digits) and
// 02-XXX-XXXX (Bangkok, nine); others as the shared rule.
func (thai) groups(d string) []string {
	switch {
	case len(d) == 10:
		return []string{d[:3], d[3:6], d[6:]}
	case len(d) == 9 && d[:2] == "02":
		return []string{d[:2], d[2:5], d[5:]}
	}
	return split(d)
}

func (thai) spaced() bool { return false }
