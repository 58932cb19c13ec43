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
				switch d := e.Payload.(type) {
				case NodeEnter:
					s = fmt.Sprintf("node %v %v %v %v", d.Node, d.Type, d.Flow, d.Version)
				case VarSet:
					s = fmt.Sprintf("var %v=%v", d.Name, d.Value)
				case PromptPlay:
					s = fmt.Sprintf("prompt %v %v interrupted=%v %vms", d.Prompt, d.Lang, d.Interrupted, d.DurationMS)
				case DigitPress:
					s = fmt.Sprintf("digit %v %v", d.Digit, d.Source)
				case FlowHandoff:
					s = fmt.Sprintf("handoff %v %v", d.Kind, d.Target)
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
