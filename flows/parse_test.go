package flows

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseTable(t *testing.T) {
	tests := []struct {
		name, src string
		want      string // substring of the first problem; "" = no problems
		line      int
	}{
		{"minimal", "flow: a\nlanguages: [en]\nnodes:\n  bye: {type: hangup}\n", "", 0},
		{"single language string", "flow: a\nlanguage: vi\nnodes:\n  bye: {type: hangup}\n", "", 0},
		{"prompts as one name", "flow: a\nlanguages: [en]\nnodes:\n  p: {type: play, prompts: hi, next: bye}\n  bye: {type: hangup}\n", "", 0},
		{"vietnamese node names", "flow: a\nlanguages: [vi]\nnodes:\n  chào:\n    type: play\n    prompts: [xin-chào]\n    next: tạm-biệt\n  tạm-biệt: {type: hangup}\n", "", 0},
		{"null node", "flow: a\nlanguages: [en]\nnodes:\n  bye:\n", "want a mapping, got nothing", 4},
		{"tab indentation", "flow: a\n\tnodes: x\n", "YAML:", 0},
		{"bad option target type", "flow: a\nlanguages: [en]\nnodes:\n  m:\n    type: menu\n    prompts: [x]\n    options: {\"1\": [a]}\n    exhausted: m\n", `option "1": want a value, got a list`, 7},
		{"deep alias chain", "a: &a [1]\nb: &b [*a, *a]\nc: &c [*b, *b]\nflow: x\n", "nodes: required", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ps := Parse("t.yaml", []byte(tt.src))
			Sort(ps)
			if tt.want == "" {
				if len(ps) != 0 {
					t.Fatalf("problems: %v", ps)
				}
				return
			}
			if len(ps) == 0 || !strings.Contains(ps[0].Message, tt.want) {
				t.Fatalf("problems %v; want first to contain %q", ps, tt.want)
			}
			if tt.line != 0 && ps[0].Line != tt.line {
				t.Errorf("line = %d, want %d (%v)", ps[0].Line, tt.line, ps[0])
			}
		})
	}
}

func TestProblemString(t *testing.T) {
	tests := []struct {
		p    Problem
		want string
	}{
		{Problem{File: "flows/x.yaml", Line: 12, Node: "main", Message: `option "3" goes to unknown node "sales"`}, `flows/x.yaml:12: node "main": option "3" goes to unknown node "sales"`},
		{Problem{File: "flows/x.yaml", Line: 3, Severity: Warning, Message: "m"}, "flows/x.yaml:3: warning: m"},
		{Problem{File: "flows", Message: "m"}, "flows: m"},
	}
	for _, tt := range tests {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("got %q want %q", got, tt.want)
		}
	}
}

func TestExpand(t *testing.T) {
	vars := map[string]string{"a": "x y", "b": "2"}
	look := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	got, missing := Expand("s-{a}-{b}-{c}", look, nil)
	if got != "s-x y-2-" || len(missing) != 1 || missing[0] != "c" {
		t.Errorf("Expand = %q %v", got, missing)
	}
	got, _ = Expand("{a}", look, strings.ToUpper)
	if got != "X Y" {
		t.Errorf("escaped: %q", got)
	}
}

// FuzzParse: any bytes give a flow or problems, never a panic, and a flow
// without problems survives Check and LoadDir-style indexing.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/check/*.yaml")
	seeds = append(seeds, "../etc/flows/support.yaml") // the shipped flow
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("flow: a\nnodes: {a: {type: goto, next: a}}\n"))
	f.Add([]byte("{flow: [}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fl, ps := Parse("fuzz.yaml", data)
		for _, p := range ps {
			if p.Message == "" || p.File != "fuzz.yaml" {
				t.Fatalf("bad problem %#v", p)
			}
		}
		if fl == nil {
			if !HasErrors(ps) {
				t.Fatal("nil flow without an error")
			}
			return
		}
		_ = Check(NewSet(fl, fl), testEnv())
	})
}
