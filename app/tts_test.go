package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/tts"
)

const ttsFlow = `flow: greet
numbers: ["900"]
languages: [vi, th]
nodes:
  s: {type: set, vars: {m: "%s"}, next: p}
  p: {type: play, prompts: [{tts: m, fallback: goodbye}], next: b}
  b: {type: hangup}
`

// The flows' static texts are in the text-to-speech cache soon after
// start, in every language of the flow, and a reload's new text too:
// nobody called, so the warm-up made them.
func TestTTSWarmUpAtStartAndReload(t *testing.T) {
	engine, err := tts.Find()
	if err != nil {
		t.Skip(err)
	}
	cfg := testConfig(t)
	cfg.Flows.Dir = t.TempDir()
	cfg.TTS = config.TTS{Engine: config.TTSEspeak, Dir: t.TempDir(), Wait: time.Second}
	path := filepath.Join(cfg.Flows.Dir, "greet.yaml")
	if err := os.WriteFile(path, fmt.Appendf(nil, ttsFlow, "Xin chào"), 0o644); err != nil {
		t.Fatal(err)
	}
	a, err := New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	keys := tts.NewCache(cfg.TTS.Dir, engine) // names the files only
	defer keys.Close()
	cached := func(text, lang string) {
		t.Helper()
		file := filepath.Join(cfg.TTS.Dir, keys.Key(text, lang)+".wav")
		for deadline := time.Now().Add(60 * time.Second); ; {
			if _, err := os.Stat(file); err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%q (%s) never warmed into %s", text, lang, file)
			}
			time.Sleep(20 * time.Millisecond) // polling the file, not synchronising
		}
	}
	cached("Xin chào", "vi")
	cached("Xin chào", "th")
	if err := os.WriteFile(path, fmt.Appendf(nil, ttsFlow, "สวัสดีครับ"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Reload(); err != nil {
		t.Fatal(err)
	}
	cached("สวัสดีครับ", "th")
	cached("สวัสดีครับ", "vi")
}
