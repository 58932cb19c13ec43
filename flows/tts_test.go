package flows

import (
	"path/filepath"
	"slices"
	"testing"
)

// ttsFlows: greeting and closed are literals (greeting set twice, the same
// text once); parcel comes from a lookup and named from a {placeholder}, so
// only the call knows them.
const ttsFlows = `flow: t
numbers: ["100"]
languages: [vi, th]
nodes:
  start: {type: set, vars: {greeting: " Xin chào ", closed: "Đã đóng cửa", named: "Chào {caller}"}, next: again}
  again: {type: set, vars: {greeting: "Xin chào"}, next: look}
  look: {type: http, lookup: order-status, assign: {parcel: message, order: id}, next: p, on_failure: p}
  p:
    type: menu
    prompts: [{tts: greeting, fallback: goodbye}, {tts: parcel, fallback: goodbye}, {tts: named}]
    options: {"1": bye}
    invalid_prompts: [{tts: closed}]
    exhausted: bye
  bye: {type: hangup}
`

func TestStaticSpeech(t *testing.T) {
	f, ps := Parse("t.yaml", []byte(ttsFlows))
	if len(ps) != 0 {
		t.Fatalf("problems: %s", render(ps))
	}
	got := NewSet(f).StaticSpeech()
	want := []Speech{{"Xin chào", "vi"}, {"Xin chào", "th"}, {"Đã đóng cửa", "vi"}, {"Đã đóng cửa", "th"}}
	if !slices.Equal(got, want) {
		t.Errorf("StaticSpeech = %q, want %q", got, want)
	}
	if (*Set)(nil).StaticSpeech() != nil {
		t.Error("nil set has speech")
	}
}

// The registry calls OnLoad with each set it puts in service, not with a
// rejected one.
func TestRegistryOnLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.yaml")
	write(t, path, goodFlow)
	r := NewRegistry(dir, Env{}, nil)
	var loaded []*Set
	r.OnLoad(func(s *Set) { loaded = append(loaded, s) })
	if _, err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	write(t, path, goodFlow+"  oops: {type: goto, next: nowhere}\n")
	if _, err := r.Reload(); err == nil {
		t.Fatal("broken flow accepted")
	}
	write(t, path, "# v2\n"+goodFlow)
	if _, err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	if len(loaded) != 2 || loaded[1] != r.Current() || loaded[0] == loaded[1] {
		t.Errorf("OnLoad got %d sets, want the 2 accepted ones", len(loaded))
	}
}
