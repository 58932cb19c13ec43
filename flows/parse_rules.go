package flows

import (
	"go.yaml.in/yaml/v4"
	"strings"
)

func (ps *problems) cases(p pair, node string) []Case {
	v := deref(p.val)
	if v == nil || v.Kind != yaml.SequenceNode {
		ps.errorf(p.kline, node, "cases: want a list of tests, got %s", kindNameOrNull(v))
		return nil
	}
	var out []Case
	for i, item := range v.Content {
		where := "cases[" + itoa(i+1) + "]"
		kv, ok := ps.mapping(item, node, where)
		if !ok {
			continue
		}
		c := Case{Line: lineOf(deref(item), p.kline)}
		var tests []string
		for _, f := range kv {
			switch f.key {
			case "calendar":
				c.Calendar, _ = ps.name(f, node)
				tests = append(tests, f.key)
			case "caller":
				if s, ok := ps.name(f, node); ok {
					if !callerRE.MatchString(s) {
						ps.errorf(f.kline, node, "caller: %q is not a number pattern (exact digits, optional +, optional trailing *)", s)
					}
					c.Caller = s
				}
				tests = append(tests, f.key)
			case "var":
				c.Var, _ = ps.variable(f, node)
				tests = append(tests, f.key)
			case "equals":
				if s, ok := ps.str(f, node); ok {
					c.Equals = &s
				}
			case "matches":
				c.Matches, _ = ps.regexp(f, node)
			case "set":
				if b, ok := ps.boolean(f, node); ok {
					c.IsSet = &b
				}
			case "next":
				c.Next, _ = ps.name(f, node)
			default:
				ps.unknownField(f.kline, node, f.key, where, caseFields)
			}
		}
		ps.caseShape(c, kv, where, node)
		out = append(out, c)
	}
	return out
}

func (ps *problems) caseShape(c Case, kv []pair, where, node string) {
	has := map[string]bool{}
	for _, f := range kv {
		has[f.key] = true
	}
	n := 0
	for _, k := range []string{"calendar", "caller", "var"} {
		if has[k] {
			n++
		}
	}
	if n != 1 {
		ps.errorf(c.Line, node, "%s: want exactly one of calendar, caller or var", where)
	}
	ops := 0
	for _, k := range []string{"equals", "matches", "set"} {
		if has[k] {
			ops++
		}
	}
	switch {
	case has["var"] && ops != 1:
		ps.errorf(c.Line, node, "%s: a var test needs exactly one of equals, matches or set", where)
	case !has["var"] && ops > 0:
		ps.errorf(c.Line, node, "%s: equals, matches and set go with var", where)
	}
	if !has["next"] {
		ps.errorf(c.Line, node, "%s: next: required", where)
	}
}

// required reports fields a node type cannot do without, and settings that
// contradict each other.
func (ps *problems) required(n *Node) {
	need := func(field, why string) {
		if _, ok := n.fieldLines[field]; !ok {
			ps.errorf(n.Line, n.Name, "%s: required (%s)", field, why)
		}
	}
	switch n.Type {
	case TypeSay:
		need("say", "the variable whose value is said")
		need("next", "where to go after saying it")
	case TypePlay:
		need("prompts", "what to play")
		need("next", "where to go after the prompts")
	case TypeMenu:
		need("prompts", "what the caller hears")
		need("options", "the keys the caller may press")
		need("exhausted", "where to go after the retries run out")
	case TypeGather:
		need("var", "the variable that receives the digits")
		need("next", "where to go with the digits")
		need("exhausted", "where to go after the retries run out")
		if n.MaxDigits > 0 && n.MinDigits > n.MaxDigits {
			ps.errorf(n.FieldLine("min_digits"), n.Name, "min_digits %d is more than max_digits %d", n.MinDigits, n.MaxDigits)
		}
		if n.MaxDigits == 0 && n.Terminator == "" {
			ps.errorf(n.Line, n.Name, "needs max_digits or a terminator, or the caller can never finish")
		}
	case TypeBranch:
		need("cases", "the tests, in order")
		need("else", "where to go when no case matches")
	case TypeLanguage:
		need("language", "the language to switch to")
		need("next", "where to go next")
	case TypeHTTP:
		need("lookup", "the name of a lookup in the configuration")
		need("next", "where to go on success")
		need("on_failure", "where to go on timeout, error status, bad JSON or a missing field")
	case TypeTicket:
		if n.fieldLines["category"] == 0 && n.fieldLines["tags"] == 0 && n.fieldLines["priority"] == 0 {
			ps.errorf(n.Line, n.Name, "needs at least one of category, tags or priority")
		}
		need("next", "where to go next")
	case TypeSet:
		need("vars", "the variables to set")
		need("next", "where to go next")
	case TypeEnqueue:
		need("queue", "the queue")
	case TypeCallback:
		need("queue", "the queue")
		if n.ConfirmKey == n.AnotherKey {
			line := n.FieldLine("another_key")
			if _, ok := n.fieldLines["another_key"]; !ok {
				line = n.FieldLine("confirm_key")
			}
			ps.errorf(line, n.Name, "confirm_key and another_key are both %q: the caller could not tell confirm from another number", n.ConfirmKey)
		}
	case TypeGoto:
		need("next", "the node to go to")
	case TypeVoicemail:
		need("prompts", "the greeting, which should say to speak after the tone and press # when done")
		need("next", "where to go after the message is kept, or when none was left")
		if n.Silence >= n.Max {
			ps.errorf(n.FieldLine("silence"), n.Name, "silence %s is not shorter than max %s: the recording would never stop on silence", n.Silence, n.Max)
		}
	}
}

// suggest returns ` (did you mean "x"?)` for the closest candidate within
// two edits, or "".
func suggest(s string, candidates []string) string {
	best := closest(s, candidates)
	if best == "" {
		return ""
	}
	return ` (did you mean "` + best + `"?)`
}

// closest is the candidate within edit distance 2 of s ("" if none): what
// a typo most likely meant.
func closest(s string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if d := editDistance(strings.ToLower(s), c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 64 || len(rb) > 64 {
		return 99
	}
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
