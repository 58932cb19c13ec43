package archtest

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/hotline-dev/hotline"

// rules is the layering docs/architecture.md declares.
type rules struct {
	layer map[string]int      // package (relative to the module) → layer, 1 at the top
	test  map[string]bool     // test support: imported by tests only
	tests map[string]bool     // packages of tests alone: nothing imports them
	libs  map[string][]string // library module → the packages that may import it
}

// pkg is one package of the module as go list sees it.
type pkg struct {
	path        string   // relative to the module ("" is the root)
	imports     []string // full import paths, non-test files
	testImports []string // _test.go files, both test packages
}

// parseRules reads the ```layers block of a markdown document.
func parseRules(doc []byte) (rules, error) {
	r := rules{layer: map[string]int{}, test: map[string]bool{}, tests: map[string]bool{}, libs: map[string][]string{}}
	in, found := false, false
	sc := bufio.NewScanner(bytes.NewReader(doc))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "```layers"):
			in, found = true, true
			continue
		case in && strings.HasPrefix(line, "```"):
			in = false
		}
		if !in {
			continue
		}
		line, _, _ = strings.Cut(line, "#")
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		seen := func(p string) error {
			if _, ok := r.layer[p]; ok || r.test[p] || r.tests[p] {
				return fmt.Errorf("line %d: %s listed twice", n, p)
			}
			return nil
		}
		switch {
		case f[0] == "test":
			for _, p := range f[1:] {
				if err := seen(p); err != nil {
					return r, err
				}
				r.test[p] = true
			}
		case f[0] == "tests":
			for _, p := range f[1:] {
				if err := seen(p); err != nil {
					return r, err
				}
				r.tests[p] = true
			}
		case f[0] == "lib" && len(f) >= 3:
			r.libs[f[1]] = f[2:]
		default:
			l, err := strconv.Atoi(f[0])
			if err != nil || l < 1 || len(f) < 2 {
				return r, fmt.Errorf("line %d: %q: want a layer number and packages, test or lib", n, line)
			}
			for _, p := range f[1:] {
				if err := seen(p); err != nil {
					return r, err
				}
				r.layer[p] = l
			}
		}
	}
	if !found || len(r.layer) == 0 {
		return r, fmt.Errorf("no ```layers block")
	}
	return r, sc.Err()
}

// check lists every way pkgs break r, one line each.
func check(r rules, pkgs []pkg) []string {
	var bad []string
	known := map[string]bool{}
	for _, p := range pkgs {
		known[p.path] = true
		l, layered := r.layer[p.path]
		free := r.test[p.path] || r.tests[p.path] // may import any package
		if !layered && !free {
			bad = append(bad, fmt.Sprintf("%s has no layer: give it one in docs/architecture.md", p.path))
			continue
		}
		for _, imp := range p.imports {
			if rel, ok := strings.CutPrefix(imp, module+"/"); ok {
				switch il, ilayered := r.layer[rel]; {
				case r.tests[rel]:
					bad = append(bad, fmt.Sprintf("%s imports %s, a package of tests", p.path, rel))
				case r.test[rel] && !free:
					bad = append(bad, fmt.Sprintf("%s imports %s, which is for tests only", p.path, rel))
				case layered && ilayered && il <= l:
					bad = append(bad, fmt.Sprintf("%s (layer %d) imports %s (layer %d): imports go down", p.path, l, rel, il))
				}
				continue
			}
			if free {
				continue
			}
			for lib, homes := range r.libs {
				if (imp == lib || strings.HasPrefix(imp, lib+"/")) && !slices.Contains(homes, p.path) {
					bad = append(bad, fmt.Sprintf("%s imports %s, whose home is %s", p.path, imp, strings.Join(homes, ", ")))
				}
			}
		}
	}
	for p := range r.layer {
		if !known[p] {
			bad = append(bad, fmt.Sprintf("%s is in the layers but is not a package", p))
		}
	}
	for p := range r.test {
		if !known[p] {
			bad = append(bad, fmt.Sprintf("%s is in the test support but is not a package", p))
		}
	}
	for p := range r.tests {
		if !known[p] {
			bad = append(bad, fmt.Sprintf("%s is in the tests but is not a package", p))
		}
	}
	sort.Strings(bad)
	return bad
}

// listPackages runs go list over the module.
func listPackages(t *testing.T, root string) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-f", "{{.ImportPath}}|{{join .Imports \",\"}}|{{join .TestImports \",\"}},{{join .XTestImports \",\"}}", "./...")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	var pkgs []pkg
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "|")
		if len(f) != 3 {
			t.Fatalf("go list line %q", line)
		}
		path := strings.TrimPrefix(strings.TrimPrefix(f[0], module), "/")
		pkgs = append(pkgs, pkg{path: path, imports: split(f[1]), testImports: split(f[2])})
	}
	return pkgs
}

func split(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

// TestImportGraph: the module's packages follow the layers of
// docs/architecture.md.
func TestImportGraph(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join(root, "docs", "architecture.md"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := parseRules(doc)
	if err != nil {
		t.Fatalf("docs/architecture.md: %v", err)
	}
	pkgs := listPackages(t, root)
	if len(pkgs) < 30 {
		t.Fatalf("go list found %d packages: the check would pass vacuously", len(pkgs))
	}
	for _, b := range check(r, pkgs) {
		t.Error(b)
	}
	// The test support is used: each is imported by some test.
	used := map[string]bool{}
	for _, p := range pkgs {
		for _, imp := range p.testImports {
			used[strings.TrimPrefix(imp, module+"/")] = true
		}
		for _, imp := range p.imports {
			if r.test[p.path] {
				used[strings.TrimPrefix(imp, module+"/")] = true
			}
		}
	}
	for p := range r.test {
		if !used[p] {
			t.Errorf("test support %s is imported by no test", p)
		}
	}
}

// TestCheckFindsViolations: each kind of break is reported, and a graph
// that follows the rules is clean.
func TestCheckFindsViolations(t *testing.T) {
	r, err := parseRules([]byte("text\n```layers\n# a comment\n1 app # wiring\n2 queue api\n3 sip\ntest internal/siptest\ntests e2e\nlib github.com/emiago/sipgo sip\n```\n"))
	if err != nil {
		t.Fatal(err)
	}
	hot := func(p string) string { return module + "/" + p }
	tests := []struct {
		name string
		pkgs []pkg
		want []string
	}{
		{"clean", []pkg{{path: "app", imports: []string{hot("queue"), hot("sip"), "fmt"}}, {path: "queue", imports: []string{hot("sip")}},
			{path: "api"}, {path: "sip", imports: []string{"github.com/emiago/sipgo/sip"}},
			{path: "internal/siptest", imports: []string{hot("sip"), "github.com/emiago/sipgo"}},
			{path: "e2e", imports: []string{hot("app"), hot("internal/siptest")}}}, nil},
		{"upward", []pkg{{path: "app"}, {path: "queue"}, {path: "api"}, {path: "sip", imports: []string{hot("app")}}, {path: "internal/siptest"}, {path: "e2e"}},
			[]string{"sip (layer 3) imports app (layer 1): imports go down"}},
		{"same layer", []pkg{{path: "app"}, {path: "queue", imports: []string{hot("api")}}, {path: "api"}, {path: "sip"}, {path: "internal/siptest"}, {path: "e2e"}},
			[]string{"queue (layer 2) imports api (layer 2): imports go down"}},
		{"test support in production", []pkg{{path: "app", imports: []string{hot("internal/siptest")}}, {path: "queue"}, {path: "api"}, {path: "sip"}, {path: "internal/siptest"}, {path: "e2e"}},
			[]string{"app imports internal/siptest, which is for tests only"}},
		{"library outside its home", []pkg{{path: "app"}, {path: "queue", imports: []string{"github.com/emiago/sipgo/sip"}}, {path: "api"}, {path: "sip"}, {path: "internal/siptest"}, {path: "e2e"}},
			[]string{"queue imports github.com/emiago/sipgo/sip, whose home is sip"}},
		{"a package of tests imported", []pkg{{path: "app", imports: []string{hot("e2e")}}, {path: "queue"}, {path: "api"}, {path: "sip"}, {path: "internal/siptest"}, {path: "e2e"}},
			[]string{"app imports e2e, a package of tests"}},
		{"new package without a layer, stale entry", []pkg{{path: "app"}, {path: "queue"}, {path: "api"}, {path: "callback"}, {path: "internal/siptest"}, {path: "e2e"}},
			[]string{"callback has no layer: give it one in docs/architecture.md", "sip is in the layers but is not a package"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := check(r, tt.pkgs); !slices.Equal(got, tt.want) {
				t.Fatalf("got %q\nwant %q", got, tt.want)
			}
		})
	}
	if _, err := parseRules([]byte("```layers\n1 app\n2 app\n```\n")); err == nil {
		t.Error("a package in two layers was accepted")
	}
}
