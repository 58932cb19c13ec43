package phone

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	cases := []struct{ raw, country, want string }{
		{"0912 345 678", "VN", "+84912345678"},
		{"0912345678", "vn", "+84912345678"},
		{"+84 912 345 678", "VN", "+84912345678"},
		{"+84912345678", "US", "+84912345678"},
		{"0084912345678", "VN", "+84912345678"},
		{"tel:+84-912-345-678", "VN", "+84912345678"},
		{"(028) 3822 1234", "VN", "+842838221234"},
		{"02 123 4567", "TH", "+6621234567"},
		{"081 234 5678", "TH", "+66812345678"},
		{"(415) 555-2671", "US", "+14155552671"},
	}
	for _, c := range cases {
		got, err := Normalize(c.raw, c.country)
		if err != nil || got != c.want {
			t.Errorf("Normalize(%q, %q) = %q, %v; want %q", c.raw, c.country, got, err, c.want)
		}
	}
}

func TestNormalizeRejects(t *testing.T) {
	for _, raw := range []string{"", "   ", "anonymous", "12", "+", "abc123", strings.Repeat("9", 100), "+999999999999999999"} {
		got, err := Normalize(raw, "VN")
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("Normalize(%q) = %q, %v; want ErrInvalid", raw, got, err)
		}
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"0912 345 678", "+84912345678", "anonymous", "tel:+1-415-555-2671", "00", "+", "*#0", "\x00+84", "0", "+84 (0) 912"} {
		f.Add(s, "VN")
	}
	f.Add("020 7946 0018", "GB")
	f.Add("12345", "")
	f.Add("12345", "ZZ")
	f.Fuzz(func(t *testing.T, raw, country string) {
		got, err := Normalize(raw, country)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if got == "" || got[0] != '+' {
			t.Fatalf("Normalize(%q) = %q: not E.164", raw, got)
		}
		for _, r := range got[1:] {
			if r < '0' || r > '9' {
				t.Fatalf("Normalize(%q) = %q: non-digit", raw, got)
			}
		}
		// Normalising is idempotent.
		again, err := Normalize(got, country)
		if err != nil || again != got {
			t.Fatalf("Normalize(%q) = %q, %v; want it unchanged", got, again, err)
		}
	})
}
