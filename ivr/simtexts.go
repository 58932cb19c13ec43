package ivr

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// voiceMarker is a prompt text's "[xx] " voice switch (scripts/prompts.sh).
var voiceMarker = regexp.MustCompile(`\[[a-z]{2,3}(-[a-z0-9-]+)?\] ?`)

// PromptTexts reads a prompt list (prompts/prompts.txt: lang<TAB>name<TAB>
// text, # comments) into a lookup of spoken texts for SimOptions.Texts;
// voice markers are dropped.
func PromptTexts(r io.Reader) (func(lang, name string) (string, bool), error) {
	texts := map[[2]string]string{}
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		s := sc.Text()
		if strings.TrimSpace(s) == "" || strings.HasPrefix(s, "#") {
			continue
		}
		parts := strings.SplitN(s, "\t", 3)
		if len(parts) != 3 {
			return nil, fmt.Errorf("ivr: prompt list line %d: want lang<TAB>name<TAB>text", line)
		}
		texts[[2]string{parts[0], parts[1]}] = strings.TrimSpace(voiceMarker.ReplaceAllString(parts[2], ""))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("ivr: prompt list: %w", err)
	}
	return func(lang, name string) (string, bool) {
		t, ok := texts[[2]string{lang, name}]
		return t, ok
	}, nil
}
