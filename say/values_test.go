package say

import (
	"errors"
	"testing"
	"time"
)

func TestMoney(t *testing.T) {
	tx := texts(t)
	tests := []struct {
		value  string
		en, vi string
	}{
		{"200000 VND", "two hundred thousand dong", "hai trăm nghìn đồng"},
		{"VND 1.500.000", "one million five hundred thousand dong", "một triệu năm trăm nghìn đồng"},
		{"25000 vnd", "twenty five thousand dong", "hai mươi lăm nghìn đồng"},
		{"12.50 USD", "twelve dollars and fifty cents", "mười hai đô la năm mươi xu"},
		{"USD 1", "one dollar", "một đô la"},
		{"0.01 USD", "one cent", "một xu"},
		{"0 USD", "zero dollars", "không đô la"},
		{"1,021.05 USD", "one thousand and twenty one dollars and five cents", "một nghìn không trăm hai mươi mốt đô la năm xu"},
		{"3.5 EUR", "three euros and fifty cents", "ba ơ rô năm mươi xu"},
		{"12.50 THB", "twelve baht and fifty satang", "mười hai bạt năm mươi xa tăng"},
	}
	for _, tc := range tests {
		for lang, want := range map[string]string{"en": tc.en, "vi": tc.vi} {
			names, err := Value(lang, KindMoney, tc.value, time.Time{}, nil)
			if err != nil {
				t.Fatalf("%s %q: %v", lang, tc.value, err)
			}
			if got := spoken(t, tx, lang, names); got != want {
				t.Errorf("%s money %q = %q, want %q", lang, tc.value, got, want)
			}
		}
	}
	for _, bad := range []string{"", "12", "12 XYZ", "12.505 USD", "12. USD", "1.5 VND x", "-3 USD", "1e5 USD", "99999999999999999999 VND"} {
		if _, err := Value("en", KindMoney, bad, time.Time{}, nil); !errors.Is(err, ErrValue) {
			t.Errorf("money %q: %v, want ErrValue", bad, err)
		}
	}
}

func TestDurationAndAbout(t *testing.T) {
	tx := texts(t)
	tests := []struct {
		kind, value string
		en, vi      string
	}{
		{KindAbout, "6m", "about six minutes", "khoảng sáu phút"},
		{KindAbout, "370", "about six minutes", "khoảng sáu phút"},
		{KindAbout, "10s", "about one minute", "khoảng một phút"},
		{KindAbout, "1h10m20s", "about one hour and ten minutes", "khoảng một giờ mười phút"},
		{KindAbout, "2h", "about two hours", "khoảng hai giờ"},
		{KindDuration, "90", "one minute and thirty seconds", "một phút ba mươi giây"},
		{KindDuration, "1h1m1s", "one hour one minute and one second", "một giờ một phút một giây"},
		{KindDuration, "0s", "zero seconds", "không giây"},
		{KindDuration, "25m", "twenty five minutes", "hai mươi lăm phút"},
	}
	for _, tc := range tests {
		for lang, want := range map[string]string{"en": tc.en, "vi": tc.vi} {
			names, err := Value(lang, tc.kind, tc.value, time.Time{}, nil)
			if err != nil {
				t.Fatalf("%s %q: %v", lang, tc.value, err)
			}
			if got := spoken(t, tx, lang, names); got != want {
				t.Errorf("%s %s %q = %q, want %q", lang, tc.kind, tc.value, got, want)
			}
		}
	}
	for _, bad := range []string{"", "-5", "-1m", "soon", "99999999999"} {
		if _, err := Value("en", KindDuration, bad, time.Time{}, nil); !errors.Is(err, ErrValue) {
			t.Errorf("duration %q: %v, want ErrValue", bad, err)
		}
	}
}

func TestOrdinal(t *testing.T) {
	tx := texts(t)
	tests := []struct {
		n      int
		en, vi string
	}{
		{1, "first", "thứ nhất"},
		{2, "second", "thứ hai"},
		{4, "fourth", "thứ tư"},
		{14, "fourteenth", "thứ mười bốn"},
		{20, "twentieth", "thứ hai mươi"},
		{21, "twenty first", "thứ hai mươi mốt"},
		{25, "twenty fifth", "thứ hai mươi lăm"},
		{100, "one hundredth", "thứ một trăm"},
		{105, "one hundred and fifth", "thứ một trăm linh năm"},
		{2000, "two thousandth", "thứ hai nghìn"},
		{3000000, "three millionth", "thứ ba triệu"},
	}
	for _, tc := range tests {
		for lang, want := range map[string]string{"en": tc.en, "vi": tc.vi} {
			if got := spoken(t, tx, lang, Ordinal(lang, tc.n)); got != want {
				t.Errorf("%s ordinal %d = %q, want %q", lang, tc.n, got, want)
			}
		}
	}
	if Ordinal("en", 0) != nil {
		t.Error("ordinal 0 is not nil")
	}
}

func TestDate(t *testing.T) {
	tx := texts(t)
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		value  string
		en, vi string
	}{
		{"2026-12-03", "December third", "ngày ba tháng mười hai"},
		{"2026-04-21", "April twenty first", "ngày hai mươi mốt tháng tư"},
		{"2026-01-15T09:00:00Z", "January fifteenth", "ngày mười lăm tháng một"},
		{"2027-03-01", "March first two thousand and twenty seven", "ngày một tháng ba năm hai nghìn không trăm hai mươi bảy"},
	}
	for _, tc := range tests {
		for lang, want := range map[string]string{"en": tc.en, "vi": tc.vi} {
			names, err := Value(lang, KindDate, tc.value, now, nil)
			if err != nil {
				t.Fatalf("%s %q: %v", lang, tc.value, err)
			}
			if got := spoken(t, tx, lang, names); got != want {
				t.Errorf("%s date %q = %q, want %q", lang, tc.value, got, want)
			}
		}
	}
}

func TestPhone(t *testing.T) {
	tx := texts(t)
	tests := []struct {
		value  string
		en, vi string
	}{
		{"0912345678", "zero nine one two @silence three four five @silence six seven eight", "không chín một hai @silence ba bốn năm @silence sáu bảy tám"},
		{"028 3822 1234", "zero two eight @silence three eight two two @silence one two three four", "không hai tám @silence ba tám hai hai @silence một hai ba bốn"},
		{"+84-28-1234", "eight four @silence two eight @silence one two three four", "tám bốn @silence hai tám @silence một hai ba bốn"},
		{"1900", "one nine zero zero", "một chín không không"},
	}
	for _, tc := range tests {
		for lang, want := range map[string]string{"en": tc.en, "vi": tc.vi} {
			if got := spoken(t, tx, lang, Phone(lang, tc.value)); got != want {
				t.Errorf("%s phone %q = %q, want %q", lang, tc.value, got, want)
			}
		}
	}
}

func FuzzParseMoney(f *testing.F) {
	for _, s := range []string{"200000 VND", "12.50 USD", "USD 1", "1,021.05 USD", "VND 1.500.000", "12.505 USD", "1e5 USD", "", " . USD"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, cur, err := ParseMoney(s)
		if err != nil {
			if !errors.Is(err, ErrValue) {
				t.Fatalf("%q: %v does not wrap ErrValue", s, err)
			}
			return
		}
		if n < 0 || n > maxMinor {
			t.Fatalf("%q: amount %d out of range", s, n)
		}
		for _, lang := range Languages() {
			if len(Money(lang, n, cur)) == 0 {
				t.Fatalf("%q: nothing said", s)
			}
		}
	})
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"6m", "370", "1h10m20s", "-5", "0s", "99999999999", "1.5h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err != nil {
			if !errors.Is(err, ErrValue) {
				t.Fatalf("%q: %v does not wrap ErrValue", s, err)
			}
			return
		}
		if d < 0 {
			t.Fatalf("%q: negative %v", s, d)
		}
		for _, lang := range Languages() {
			if len(Duration(lang, d)) == 0 || len(About(lang, d)) == 0 {
				t.Fatalf("%q: nothing said", s)
			}
		}
	})
}
