package ivr

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestSimulateSayGolden: a lookup returns a delivery date and an amount;
// the say node and the {say} entries print the prompt list's words for
// them in each language (testdata/simulate-say-<lang>.golden; go test
// -update rewrites them).
func TestSimulateSayGolden(t *testing.T) {
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
  look:
    type: http
    lookup: order
    assign: {when: delivery, amount: amount, n: items, wait: wait}
    next: when
    on_failure: bye
  when:
    type: say
    prompts: [goodbye]
    say: when
    as: date
    next: total
  total:
    type: play
    prompts: [{say: amount, as: money}, {say: n}, {say: n, as: ordinal}, {say: wait, as: about}, {say: amount, as: date}]
    next: bye
  bye: {type: hangup}
`)
	answer := []byte(`{"delivery": "2026-12-09", "amount": "200000 VND", "items": 21, "wait": "370"}`)
	for _, lang := range []string{"en", "vi"} {
		t.Run(lang, func(t *testing.T) {
			var out bytes.Buffer
			_, err := Simulate(t.Context(), flow, SimOptions{Language: lang, At: monday10, Texts: texts,
				Answers: map[string][]byte{"order": answer}}, &out)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", "simulate-say-"+lang+".golden")
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
