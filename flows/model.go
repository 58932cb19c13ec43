// Package flows reads IVR flow files (YAML, format v1, see docs/flows.md),
// keeps every node, field and option tied to its line, checks a set of flows
// against the configuration and the prompt library, and serves the current
// set through a Registry that reloads without touching calls in progress.
//
// A *Flow is immutable once loaded: the engine may read it from any number of
// calls at once, and a reload builds a new one rather than changing it.
package flows

import (
	"regexp"
	"time"
)

// Node types.
const (
	TypePlay      = "play"
	TypeMenu      = "menu"
	TypeGather    = "gather"
	TypeBranch    = "branch"
	TypeLanguage  = "language"
	TypeHTTP      = "http"
	TypeTicket    = "ticket"
	TypeSet       = "set"
	TypeEnqueue   = "enqueue"
	TypeCallback  = "callback"
	TypeGoto      = "goto"
	TypeHangup    = "hangup"
	TypeSay       = "say"
	TypeVoicemail = "voicemail"
)

// Defaults applied by the parser when a field is absent.
const (
	DefaultTimeout           = 5 * time.Second
	DefaultInterDigitTimeout = 2 * time.Second
	DefaultRetries           = 3
	MaxRetries               = 10
	DefaultTerminator        = "#"
	MaxOptionsAdvice         = 5
	// The callback node's dialogue (docs/flows.md "callback").
	DefaultConfirmKey      = "1"
	DefaultAnotherKey      = "2"
	DefaultCancelKey       = "2"
	DefaultMaxNumberDigits = 15 // E.164's longest number
)

// Flow is one parsed flow file.
type Flow struct {
	Name             string
	File             string
	Line             int // line of the `flow:` key
	Numbers          []string
	Language         string // starting language
	Languages        []string
	FallbackLanguage string
	Start            string
	Version          string // explicit `version:` or the first 12 hex digits of Hash
	Hash             string // sha256 of the file content, hex
	Nodes            map[string]*Node
	Order            []string // node names in file order

	numberLines map[string]int
	fieldLines  map[string]int
}

// Node is one step of a flow. Which fields mean something depends on Type;
// the parser refuses fields that do not belong to the type.
type Node struct {
	Name string
	Type string
	Line int

	Next    string
	Prompts []PromptRef // play, menu, gather, callback, hangup

	// menu and gather
	Timeout           time.Duration
	InterDigitTimeout time.Duration
	InterDigitSet     bool // inter_digit_timeout written explicitly
	Retries           int
	InvalidPrompts    []PromptRef
	TimeoutPrompts    []PromptRef
	OnTimeout         string
	Exhausted         string
	BargeIn           bool

	Options []Option // menu, in file order

	// gather
	Var        string
	MinDigits  int
	MaxDigits  int
	Terminator string
	Pattern    *regexp.Regexp
	Confirm    bool

	Cases []Case // branch
	Else  string // branch

	Language string // language

	Lookup    string       // http
	Assign    []Assignment // http: variable <- JSON path
	OnFailure string       // http

	Category string   // ticket
	Tags     []string // ticket
	Priority string   // ticket

	Vars []Assignment // set: variable <- literal value (may hold {var})

	Queue string // enqueue, callback

	// callback: the dialogue's keys ("press 1 to confirm, 2 to enter
	// another number"; "press 2 to cancel it"), how many digits a number
	// typed in may have, and a chosen time ("{var}" placeholders, RFC 3339
	// or HH:MM, read at run time). Timeout, InterDigitTimeout and Retries
	// apply to its questions.
	ConfirmKey      string
	AnotherKey      string
	CancelKey       string
	MaxNumberDigits int
	At              string

	// say: the variable and its kind (say.Kinds); the parser appends them
	// to Prompts as a PromptRef{Say, As}, after any lead-in prompts.
	SayVar string
	SayAs  string

	// voicemail: the greeting is Prompts; the recording ends at the end
	// key (#), after Silence of silence or at Max; Beep plays a tone
	// before it, Review offers listen, keep and re-record (Retries bounds
	// the re-recordings, Timeout the wait for a review key).
	Max     time.Duration
	Silence time.Duration
	Beep    bool
	Review  bool

	fieldLines map[string]int
}

// FieldLine returns the line of a field of the node, or the node's line.
func (n *Node) FieldLine(field string) int {
	if l, ok := n.fieldLines[field]; ok {
		return l
	}
	return n.Line
}

// PromptRef is one entry of a prompts list: a prompt name (which may contain
// "{var}" placeholders) or, with Digits set, a variable read digit by digit.
type PromptRef struct {
	Name   string
	Digits string // variable name for {digits: var}
	// Say is a variable said as a value of kind As ({say: var, as:
	// money}; a say node's say and as), by package say in the call's
	// language.
	Say string
	As  string
	// TTS is a variable whose text is spoken by the text-to-speech engine
	// ({tts: var, fallback: prompt}); Fallback plays when the engine is
	// slow or fails.
	TTS      string
	Fallback string
	Line     int
}

// Templated reports whether the name has "{var}" placeholders.
func (p PromptRef) Templated() bool { return len(TemplateVars(p.Name)) > 0 }

// Option is one menu choice.
type Option struct {
	Digits string
	Next   string
	Line   int
}

// Case is one branch test; exactly one of Calendar, Caller or Var is set.
type Case struct {
	Calendar string
	Caller   string // exact number or prefix with trailing *
	Var      string
	Equals   *string
	Matches  *regexp.Regexp
	IsSet    *bool // `set: true|false`
	Next     string
	Line     int
}

// Assignment is one name/value pair, in file order.
type Assignment struct {
	Name  string
	Value string
	Line  int
}

// Edge is one way out of a node.
type Edge struct {
	Label  string // "next", "option 1", "case 2", "else", "exhausted", ...
	Target string
	Line   int
}

// Edges lists every way out of the node, in a stable order.
func (n *Node) Edges() []Edge {
	var es []Edge
	add := func(label, target, field string) {
		if target != "" {
			es = append(es, Edge{Label: label, Target: target, Line: n.FieldLine(field)})
		}
	}
	for _, o := range n.Options {
		if o.Next == "" {
			continue
		}
		es = append(es, Edge{Label: "option " + quote(o.Digits), Target: o.Next, Line: o.Line})
	}
	for i, c := range n.Cases {
		if c.Next == "" {
			continue
		}
		es = append(es, Edge{Label: "case " + itoa(i+1), Target: c.Next, Line: c.Line})
	}
	add("next", n.Next, "next")
	add("else", n.Else, "else")
	add("on_timeout", n.OnTimeout, "on_timeout")
	add("exhausted", n.Exhausted, "exhausted")
	add("on_failure", n.OnFailure, "on_failure")
	return es
}

// Input reports whether the node reads keys from the caller (a
// retry-bounded menu or gather). The loop check also counts an enqueue as
// caller input (see waits).
func (n *Node) Input() bool { return n.Type == TypeMenu || n.Type == TypeGather }

// Records reports whether the node records the caller (a voicemail).
func (n *Node) Records() bool { return n.Type == TypeVoicemail }
