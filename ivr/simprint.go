package ivr

import (
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/say"
)

// printEvents renders the events of one simulated call, in order.
// Consecutive digits print as one line.
func printEvents(out io.Writer, sub *events.Subscription, promptsDir string, texts func(lang, name string) (string, bool)) {
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
		if d, ok := ev.Payload.(DigitPress); ok {
			keys.WriteString(d.Digit)
			continue
		}
		flush()
		switch d := ev.Payload.(type) {
		case NodeEnter:
			fmt.Fprintf(out, "> %s (%s)\n", d.Node, d.Type)
		case PromptPlay:
			if d.Missing {
				fmt.Fprintf(out, "    play %s/%s  MISSING (no prompt in %s or the fallback language)\n", d.Lang, d.Prompt, d.Lang)
				continue
			}
			file := d.File
			if promptsDir != "" {
				file = filepath.ToSlash(filepath.Join(promptsDir, file+".wav"))
			}
			note := ""
			if d.Fallback {
				note = "  (fallback language)"
			}
			fmt.Fprintf(out, "    play %s/%s  %s%s\n", d.Lang, d.Prompt, file, note)
		case simInputEvent:
			switch {
			case d.N == 0:
				fmt.Fprintf(out, "    input: none left, times out\n")
			case silent(d.Input):
				fmt.Fprintf(out, "    input #%d: (silence), times out\n", d.N)
			default:
				fmt.Fprintf(out, "    input #%d: %s\n", d.N, d.Input)
			}
		case simUnusedEvent:
			fmt.Fprintf(out, "    keys not read: %s\n", d.Keys)
		case VarSet:
			fmt.Fprintf(out, "    set %s = %q\n", d.Name, d.Value)
		case simBranchEvent:
			if d.Case == 0 {
				fmt.Fprintf(out, "    no case holds: else -> %s\n", d.Next)
			} else {
				fmt.Fprintf(out, "    case %d holds (%s) -> %s\n", d.Case, d.Test, d.Next)
			}
		case simLookupFailedEvent:
			fmt.Fprintf(out, "    lookup %s failed: %s\n", d.Lookup, d.Err)
		case simLookupEvent:
			fmt.Fprintf(out, "    lookup %s: %s %s %s\n", d.Lookup, d.Method, d.URL, d.Result)
		case simSayEvent:
			fmt.Fprintf(out, "    say %s (%s): %s\n", d.Value, d.Lang, spoken(d.Lang, d.Fragments, texts))
		case simTTSEvent:
			fmt.Fprintf(out, "    tts (%s): %s", d.Lang, d.Text)
			if d.Fallback != "" {
				fmt.Fprintf(out, "  (else %s/%s)", d.Lang, d.Fallback)
			}
			fmt.Fprintln(out)
		case simCallbackEvent:
			if d.Status == "" {
				fmt.Fprintf(out, "    callback for queue %s: nothing requested (the caller hung up)\n", d.Queue)
			} else {
				fmt.Fprintf(out, "    callback for queue %s to %q: %s", d.Queue, d.Number, d.Status)
				if d.Callback != 0 {
					fmt.Fprintf(out, " (callback %d)", d.Callback)
				}
				fmt.Fprintln(out)
			}
		case simVoicemailEvent:
			fmt.Fprintf(out, "    voicemail: greeting, beep, record until # or %s of silence (at most %s); not recorded in a simulation\n", d.Silence, d.Max)
		case FlowHandoff:
			fmt.Fprintf(out, "    handoff %s to queue %s\n", d.Kind, d.Target)
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
	switch {
	case r.CallbackID != 0:
		fmt.Fprintf(out, "  callback: %s (id %d)\n", r.CallbackStatus, r.CallbackID)
	case r.CallbackStatus != "":
		fmt.Fprintf(out, "  callback: %s\n", r.CallbackStatus)
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

// spoken joins the fragments' texts as the language writes them (Thai
// without spaces), or their names when a text is unknown.
func spoken(lang string, frags []string, texts func(lang, name string) (string, bool)) string {
	if texts == nil {
		return strings.Join(frags, " ")
	}
	return say.Join(lang, frags, func(f string) string {
		if t, ok := texts(lang, f); ok {
			return t
		}
		return f
	})
}
