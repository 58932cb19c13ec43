package ivr

import (
	"encoding/json"
	"time"
)

// Payloads of the events a flow run publishes (events.Event.Payload).
// Fields are in the order of their JSON keys, so the bytes on the event
// stream are what the maps they replace gave (api's golden test pins them).

// NodeEnter is the payload of events.NodeEntered.
type NodeEnter struct {
	Flow    string `json:"flow"`
	Node    string `json:"node"`
	Type    string `json:"type"` // flows.Type*
	Version string `json:"version"`
}

// PromptPlay is the payload of events.PromptPlayed: a prompt that played
// (to its end, or Interrupted by a digit) or, Missing, one the library
// does not have in the call's language or the fallback.
type PromptPlay struct {
	DurationMS  int64  `json:"duration_ms"` // what played; 0 when Missing
	Fallback    bool   `json:"fallback"`    // played in the flow's fallback language
	File        string `json:"file"`        // the prompt file played (lang/name)
	Interrupted bool   `json:"interrupted"`
	Lang        string `json:"lang"`
	Missing     bool   `json:"missing,omitempty"`
	Prompt      string `json:"prompt"`
}

// MarshalJSON leaves fallback and file out of a missing prompt's event,
// as the stream always has: nothing was played, in no language.
func (p PromptPlay) MarshalJSON() ([]byte, error) {
	if p.Missing {
		return json.Marshal(struct {
			DurationMS  int64  `json:"duration_ms"`
			Interrupted bool   `json:"interrupted"`
			Lang        string `json:"lang"`
			Missing     bool   `json:"missing"`
			Prompt      string `json:"prompt"`
		}{p.DurationMS, p.Interrupted, p.Lang, true, p.Prompt})
	}
	type plain PromptPlay // no methods: no recursion
	return json.Marshal(plain(p))
}

// DigitPress is the payload of events.DigitPressed.
type DigitPress struct {
	Digit string `json:"digit"`
	// Discarded: pressed while a prompt that may not be interrupted was
	// playing; the flow never read it.
	Discarded  bool   `json:"discarded,omitempty"`
	DurationMS int64  `json:"duration_ms"`
	Source     string `json:"source"` // media.DigitSource: rfc4733, info, inband
}

// VarSet is the payload of events.VarSet.
type VarSet struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// FlowHandoff is the payload of events.FlowHandoff.
type FlowHandoff struct {
	Kind   string `json:"kind"` // enqueue or callback
	Node   string `json:"node"`
	Target string `json:"target"` // the queue
}

// The simulator's own events (hotline flows simulate): on its private
// bus only, printed by simprint.go.

// simInputEvent is sim.input: the scripted input a node was given.
type simInputEvent struct {
	Input string // the event's keys, "-" or "timeout" for silence
	N     int    // its number in the script, from 1; 0: none left
	Node  string
}

// simUnusedEvent is sim.unused: keys of an input the node did not read.
type simUnusedEvent struct{ Keys, Node string }

// simBranchEvent is sim.branch: the case that held (from 1), or 0 for else.
type simBranchEvent struct {
	Case       int
	Next, Test string
}

// simLookupFailedEvent is sim.lookup-failed.
type simLookupFailedEvent struct{ Lookup, Err string }

// simLookupEvent is sim.lookup: a lookup the simulator answered.
type simLookupEvent struct{ Lookup, Method, URL, Result string }

// simSayEvent is sim.say: a value said as prompt fragments.
type simSayEvent struct {
	Kind, Value, Lang string
	Fragments         []string
}

// simTTSEvent is sim.tts: a text said by the text-to-speech engine (the
// fallback prompt plays instead when it is not ready in time).
type simTTSEvent struct {
	Text, Lang, Fallback string
}

// simCallbackEvent is sim.callback: what the callback node got from the
// scheduler ("" status: nothing was requested).
type simCallbackEvent struct {
	Queue, Number, Status string
	Callback              int64
}

// simVoicemailEvent is sim.voicemail: a voicemail node the simulation
// passes through without recording (it has no audio).
type simVoicemailEvent struct{ Silence, Max time.Duration }
