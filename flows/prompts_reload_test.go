package flows

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hotline-dev/hotline/media"
	"go.uber.org/goleak"
)

// wavBytes is a 16-bit PCM WAV of a 1 kHz tone (bits 12 writes a header
// the loader must refuse).
func wavBytes(rate, channels, bits int, secs float64) []byte {
	le := binary.LittleEndian
	frames := int(float64(rate) * secs)
	width := (bits + 7) / 8
	var data []byte
	for i := range frames {
		v := int16(8000 * math.Sin(2*math.Pi*1000*float64(i)/float64(rate)))
		for range channels {
			data = le.AppendUint16(data, uint16(v))
		}
	}
	b := []byte("RIFF")
	b = le.AppendUint32(b, uint32(36+len(data)))
	b = append(b, "WAVEfmt "...)
	b = le.AppendUint32(b, 16)
	b = le.AppendUint16(b, 1)
	b = le.AppendUint16(b, uint16(channels))
	b = le.AppendUint32(b, uint32(rate))
	b = le.AppendUint32(b, uint32(rate*channels*width))
	b = le.AppendUint16(b, uint16(channels*width))
	b = le.AppendUint16(b, uint16(bits))
	b = append(b, "data"...)
	b = le.AppendUint32(b, uint32(len(data)))
	return append(b, data...)
}

func writeBytes(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

const playFlow = "flow: a\nnumbers: [\"100\"]\nlanguages: [en]\nnodes:\n  hi: {type: play, prompts: [welcome], next: bye}\n  bye: {type: hangup}\n"

// A prompt added, changed or broken on disk goes through the same reload as
// the flows: a good one is served with the flows that name it, a broken one
// is refused with the file and the reason while the last good one plays on.
func TestRegistryReloadsPrompts(t *testing.T) {
	dir := t.TempDir()
	flowsDir, promptsDir := filepath.Join(dir, "flows"), filepath.Join(dir, "prompts")
	writeBytes(t, filepath.Join(flowsDir, "a.yaml"), []byte(playFlow))
	writeBytes(t, filepath.Join(promptsDir, "en", "welcome.wav"), wavBytes(8000, 1, 16, 0.5))
	lib := media.NewLibrary(promptsDir)
	r := NewRegistry(flowsDir, Env{}, nil).WithPrompts(lib)
	if _, err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	if p, err := lib.Prompt("en", "welcome"); err != nil || p.Samples() != 4000 {
		t.Fatalf("welcome after the first load: %v, %v", p, err)
	}

	// A new flow naming a new prompt, recorded at 44.1 kHz stereo: both load.
	writeBytes(t, filepath.Join(flowsDir, "b.yaml"), []byte(strings.NewReplacer("welcome", "news", `"100"`, `"200"`, "flow: a", "flow: b").Replace(playFlow)))
	writeBytes(t, filepath.Join(promptsDir, "en", "news.wav"), wavBytes(44100, 2, 16, 1))
	if ps, err := r.Reload(); err != nil {
		t.Fatalf("reload with a new prompt: %v %v", err, ps)
	}
	news, err := lib.Prompt("en", "news")
	if err != nil || news.Samples() != 8000 {
		t.Fatalf("news after reload: %v, %v", news, err)
	}

	// The prompt is replaced by a broken file: refused, naming it; the
	// old recording keeps playing and the flows stay.
	v := r.Current().Version()
	bad := filepath.Join(promptsDir, "en", "news.wav")
	writeBytes(t, bad, wavBytes(16000, 1, 12, 1))
	ps, err := r.Reload()
	if !errors.Is(err, ErrRejected) {
		t.Fatalf("reload with a broken prompt: err %v", err)
	}
	want := bad + ": 12-bit PCM is not supported"
	if len(ps) != 1 || ps[0].String() != want+" (8, 16, 24 or 32-bit)" {
		t.Fatalf("problems %v, want one: %q", ps, want)
	}
	if p, _ := lib.Prompt("en", "news"); p != news || r.Current().Version() != v {
		t.Fatal("a rejected reload replaced the prompt or the flows")
	}

	// Removing a prompt a flow plays is a flow error, like a missing file
	// at start.
	if err := os.Remove(bad); err != nil {
		t.Fatal(err)
	}
	ps, err = r.Reload()
	if !errors.Is(err, ErrRejected) || len(ps) != 1 || !strings.Contains(ps[0].Message, `prompt "news" missing for en`) {
		t.Fatalf("reload without a named prompt: %v %v", err, ps)
	}
	if !lib.Has("en", "news") {
		t.Fatal("the rejected reload dropped a prompt in service")
	}
}

// The watch notices a prompt file change alone (no flow file changed).
func TestRegistryWatchReloadsPrompts(t *testing.T) {
	defer goleak.VerifyNone(t)
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		flowsDir, promptsDir := filepath.Join(dir, "flows"), filepath.Join(dir, "prompts")
		writeBytes(t, filepath.Join(flowsDir, "a.yaml"), []byte(playFlow))
		path := filepath.Join(promptsDir, "en", "welcome.wav")
		writeBytes(t, path, wavBytes(8000, 1, 16, 0.5))
		lib := media.NewLibrary(promptsDir)
		r := NewRegistry(flowsDir, Env{}, nil).WithPrompts(lib)
		if _, err := r.Reload(); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- r.WatchEvery(ctx, time.Second) }()
		tick := func() { time.Sleep(time.Second); synctest.Wait() }

		writeBytes(t, path, wavBytes(16000, 1, 16, 2))
		tick()
		if p, _ := lib.Prompt("en", "welcome"); p.Samples() != 16000 {
			t.Fatalf("watch did not load the changed prompt: %d samples", p.Samples())
		}
		writeBytes(t, path, []byte("RIFF garbage"))
		tick()
		if p, _ := lib.Prompt("en", "welcome"); p.Samples() != 16000 {
			t.Fatal("watch installed a broken prompt")
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}
