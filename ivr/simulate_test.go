package ivr

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/hotline-dev/hotline/store"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestSimulate(t *testing.T) {
	defer goleak.VerifyNone(t)
	tests := []struct {
		name     string
		flow     string
		opts     SimOptions
		wantPath string
		wantOut  []string
	}{
		{name: "extra keys of an event are dropped, not type-ahead", flow: menuFlow,
			opts:     SimOptions{Inputs: []string{"77", "1"}},
			wantPath: "main[7 1] one", wantOut: []string{"keys not read: 7", "play en/invalid"}},
		{name: "timeout keyword", flow: menuFlow, opts: SimOptions{Inputs: []string{"timeout", " 2 "}},
			wantPath: "main[2] two", wantOut: []string{"input #1: (silence), times out", "input #2: 2"}},
		{name: "multi-digit event", flow: multiFlow, opts: SimOptions{Inputs: []string{"10"}}, wantPath: "main[10] ten"},
		{name: "short option when the event ends", flow: multiFlow, opts: SimOptions{Inputs: []string{"1", "0"}},
			wantPath: "main[1] one", wantOut: []string{"unused input: 0"}},
		{name: "runaway loop stops", flow: "flow: t\nlanguages: [en]\nnodes:\n  a: {type: goto, next: a}\n",
			opts: SimOptions{MaxSteps: 3}, wantPath: "a a a", wantOut: []string{"outcome:  failed (max-steps)"}},
		{name: "voicemail passes through, said so", flow: voicemailFlow, opts: SimOptions{Prompts: lib{}}, wantPath: "vm bye",
			wantOut: []string{"voicemail: greeting, beep, record until # or 2s of silence (at most 20s); not recorded in a simulation"}},
		{name: "tts text is printed, not its fallback", flow: "flow: t\nlanguages: [vi]\nnodes:\n  s: {type: set, vars: {m: \"Đơn hàng đã giao\"}, next: p}\n" +
			"  p: {type: play, prompts: [{tts: m, fallback: sorry}], next: b}\n  b: {type: hangup}\n",
			wantPath: "s p b", wantOut: []string{"    tts (vi): Đơn hàng đã giao  (else vi/sorry)\n> b (hangup)"}},
		{name: "missing prompt is shown", flow: "flow: t\nlanguages: [en]\nnodes:\n  p: {type: play, prompts: [none-such], next: b}\n  b: {type: hangup}\n",
			opts: SimOptions{Prompts: lib{}}, wantPath: "p b", wantOut: []string{"play en/none-such  MISSING"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			tt.opts.At = monday10
			res, err := Simulate(t.Context(), mustFlow(t, tt.flow), tt.opts, &out)
			if err != nil {
				t.Fatal(err)
			}
			if got := pathString(res); got != tt.wantPath {
				t.Errorf("path %q, want %q\n%s", got, tt.wantPath, out.String())
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}

func TestSimulateClockMovesWithPrompts(t *testing.T) {
	var out bytes.Buffer
	res, err := Simulate(t.Context(), mustFlow(t, menuFlow), SimOptions{Prompts: lib{}, At: monday10, Inputs: []string{"1"}}, &out)
	if err != nil {
		t.Fatal(err)
	}
	// menu (1 s) then bye (1 s): the virtual clock moved 2 s, the wall clock did not wait.
	if d := res.EndedAt.Sub(res.StartedAt); d != 2*time.Second || res.Outcome != store.OutcomeCompleted {
		t.Errorf("virtual duration %v, outcome %s", d, res.Outcome)
	}
}

func TestRunWithoutFlow(t *testing.T) {
	e, _ := NewEngine(Config{})
	if r := e.Run(t.Context(), newFakeCall("1"), nil); r.Outcome != store.OutcomeFailed || r.Err == nil {
		t.Errorf("result %+v", r)
	}
}

// TestSimulateCallbackGolden: what `hotline flows simulate` prints for the
// callback dialogue, with the prompt list's words for what say makes of
// the values; compared with testdata/simulate-callback-<lang>.golden
// (go test -update rewrites them).
func TestSimulateCallbackGolden(t *testing.T) {
	f, err := os.Open("../prompts/prompts.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	texts, err := PromptTexts(f)
	if err != nil {
		t.Fatal(err)
	}
	flow := mustFlow(t, `
flow: t
languages: [en, vi]
nodes:
  cb: {type: callback, queue: operator, next: bye}
  bye: {type: hangup, prompts: [goodbye]}
`)
	for _, tt := range []struct {
		lang   string
		inputs []string
	}{{"en", []string{"1"}}, {"vi", []string{"2", "0912345678#", "1"}}} {
		t.Run(tt.lang, func(t *testing.T) {
			var out bytes.Buffer
			res, err := Simulate(t.Context(), flow, SimOptions{Inputs: tt.inputs, Language: tt.lang, Caller: "+84912345014",
				At: monday10, Texts: texts}, &out)
			if err != nil {
				t.Fatal(err)
			}
			if res.Outcome != store.OutcomeCallbackRequested || res.CallbackID != 1 {
				t.Errorf("result %+v", res)
			}
			path := filepath.Join("testdata", "simulate-callback-"+tt.lang+".golden")
			if *update {
				if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (go test -update)", err)
			}
			if out.String() != string(want) {
				t.Errorf("simulate output differs from %s:\n--- got\n%s--- want\n%s", path, out.String(), want)
			}
		})
	}
}
