package ivr

import (
	"testing"
	"time"

	"github.com/hotline-dev/hotline/store"
)

const gatherFlow = `
flow: t
languages: [en]
nodes:
  g:
    type: gather
    prompts: [enter]
    var: order
    min_digits: 3
    max_digits: 6
    pattern: "^[1-9]"
    timeout: 5s
    inter_digit_timeout: 2s
    retries: 1
    invalid_prompts: [invalid]
    next: ok
    exhausted: tired
  ok: {type: play, prompts: [{digits: order}], next: bye}
  bye: {type: hangup}
  tired: {type: hangup}
`

func withGather(field string) string {
	return replaceOnce(gatherFlow, "    next: ok\n", "    next: ok\n    "+field+"\n")
}

func TestGather(t *testing.T) {
	done := store.OutcomeCompleted
	tests := []engineCase{
		{name: "terminator ends", flow: gatherFlow, presses: keys(1500*time.Millisecond, 300*time.Millisecond, "1234#"),
			wantPath: "g[1234#] ok bye", wantOutcome: done, wantVars: map[string]string{"order": "1234"},
			wantPlayed: "en/enter en/digit-1 en/digit-2 en/digit-3 en/digit-4"},
		{name: "max digits ends", flow: gatherFlow, presses: keys(1500*time.Millisecond, 300*time.Millisecond, "123456"),
			wantPath: "g[123456] ok bye", wantOutcome: done, wantVars: map[string]string{"order": "123456"}},
		{name: "terminator after max digits is dropped, not a barge-in", flow: gatherFlow,
			presses:  keys(1500*time.Millisecond, 300*time.Millisecond, "123456#"),
			wantPath: "g[123456] ok bye", wantOutcome: done,
			wantPlayed: "en/enter en/digit-1 en/digit-2 en/digit-3 en/digit-4 en/digit-5 en/digit-6"},
		{name: "inter-digit timeout ends", flow: gatherFlow, presses: keys(1500*time.Millisecond, 300*time.Millisecond, "4567"),
			wantPath: "g[4567] ok bye", wantOutcome: done, wantVars: map[string]string{"order": "4567"}},
		{name: "too short then good", flow: gatherFlow,
			presses:  append(keys(1500*time.Millisecond, 300*time.Millisecond, "12#"), keys(6*time.Second, 300*time.Millisecond, "999#")...),
			wantPath: "g[12# 999#] ok bye", wantOutcome: done, wantVars: map[string]string{"order": "999"},
			wantPlayed: "en/enter en/invalid en/enter en/digit-9 en/digit-9 en/digit-9"},
		{name: "pattern refuses twice: exhausted", flow: gatherFlow,
			presses:  append(keys(1500*time.Millisecond, 300*time.Millisecond, "0123#"), keys(6*time.Second, 300*time.Millisecond, "0999#")...),
			wantPath: "g[0123# 0999#] tired", wantOutcome: done},
		{name: "silence twice: exhausted", flow: gatherFlow, wantPath: "g tired", wantOutcome: done},
		{name: "confirm yes", flow: withGather("confirm: true"),
			presses:  append(keys(1500*time.Millisecond, 300*time.Millisecond, "123#"), press{8 * time.Second, '1'}),
			wantPath: "g[123# 1] ok bye", wantOutcome: done, wantVars: map[string]string{"order": "123"},
			wantPlayed: "en/enter en/you-entered en/digit-1 en/digit-2 en/digit-3 en/confirm-or-retry en/digit-1 en/digit-2 en/digit-3"},
		{name: "confirm retry then yes", flow: withGather("confirm: true"),
			presses: append(append(append(keys(1500*time.Millisecond, 300*time.Millisecond, "123#"), press{8 * time.Second, '2'}),
				keys(10*time.Second, 300*time.Millisecond, "456#")...), press{17 * time.Second, '1'}),
			wantPath: "g[123# 2 456# 1] ok bye", wantOutcome: done, wantVars: map[string]string{"order": "456"}},
		{name: "confirm barge-in", flow: withGather("confirm: true"),
			presses:  append(keys(1500*time.Millisecond, 300*time.Millisecond, "123#"), press{3500 * time.Millisecond, '1'}),
			wantPath: "g[123# 1] ok bye", wantOutcome: done, wantVars: map[string]string{"order": "123"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { runCase(t, tc) })
	}
}
