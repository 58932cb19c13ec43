package phone

import (
	"bufio"
	"os"
	"strings"
	"testing"
)

// TestGolden reads testdata/numbers.txt: "raw | country | want".
func TestGolden(t *testing.T) {
	f, err := os.Open("testdata/numbers.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if strings.HasPrefix(text, "#") || strings.TrimSpace(text) == "" {
			continue
		}
		parts := strings.Split(text, "|")
		if len(parts) != 3 {
			t.Fatalf("numbers.txt:%d: want 3 fields", line)
		}
		raw, country, want := strings.TrimSpace(parts[0]), strings.TrimSpace(parts[1]), strings.TrimSpace(parts[2])
		got, err := Normalize(raw, country)
		if want == "error" {
			if err == nil {
				t.Errorf("numbers.txt:%d: Normalize(%q, %s) = %q; want an error", line, raw, country, got)
			}
		} else if err != nil || got != want {
			t.Errorf("numbers.txt:%d: Normalize(%q, %s) = %q, %v; want %s", line, raw, country, got, err, want)
		}
		n++
	}
	if n < 10 {
		t.Fatalf("only %d cases read", n)
	}
}
