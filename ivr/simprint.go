package ivr

import (
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hotline-dev/hotline/events"
)

// printEvents renders the events of one simulated call, in order.
// Consecutive digits print as one line.
func printEvents(out io.Writer, sub *events.Subscription, promptsDir string) {
	var keys strings.Builder
	flush := func() {
		if keys.Len() > 0 {
			fmt.Fprintf(out, "    keys %s\n", keys.String())
			keys.Reset()
		}
	}
	defer flush()
	for {
		var ev events.Event
		select {
		case ev = <-sub.C:
		default:
			return
		}
		d := ev.Data
		if ev.Type == events.DigitPressed {
			keys.WriteString(d["digit"].(string))
			continue
		}
		flush()
		switch ev.Type {
		case events.NodeEntered:
			fmt.Fprintf(out, "> %s (%s)\n", d["node"], d["type"])
		case events.PromptPlayed:
			if d["missing"] == true {
				fmt.Fprintf(out, "    play %s/%s  MISSING (no prompt in %s or the fallback language)\n", d["lang"], d["prompt"], d["lang"])
				continue
			}
			file, _ := d["file"].(string)
			if promptsDir != "" {
				file = filepath.ToSlash(filepath.Join(promptsDir, file+".wav"))
			}
			note := ""
			if d["fallback"] == true {
				note = "  (fallback language)"
			}
			fmt.Fprintf(out, "    play %s/%s  %s%s\n", d["lang"], d["prompt"], file, note)
		case simInput:
			switch in := d["input"].(string); {
			case d["n"] == 0:
				fmt.Fprintf(out, "    input: none left, times out\n")
			case silent(in):
				fmt.Fprintf(out, "    input #%d: (silence), times out\n", d["n"])
			default:
				fmt.Fprintf(out, "    input #%d: %s\n", d["n"], in)
			}
		case simUnused:
			fmt.Fprintf(out, "    keys not read: %s\n", d["keys"])
		case events.VarSet:
			fmt.Fprintf(out, "    set %s = %q\n", d["name"], d["value"])
		case "sim.branch":
			if d["case"] == 0 {
				fmt.Fprintf(out, "    no case holds: else -> %s\n", d["next"])
			} else {
				fmt.Fprintf(out, "    case %d holds (%s) -> %s\n", d["case"], d["test"], d["next"])
			}
		case "sim.lookup-failed":
			fmt.Fprintf(out, "    lookup %s failed: %s\n", d["lookup"], d["err"])
		case simLookup:
			fmt.Fprintf(out, "    lookup %s: %s %s %s\n", d["lookup"], d["method"], d["url"], d["result"])
		case events.FlowHandoff:
			fmt.Fprintf(out, "    handoff %s to queue %s\n", d["kind"], d["target"])
		}
	}
}

func printResult(out io.Writer, r Result) {
	var path []string
	for _, s := range r.Path {
		if s.Digits != "" {
			path = append(path, s.Node+"["+s.Digits+"]")
		} else {
			path = append(path, s.Node)
		}
	}
	fmt.Fprintf(out, "result\n  path:     %s\n", strings.Join(path, " > "))
	fmt.Fprintf(out, "  outcome:  %s (%s)\n", r.Outcome, r.HangupReason)
	if r.Err != nil {
		fmt.Fprintf(out, "  error:    %v\n", r.Err)
	}
	if r.Handoff != nil {
		fmt.Fprintf(out, "  handoff:  %s to queue %s (node %s)\n", r.Handoff.Kind, r.Handoff.Queue, r.Handoff.Node)
	}
	if r.Category != "" || len(r.Tags) > 0 || r.Priority != "" {
		fmt.Fprintf(out, "  ticket:   category %s, tags %s, priority %s\n", orNone(r.Category), orNone(strings.Join(r.Tags, ", ")), orNone(r.Priority))
	}
	fmt.Fprintf(out, "  language: %s\n", r.Language)
	names := make([]string, 0, len(r.Vars))
	for k := range r.Vars {
		names = append(names, k)
	}
	sort.Strings(names)
	var vars []string
	for _, k := range names {
		vars = append(vars, fmt.Sprintf("%s=%q", k, r.Vars[k]))
	}
	fmt.Fprintf(out, "  vars:     %s\n", strings.Join(vars, " "))
}

func orNone(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
