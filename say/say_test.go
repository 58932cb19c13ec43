package say

import (
	"bufio"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

// texts reads the spoken text of every prompt in prompts/prompts.txt, so
// the tables below check the grammar and the fragments' words together:
// what a caller hears is the fragments' texts in order.
func texts(t *testing.T) map[string]map[string]string {
	t.Helper()
	f, err := os.Open("../prompts/prompts.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.Split(line, "\t")
		if len(parts) != 3 {
			t.Fatalf("prompts.txt: %q", line)
		}
		if out[parts[0]] == nil {
			out[parts[0]] = map[string]string{}
		}
		out[parts[0]][parts[1]] = parts[2]
	}
	return out
}

func spoken(t *testing.T, tx map[string]map[string]string, lang string, names []string) string {
	t.Helper()
	return Join(lang, names, func(n string) string {
		w, ok := tx[lang][n]
		if !ok {
			t.Fatalf("%s: fragment %q is not in prompts.txt", lang, n)
		}
		return w
	})
}

func TestFragmentsInEveryLanguage(t *testing.T) {
	tx := texts(t)
	for _, lang := range Languages() {
		for _, n := range Fragments() {
			if _, ok := tx[lang][n]; !ok {
				t.Errorf("%s: %s missing from prompts.txt", lang, n)
			}
		}
		for _, k := range "0123456789*#" {
			n, _ := Digit(k)
			if _, ok := tx[lang][n]; !ok {
				t.Errorf("%s: %s missing from prompts.txt", lang, n)
			}
		}
	}
}

func TestNumber(t *testing.T) {
	tx := texts(t)
	tests := []struct {
		n      int
		en, vi string
	}{
		{0, "zero", "không"},
		{1, "one", "một"},
		{4, "four", "bốn"},
		{5, "five", "năm"},
		{10, "ten", "mười"},
		{11, "eleven", "mười một"},
		{14, "fourteen", "mười bốn"},
		{15, "fifteen", "mười lăm"},
		{19, "nineteen", "mười chín"},
		{20, "twenty", "hai mươi"},
		{21, "twenty one", "hai mươi mốt"},
		{24, "twenty four", "hai mươi bốn"},
		{25, "twenty five", "hai mươi lăm"},
		{31, "thirty one", "ba mươi mốt"},
		{50, "fifty", "năm mươi"},
		{55, "fifty five", "năm mươi lăm"},
		{59, "fifty nine", "năm mươi chín"},
		{99, "ninety nine", "chín mươi chín"},
		{100, "one hundred", "một trăm"},
		{101, "one hundred and one", "một trăm linh một"},
		{105, "one hundred and five", "một trăm linh năm"},
		{110, "one hundred and ten", "một trăm mười"},
		{115, "one hundred and fifteen", "một trăm mười lăm"},
		{121, "one hundred and twenty one", "một trăm hai mươi mốt"},
		{555, "five hundred and fifty five", "năm trăm năm mươi lăm"},
		{1000, "one thousand", "một nghìn"},
		{1005, "one thousand and five", "một nghìn không trăm linh năm"},
		{1050, "one thousand and fifty", "một nghìn không trăm năm mươi"},
		{1234, "one thousand two hundred and thirty four", "một nghìn hai trăm ba mươi bốn"},
		{2026, "two thousand and twenty six", "hai nghìn không trăm hai mươi sáu"},
		{15000, "fifteen thousand", "mười lăm nghìn"},
		{21001, "twenty one thousand and one", "hai mươi mốt nghìn không trăm linh một"},
		{1_000_000, "one million", "một triệu"},
		{1_000_005, "one million and five", "một triệu không trăm linh năm"},
		{2_500_000, "two million five hundred thousand", "hai triệu năm trăm nghìn"},
		{999_999_999, "nine hundred and ninety nine million nine hundred and ninety nine thousand nine hundred and ninety nine",
			"chín trăm chín mươi chín triệu chín trăm chín mươi chín nghìn chín trăm chín mươi chín"},
	}
	for _, tc := range tests {
		if got := spoken(t, tx, "en", Number("en", tc.n)); got != tc.en {
			t.Errorf("en %d: %q, want %q", tc.n, got, tc.en)
		}
		if got := spoken(t, tx, "vi", Number("vi", tc.n)); got != tc.vi {
			t.Errorf("vi %d: %q, want %q", tc.n, got, tc.vi)
		}
	}
}

func TestNumberEdges(t *testing.T) {
	if got := Number("en", -1); got != nil {
		t.Errorf("-1: %v", got)
	}
	if got := strings.Join(Number("vi", 1_000_000_000), " "); got != "digit-1 digit-0 digit-0 digit-0 digit-0 digit-0 digit-0 digit-0 digit-0 digit-0" {
		t.Errorf("1e9: %s", got)
	}
	if got, want := strings.Join(Number("fr", 21), " "), strings.Join(Number("en", 21), " "); got != want || Supported("fr") {
		t.Errorf("fr: %s, want English's %s", got, want)
	}
}

func TestDigits(t *testing.T) {
	tx := texts(t)
	if got := spoken(t, tx, "en", Digits("en", "+84 912-345*#")); got != "eight four nine one two three four five star pound" {
		t.Errorf("en: %q", got)
	}
	if got := spoken(t, tx, "vi", Digits("vi", "678")); got != "sáu bảy tám" {
		t.Errorf("vi: %q", got)
	}
}

func TestTime(t *testing.T) {
	tx := texts(t)
	tests := []struct {
		hhmm   string
		en, vi string
	}{
		{"00:00", "twelve a.m.", "không giờ"},
		{"08:00", "eight a.m.", "tám giờ"},
		{"08:05", "eight oh five a.m.", "tám giờ năm phút"},
		{"09:30", "nine thirty a.m.", "chín giờ ba mươi phút"},
		{"12:00", "twelve p.m.", "mười hai giờ"},
		{"14:05", "two oh five p.m.", "mười bốn giờ năm phút"},
		{"15:15", "three fifteen p.m.", "mười lăm giờ mười lăm phút"},
		{"17:21", "five twenty one p.m.", "mười bảy giờ hai mươi mốt phút"},
		{"23:59", "eleven fifty nine p.m.", "hai mươi ba giờ năm mươi chín phút"},
	}
	loc := time.FixedZone("ICT", 7*3600)
	for _, tc := range tests {
		at, err := time.ParseInLocation("15:04", tc.hhmm, loc)
		if err != nil {
			t.Fatal(err)
		}
		if got := spoken(t, tx, "en", Time("en", at)); got != tc.en {
			t.Errorf("en %s: %q, want %q", tc.hhmm, got, tc.en)
		}
		if got := spoken(t, tx, "vi", Time("vi", at)); got != tc.vi {
			t.Errorf("vi %s: %q, want %q", tc.hhmm, got, tc.vi)
		}
	}
	// The time is said in t's own zone: 01:05 UTC is 08:05 in Hanoi.
	utc := time.Date(2026, 12, 2, 1, 5, 0, 0, time.UTC)
	if got := spoken(t, tx, "vi", Time("vi", utc.In(loc))); got != "tám giờ năm phút" {
		t.Errorf("zone: %q", got)
	}
}

func TestDayAndDayTime(t *testing.T) {
	tx := texts(t)
	loc := time.FixedZone("ICT", 7*3600)
	now := time.Date(2026, 12, 2, 22, 30, 0, 0, loc) // a Wednesday, late
	tests := []struct {
		at        time.Time
		day       [2]string
		dayTimeEn string
		dayTimeVi string
	}{
		{now.Add(time.Hour / 2), [2]string{"today", "hôm nay"}, "eleven p.m.", "hai mươi ba giờ"},
		{time.Date(2026, 12, 3, 8, 0, 0, 0, loc), [2]string{"tomorrow", "ngày mai"}, "eight a.m. tomorrow", "tám giờ ngày mai"},
		{time.Date(2026, 12, 5, 8, 0, 0, 0, loc), [2]string{"Saturday", "thứ Bảy"}, "eight a.m. Saturday", "tám giờ thứ Bảy"},
		{time.Date(2026, 12, 7, 8, 30, 0, 0, loc), [2]string{"Monday", "thứ Hai"}, "eight thirty a.m. Monday", "tám giờ ba mươi phút thứ Hai"},
		{time.Date(2026, 12, 6, 8, 0, 0, 0, loc), [2]string{"Sunday", "Chủ nhật"}, "eight a.m. Sunday", "tám giờ Chủ nhật"},
	}
	for _, tc := range tests {
		if got := spoken(t, tx, "en", Day("en", tc.at, now)); got != tc.day[0] {
			t.Errorf("en day %v: %q", tc.at, got)
		}
		if got := spoken(t, tx, "vi", Day("vi", tc.at, now)); got != tc.day[1] {
			t.Errorf("vi day %v: %q", tc.at, got)
		}
		if got := spoken(t, tx, "en", DayTime("en", tc.at, now)); got != tc.dayTimeEn {
			t.Errorf("en %v: %q, want %q", tc.at, got, tc.dayTimeEn)
		}
		if got := spoken(t, tx, "vi", DayTime("vi", tc.at, now)); got != tc.dayTimeVi {
			t.Errorf("vi %v: %q, want %q", tc.at, got, tc.dayTimeVi)
		}
	}
	// "Tomorrow" is the calendar day in t's zone, not 24 hours: 01:00 in
	// Hanoi is tomorrow from 22:30 the day before, though only 2.5 h away.
	if got := Day("en", now.Add(150*time.Minute), now.UTC()); got[0] != Tomorrow {
		t.Errorf("across midnight: %v", got)
	}
}

func TestValue(t *testing.T) {
	tx := texts(t)
	loc := time.FixedZone("ICT", 7*3600)
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, loc)
	tests := []struct {
		kind, value, lang, want string
	}{
		{KindNumber, " 25 ", "vi", "hai mươi lăm"},
		{KindDigits, "0912", "en", "zero nine one two"},
		{KindTime, "14:05", "en", "two oh five p.m."},
		{KindTime, "8:00", "vi", "tám giờ"},
		{KindTime, "2026-12-03T01:00:00Z", "vi", "tám giờ"},
		{KindDay, "2026-12-03", "en", "tomorrow"},
		{KindDay, "2026-12-02T20:00:00Z", "vi", "ngày mai"}, // 03:00 on the 3rd in Hanoi
	}
	for _, tc := range tests {
		got, err := Value(tc.lang, tc.kind, tc.value, now, loc)
		if err != nil {
			t.Errorf("%s %q: %v", tc.kind, tc.value, err)
			continue
		}
		if s := spoken(t, tx, tc.lang, got); s != tc.want {
			t.Errorf("%s %q: %q, want %q", tc.kind, tc.value, s, tc.want)
		}
	}
	for _, bad := range [][2]string{{KindNumber, "-3"}, {KindNumber, "x"}, {KindDigits, "abc"}, {KindTime, "24:00"},
		{KindTime, "1:5"}, {KindTime, "+1:05"}, {KindDay, "tomorrow"}, {"colour", "red"}} {
		if _, err := Value("en", bad[0], bad[1], now, loc); !errors.Is(err, ErrValue) {
			t.Errorf("%s %q: %v, want ErrValue", bad[0], bad[1], err)
		}
	}
}

func FuzzValue(f *testing.F) {
	for _, s := range []string{"14:05", "0:00", "25", "0912345678", "2026-12-03", "2026-12-03T01:00:00Z", "-1", "99999999999", "12.50 USD", "200000 VND", "6m", "370"} {
		for _, k := range []string{"date", "money", "duration", "about", "ordinal", "phone"} {
			f.Add(k, s)
		}
		f.Add("number", s)
		f.Add("time", s)
		f.Add("day", s)
		f.Add("digits", s)
	}
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, kind, value string) {
		for _, lang := range append(Languages(), "xx") {
			names, err := Value(lang, kind, value, now, nil)
			if err == nil && len(names) == 0 {
				t.Fatalf("%s %q: no fragments and no error", kind, value)
			}
		}
	})
}
