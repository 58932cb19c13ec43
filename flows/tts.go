package flows

import (
	"slices"
	"strings"
)

// Speech is one text a flow's {tts: var} entry will say, in one language.
type Speech struct {
	Text, Lang string
}

// StaticSpeech lists the texts the set's {tts: var} entries say whatever
// the call: variables that only set nodes give, as literals (not a lookup's
// answer, a gather's digits or a value with {placeholders}), in each of the
// flow's languages. They can be synthesised before the first caller asks.
func (s *Set) StaticSpeech() []Speech {
	if s == nil {
		return nil
	}
	var out []Speech
	for _, f := range s.Flows() {
		vs := flowVars(f)
		for _, name := range f.Order {
			n := f.Nodes[name]
			for _, refs := range [][]PromptRef{n.Prompts, n.InvalidPrompts, n.TimeoutPrompts} {
				for _, r := range refs {
					if _, dyn := vs.dynamic[r.TTS]; r.TTS == "" || dyn {
						continue
					}
					for _, text := range vs.literal[r.TTS] {
						text = strings.TrimSpace(text)
						for _, lang := range f.Languages {
							if sp := (Speech{text, lang}); text != "" && !slices.Contains(out, sp) {
								out = append(out, sp)
							}
						}
					}
				}
			}
		}
	}
	return out
}
