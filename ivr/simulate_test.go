package ivr

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/hotline-dev/hotline/store"
)

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
