package flows

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/hotline-dev/hotline/internal/logbuf"
)

const goodFlow = "flow: a\nnumbers: [\"100\"]\nlanguages: [en]\nnodes:\n  bye: {type: hangup}\n"

func write(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestRegistryReloadKeepsLastGoodSet(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.yaml")
	write(t, path, goodFlow)
	r := NewRegistry(dir, Env{}, nil)
	if r.Current() != nil {
		t.Fatal("set before first load")
	}
	if _, err := r.Reload(); err != nil {
		t.Fatalf("first load: %v", err)
	}
	first, ok := r.ByNumber("100")
	if !ok {
		t.Fatal("number 100 not served")
	}
	v1 := r.Current().Version()

	write(t, path, goodFlow+"  oops: {type: goto, next: nowhere}\n")
	ps, err := r.Reload()
	if !errors.Is(err, ErrRejected) || !HasErrors(ps) {
		t.Fatalf("broken reload: err=%v problems=%v", err, ps)
	}
	if r.Current().Version() != v1 {
		t.Error("a rejected reload replaced the set")
	}

	write(t, path, "# v2\n"+goodFlow)
	if _, err := r.Reload(); err != nil {
		t.Fatalf("fixed reload: %v", err)
	}
	second, _ := r.ByNumber("100")
	if second == first || second.Version == first.Version {
		t.Error("reload did not build a new flow")
	}
	if _, ok := first.Nodes["bye"]; !ok || first.Version != v1Flow(t) {
		t.Error("the flow a call started with changed")
	}

	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Reload(); !errors.Is(err, ErrNoDir) || r.Current() == nil {
		t.Errorf("missing dir: err=%v, set kept=%v", err, r.Current() != nil)
	}
}

func v1Flow(t *testing.T) string {
	f, _ := Parse("x", []byte(goodFlow))
	return f.Version
}

func TestRegistryWatchReloadsOnChange(t *testing.T) {
	defer goleak.VerifyNone(t)
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "a.yaml")
		write(t, path, goodFlow)
		r := NewRegistry(dir, Env{}, nil)
		if _, err := r.Reload(); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- r.WatchEvery(ctx, time.Second) }()

		v1 := r.Current().Version()
		// Advancing the bubble's fake clock past a poll tick, then waiting
		// for every goroutine to block, is deterministic: no real sleeping.
		tick := func() { time.Sleep(time.Second); synctest.Wait() }
		tick()
		if r.Current().Version() != v1 {
			t.Fatal("reloaded without a change")
		}
		write(t, path, goodFlow+"# changed\n")
		tick()
		v2 := r.Current().Version()
		if v2 == v1 {
			t.Fatal("watch did not reload the changed file")
		}
		write(t, path, "flow: [broken\n")
		tick()
		if r.Current().Version() != v2 {
			t.Fatal("watch installed a broken set")
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Watch returned %v", err)
		}
	})
}

// A reload that would leave no flow at all (the file deleted by mistake)
// keeps the last good set and says so at error level.
func TestRegistryReloadWithNoFlowFilesKeepsLastGoodSet(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.yaml")
	write(t, path, goodFlow)
	var logs logbuf.Buffer
	r := NewRegistry(dir, Env{}, slog.New(slog.NewTextHandler(&logs, nil)))
	if _, err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	v1 := r.Current().Version()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	_, err := r.Reload()
	if !errors.Is(err, ErrNoFlows) || !errors.Is(err, ErrRejected) {
		t.Fatalf("reload of an empty directory: %v, want ErrNoFlows and ErrRejected", err)
	}
	if r.Current().Version() != v1 {
		t.Fatal("an empty directory replaced the flows in service")
	}
	if loaded, rejected := r.Reloads(); loaded != 1 || rejected != 1 {
		t.Errorf("Reloads() = %d loaded, %d rejected; want 1, 1", loaded, rejected)
	}
	if _, ok := r.ByNumber("100"); !ok {
		t.Error("number 100 no longer served")
	}
	if !strings.Contains(logs.String(), "level=ERROR msg=\"flows: reload rejected: no flow files") {
		t.Errorf("no error logged:\n%s", logs.String())
	}
}

// Each problem of a rejected reload is logged once, at its own level.
func TestRegistryLogsEachProblemOnce(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a.yaml"), goodFlow)
	var logs logbuf.Buffer
	r := NewRegistry(dir, Env{}, slog.New(slog.NewTextHandler(&logs, nil)))
	if _, err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "a.yaml"), goodFlow+"  oops: {type: goto, next: nowhere}\n")
	ps, err := r.Reload()
	if !errors.Is(err, ErrRejected) || len(ps) == 0 {
		t.Fatalf("broken reload: %v %v", err, ps)
	}
	for _, p := range ps {
		want := fmt.Sprintf("line=%d node=%s", p.Line, p.Node)
		if n := strings.Count(logs.String(), strconv.Quote("flows: "+p.Message)+" file="); n != 1 || !strings.Contains(logs.String(), want) {
			t.Errorf("problem %q logged %d times:\n%s", p.Message, n, logs.String())
		}
	}
}
