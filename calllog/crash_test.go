package calllog

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/store"
)

const (
	crashEnv   = "HOTLINE_CALLLOG_CRASH_DIR"
	crashCalls = 30
)

// downSink is a database that is always down.
type downSink struct{}

func (downSink) LogCalls(context.Context, []store.CallRecord) ([]store.LogResult, error) {
	return nil, fmt.Errorf("connection refused")
}

// crashChild runs in the re-executed test binary: it spools crashCalls
// records through a Logger whose database is down, starts a torn record,
// says READY and waits to be killed. It reports whether it was the child.
func crashChild() bool {
	dir := os.Getenv(crashEnv)
	if dir == "" {
		return false
	}
	fail := func(err error) { fmt.Println("ERROR", err); os.Exit(1) }
	l, err := New(downSink{}, Options{SpoolDir: dir, RetryBackoff: time.Hour})
	if err != nil {
		fail(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go l.Run(ctx) //nolint:errcheck // the process is killed while it runs
	for i := range crashCalls {
		if err := l.Log(sample(fmt.Sprintf("crash-%02d", i))); err != nil {
			fail(err)
		}
	}
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	if err := l.waitFor(wctx, func() bool { return l.pending == 0 && l.spool.count == crashCalls }); err != nil {
		fail(err)
	}
	// A record half written when the process dies.
	l.mu.Lock()
	torn, _ := appendRecord(nil, sample("torn"))
	_, _ = l.spool.f.WriteAt(torn[:len(torn)/2], l.spool.size)
	_ = l.spool.f.Sync()
	l.mu.Unlock()
	fmt.Println("READY")
	select {} // killed here
}

func TestCrashBetweenSpoolAndReplay(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	_ = cmd.Process.Kill() // SIGKILL: no deferred code, no flush
	_ = cmd.Wait()
	if strings.TrimSpace(line) != "READY" {
		t.Fatalf("child said %q", line)
	}

	s := openSQLite(t, filepath.Join(t.TempDir(), "h.db"))
	// Pretend a previous replay committed the first ten and died before
	// truncating the spool: they are in the database and in the spool.
	var first []store.CallRecord
	for i := range 10 {
		first = append(first, sample(fmt.Sprintf("crash-%02d", i)))
	}
	if _, err := s.LogCalls(t.Context(), first); err != nil {
		t.Fatal(err)
	}
	l, err := New(s, Options{SpoolDir: dir, BatchSize: 7})
	if err != nil {
		t.Fatal(err)
	}
	if st := l.Stats(); st.Spooled != crashCalls {
		t.Fatalf("restart found %d spooled records; want %d (torn one discarded)", st.Spooled, crashCalls)
	}
	start(t, l)
	if err := l.WaitIdle(waitCtx(t)); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range crashCalls {
		ids = append(ids, fmt.Sprintf("crash-%02d", i))
	}
	wantOnce(t, countCalls(t, s), ids)
	if st := l.Stats(); st.Written != crashCalls-10 || st.Dupes != 10 {
		t.Fatalf("stats = %+v; want %d written, 10 duplicates", st, crashCalls-10)
	}
	if fi, err := os.Stat(filepath.Join(dir, SpoolFile)); err != nil || fi.Size() != 0 {
		t.Fatalf("spool not emptied after replay: %v %v", fi, err)
	}
}
