package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/hotline-dev/hotline/internal/testenv"
)

// TestCheckAndServeAgreeOnPrompts runs `hotline flows check` and `hotline
// serve` over the same prompt folders and compares their verdicts: a folder
// check passes is one serve starts with, and a file check names as unusable
// stops serve with the same words. The files are written by sox (44.1 kHz
// stereo, 16 kHz, 8-bit, FLAC), plus a corrupt one and a 12-bit one.
func TestCheckAndServeAgreeOnPrompts(t *testing.T) {
	sox := testenv.Tool(t, "sox", "apt-get install sox")
	gen := func(t *testing.T, path string, args ...string) {
		t.Helper()
		must(t, os.MkdirAll(filepath.Dir(path), 0o755))
		all := append(append([]string{"-n"}, args...), path, "synth", "0.3", "sine", "1000", "vol", "0.5")
		if out, err := exec.Command(sox, all...).CombinedOutput(); err != nil {
			t.Fatalf("sox %v: %v\n%s", all, err, out)
		}
	}
	good := func(t *testing.T, prompts string) {
		gen(t, filepath.Join(prompts, "en", "welcome.wav"), "-r", "44100", "-c", "2", "-b", "16")
		gen(t, filepath.Join(prompts, "en", "goodbye.wav"), "-r", "16000", "-c", "1", "-b", "16")
		gen(t, filepath.Join(prompts, "en", "menu.wav"), "-r", "22050", "-c", "1", "-b", "8", "-e", "unsigned-integer")
		gen(t, filepath.Join(prompts, "en", "thanks.flac"), "-r", "48000", "-c", "2", "-b", "24")
	}
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, prompts string)
		bad   string // "" when both must accept; else the reason, in check's output and serve's log
		file  string // the file named with it
	}{
		{"any format", good, "", ""},
		{"one 16 kHz file", func(t *testing.T, prompts string) {
			gen(t, filepath.Join(prompts, "en", "welcome.wav"), "-r", "16000", "-c", "1", "-b", "16")
			gen(t, filepath.Join(prompts, "en", "goodbye.wav"), "-r", "8000", "-c", "1", "-b", "16")
			gen(t, filepath.Join(prompts, "en", "menu.wav"), "-r", "8000", "-c", "1", "-e", "u-law")
			gen(t, filepath.Join(prompts, "en", "thanks.wav"), "-r", "8000", "-c", "1", "-e", "a-law")
		}, "", ""},
		{"no prompt directory", func(t *testing.T, prompts string) {}, "cannot read the prompt directory (media.prompts): open ", "."},
		{"corrupt", func(t *testing.T, prompts string) {
			good(t, prompts)
			path := filepath.Join(prompts, "en", "menu.wav")
			b, err := os.ReadFile(path)
			must(t, err)
			must(t, os.WriteFile(path, b[:len(b)/2], 0o644))
		}, `truncated "data" chunk at byte `, "en/menu.wav"},
		{"12-bit", func(t *testing.T, prompts string) {
			good(t, prompts)
			path := filepath.Join(prompts, "en", "goodbye.wav")
			b, err := os.ReadFile(path)
			must(t, err)
			b[34] = 12 // bits per sample of the plain fmt chunk sox writes for 16-bit mono
			must(t, os.WriteFile(path, b, 0o644))
		}, "12-bit PCM is not supported", "en/goodbye.wav"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			prompts, flowsDir := filepath.Join(dir, "prompts"), filepath.Join(dir, "flows")
			tc.setup(t, prompts)
			must(t, os.MkdirAll(flowsDir, 0o755))
			must(t, os.WriteFile(filepath.Join(flowsDir, "a.yaml"), []byte(promptsFlow), 0o644))
			cfg := serveConfig(t, dir, prompts, flowsDir)

			var out, errb bytes.Buffer
			checkCode := flowsCmd(t.Context(), []string{"check", "--config", cfg}, &out, &errb)
			checkOut := out.String() + errb.String()

			var stderr lockedBuffer
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			done := make(chan int, 1)
			go func() { done <- serveCmd(ctx, []string{"--config", cfg}, &bytes.Buffer{}, &stderr) }()

			if tc.bad != "" {
				serveCode := <-done
				// The same reason, word for word, in both.
				path := filepath.Clean(filepath.Join(prompts, tc.file))
				var reason string
				for _, line := range strings.Split(checkOut, "\n") {
					if r, ok := strings.CutPrefix(line, path+": "); ok {
						reason = r
					}
				}
				if checkCode != 1 || !strings.HasPrefix(reason, tc.bad) {
					t.Errorf("flows check: exit %d, want 1 with %q: %q:\n%s", checkCode, path, tc.bad, checkOut)
				}
				if want := "msg=" + strconv.Quote("prompts: "+reason) + " file=" + path + " "; serveCode != 1 || !strings.Contains(stderr.String(), want) {
					t.Errorf("serve: exit %d, want 1 with %q:\n%s", serveCode, want, stderr.String())
				}
				return
			}
			if checkCode != 0 {
				t.Errorf("flows check: exit %d, want 0:\n%s", checkCode, checkOut)
			}
			waitFor(t, &stderr, "hotline serving")

			// A new prompt and the flow that plays it: check passes, and
			// so does the live reload.
			gen(t, filepath.Join(prompts, "en", "news.wav"), "-r", "32000", "-c", "2", "-b", "32", "-e", "floating-point")
			must(t, os.WriteFile(filepath.Join(flowsDir, "b.yaml"), []byte(strings.NewReplacer("flow: a", "flow: b", `"100"`, `"200"`, "[welcome]", "[news]").Replace(promptsFlow)), 0o644))
			out.Reset()
			if code := flowsCmd(t.Context(), []string{"check", "--config", cfg}, &out, &out); code != 0 {
				t.Errorf("flows check after adding a prompt: exit %d:\n%s", code, out.String())
			}
			must(t, syscall.Kill(os.Getpid(), syscall.SIGHUP))
			waitFor(t, &stderr, "flows=2")
			if strings.Contains(stderr.String(), "reload rejected") {
				t.Errorf("the live reload refused what check passed:\n%s", stderr.String())
			}
			cancel()
			if code := <-done; code != 0 {
				t.Errorf("serve exit %d:\n%s", code, stderr.String())
			}
		})
	}
}

const promptsFlow = `flow: a
numbers: ["100"]
languages: [en]
nodes:
  hi: {type: play, prompts: [welcome, menu, thanks, goodbye], next: bye}
  bye: {type: hangup}
`

func serveConfig(t *testing.T, dir, prompts, flowsDir string) string {
	t.Helper()
	cfg := filepath.Join(dir, "hotline.yaml")
	must(t, os.WriteFile(cfg, []byte(`sip: {udp: "127.0.0.1:0", tcp: "127.0.0.1:0"}
http: {addr: "127.0.0.1:0"}
media: {prompts: `+prompts+`, port_min: 21000, port_max: 21100}
flows: {dir: `+flowsDir+`, watch: false}
database: {url: "sqlite:`+filepath.Join(dir, "h.db")+`", spool_dir: `+filepath.Join(dir, "spool")+`}
`), 0o644))
	t.Setenv("HOTLINE_DATABASE_URL", "")
	return cfg
}
