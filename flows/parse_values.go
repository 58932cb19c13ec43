package flows

// The YAML readers every parse step shares: a mapping as its key/value
// pairs (duplicates and non-scalar keys reported), and scalars read as
// strings, names, lists, durations, bounded integers, booleans and regular
// expressions, each problem reported with its line and node.

import (
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v4"
)

// pair is one key/value of a YAML mapping.
type pair struct {
	key   string
	kline int
	val   *yaml.Node
}

// deref follows aliases (bounded, so a crafted file cannot loop).
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 16; i++ {
		n = n.Alias
	}
	return n
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return "a scalar"
	case yaml.AliasNode:
		return "an alias"
	}
	return "empty"
}

// mapping returns the pairs of a mapping node, reporting duplicate keys
// (yaml.v3 does not when decoding into a yaml.Node) and non-scalar keys.
func (ps *problems) mapping(n *yaml.Node, node, what string) ([]pair, bool) {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		line := 0
		if n != nil {
			line = n.Line
		}
		ps.errorf(line, node, "%swant a mapping, got %s", prefix(what), kindNameOrNull(n))
		return nil, false
	}
	seen := map[string]int{}
	out := make([]pair, 0, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), n.Content[i+1]
		if k == nil || k.Kind != yaml.ScalarNode {
			ps.errorf(n.Content[i].Line, node, "%skeys must be plain values", prefix(what))
			continue
		}
		if k.Tag == "!!merge" {
			ps.errorf(k.Line, node, "%smerge keys (<<) are not supported", prefix(what))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			ps.errorf(k.Line, node, "%sduplicate key %q (first at line %d)", prefix(what), k.Value, first)
			continue
		}
		seen[k.Value] = k.Line
		out = append(out, pair{key: k.Value, kline: k.Line, val: v})
	}
	return out, true
}

func (ps *problems) str(p pair, node string) (string, bool) {
	v := deref(p.val)
	if v == nil || v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
		ps.errorf(p.kline, node, "%s: want a value, got %s", p.key, kindNameOrNull(v))
		return "", false
	}
	return v.Value, true
}

func kindNameOrNull(n *yaml.Node) string {
	if n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null") {
		return "nothing"
	}
	return kindName(n)
}

// name reads a non-empty string (node names, queue names, variables).
func (ps *problems) name(p pair, node string) (string, bool) {
	s, ok := ps.str(p, node)
	if ok && strings.TrimSpace(s) == "" {
		ps.errorf(p.kline, node, "%s: empty", p.key)
		return "", false
	}
	return s, ok
}

func (ps *problems) strList(p pair, node string) ([]string, []int, bool) {
	v := deref(p.val)
	if v != nil && v.Kind == yaml.ScalarNode && v.Tag != "!!null" {
		return []string{v.Value}, []int{v.Line}, true // a single value is a list of one
	}
	if v == nil || v.Kind != yaml.SequenceNode {
		ps.errorf(p.kline, node, "%s: want a list, got %s", p.key, kindNameOrNull(v))
		return nil, nil, false
	}
	var out []string
	var lines []int
	ok := true
	for _, item := range v.Content {
		item = deref(item)
		if item == nil || item.Kind != yaml.ScalarNode || item.Tag == "!!null" || item.Value == "" {
			ps.errorf(lineOf(item, p.kline), node, "%s: items must be non-empty values", p.key)
			ok = false
			continue
		}
		out = append(out, item.Value)
		lines = append(lines, item.Line)
	}
	return out, lines, ok
}

func lineOf(n *yaml.Node, def int) int {
	if n != nil && n.Line > 0 {
		return n.Line
	}
	return def
}

func (ps *problems) duration(p pair, node string) (time.Duration, bool) {
	s, ok := ps.str(p, node)
	if !ok {
		return 0, false
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		ps.errorf(p.kline, node, "%s: %q is not a duration (write e.g. 5s or 1m30s)", p.key, s)
		return 0, false
	}
	if d <= 0 || d > time.Hour {
		ps.errorf(p.kline, node, "%s: %s is out of range (0s < d <= 1h)", p.key, s)
		return 0, false
	}
	return d, true
}

func (ps *problems) integer(p pair, node string, min, max int) (int, bool) {
	s, ok := ps.str(p, node)
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(s)
	if err != nil {
		ps.errorf(p.kline, node, "%s: %q is not a whole number", p.key, s)
		return 0, false
	}
	if i < min || i > max {
		ps.errorf(p.kline, node, "%s: %d is out of range (%d to %d)", p.key, i, min, max)
		return 0, false
	}
	return i, true
}

func (ps *problems) boolean(p pair, node string) (bool, bool) {
	s, ok := ps.str(p, node)
	if !ok {
		return false, false
	}
	switch s {
	case "true", "yes", "on":
		return true, true
	case "false", "no", "off":
		return false, true
	}
	ps.errorf(p.kline, node, "%s: %q is not true or false", p.key, s)
	return false, false
}

func (ps *problems) regexp(p pair, node string) (*regexp.Regexp, bool) {
	s, ok := ps.str(p, node)
	if !ok {
		return nil, false
	}
	re, err := regexp.Compile(s)
	if err != nil {
		ps.errorf(p.kline, node, "%s: bad regexp %q: %s", p.key, s, regexpReason(err))
		return nil, false
	}
	return re, true
}

func regexpReason(err error) string {
	var e *syntax.Error
	if errors.As(err, &e) {
		return e.Code.String()
	}
	return err.Error()
}

// yamlError reports a YAML syntax error where the parser found the
// problem (line and column), naming the construct it was in when that
// started elsewhere ("while parsing a block mapping at line 3").
func (ps *problems) yamlError(err error) {
	var le *yaml.LoadError
	if !errors.As(err, &le) {
		ps.errorf(0, "", "YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
		return
	}
	msg := "YAML: " + le.Message
	if le.ContextMsg != "" && le.ContextMark.Line > 0 && le.ContextMark.Line != le.Mark.Line {
		msg += fmt.Sprintf(" (%s at line %d)", le.ContextMsg, le.ContextMark.Line)
	}
	ps.list = append(ps.list, Problem{File: ps.file, Line: le.Mark.Line, Column: le.Mark.Column, Severity: Error, Message: msg})
}

func prefix(what string) string {
	if what == "" {
		return ""
	}
	return what + ": "
}
