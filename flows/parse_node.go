package flows

import (
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/hotline-dev/hotline/say"
	"go.yaml.in/yaml/v4"
)

var (
	inputFields = []string{"timeout", "inter_digit_timeout", "retries", "invalid_prompts", "timeout_prompts", "on_timeout", "exhausted", "barge_in"}
	nodeFields  = map[string][]string{
		TypePlay:      {"prompts", "next", "barge_in"},
		TypeMenu:      append([]string{"prompts", "options"}, inputFields...),
		TypeGather:    append([]string{"prompts", "var", "min_digits", "max_digits", "terminator", "pattern", "confirm", "next"}, inputFields...),
		TypeBranch:    {"cases", "else"},
		TypeLanguage:  {"language", "next"},
		TypeHTTP:      {"lookup", "assign", "next", "on_failure"},
		TypeTicket:    {"category", "tags", "priority", "next"},
		TypeSet:       {"vars", "next"},
		TypeEnqueue:   {"queue", "prompts", "next"},
		TypeCallback:  {"queue", "prompts", "next", "confirm_key", "another_key", "cancel_key", "max_number_digits", "timeout", "inter_digit_timeout", "retries", "at"},
		TypeGoto:      {"next"},
		TypeHangup:    {"prompts"},
		TypeSay:       {"prompts", "say", "as", "next", "barge_in"},
		TypeVoicemail: {"prompts", "max", "silence", "beep", "review", "timeout", "retries", "next"},
	}
	nodeTypes  = []string{TypePlay, TypeMenu, TypeGather, TypeBranch, TypeLanguage, TypeHTTP, TypeTicket, TypeSet, TypeEnqueue, TypeCallback, TypeGoto, TypeHangup, TypeSay, TypeVoicemail}
	caseFields = []string{"calendar", "caller", "var", "equals", "matches", "set", "next"}
	keysRE     = regexp.MustCompile(`^[0-9*#]{1,8}$`)
	callerRE   = regexp.MustCompile(`^\+?[0-9]*\*?$`)
	varRE      = regexp.MustCompile(`^[\p{L}_][\p{L}\p{N}_.-]*$`)
	priorities = []string{"low", "normal", "high", "urgent"}
)

// node parses one entry under nodes:.
func (ps *problems) node(np pair) *Node {
	n := &Node{Name: np.key, Line: np.kline, Timeout: DefaultTimeout, InterDigitTimeout: DefaultInterDigitTimeout,
		Retries: DefaultRetries, BargeIn: true, Terminator: DefaultTerminator, fieldLines: map[string]int{},
		ConfirmKey: DefaultConfirmKey, AnotherKey: DefaultAnotherKey, CancelKey: DefaultCancelKey, MaxNumberDigits: DefaultMaxNumberDigits,
		Max: DefaultVoicemailMax, Silence: DefaultVoicemailSilence, Beep: true, Review: true}
	if strings.TrimSpace(n.Name) == "" {
		ps.errorf(np.kline, n.Name, "node name is empty")
	}
	pairs, ok := ps.mapping(np.val, n.Name, "")
	if !ok {
		return n
	}
	for _, p := range pairs {
		n.fieldLines[p.key] = p.kline
		if p.key == "type" {
			n.Type, _ = ps.name(p, n.Name)
		}
	}
	allowed, known := nodeFields[n.Type]
	switch {
	case n.Type == "" && n.fieldLines["type"] == 0:
		ps.errorf(n.Line, n.Name, "type: required (one of %s)", strings.Join(nodeTypes, ", "))
		return n
	case n.Type == "":
		return n
	case !known:
		ps.errorf(n.FieldLine("type"), n.Name, "unknown type %q%s", n.Type, suggest(n.Type, nodeTypes))
		return n
	}
	for _, p := range pairs {
		switch {
		case p.key == "type" || p.key == "description":
		case !slices.Contains(allowed, p.key):
			ps.notForType(p, n)
		default:
			ps.nodeField(n, p)
		}
	}
	ps.required(n)
	if n.Type == TypeSay && n.SayVar != "" {
		as := n.SayAs
		if as == "" {
			as = say.KindNumber
		}
		n.Prompts = append(n.Prompts, PromptRef{Say: n.SayVar, As: as, Line: n.FieldLine("say")})
	}
	return n
}

func (ps *problems) notForType(p pair, n *Node) {
	for _, t := range nodeTypes {
		if slices.Contains(nodeFields[t], p.key) {
			ps.errorf(p.kline, n.Name, "field %q does not apply to a %s node%s", p.key, n.Type, suggest(p.key, nodeFields[n.Type]))
			return
		}
	}
	ps.unknownField(p.kline, n.Name, p.key, n.Type+" node", append([]string{"type", "description"}, nodeFields[n.Type]...))
}

func (ps *problems) unknownField(line int, node, key, where string, allowed []string) {
	ps.errorf(line, node, "unknown field %q in %s%s", key, where, suggest(key, allowed))
}

func (ps *problems) nodeField(n *Node, p pair) {
	nm := n.Name
	switch p.key {
	case "next":
		n.Next, _ = ps.name(p, nm)
	case "prompts":
		n.Prompts = ps.prompts(p, nm)
	case "invalid_prompts":
		n.InvalidPrompts = ps.prompts(p, nm)
	case "timeout_prompts":
		n.TimeoutPrompts = ps.prompts(p, nm)
	case "timeout":
		if d, ok := ps.duration(p, nm); ok {
			n.Timeout = d
		}
	case "inter_digit_timeout":
		if d, ok := ps.duration(p, nm); ok {
			n.InterDigitTimeout, n.InterDigitSet = d, true
		}
	case "retries":
		if r, ok := ps.integer(p, nm, 0, MaxRetries); ok {
			n.Retries = r
		}
	case "on_timeout":
		n.OnTimeout, _ = ps.name(p, nm)
	case "exhausted":
		n.Exhausted, _ = ps.name(p, nm)
	case "barge_in":
		if b, ok := ps.boolean(p, nm); ok {
			n.BargeIn = b
		}
	case "options":
		n.Options = ps.options(p, nm)
	case "var":
		n.Var, _ = ps.variable(p, nm)
	case "min_digits":
		n.MinDigits, _ = ps.integer(p, nm, 0, 64)
	case "max_digits":
		n.MaxDigits, _ = ps.integer(p, nm, 1, 64)
	case "terminator":
		if s, ok := ps.str(p, nm); ok {
			if s != "" && (len(s) != 1 || !keysRE.MatchString(s)) {
				ps.errorf(p.kline, nm, "terminator: %q is not one key (0-9, * or #)", s)
			} else {
				n.Terminator = s
			}
		}
	case "pattern":
		n.Pattern, _ = ps.regexp(p, nm)
	case "confirm":
		n.Confirm, _ = ps.boolean(p, nm)
	case "cases":
		n.Cases = ps.cases(p, nm)
	case "else":
		n.Else, _ = ps.name(p, nm)
	case "language":
		n.Language, _ = ps.language(p, nm)
	case "lookup":
		n.Lookup, _ = ps.name(p, nm)
	case "assign":
		n.Assign = ps.assignments(p, nm, true)
	case "on_failure":
		n.OnFailure, _ = ps.name(p, nm)
	case "category":
		n.Category, _ = ps.name(p, nm)
	case "tags":
		n.Tags, _, _ = ps.strList(p, nm)
	case "priority":
		if s, ok := ps.str(p, nm); ok {
			if !slices.Contains(priorities, s) {
				ps.errorf(p.kline, nm, "priority: %q is not one of %s%s", s, strings.Join(priorities, ", "), suggest(s, priorities))
			} else {
				n.Priority = s
			}
		}
	case "vars":
		n.Vars = ps.assignments(p, nm, false)
	case "queue":
		n.Queue, _ = ps.name(p, nm)
	case "confirm_key":
		ps.key(p, nm, &n.ConfirmKey)
	case "another_key":
		ps.key(p, nm, &n.AnotherKey)
	case "cancel_key":
		ps.key(p, nm, &n.CancelKey)
	case "max_number_digits":
		if d, ok := ps.integer(p, nm, MinNumberDigits, 20); ok {
			n.MaxNumberDigits = d
		}
	case "at":
		n.At, _ = ps.chosenTime(p, nm)
	case "say":
		n.SayVar, _ = ps.variable(p, nm)
	case "as":
		n.SayAs, _ = ps.sayKind(p, nm, "as")
	case "max":
		ps.boundedDuration(p, nm, MinVoicemailMax, MaxVoicemailMax, &n.Max)
	case "silence":
		ps.boundedDuration(p, nm, MinVoicemailSilence, MaxVoicemailSilence, &n.Silence)
	case "beep":
		if b, ok := ps.boolean(p, nm); ok {
			n.Beep = b
		}
	case "review":
		if b, ok := ps.boolean(p, nm); ok {
			n.Review = b
		}
	}
}

// key reads one key (0-9, * or #) into dst.
func (ps *problems) key(p pair, node string, dst *string) {
	s, ok := ps.str(p, node)
	if !ok {
		return
	}
	if len(s) != 1 || !keysRE.MatchString(s) {
		ps.errorf(p.kline, node, "%s: %q is not one key (0-9, * or #)", p.key, s)
		return
	}
	*dst = s
}

// chosenTime reads a callback's `at`: a value with "{var}" placeholders
// (checked at run time), or a literal RFC 3339 time or HH:MM.
func (ps *problems) chosenTime(p pair, node string) (string, bool) {
	s, ok := ps.name(p, node)
	if !ok {
		return "", false
	}
	if strings.Count(s, "{") != strings.Count(s, "}") {
		ps.errorf(p.kline, node, "at: %q has unbalanced { }", s)
		return "", false
	}
	for _, v := range TemplateVars(s) {
		if !varRE.MatchString(v) {
			ps.errorf(p.kline, node, "at: %q has a bad placeholder {%s}", s, v)
			return "", false
		}
	}
	if len(TemplateVars(s)) == 0 {
		if _, err := ParseChosenTime(s, time.Now()); err != nil {
			ps.errorf(p.kline, node, "at: %v", err)
			return "", false
		}
	}
	return s, true
}

// variable reads a variable name.
func (ps *problems) variable(p pair, node string) (string, bool) {
	s, ok := ps.name(p, node)
	if ok && !varRE.MatchString(s) {
		ps.errorf(p.kline, node, "%s: %q is not a variable name (letters, digits, _ . -)", p.key, s)
		return "", false
	}
	return s, ok
}

func (ps *problems) prompts(p pair, node string) []PromptRef {
	v := deref(p.val)
	items := []*yaml.Node{v}
	if v != nil && v.Kind == yaml.SequenceNode {
		items = v.Content
	}
	var out []PromptRef
	for _, it := range items {
		it = deref(it)
		line := lineOf(it, p.kline)
		switch {
		case it == nil || (it.Kind == yaml.ScalarNode && (it.Tag == "!!null" || it.Value == "")):
			ps.errorf(line, node, "%s: empty prompt name", p.key)
		case it.Kind == yaml.ScalarNode:
			if bad := promptNameProblem(it.Value); bad != "" {
				ps.errorf(line, node, "%s: prompt %q %s", p.key, it.Value, bad)
				continue
			}
			out = append(out, PromptRef{Name: it.Value, Line: line})
		case it.Kind == yaml.MappingNode:
			kv, ok := ps.mapping(it, node, p.key)
			if !ok {
				continue
			}
			if ref, isTTS := ps.ttsEntry(kv, line, node, p.key); isTTS {
				if ref.TTS != "" {
					out = append(out, ref)
				}
				continue
			}
			if ref, isSay := ps.sayEntry(kv, line, node, p.key); isSay {
				if ref.Say != "" {
					out = append(out, ref)
				}
				continue
			}
			if len(kv) != 1 || kv[0].key != "digits" {
				ps.errorf(line, node, "%s: a prompt entry is a name, {digits: variable}, {say: variable, as: kind} or {tts: variable, fallback: prompt}", p.key)
				continue
			}
			if name, ok := ps.variable(kv[0], node); ok {
				out = append(out, PromptRef{Digits: name, Line: line})
			}
		default:
			ps.errorf(line, node, "%s: a prompt entry is a name, {digits: variable}, {say: variable, as: kind} or {tts: variable, fallback: prompt}, got %s", p.key, kindName(it))
		}
	}
	return out
}

// sayEntry reads {say: variable, as: kind} (as defaults to number); isSay
// is false when the mapping has no say key. A bad entry is reported and
// returned with Say empty.
func (ps *problems) sayEntry(kv []pair, line int, node, field string) (PromptRef, bool) {
	ref := PromptRef{As: say.KindNumber, Line: line}
	isSay, ok := false, true
	for _, e := range kv {
		if e.key == "say" {
			isSay = true
		}
	}
	if !isSay {
		return ref, false
	}
	for _, e := range kv {
		switch e.key {
		case "say":
			v, good := ps.variable(e, node)
			ref.Say, ok = v, ok && good
		case "as":
			k, good := ps.sayKind(e, node, field+": as")
			ref.As, ok = k, ok && good
		default:
			ps.errorf(e.kline, node, "%s: unknown field %q in {say: variable, as: kind}", field, e.key)
			ok = false
		}
	}
	if !ok {
		ref.Say = ""
	}
	return ref, true
}

// ttsEntry reads {tts: variable, fallback: prompt}; isTTS is false when
// the mapping has no tts key.
func (ps *problems) ttsEntry(kv []pair, line int, node, field string) (PromptRef, bool) {
	ref := PromptRef{Line: line}
	isTTS, ok := false, true
	for _, e := range kv {
		if e.key == "tts" {
			isTTS = true
		}
	}
	if !isTTS {
		return ref, false
	}
	for _, e := range kv {
		switch e.key {
		case "tts":
			v, good := ps.variable(e, node)
			ref.TTS, ok = v, ok && good
		case "fallback":
			v, good := ps.str(e, node)
			if bad := promptNameProblem(v); good && bad != "" {
				ps.errorf(e.kline, node, "%s: fallback %q %s", field, v, bad)
				good = false
			}
			ref.Fallback, ok = v, ok && good
		default:
			ps.errorf(e.kline, node, "%s: unknown field %q in {tts: variable, fallback: prompt}", field, e.key)
			ok = false
		}
	}
	if !ok {
		ref.TTS = ""
	}
	return ref, true
}

// sayKind reads a kind of value package say can say.
func (ps *problems) sayKind(p pair, node, what string) (string, bool) {
	s, ok := ps.str(p, node)
	if !ok {
		return "", false
	}
	if !slices.Contains(say.Kinds(), s) {
		ps.errorf(p.kline, node, "%s: unknown kind %q (one of %s)%s", what, s, strings.Join(say.Kinds(), ", "), suggest(s, say.Kinds()))
		return "", false
	}
	return s, true
}

func promptNameProblem(s string) string {
	if strings.ContainsAny(s, `/\`) || strings.Contains(s, "..") || strings.ContainsAny(s, "\x00\r\n") {
		return "must be a plain name (no /, \\ or ..): prompts live in prompts/<lang>/<name>.wav"
	}
	if strings.Count(s, "{") != strings.Count(s, "}") {
		return "has unbalanced { }"
	}
	for _, v := range TemplateVars(s) {
		if !varRE.MatchString(v) {
			return "has a bad placeholder {" + v + "}"
		}
	}
	return ""
}

func (ps *problems) options(p pair, node string) []Option {
	kv, ok := ps.mapping(p.val, node, "options")
	if !ok {
		return nil
	}
	if len(kv) == 0 {
		ps.errorf(p.kline, node, "options: empty")
	}
	var out []Option
	for _, o := range kv {
		if !keysRE.MatchString(o.key) {
			ps.errorf(o.kline, node, "options: %q is not a key sequence (1 to 8 of 0-9, * and #)", o.key)
			continue
		}
		target, ok := ps.name(pair{key: "option " + quote(o.key), kline: o.kline, val: o.val}, node)
		if ok {
			out = append(out, Option{Digits: o.key, Next: target, Line: o.kline})
		}
	}
	return out
}

func (ps *problems) assignments(p pair, node string, paths bool) []Assignment {
	kv, ok := ps.mapping(p.val, node, p.key)
	if !ok {
		return nil
	}
	var out []Assignment
	for _, a := range kv {
		if !varRE.MatchString(a.key) {
			ps.errorf(a.kline, node, "%s: %q is not a variable name (letters, digits, _ . -)", p.key, a.key)
			continue
		}
		val, ok := ps.str(pair{key: p.key + "." + a.key, kline: a.kline, val: a.val}, node)
		if !ok {
			continue
		}
		if paths && (val == "" || strings.HasPrefix(val, ".") || strings.HasSuffix(val, ".") || strings.Contains(val, "..")) {
			ps.errorf(a.kline, node, "%s.%s: %q is not a JSON field path (e.g. delivery.eta or items.0.name)", p.key, a.key, val)
			continue
		}
		out = append(out, Assignment{Name: a.key, Value: val, Line: a.kline})
	}
	return out
}
