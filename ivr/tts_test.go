package ivr

import (
	"context"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/tts"
)

const ttsFlow = `
flow: t
languages: [en]
nodes:
  start: {type: set, vars: {m: "Your parcel is on its way."}, next: p}
  p: {type: play, prompts: [{tts: m, fallback: sorry}, goodbye], next: bye}
  bye: {type: hangup}
`

// A {tts} entry plays the engine's cached prompt for the text in the
// call's voice; without an engine, or when the text is not ready within
// the wait, its fallback plays and the call goes on.
func TestTTSEntry(t *testing.T) {
	e, err := tts.Find()
	if err != nil {
		t.Skip(err)
	}
	cache := tts.NewCache(t.TempDir(), e)
	defer cache.Close()
	// Warm the cache first: the call path only reads it.
	if _, err := cache.Prompt(t.Context(), "Your parcel is on its way.", "en", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	key := cache.Key("Your parcel is on its way.", "en")
	cold := tts.NewCache(t.TempDir(), gatedEngine{})
	defer cold.Close()
	for _, tc := range []struct {
		name string
		tts  *tts.Cache
		want string
	}{
		{"cached", cache, key + " en/goodbye"},
		{"no engine", nil, "en/sorry en/goodbye"},
		{"not ready in time", cold, "en/sorry en/goodbye"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			eng, err := NewEngine(Config{Prompts: lib{}, Clock: newTestClock(monday10), TTS: tc.tts, TTSWait: 20 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			call := newFakeCall("+84281234567")
			call.instant = true
			eng.Run(t.Context(), call, mustFlow(t, ttsFlow))
			if got := call.Played(); got != tc.want {
				t.Errorf("played %q, want %q", got, tc.want)
			}
		})
	}
}

// gatedEngine never answers until its context ends (Close).
type gatedEngine struct{}

func (gatedEngine) Name() string { return "gated" }
func (gatedEngine) Synthesize(ctx context.Context, _, _ string) ([]byte, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}
