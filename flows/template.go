package flows

import (
	"strconv"
	"strings"
)

// TemplateVars returns the variable names of "{var}" placeholders in s, in
// order of appearance (duplicates kept once).
func TemplateVars(s string) []string {
	var out []string
	seen := map[string]bool{}
	for {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			return out
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return out
		}
		name := s[i+1 : i+j]
		if name != "" && !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
		s = s[i+j+1:]
	}
}

// Expand replaces each "{var}" in s by lookup(var). Unknown variables expand
// to "" and are reported in missing.
func Expand(s string, lookup func(string) (string, bool), escape func(string) string) (out string, missing []string) {
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			break
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			break
		}
		b.WriteString(s[:i])
		name := s[i+1 : i+j]
		v, ok := lookup(name)
		if !ok {
			missing = append(missing, name)
		}
		if escape != nil {
			v = escape(v)
		}
		b.WriteString(v)
		s = s[i+j+1:]
	}
	b.WriteString(s)
	return b.String(), missing
}

func quote(s string) string { return strconv.Quote(s) }
func itoa(i int) string     { return strconv.Itoa(i) }
