package say

import (
	"testing"
	"time"
)

// Thai, written out as Thai writes it (no space between words; a space
// between a phone number's groups), against the fragments' texts in
// prompts/prompts.txt.

func TestThaiNumber(t *testing.T) {
	tx := texts(t)
	tests := []struct {
		n    int
		want string
	}{
		{0, "ศูนย์"},
		{1, "หนึ่ง"},
		{2, "สอง"},
		{5, "ห้า"},
		{10, "สิบ"},
		{11, "สิบเอ็ด"},
		{12, "สิบสอง"},
		{15, "สิบห้า"},
		{19, "สิบเก้า"},
		{20, "ยี่สิบ"},
		{21, "ยี่สิบเอ็ด"},
		{22, "ยี่สิบสอง"},
		{25, "ยี่สิบห้า"},
		{31, "สามสิบเอ็ด"},
		{50, "ห้าสิบ"},
		{91, "เก้าสิบเอ็ด"},
		{99, "เก้าสิบเก้า"},
		{100, "หนึ่งร้อย"},
		{101, "หนึ่งร้อยเอ็ด"},
		{105, "หนึ่งร้อยห้า"},
		{110, "หนึ่งร้อยสิบ"},
		{111, "หนึ่งร้อยสิบเอ็ด"},
		{121, "หนึ่งร้อยยี่สิบเอ็ด"},
		{201, "สองร้อยเอ็ด"},
		{1000, "หนึ่งพัน"},
		{1001, "หนึ่งพันเอ็ด"},
		{1005, "หนึ่งพันห้า"},
		{1010, "หนึ่งพันสิบ"},
		{1234, "หนึ่งพันสองร้อยสามสิบสี่"},
		{2026, "สองพันยี่สิบหก"},
		{2569, "สองพันห้าร้อยหกสิบเก้า"},
		{10000, "หนึ่งหมื่น"},
		{15000, "หนึ่งหมื่นห้าพัน"},
		{21001, "สองหมื่นหนึ่งพันเอ็ด"},
		{100000, "หนึ่งแสน"},
		{250000, "สองแสนห้าหมื่น"},
		{305020, "สามแสนห้าพันยี่สิบ"},
		{1_000_000, "หนึ่งล้าน"},
		{1_000_001, "หนึ่งล้านเอ็ด"},
		{1_000_010, "หนึ่งล้านสิบ"},
		{2_500_000, "สองล้านห้าแสน"},
		{10_000_000, "สิบล้าน"},
		{11_000_000, "สิบเอ็ดล้าน"},
		{21_000_000, "ยี่สิบเอ็ดล้าน"},
		{101_000_021, "หนึ่งร้อยเอ็ดล้านยี่สิบเอ็ด"},
		{999_999_999, "เก้าร้อยเก้าสิบเก้าล้านเก้าแสนเก้าหมื่นเก้าพันเก้าร้อยเก้าสิบเก้า"},
	}
	for _, tc := range tests {
		if got := spoken(t, tx, "th", Number("th", tc.n)); got != tc.want {
			t.Errorf("th %d: %q, want %q", tc.n, got, tc.want)
		}
	}
	if !Supported("th") {
		t.Error("th is not supported")
	}
}

func TestThaiTimeAndDays(t *testing.T) {
	tx := texts(t)
	loc := time.FixedZone("ICT", 7*3600)
	for _, tc := range []struct{ hhmm, want string }{
		{"00:00", "ศูนย์นาฬิกา"},
		{"08:00", "แปดนาฬิกา"},
		{"08:05", "แปดนาฬิกาห้านาที"},
		{"12:00", "สิบสองนาฬิกา"},
		{"14:05", "สิบสี่นาฬิกาห้านาที"},
		{"17:30", "สิบเจ็ดนาฬิกาสามสิบนาที"},
		{"21:01", "ยี่สิบเอ็ดนาฬิกาหนึ่งนาที"},
		{"23:59", "ยี่สิบสามนาฬิกาห้าสิบเก้านาที"},
	} {
		got, err := Value("th", KindTime, tc.hhmm, time.Now(), loc)
		if err != nil {
			t.Fatal(err)
		}
		if s := spoken(t, tx, "th", got); s != tc.want {
			t.Errorf("th %s: %q, want %q", tc.hhmm, s, tc.want)
		}
	}
	now := time.Date(2026, 12, 2, 22, 30, 0, 0, loc) // a Wednesday, late
	for _, tc := range []struct {
		at           time.Time
		day, dayTime string
	}{
		{now.Add(time.Hour / 2), "วันนี้", "ยี่สิบสามนาฬิกา"},
		{time.Date(2026, 12, 3, 8, 0, 0, 0, loc), "พรุ่งนี้", "พรุ่งนี้แปดนาฬิกา"},
		{time.Date(2026, 12, 5, 8, 0, 0, 0, loc), "วันเสาร์", "วันเสาร์แปดนาฬิกา"},
		{time.Date(2026, 12, 7, 8, 30, 0, 0, loc), "วันจันทร์", "วันจันทร์แปดนาฬิกาสามสิบนาที"},
		{time.Date(2026, 12, 6, 9, 0, 0, 0, loc), "วันอาทิตย์", "วันอาทิตย์เก้านาฬิกา"},
	} {
		if got := spoken(t, tx, "th", Day("th", tc.at, now)); got != tc.day {
			t.Errorf("th day %v: %q, want %q", tc.at, got, tc.day)
		}
		if got := spoken(t, tx, "th", DayTime("th", tc.at, now)); got != tc.dayTime {
			t.Errorf("th %v: %q, want %q", tc.at, got, tc.dayTime)
		}
	}
}

// Dates carry the Buddhist-era year (CE + 543) when it is not this year's.
func TestThaiDate(t *testing.T) {
	tx := texts(t)
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct{ value, want string }{
		{"2026-12-03", "วันที่สามธันวาคม"},
		{"2026-04-21", "วันที่ยี่สิบเอ็ดเมษายน"},
		{"2026-01-01", "วันที่หนึ่งมกราคม"},
		{"2026-02-11T09:00:00Z", "วันที่สิบเอ็ดกุมภาพันธ์"},
		{"2027-03-31", "วันที่สามสิบเอ็ดมีนาคมพุทธศักราชสองพันห้าร้อยเจ็ดสิบ"},
		{"2025-10-05", "วันที่ห้าตุลาคมพุทธศักราชสองพันห้าร้อยหกสิบแปด"},
	} {
		names, err := Value("th", KindDate, tc.value, now, nil)
		if err != nil {
			t.Fatalf("%q: %v", tc.value, err)
		}
		if got := spoken(t, tx, "th", names); got != tc.want {
			t.Errorf("th date %q = %q, want %q", tc.value, got, tc.want)
		}
	}
}

func TestThaiOrdinal(t *testing.T) {
	tx := texts(t)
	for _, tc := range []struct {
		n    int
		want string
	}{
		{1, "ที่หนึ่ง"},
		{2, "ที่สอง"},
		{11, "ที่สิบเอ็ด"},
		{14, "ที่สิบสี่"},
		{21, "ที่ยี่สิบเอ็ด"},
		{101, "ที่หนึ่งร้อยเอ็ด"},
		{3_000_000, "ที่สามล้าน"},
	} {
		if got := spoken(t, tx, "th", Ordinal("th", tc.n)); got != tc.want {
			t.Errorf("th ordinal %d = %q, want %q", tc.n, got, tc.want)
		}
	}
}

func TestThaiMoneyAndDuration(t *testing.T) {
	tx := texts(t)
	for _, tc := range []struct{ kind, value, want string }{
		{KindMoney, "12.50 THB", "สิบสองบาทห้าสิบสตางค์"},
		{KindMoney, "THB 1", "หนึ่งบาท"},
		{KindMoney, "0.25 THB", "ยี่สิบห้าสตางค์"},
		{KindMoney, "1,021.01 THB", "หนึ่งพันยี่สิบเอ็ดบาทหนึ่งสตางค์"},
		{KindMoney, "21000000 thb", "ยี่สิบเอ็ดล้านบาท"},
		{KindMoney, "0 THB", "ศูนย์บาท"},
		{KindMoney, "200000 VND", "สองแสนดอง"},
		{KindMoney, "12.50 USD", "สิบสองดอลลาร์ห้าสิบเซนต์"},
		{KindMoney, "3.5 EUR", "สามยูโรห้าสิบเซนต์"},
		{KindAbout, "6m", "ประมาณหกนาที"},
		{KindAbout, "10s", "ประมาณหนึ่งนาที"},
		{KindAbout, "1h10m20s", "ประมาณหนึ่งชั่วโมงสิบนาที"},
		{KindDuration, "90", "หนึ่งนาทีสามสิบวินาที"},
		{KindDuration, "1h1m1s", "หนึ่งชั่วโมงหนึ่งนาทีหนึ่งวินาที"},
		{KindDuration, "21m", "ยี่สิบเอ็ดนาที"},
		{KindDuration, "0s", "ศูนย์วินาที"},
		{KindNumber, "21", "ยี่สิบเอ็ด"},
		{KindDigits, "1*#", "หนึ่งดอกจันสี่เหลี่ยม"},
	} {
		names, err := Value("th", tc.kind, tc.value, time.Time{}, nil)
		if err != nil {
			t.Fatalf("%s %q: %v", tc.kind, tc.value, err)
		}
		if got := spoken(t, tx, "th", names); got != tc.want {
			t.Errorf("th %s %q = %q, want %q", tc.kind, tc.value, got, tc.want)
		}
	}
}

// Phone numbers digit by digit in Thai groups: 0XX XXX XXXX for mobiles,
// 02 XXX XXXX for Bangkok, the text's own groups when it has them.
func TestThaiPhone(t *testing.T) {
	tx := texts(t)
	for _, tc := range []struct{ value, want string }{
		{"0812345678", "ศูนย์แปดหนึ่ง สองสามสี่ ห้าหกเจ็ดแปด"},
		{"021234567", "ศูนย์สอง หนึ่งสองสาม สี่ห้าหกเจ็ด"},
		{"053123456", "ศูนย์ห้าสาม หนึ่งสองสาม สี่ห้าหก"},
		{"+66 81 234 5678", "หกหก แปดหนึ่ง สองสามสี่ ห้าหกเจ็ดแปด"},
		{"1155", "หนึ่งหนึ่งห้าห้า"},
	} {
		if got := spoken(t, tx, "th", Phone("th", tc.value)); got != tc.want {
			t.Errorf("th phone %q = %q, want %q", tc.value, got, tc.want)
		}
	}
}
