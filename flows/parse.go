package flows

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"regexp"
	"slices"
	"unicode/utf8"

	"go.yaml.in/yaml/v4"
)

var (
	flowFields = []string{"flow", "version", "description", "numbers", "language", "languages", "fallback_language", "start", "nodes"}
	languageRE = regexp.MustCompile(`^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$`)
	numberRE   = regexp.MustCompile(`^[0-9A-Za-z+*#._-]+$`)
)

// Parse reads one flow file. It returns the flow (nil when the file is not
// usable at all) and every problem it found in the file on its own; Check
// adds the problems that need the rest of the set and the configuration.
// A flow returned with error problems must not be run.
func Parse(file string, data []byte) (*Flow, []Problem) {
	ps := &problems{file: file}
	if !utf8.Valid(data) {
		line := 1 + bytes.Count(data[:firstInvalidUTF8(data)], []byte("\n"))
		ps.errorf(line, "", "file is not valid UTF-8")
		return nil, ps.list
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			ps.errorf(1, "", "empty file: want a flow (flow:, nodes:)")
		} else {
			ps.yamlError(err)
		}
		return nil, ps.list
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		ps.errorf(extra.Line, "", "more than one YAML document: one flow per file")
	} else if !errors.Is(err, io.EOF) {
		ps.yamlError(err)
		return nil, ps.list
	}
	if len(doc.Content) == 0 {
		ps.errorf(1, "", "empty file: want a flow (flow:, nodes:)")
		return nil, ps.list
	}
	sum := sha256.Sum256(data)
	f := &Flow{File: file, Hash: hex.EncodeToString(sum[:]), Nodes: map[string]*Node{},
		numberLines: map[string]int{}, fieldLines: map[string]int{}}
	root := deref(doc.Content[0])
	pairs, ok := ps.mapping(root, "", "flow file")
	if !ok {
		return nil, ps.list
	}
	var nodes *pair
	for i, p := range pairs {
		f.fieldLines[p.key] = p.kline
		switch p.key {
		case "flow":
			f.Name, _ = ps.name(p, "")
			f.Line = p.kline
		case "version":
			f.Version, _ = ps.name(p, "")
		case "description":
			_, _ = ps.str(p, "")
		case "numbers":
			nums, lines, _ := ps.strList(p, "")
			for j, n := range nums {
				if !numberRE.MatchString(n) {
					ps.errorf(lines[j], "", "numbers: %q is not a dialled number or extension", n)
					continue
				}
				if first, dup := f.numberLines[n]; dup {
					ps.errorf(lines[j], "", "numbers: %q listed twice (first at line %d)", n, first)
					continue
				}
				f.numberLines[n] = lines[j]
				f.Numbers = append(f.Numbers, n)
			}
		case "language":
			f.Language, _ = ps.language(p, "")
		case "fallback_language":
			f.FallbackLanguage, _ = ps.language(p, "")
		case "languages":
			langs, lines, _ := ps.strList(p, "")
			seen := map[string]bool{}
			for j, l := range langs {
				switch {
				case !languageRE.MatchString(l):
					ps.errorf(lines[j], "", "languages: %q is not a language code (e.g. en, vi, th)", l)
				case seen[l]:
					ps.errorf(lines[j], "", "languages: %q listed twice", l)
				default:
					seen[l] = true
					f.Languages = append(f.Languages, l)
				}
			}
		case "start":
			f.Start, _ = ps.name(p, "")
		case "nodes":
			nodes = &pairs[i]
		default:
			ps.unknownField(p.kline, "", p.key, "flow", flowFields)
		}
	}
	if f.Name == "" && f.fieldLines["flow"] == 0 {
		ps.errorf(1, "", "flow: required (the flow's unique name)")
	}
	ps.flowLanguages(f)
	if nodes == nil {
		ps.errorf(1, "", "nodes: required")
		return f, ps.list
	}
	nps, ok := ps.mapping(nodes.val, "", "nodes")
	if !ok {
		return f, ps.list
	}
	for _, np := range nps {
		n := ps.node(np)
		f.Nodes[n.Name] = n
		f.Order = append(f.Order, n.Name)
	}
	if len(f.Order) == 0 {
		ps.errorf(nodes.kline, "", "nodes: empty")
	}
	if f.Start == "" && len(f.Order) > 0 {
		f.Start = f.Order[0]
	}
	if f.Version == "" {
		f.Version = f.Hash[:12]
	}
	return f, ps.list
}

func (ps *problems) language(p pair, node string) (string, bool) {
	s, ok := ps.str(p, node)
	if ok && !languageRE.MatchString(s) {
		ps.errorf(p.kline, node, "%s: %q is not a language code (e.g. en, vi, th)", p.key, s)
		return "", false
	}
	return s, ok
}

// flowLanguages applies the language defaults and checks they agree.
func (ps *problems) flowLanguages(f *Flow) {
	if len(f.Languages) == 0 && f.Language != "" {
		f.Languages = []string{f.Language}
	}
	if len(f.Languages) == 0 {
		if f.fieldLines["languages"] == 0 {
			ps.errorf(f.Line, "", "languages: required (e.g. languages: [en, vi])")
		}
		return
	}
	if f.Language == "" {
		f.Language = f.Languages[0]
	} else if !slices.Contains(f.Languages, f.Language) {
		ps.errorf(f.fieldLines["language"], "", "language: %q is not in languages %v", f.Language, f.Languages)
	}
	if f.FallbackLanguage != "" && !slices.Contains(f.Languages, f.FallbackLanguage) {
		ps.errorf(f.fieldLines["fallback_language"], "", "fallback_language: %q is not in languages %v", f.FallbackLanguage, f.Languages)
	}
}

func firstInvalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return len(b)
}
