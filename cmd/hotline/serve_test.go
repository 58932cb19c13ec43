package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/app"
	"github.com/hotline-dev/hotline/config"
)

// lockedBuffer is stderr shared with serve's goroutines; every write wakes
// the waiters (serve reports by logging).
type lockedBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{}
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.changed != nil {
		close(l.changed)
		l.changed = nil
	}
	return l.b.Write(p)
}

// next returns the log so far and a channel closed by the next write.
func (l *lockedBuffer) next() (string, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.changed == nil {
		l.changed = make(chan struct{})
	}
	return l.b.String(), l.changed
}

func (l *lockedBuffer) String() string { s, _ := l.next(); return s }

// waitFor blocks until the log contains s.
func waitFor(t *testing.T, l *lockedBuffer, s string) {
	t.Helper()
	timeout := time.After(15 * time.Second)
	for {
		log, changed := l.next()
		if strings.Contains(log, s) {
			return
		}
		select {
		case <-changed:
		case <-timeout:
			t.Fatalf("no %q in the log within 15s:\n%s", s, log)
		}
	}
}

const serveFlow = "flow: a\nnumbers: [\"100\"]\nlanguages: [en]\nnodes:\n  bye: {type: hangup}\n"

// After SIGHUP a broken flow is reported once per problem (not again by
// serve at another level), and deleting every flow file keeps the flows in
// service with an error logged.
func TestServeSIGHUPReportsEachProblemOnce(t *testing.T) {
	dir := t.TempDir()
	flowsDir := filepath.Join(dir, "flows")
	must(t, os.MkdirAll(flowsDir, 0o755))
	flow := filepath.Join(flowsDir, "a.yaml")
	must(t, os.WriteFile(flow, []byte(serveFlow), 0o644))
	prompts, err := filepath.Abs("../../prompts")
	must(t, err)
	cfg := filepath.Join(dir, "hotline.yaml")
	must(t, os.WriteFile(cfg, []byte(`sip: {udp: "127.0.0.1:0", tcp: "127.0.0.1:0"}
http: {addr: "127.0.0.1:0"}
media: {prompts: `+prompts+`, port_min: 45000, port_max: 45100}
flows: {dir: `+flowsDir+`, watch: false}
database: {url: "sqlite:`+filepath.Join(dir, "h.db")+`", spool_dir: `+filepath.Join(dir, "spool")+`}
`), 0o644))
	t.Setenv("HOTLINE_DATABASE_URL", "")

	var stderr lockedBuffer
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan int, 1)
	go func() { done <- serveCmd(ctx, []string{"--config", cfg}, &bytes.Buffer{}, &stderr) }()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve exit %d:\n%s", code, stderr.String())
		}
	}()
	waitFor(t, &stderr, "hotline serving")

	must(t, os.WriteFile(flow, []byte(serveFlow+"  oops: {type: goto, next: nowhere}\n"), 0o644))
	must(t, syscall.Kill(os.Getpid(), syscall.SIGHUP))
	waitFor(t, &stderr, "reload rejected, previous flows keep serving")
	if n := strings.Count(stderr.String(), `unknown node \"nowhere\"`); n != 1 {
		t.Errorf("the broken reference is logged %d times, want once:\n%s", n, stderr.String())
	}

	must(t, os.Remove(flow))
	must(t, syscall.Kill(os.Getpid(), syscall.SIGHUP))
	waitFor(t, &stderr, "no flow files, previous flows keep serving")
	if !strings.Contains(stderr.String(), "level=ERROR msg=\"flows: reload rejected: no flow files") {
		t.Errorf("deleting every flow is not an error:\n%s", stderr.String())
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Durations print the same way, as durations, in both log formats (slog's
// JSON handler alone would print nanoseconds).
func TestLoggerPrintsDurations(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		var b bytes.Buffer
		log, err := app.NewLogger(&b, config.Log{Level: "info", Format: format})
		must(t, err)
		log.With("call_id", "c1").WithGroup("queue").Info("call ended", "duration", 1500*time.Millisecond, "talk", 42*time.Second)
		out := b.String()
		for _, want := range []string{"1.5s", "42s"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: %q lacks %q", format, out, want)
			}
		}
		if strings.Contains(out, "1500000000") {
			t.Errorf("%s: nanoseconds in %q", format, out)
		}
	}
}
