package ivr

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/store"
)

const eventsFlow = `
flow: ev
version: v7
languages: [en]
nodes:
  s: {type: set, vars: {src: ivr}, next: m}
  m:
    type: menu
    prompts: [menu]
    options: {"0": q}
    exhausted: q
  q: {type: enqueue, queue: operator}
`

// TestEventStream checks the events a call publishes, in order, with the
// data the wallboard, metrics and tests read.
func TestEventStream(t *testing.T) {
	runCase(t, engineCase{flow: eventsFlow, presses: []press{{500 * time.Millisecond, '0'}},
		wantPath: "s m[0] q", wantOutcome: store.OutcomeCompleted, wantReason: ReasonHandoff,
		check: func(t *testing.T, _ Result, evs []events.Event) {
			var got []string
			for _, e := range evs {
				var s string
				switch e.Type {
				case events.NodeEntered:
					s = fmt.Sprintf("node %v %v %v %v", e.Data["node"], e.Data["type"], e.Data["flow"], e.Data["version"])
				case events.VarSet:
					s = fmt.Sprintf("var %v=%v", e.Data["name"], e.Data["value"])
				case events.PromptPlayed:
					s = fmt.Sprintf("prompt %v %v interrupted=%v %vms", e.Data["prompt"], e.Data["lang"], e.Data["interrupted"], e.Data["duration_ms"])
				case events.DigitPressed:
					s = fmt.Sprintf("digit %v %v", e.Data["digit"], e.Data["source"])
				case events.FlowHandoff:
					s = fmt.Sprintf("handoff %v %v", e.Data["kind"], e.Data["target"])
				default:
					s = e.Type
				}
				got = append(got, s)
			}
			want := strings.Join([]string{
				"node s set ev v7", "var src=ivr", "node m menu ev v7", "digit 0 rfc4733",
				"prompt menu en interrupted=true 500ms", "node q enqueue ev v7", "handoff enqueue operator",
			}, "\n")
			if strings.Join(got, "\n") != want {
				t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), want)
			}
		}})
}
