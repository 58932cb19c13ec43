package sip

import (
	"errors"
	"strings"
	"testing"
)

func TestDialURI(t *testing.T) {
	tests := []struct {
		in, want string
		err      bool
	}{
		{"sip:100@127.0.0.1:5060", "sip:100@127.0.0.1:5060", false},
		{"sip:+84912345678@trunk.example.com", "sip:+84912345678@trunk.example.com", false},
		{"sip:*98#@127.0.0.1", "sip:*98%23@127.0.0.1", false},
		{"sip:alice@127.0.0.1", "", true},
		{"sip:100@127.0.0.1\r\nX-Evil: 1", "", true},
		{"sip:1+1@127.0.0.1", "", true},
		{"sips:100@127.0.0.1", "", true},
		{"tel:100", "", true},
		{"sip:@127.0.0.1", "", true},
		{"", "", true},
	}
	for _, tt := range tests {
		u, err := parseDialURI(tt.in)
		if tt.err {
			if !errors.Is(err, ErrBadURI) {
				t.Errorf("%q: err %v, want ErrBadURI", tt.in, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		if got := u.String(); got != tt.want {
			t.Errorf("%q → %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestClean(t *testing.T) {
	if got := clean("a\r\nb\x00c"); got != "abc" {
		t.Errorf("clean = %q", got)
	}
	if got := cleanLimit(strings.Repeat("x", 1000)); len(got) != maxHeaderValue {
		t.Errorf("cleanLimit length %d", len(got))
	}
}

func FuzzSanitise(f *testing.F) {
	for _, s := range []string{"100", "+8490\r\nVia: x", "*#\x00", "sip:100@127.0.0.1", "sip:a\nb@c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if c := cleanLimit(s); strings.ContainsAny(c, "\r\n\x00") || len(c) > maxHeaderValue {
			t.Fatalf("cleanLimit(%q) = %q", s, c)
		}
		if u, err := dialUser(s); err == nil && strings.Trim(u, "0123456789+*%23") != "" {
			t.Fatalf("dialUser(%q) = %q", s, u)
		}
		if u, err := parseDialURI(s); err == nil {
			if strings.ContainsAny(u.String(), "\r\n\x00 ") {
				t.Fatalf("parseDialURI(%q) = %q", s, u.String())
			}
		}
	})
}
