package flows

import (
	"slices"
	"strings"
)

// waits reports whether a node holds the caller for input: a menu or gather
// (retry-bounded), a queue (the caller waits there and may press keys) or
// a voicemail (the caller speaks).
func waits(n *Node) bool { return n.Input() || n.Type == TypeEnqueue || n.Records() }

// checkLoops reports every cycle that passes through no node that waits for
// the caller: such a loop would spin forever. Removing the waiting nodes from
// the graph, any cycle left is one of those; Tarjan's algorithm finds them.
func (ps *problems) checkLoops(f *Flow, env Env) {
	index := map[string]int{}
	low := map[string]int{}
	onStack := map[string]bool{}
	var stack []string
	next := 0
	succ := func(name string) []string {
		var out []string
		for _, s := range successors(f, f.Nodes[name], env) {
			if !waits(f.Nodes[s]) {
				out = append(out, s)
			}
		}
		return out
	}
	var sccs [][]string
	var strong func(v string)
	strong = func(v string) {
		index[v], low[v] = next, next
		next++
		stack = append(stack, v)
		onStack[v] = true
		for _, w := range succ(v) {
			if _, seen := index[w]; !seen {
				strong(w)
				low[v] = min(low[v], low[w])
			} else if onStack[w] {
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] == index[v] {
			var scc []string
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[w] = false
				scc = append(scc, w)
				if w == v {
					break
				}
			}
			sccs = append(sccs, scc)
		}
	}
	for _, name := range f.Order {
		if _, seen := index[name]; !seen && !waits(f.Nodes[name]) {
			strong(name)
		}
	}
	pos := map[string]int{}
	for i, name := range f.Order {
		pos[name] = i
	}
	for _, scc := range sccs {
		first := scc[0]
		for _, s := range scc {
			if pos[s] < pos[first] {
				first = s
			}
		}
		if len(scc) == 1 && !slices.Contains(succ(first), first) {
			continue
		}
		in := map[string]bool{}
		for _, s := range scc {
			in[s] = true
		}
		path := cyclePath(first, in, succ)
		ps.errorf(f.Nodes[first].Line, first, "loop with no caller input: %s (put a menu or gather in it, or a way out)", strings.Join(path, " -> "))
	}
}

// cyclePath finds a path from start back to itself inside one strongly
// connected component (breadth first, so the shortest).
func cyclePath(start string, in map[string]bool, succ func(string) []string) []string {
	prev := map[string]string{}
	queue := []string{start}
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		for _, w := range succ(v) {
			if !in[w] {
				continue
			}
			if w == start {
				path := []string{start}
				for x := v; x != start; x = prev[x] {
					path = append(path, x)
				}
				for i, j := 1, len(path)-1; i < j; i, j = i+1, j-1 {
					path[i], path[j] = path[j], path[i]
				}
				return append(path, start)
			}
			if _, seen := prev[w]; !seen {
				prev[w] = v
				queue = append(queue, w)
			}
		}
	}
	return []string{start, start}
}
