package ivr

import (
	"strings"
	"testing"

	"github.com/hotline-dev/hotline/config"
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

// FuzzCalendar: hours and holidays come from the configuration file.
func FuzzCalendar(f *testing.F) {
	f.Add("mon", "08:00-12:00", "2026-12-25")
	f.Add("saturday", "00:00-24:00", "")
	f.Add("x", "25:99-1:00", "2026-02-30")
	f.Fuzz(func(t *testing.T, day, hours, holiday string) {
		cal, err := parseCalendar(config.Calendar{TimeZone: "Asia/Ho_Chi_Minh",
			Hours: map[string][]string{day: {hours}}, Holidays: []string{holiday}})
		if err != nil {
			return
		}
		_ = cal.open(monday10)
		for _, sps := range cal.hours {
			for _, sp := range sps {
				if sp.from < 0 || sp.to > 24*60 || sp.from >= sp.to {
					t.Fatalf("accepted span %+v from %q", sp, hours)
				}
			}
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
