package flows

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/hotline-dev/hotline/say"
)

// Prompts the engine plays on its own; the checker requires them wherever a
// node needs them, in every declared language.
const (
	PromptYouEntered     = "you-entered"      // gather confirm: before the read-back
	PromptConfirmOrRetry = "confirm-or-retry" // gather confirm: "press 1 if right, 2 to try again"
)

// builtinVars are the variables every call has from the start. tier and
// customer_id come from the ticket history ("new" and "" for an unknown or
// anonymous caller, or when the database does not answer in time).
var builtinVars = []string{"caller", "called", "language", "tier", "customer_id"}

// DigitPrompt names the prompt that says one key in a read-back:
// digit-0..digit-9, star, pound (other keys: "digit-" + key).
func DigitPrompt(key rune) string {
	switch key {
	case '*':
		return "star"
	case '#':
		return "pound"
	}
	return "digit-" + string(key)
}

// ReadBackPrompts are the prompts {digits: var} and confirm need in every
// language.
func ReadBackPrompts() []string {
	out := make([]string, 0, 12)
	for _, k := range "0123456789*#" {
		out = append(out, DigitPrompt(k))
	}
	return out
}

// varSources records, per variable, the literal values set nodes give it
// and the first node that sets it at run time.
type varSources struct {
	literal map[string][]string
	dynamic map[string]string
}

func flowVars(f *Flow) varSources {
	vs := varSources{literal: map[string][]string{}, dynamic: map[string]string{}}
	dyn := func(name, from string) {
		if _, ok := vs.dynamic[name]; !ok {
			vs.dynamic[name] = from
		}
	}
	for _, b := range builtinVars {
		dyn(b, "the call")
	}
	for _, name := range f.Order {
		n := f.Nodes[name]
		switch n.Type {
		case TypeSet:
			for _, a := range n.Vars {
				if len(TemplateVars(a.Value)) > 0 {
					dyn(a.Name, fmt.Sprintf("set node %q", n.Name))
				} else if !slices.Contains(vs.literal[a.Name], a.Value) {
					vs.literal[a.Name] = append(vs.literal[a.Name], a.Value)
				}
			}
		case TypeGather:
			if n.Var != "" {
				dyn(n.Var, fmt.Sprintf("gather node %q", n.Name))
			}
		case TypeHTTP:
			for _, a := range n.Assign {
				dyn(a.Name, fmt.Sprintf("http node %q", n.Name))
			}
		}
	}
	return vs
}

func (vs varSources) known(name string) bool {
	_, lit := vs.literal[name]
	_, dyn := vs.dynamic[name]
	return lit || dyn
}

// checkPrompts checks every prompt a node may play exists in every declared
// language, expanding "{var}" names when the variable only ever gets literal
// values, and warning when it is set at run time.
func (ps *problems) checkPrompts(f *Flow, vs varSources, env Env) {
	callbackChecked, voicemailChecked := false, false
	for _, name := range f.Order {
		n := f.Nodes[name]
		var refs []PromptRef
		refs = append(refs, n.Prompts...)
		refs = append(refs, n.InvalidPrompts...)
		refs = append(refs, n.TimeoutPrompts...)
		readBack := false
		sayLine := 0
		for _, r := range refs {
			if r.TTS != "" {
				if !vs.known(r.TTS) {
					ps.errorf(r.Line, n.Name, "tts %s: variable %q is never set in this flow", r.TTS, r.TTS)
				}
				if env.TTS == "" {
					ps.errorf(r.Line, n.Name, "tts %s: no text-to-speech engine (install espeak-ng, or tts.engine is none)", r.TTS)
				}
				if r.Fallback != "" {
					ps.checkPromptName(f, n, PromptRef{Name: r.Fallback, Line: r.Line}, vs, env)
				}
				continue
			}
			if r.Say != "" {
				if sayLine == 0 {
					sayLine = r.Line
				}
				if !vs.known(r.Say) {
					ps.errorf(r.Line, n.Name, "say %s: variable %q is never set in this flow", r.Say, r.Say)
				}
				continue
			}
			if r.Digits != "" {
				readBack = true
				if !vs.known(r.Digits) {
					ps.errorf(r.Line, n.Name, "{digits: %s}: variable %q is never set in this flow", r.Digits, r.Digits)
				}
				continue
			}
			ps.checkPromptName(f, n, r, vs, env)
		}
		if n.Type == TypeGather && n.Confirm {
			readBack = true
			for _, p := range []string{PromptYouEntered, PromptConfirmOrRetry} {
				ps.checkPromptName(f, n, PromptRef{Name: p, Line: n.FieldLine("confirm")}, vs, env)
			}
		}
		if n.Type == TypeVoicemail && !voicemailChecked {
			voicemailChecked = true
			ps.checkDialoguePrompts(f, n, env, "voicemail", VoicemailPrompts())
		}
		if n.Type == TypeCallback && !callbackChecked {
			callbackChecked = true // once per flow: every callback node says the same
			ps.checkCallbackPrompts(f, n, env)
		}
		if sayLine > 0 && env.Prompts != nil {
			ps.checkSayFragments(f, n, sayLine, env)
		}
		if readBack && env.Prompts != nil {
			line := n.FieldLine("confirm")
			for _, r := range refs {
				if r.Digits != "" {
					line = r.Line
					break
				}
			}
			for _, lang := range f.Languages {
				var missing []string
				for _, d := range ReadBackPrompts() {
					if !env.hasPrompt(lang, d) {
						missing = append(missing, d)
					}
				}
				if len(missing) > 0 {
					ps.errorf(line, n.Name, "read-back prompts missing for %s: %s", lang, strings.Join(missing, ", "))
				}
			}
		}
	}
}

func (ps *problems) checkPromptName(f *Flow, n *Node, r PromptRef, vs varSources, env Env) {
	vars := TemplateVars(r.Name)
	for _, v := range vars {
		if !vs.known(v) {
			ps.errorf(r.Line, n.Name, "prompt %q: variable %q is never set in this flow", r.Name, v)
			return
		}
		if from, dyn := vs.dynamic[v]; dyn {
			ps.warnf(r.Line, n.Name, "prompt %q: variable %q is set at run time by %s, so not every prompt it names can be checked", r.Name, v, from)
			return
		}
	}
	if env.Prompts == nil {
		return
	}
	for _, name := range expandAll(r.Name, vars, vs.literal) {
		var missing []string
		for _, lang := range f.Languages {
			if !env.hasPrompt(lang, name) {
				missing = append(missing, lang)
			}
		}
		if len(missing) == 0 {
			continue
		}
		where := make([]string, len(missing))
		for i, l := range missing {
			where[i] = "prompts/" + l + "/" + name + ".wav"
		}
		from := ""
		if name != r.Name {
			from = fmt.Sprintf(" (from %q)", r.Name)
		}
		ps.errorf(r.Line, n.Name, "prompt %q%s missing for %s: no %s", name, from, strings.Join(missing, ", "), strings.Join(where, ", "))
	}
}

// expandAll returns every name the template can produce from literal
// values (at most 256; the rest are not checked).
func expandAll(tmpl string, vars []string, literal map[string][]string) []string {
	out := []string{tmpl}
	for _, v := range vars {
		vals := append([]string(nil), literal[v]...)
		sort.Strings(vals)
		var next []string
		for _, s := range out {
			for _, val := range vals {
				if len(next) < 256 {
					next = append(next, strings.ReplaceAll(s, "{"+v+"}", val))
				}
			}
		}
		out = next
	}
	return out
}

// checkVarUses reports variables read by set values, branch cases and
// lookup URLs that nothing in the flow (nor the call) ever sets.
func (ps *problems) checkVarUses(f *Flow, vs varSources, env Env) {
	for _, name := range f.Order {
		n := f.Nodes[name]
		for _, a := range n.Vars {
			for _, v := range TemplateVars(a.Value) {
				if !vs.known(v) {
					ps.errorf(a.Line, n.Name, "vars.%s: variable %q is never set in this flow", a.Name, v)
				}
			}
		}
		for i, c := range n.Cases {
			if c.Var != "" && !vs.known(c.Var) {
				ps.errorf(c.Line, n.Name, "case %d: variable %q is never set in this flow", i+1, c.Var)
			}
		}
		for _, v := range TemplateVars(n.At) {
			if !vs.known(v) {
				ps.errorf(n.FieldLine("at"), n.Name, "at: variable %q is never set in this flow", v)
			}
		}
		if lk, ok := env.Lookups[n.Lookup]; ok && n.Type == TypeHTTP {
			for _, v := range TemplateVars(lk.URL) {
				if !vs.known(v) {
					ps.errorf(n.FieldLine("lookup"), n.Name, "lookup %q needs variable %q for its URL, and it is never set in this flow", n.Lookup, v)
				}
			}
		}
	}
}

// checkCallbackPrompts requires what the callback dialogue says, in every
// declared language: one error per language naming what is missing.
func (ps *problems) checkCallbackPrompts(f *Flow, n *Node, env Env) {
	ps.checkDialoguePrompts(f, n, env, "callback", CallbackPrompts())
}

// checkDialoguePrompts requires the prompts a node's built-in dialogue
// (callback, voicemail) says, in every declared language.
func (ps *problems) checkDialoguePrompts(f *Flow, n *Node, env Env, what string, names []string) {
	if env.Prompts == nil {
		return
	}
	for _, lang := range f.Languages {
		var missing []string
		for _, name := range names {
			if !env.hasPrompt(lang, name) {
				missing = append(missing, name)
			}
		}
		if len(missing) > 0 {
			list := strings.Join(missing[:min(len(missing), 6)], ", ")
			if len(missing) > 6 {
				list += fmt.Sprintf(", ... (%d in all)", len(missing))
			}
			ps.errorf(n.FieldLine("type"), n.Name, "%s dialogue prompts missing for %s: %s (prompts/prompts.txt has them for %s)", what, lang, list, strings.Join(say.Languages(), ", "))
		}
	}
}

// hasPrompt is env.Prompts.Has, except that a prompt whose file is there but
// unusable counts as present: its file is reported once, with the reason,
// not again as missing by every node that plays it.
func (env Env) hasPrompt(lang, name string) bool {
	if env.Prompts.Has(lang, name) {
		return true
	}
	b, ok := env.Prompts.(interface{ Unusable(lang, name string) bool })
	return ok && b.Unusable(lang, name)
}

// SayPrompts lists the fragments a say entry may play: every fragment of
// package say and the digits.
func SayPrompts() []string { return append(say.Fragments(), ReadBackPrompts()...) }

// checkSayFragments reports, per language of the flow, the say fragments
// missing from the prompt library: a value said in that language would
// lose words.
func (ps *problems) checkSayFragments(f *Flow, n *Node, line int, env Env) {
	for _, lang := range f.Languages {
		var missing []string
		for _, d := range SayPrompts() {
			if !env.hasPrompt(lang, d) {
				missing = append(missing, d)
			}
		}
		if len(missing) > 0 {
			more := ""
			if len(missing) > 8 {
				more = fmt.Sprintf(" and %d more", len(missing)-8)
				missing = missing[:8]
			}
			ps.errorf(line, n.Name, "say fragments missing for %s: %s%s (make prompts)", lang, strings.Join(missing, ", "), more)
		}
	}
}
