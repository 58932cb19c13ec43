package ivr

import (
	"strings"
	"testing"

	"github.com/hotline-dev/hotline/flows"
)

// FuzzExtract: a lookup answer is untrusted input; any bytes and any path
// give values or ErrLookup, never a panic.
func FuzzExtract(f *testing.F) {
	f.Add([]byte(`{"status":"shipped","delivery":{"eta":"2026-11-25"},"items":[{"sku":"A1"}]}`), "items.0.sku")
	f.Add([]byte(`[1,2,{"a":null}]`), "2.a")
	f.Add([]byte(`{"a":{"b":[true,1e400]}}`), "a.b.1")
	f.Add([]byte(`"x"`), "a")
	f.Add([]byte(``), "")
	f.Fuzz(func(t *testing.T, data []byte, path string) {
		vals, err := extract(data, []flows.Assignment{{Name: "v", Value: path}})
		if err == nil && vals == nil {
			t.Fatal("no values and no error")
		}
	})
}

// FuzzEscape: every escaped value is URL-safe (no /, ?, #, &, =, space or +).
func FuzzEscape(f *testing.F) {
	f.Add("12/3 4?x=&y#")
	f.Add("Đà Nẵng")
	f.Fuzz(func(t *testing.T, s string) {
		e := escapeAll(s)
		if strings.ContainsAny(e, "/?#&= +") {
			t.Fatalf("escapeAll(%q) = %q", s, e)
		}
	})
}
