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

func TestContactURI(t *testing.T) {
	tests := []struct {
		in, want string // want "" = rejected with ErrBadURI
	}{
		{"sip:lan-0x5586d4800230@127.0.0.1:41905;transport=udp", "sip:lan-0x5586d4800230@127.0.0.1:41905;transport=udp"},
		{"sip:1001@192.0.2.7:5060", "sip:1001@192.0.2.7:5060"},
		{"sip:alice.o'neil_(x)~!*@pbx.example.com", "sip:alice.o'neil_(x)~!*@pbx.example.com"},
		{"sip:a&b=c+d$e,f;g/h@h.example", "sip:a&b=c+d$e,f;g/h@h.example"},
		{"sip:%2A98%23@127.0.0.1", "sip:%2A98%23@127.0.0.1"},
		{"sip:127.0.0.1:5062", "sip:127.0.0.1:5062"},
		{"sip:u@[::1]:5060;transport=tcp;lr", "sip:u@[::1]:5060;transport=tcp;lr"},
		{"  sip:u@h  ", "sip:u@h"},
		{"sip:u@h?X-Evil=1", ""},          // URI headers would add headers
		{"sip:u@h;x=1?Route=<sip:x>", ""}, // '<' and '?'
		{"sip:u@h\r\nX-Evil: 1", ""},
		{"sip:u\r@h", ""},
		{"sip:u@h\x00", ""},
		{"sip:u ser@h", ""},
		{"sip:\"u\"@h", ""},
		{"<sip:u@h>", ""},
		{"sip:u%0d%0aVia:x@h", ""}, // escapes decoding to CR LF
		{"sip:u%20@h", ""},
		{"sip:u%3C@h", ""},
		{"sip:u%2@h", ""},
		{"sip:u%zz@h", ""},
		{"sip:u#1@h", ""},
		{"sips:u@h", ""},
		{"tel:+8490", ""},
		{"sip:u@", ""},
		{"sip:u@h_x", ""},
		{"sip:u@[zz]", ""},
		{"", ""},
		{"sip:" + strings.Repeat("a", 600) + "@h", ""},
	}
	for _, tt := range tests {
		u, err := parseContactURI(tt.in)
		if tt.want == "" {
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

// FuzzContactURI: whatever parseContactURI accepts renders to a URI with no
// character that could break out of a Request-URI or header, no URI headers,
// and parses back to the same URI.
func FuzzContactURI(f *testing.F) {
	for _, s := range []string{"sip:lan-0x5586d4800230@127.0.0.1:41905;transport=udp", "sip:u@h?X=1",
		"sip:u%0d@h", "sip:a;b=c@h", "sip:u@[::1]:5060;lr", "sip:%41@h", "sip:h:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := parseContactURI(s)
		if err != nil {
			if !errors.Is(err, ErrBadURI) {
				t.Fatalf("parseContactURI(%q): %v is not ErrBadURI", s, err)
			}
			return
		}
		out := u.String()
		if strings.ContainsAny(out, "\r\n\x00 <>\"?") || len(u.Headers) > 0 {
			t.Fatalf("parseContactURI(%q) = %q", s, out)
		}
		if u2, err := parseContactURI(out); err != nil || u2.String() != out {
			t.Fatalf("round trip %q → %q: %v", out, u2.String(), err)
		}
	})
}
