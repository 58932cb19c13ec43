package testcall

import (
	"strings"
	"testing"
	"time"
)

func TestParseSchedule(t *testing.T) {
	tests := []struct {
		in   string
		want []Step
		err  string
	}{
		{"", nil, ""},
		{"1@3s,2@6s", []Step{{'1', 3 * time.Second}, {'2', 6 * time.Second}}, ""},
		{" #@1.5s , *@500ms,A@0s", []Step{{'A', 0}, {'*', 500 * time.Millisecond}, {'#', 1500 * time.Millisecond}}, ""},
		{"1@3s,x@3s", nil, `digits: item 2 "x@3s": key must be 0-9, *, #, A-D`},
		{"1", nil, `digits: item 1 "1": want key@offset`},
		{"12#@1s", []Step{{'1', time.Second}, {'2', time.Second + KeyGap}, {'#', time.Second + 2*KeyGap}}, ""},
		{"1@1s,92@1.1s", []Step{{'1', time.Second}, {'9', 1100 * time.Millisecond}, {'2', 1100*time.Millisecond + KeyGap}}, ""},
		{"1x@1s", nil, `item 1 "1x@1s": key must be`},
		{"@1s", nil, `item 1 "@1s": want 1 to 32 keys`},
		{"1@soon", nil, `item 1 "1@soon": offset must be a duration`},
		{"1@-1s", nil, "offset must be between 0 and 1h"},
		{"1@2h", nil, "offset must be between 0 and 1h"},
		{"1@1s,,2@2s", nil, `item 2 "": want key@offset`},
		{"e@1s", nil, "key must be"},
	}
	for _, tt := range tests {
		got, err := ParseSchedule(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: err %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		if len(got) != len(tt.want) {
			t.Fatalf("%q: got %v, want %v", tt.in, got, tt.want)
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("%q[%d] = %v, want %v", tt.in, i, got[i], tt.want[i])
			}
		}
	}
}

func FuzzParseSchedule(f *testing.F) {
	for _, s := range []string{"1@3s,2@6s", "123456#@2s", "#@1.5s,*@0s", "x@3s", "1@", "@", ",,,", "D@59m59s", "1@1e3h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		steps, err := ParseSchedule(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "digits: ") {
				t.Fatalf("error without prefix: %v", err)
			}
			return
		}
		for i, st := range steps {
			if !validKey(st.Key) || st.At < 0 || st.At > maxOffset {
				t.Fatalf("bad step %v", st)
			}
			if i > 0 && steps[i-1].At > st.At {
				t.Fatalf("not ordered: %v", steps)
			}
		}
	})
}
