package flows

import (
	"slices"
	"sort"
	"strings"
)

// Check finds the problems that need the whole set or the configuration:
// duplicate names and numbers across files, unknown targets, unreachable
// nodes, loops with no caller input, ambiguous options, missing prompts,
// unknown queues, lookups and calendars, and the advice warnings. It does
// not repeat what Parse reported.
func Check(set *Set, env Env) []Problem {
	var out []Problem
	names := map[string]*Flow{}
	numbers := map[string]*Flow{}
	for _, f := range set.Flows() {
		ps := &problems{file: f.File}
		if first, dup := names[f.Name]; dup && f.Name != "" {
			ps.errorf(f.Line, "", "flow %q is also defined in %s:%d", f.Name, first.File, first.Line)
		} else {
			names[f.Name] = f
		}
		for _, n := range f.Numbers {
			if first, dup := numbers[n]; dup {
				ps.errorf(f.numberLines[n], "", "number %q is also answered by flow %q (%s:%d)", n, first.Name, first.File, first.numberLines[n])
			} else {
				numbers[n] = f
			}
		}
		ps.checkFlow(f, env)
		out = append(out, ps.list...)
	}
	return out
}

func (ps *problems) checkFlow(f *Flow, env Env) {
	if f.Start != "" && len(f.Nodes) > 0 {
		if _, ok := f.Nodes[f.Start]; !ok {
			ps.errorf(f.fieldLines["start"], "", "start: unknown node %q%s", f.Start, suggest(f.Start, f.Order))
		}
	}
	for _, name := range f.Order {
		n := f.Nodes[name]
		for _, e := range n.Edges() {
			if _, ok := f.Nodes[e.Target]; !ok {
				ps.errorf(e.Line, n.Name, "%s goes to unknown node %q%s", e.Label, e.Target, suggest(e.Target, f.Order))
			}
		}
		ps.checkNames(f, n, env)
		if n.Type == TypeMenu {
			ps.checkOptions(f, n)
		}
	}
	ps.checkReachable(f, env)
	ps.checkLoops(f, env)
	vs := flowVars(f)
	ps.checkPrompts(f, vs, env)
	ps.checkVarUses(f, vs, env)
}

// checkNames looks up the configuration names a node uses.
func (ps *problems) checkNames(f *Flow, n *Node, env Env) {
	if n.Queue != "" && env.Queues != nil {
		q, ok := env.Queues[n.Queue]
		if !ok {
			ps.errorf(n.FieldLine("queue"), n.Name, "unknown queue %q (not in config queues:)%s", n.Queue, suggest(n.Queue, keys(env.Queues)))
		}
		if ok && n.Type == TypeEnqueue {
			if _, has := f.Nodes[q.Exit]; q.Exit != "" && !has {
				ps.warnf(n.FieldLine("queue"), n.Name, "queue %q sends callers who reach its max wait to node %q, which this flow does not have (they follow next)", n.Queue, q.Exit)
			}
			for _, k := range keys(q.Keys) {
				if _, has := f.Nodes[q.Keys[k]]; !has {
					ps.warnf(n.FieldLine("queue"), n.Name, "queue %q sends key %q to node %q, which this flow does not have", n.Queue, k, q.Keys[k])
				}
			}
		}
	}
	if n.Lookup != "" && env.Lookups != nil {
		if _, ok := env.Lookups[n.Lookup]; !ok {
			ps.errorf(n.FieldLine("lookup"), n.Name, "unknown lookup %q (not in config lookups:)%s", n.Lookup, suggest(n.Lookup, keys(env.Lookups)))
		}
	}
	for i, c := range n.Cases {
		if c.Calendar != "" && env.Calendars != nil {
			if _, ok := env.Calendars[c.Calendar]; !ok {
				ps.errorf(c.Line, n.Name, "case %d: unknown calendar %q (not in config calendars:)%s", i+1, c.Calendar, suggest(c.Calendar, keys(env.Calendars)))
			}
		}
	}
	if n.Type == TypeLanguage && n.Language != "" && len(f.Languages) > 0 && !slices.Contains(f.Languages, n.Language) {
		ps.errorf(n.FieldLine("language"), n.Name, "language %q is not in the flow's languages %v", n.Language, f.Languages)
	}
}

// checkOptions finds options that are prefixes of one another without an
// explicit inter_digit_timeout, and gives the menu advice warnings.
func (ps *problems) checkOptions(f *Flow, n *Node) {
	for _, a := range n.Options {
		for _, b := range n.Options {
			if a.Digits != b.Digits && strings.HasPrefix(b.Digits, a.Digits) && !n.InterDigitSet {
				ps.errorf(b.Line, n.Name, "option %q starts with option %q: set inter_digit_timeout so the menu knows how long to wait after %q", b.Digits, a.Digits, a.Digits)
			}
		}
	}
	if len(n.Options) > MaxOptionsAdvice {
		ps.warnf(n.FieldLine("options"), n.Name, "%d options: callers remember at most %d, split it into sub-menus", len(n.Options), MaxOptionsAdvice)
	}
	for _, o := range n.Options {
		if o.Digits == "0" {
			if !reachesEnqueue(f, o.Next) {
				ps.warnf(o.Line, n.Name, "option \"0\" does not lead to a person (no enqueue reachable from %q)", o.Next)
			}
			return
		}
	}
	ps.warnf(n.Line, n.Name, "no option \"0\" to reach a person")
}

func reachesEnqueue(f *Flow, from string) bool {
	seen := map[string]bool{}
	stack := []string{from}
	for len(stack) > 0 {
		name := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		n, ok := f.Nodes[name]
		if !ok || seen[name] {
			continue
		}
		seen[name] = true
		if n.Type == TypeEnqueue {
			return true
		}
		for _, e := range n.Edges() {
			stack = append(stack, e.Target)
		}
	}
	return false
}

// successors lists the nodes a node can go to, including the nodes a queue
// sends the caller to (its exit and keys) when the configuration is known.
func successors(f *Flow, n *Node, env Env) []string {
	var out []string
	for _, e := range n.Edges() {
		if _, ok := f.Nodes[e.Target]; ok {
			out = append(out, e.Target)
		}
	}
	if n.Type == TypeEnqueue && env.Queues != nil {
		q := env.Queues[n.Queue]
		var extra []string
		if q.Exit != "" {
			extra = append(extra, q.Exit)
		}
		for _, k := range keys(q.Keys) {
			extra = append(extra, q.Keys[k])
		}
		for _, t := range extra {
			if _, ok := f.Nodes[t]; ok {
				out = append(out, t)
			}
		}
	}
	return out
}

// checkReachable reports nodes no path from start reaches. A broken
// reference (a typo in a next:) is reported once where it is, not again as
// every node behind it: a reached edge to an unknown node counts as going
// to the node its name most likely meant, and when no name is close
// nothing is reported unreachable (the typo could have meant any node).
func (ps *problems) checkReachable(f *Flow, env Env) {
	if _, ok := f.Nodes[f.Start]; !ok {
		return // the unknown start is the one error
	}
	seen := map[string]bool{f.Start: true}
	queue := []string{f.Start}
	guessed := false // a broken edge with no likely target was reached
	for len(queue) > 0 {
		n := f.Nodes[queue[0]]
		queue = queue[1:]
		next := successors(f, n, env)
		for _, e := range n.Edges() {
			if _, ok := f.Nodes[e.Target]; ok {
				continue
			}
			if meant := closest(e.Target, f.Order); meant != "" {
				next = append(next, meant)
			} else {
				guessed = true
			}
		}
		for _, s := range next {
			if !seen[s] {
				seen[s] = true
				queue = append(queue, s)
			}
		}
	}
	if guessed {
		return
	}
	for _, name := range f.Order {
		if !seen[name] {
			ps.errorf(f.Nodes[name].Line, name, "unreachable: no path from start node %q", f.Start)
		}
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
