package sqlite

import (
	"strings"
	"testing"
)

func TestPositional(t *testing.T) {
	for in, want := range map[string]string{
		"SELECT 1": "SELECT 1",
		"INSERT INTO t VALUES ($1, $2), ($3, $4)":   "INSERT INTO t VALUES (?, ?), (?, ?)",
		"VALUES ($1, $2, $3, $4, $4)":               "VALUES ($1, $2, $3, $4, $4)",
		"WHERE a = $2 AND b = $1":                   "WHERE a = $2 AND b = $1",
		"WHERE a = '$1' AND b = $1":                 "WHERE a = '$1' AND b = ?",
		"WHERE kind IN ('phone') AND value IN ($1)": "WHERE kind IN ('phone') AND value IN (?)",
		"x $": "x $",
		"$10": "$10",
	} {
		if got := positional(in); got != want {
			t.Errorf("positional(%q) = %q; want %q", in, got, want)
		}
	}
}

func FuzzPositional(f *testing.F) {
	f.Add("VALUES ($1, $2)")
	f.Add("'$1' $1 $2 $2")
	f.Add("$99999999999999999999")
	f.Fuzz(func(t *testing.T, q string) {
		got := positional(q)
		if got != q && strings.Count(got, "?")-strings.Count(q, "?") <= 0 {
			t.Fatalf("rewrote %q to %q without adding placeholders", q, got)
		}
	})
}
