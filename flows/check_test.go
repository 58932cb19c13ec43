package flows

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hotline-dev/hotline/config"
)

var update = flag.Bool("update", false, "rewrite golden files")

// fakePrompts has every prompt except names containing "nope", those
// ending in "only-en" outside English, and any prompt in Thai.
type fakePrompts struct{}

func (fakePrompts) Has(lang, name string) bool {
	switch {
	case strings.Contains(name, "nope"):
		return false
	case strings.HasSuffix(name, "only-en"):
		return lang == "en"
	case lang == "th":
		return false
	}
	return true
}

func testEnv() Env {
	return Env{
		Queues: map[string]config.Queue{"technical": {}, "sales": {},
			"operator": {Exit: "queue-exit", Keys: map[string]string{"9": "callback", "1": "main"}}},
		Lookups:   map[string]config.Lookup{"order-status": {URL: "http://x/{order}"}},
		Calendars: map[string]config.Calendar{"office": {TimeZone: "Asia/Ho_Chi_Minh"}},
		Prompts:   fakePrompts{},
	}
}

func render(ps []Problem) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString(p.String())
		b.WriteByte('\n')
	}
	return b.String()
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs:\n--- got\n%s--- want\n%s", path, got, want)
	}
}

// TestCheckGolden parses and checks each testdata/check/*.yaml on its own
// and compares every problem with the .golden file beside it.
func TestCheckGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/check/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			f, ps := Parse(path, data)
			if f != nil {
				ps = append(ps, Check(NewSet(f), testEnv())...)
			}
			Sort(ps)
			golden(t, strings.TrimSuffix(path, ".yaml")+".golden", render(ps))
		})
	}
}

func TestLoadDirDuplicatesAcrossFiles(t *testing.T) {
	set, ps := LoadDir("testdata/dup", testEnv())
	golden(t, "testdata/dup.golden", render(ps))
	if got := len(set.Flows()); got != 2 {
		t.Errorf("flows = %d, want 2 (the .txt file is skipped)", got)
	}
	f, ok := set.ByNumber("200")
	if !ok || f.File != filepath.Join("testdata", "dup", "a.yaml") {
		t.Errorf("ByNumber(200) = %v, %v; want the first file's flow", f, ok)
	}
	if _, ok := set.ByNumber("999"); ok {
		t.Error("ByNumber(999) found a flow")
	}
}

func TestLoadDirEmptyAndMissing(t *testing.T) {
	dir := t.TempDir()
	_, ps := LoadDir(dir, Env{})
	if len(ps) != 1 || ps[0].Severity != Error || !strings.Contains(ps[0].Message, "no flow files") {
		t.Errorf("empty dir: %v", ps)
	}
	_, ps = LoadDir(filepath.Join(dir, "absent"), Env{})
	if !HasErrors(ps) {
		t.Errorf("missing dir: want an error, got %v", ps)
	}
}

func TestGoodFlowModel(t *testing.T) {
	data, err := os.ReadFile("testdata/check/good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f, ps := Parse("good.yaml", data)
	if len(ps) != 0 {
		t.Fatalf("problems: %v", ps)
	}
	if f.Name != "support" || f.Version != "2026-11-23" || f.Start != "welcome" || f.FallbackLanguage != "en" {
		t.Errorf("flow header: %+v", f)
	}
	lang := f.Nodes["lang"]
	if lang.Retries != 2 || lang.Timeout.String() != "5s" || lang.InterDigitTimeout.String() != "2s" || !lang.BargeIn {
		t.Errorf("menu defaults: %+v", lang)
	}
	if len(lang.Options) != 3 || lang.Options[2].Digits != "0" || lang.Options[2].Line != 18 {
		t.Errorf("options: %+v", lang.Options)
	}
	say := f.Nodes["say-status"].Prompts
	if len(say) != 3 || say[2].Digits != "order" || !say[1].Templated() {
		t.Errorf("prompts: %+v", say)
	}
	tech := f.Nodes["tech"]
	if tech.Tags[1] != "kỹ thuật" || tech.Priority != "normal" {
		t.Errorf("ticket: %+v", tech)
	}
	if h := f.Nodes["lookup"]; h.Assign[1].Name != "eta" || h.Assign[1].Value != "delivery.eta" {
		t.Errorf("assign: %+v", h.Assign)
	}
	g := f.Nodes["order"]
	if g.MinDigits != 6 || g.MaxDigits != 10 || g.Terminator != "#" || !g.Confirm || g.Pattern == nil {
		t.Errorf("gather: %+v", g)
	}
}

func TestVersionIsContentHashWithoutExplicitVersion(t *testing.T) {
	a := []byte("flow: x\nlanguages: [en]\nnodes:\n  bye: {type: hangup}\n")
	b := append(append([]byte(nil), a...), []byte("# changed\n")...)
	fa, _ := Parse("a.yaml", a)
	fb, _ := Parse("a.yaml", b)
	if fa.Version == fb.Version || len(fa.Version) != 12 {
		t.Errorf("versions %q %q: want distinct 12-hex hashes", fa.Version, fb.Version)
	}
}

type ptrLib struct{}

func (*ptrLib) Has(string, string) bool { return true }

func TestEnvFromConfigTypedNil(t *testing.T) {
	var lib *ptrLib
	if env := EnvFromConfig(config.Config{}, lib); env.Prompts != nil || env.Queues == nil {
		t.Errorf("env %+v: want nil prompts and empty (not nil) queues", env)
	}
}

// With an engine, the same tts entry checks clean.
func TestTTSWithEngine(t *testing.T) {
	env := testEnv()
	env.TTS = "espeak-ng"
	f, ps := Parse("t.yaml", []byte(`flow: t
languages: [en]
nodes:
  start: {type: set, vars: {m: "hello"}, next: p}
  p: {type: play, prompts: [{tts: m, fallback: goodbye}], next: bye}
  bye: {type: hangup}
`))
	if len(ps) == 0 {
		ps = Check(NewSet(f), env)
	}
	if len(ps) != 0 {
		t.Errorf("problems: %s", render(ps))
	}
}
