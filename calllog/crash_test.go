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
	crashEnv      = "HOTLINE_CALLLOG_CRASH_DIR"
	crashCalls    = 30 // answered (marked) in the child
	crashFinished = 20 // of which finished before the kill
)

// downSink is a database that is always down.
type downSink struct{}

func (downSink) LogCalls(context.Context, []store.CallRecord) ([]store.LogResult, error) {
	return nil, fmt.Errorf("connection refused")
}

func crashID(i int) string { return fmt.Sprintf("crash-%02d", i) }

// crashChild runs in the re-executed test binary: its database is down;
// it marks crashCalls calls answered, finishes the first crashFinished
// (the last one just before saying READY, as a call that ends 1 ms before
// the kill), starts a torn entry, says READY and waits to be killed. It
// reports whether it was the child.
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
	marks := make([]*Mark, crashCalls)
	for i := range crashCalls {
		base := sample(crashID(i))
		base.Voice.Outcome, base.Voice.Path, base.Voice.FlowName = "", nil, "support"
		if marks[i], err = l.Begin(base); err != nil {
			fail(err)
		}
	}
	for i := range crashFinished {
		if err := l.Finish(marks[i], sample(crashID(i))); err != nil {
			fail(err)
		}
	}
	// A half-written entry when the process dies.
	l.fileMu.Lock()
	torn, _ := appendEntry(nil, entry{Kind: kindEnd, Record: sample("torn")})
	_, _ = l.sp.f.WriteAt(torn[:len(torn)/2], l.size)
	_ = l.sp.f.Sync()
	fmt.Println("READY")
	select {} // killed here, holding fileMu: nothing more is written
}

// killChild re-executes the test binary as crashChild on dir and kills it
// (SIGKILL: no deferred code, no flush) once it says READY.
func killChild(t *testing.T, dir string) {
	t.Helper()
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
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if strings.TrimSpace(line) != "READY" {
		t.Fatalf("child said %q", line)
	}
}

// After kill -9: every finished call has its own record, every call in
// progress one record failed/server-restart, none twice, also when a
// previous replay had committed part of the spool; a second restart adds
// nothing.
func TestCrashRecordsEveryAnsweredCallOnce(t *testing.T) {
	dir := t.TempDir()
	killChild(t, dir)

	s := openSQLite(t, filepath.Join(t.TempDir(), "h.db"))
	// Pretend a previous replay committed the first ten and died before
	// compacting the spool: they are in the database and in the spool.
	var first []store.CallRecord
	for i := range 10 {
		first = append(first, sample(crashID(i)))
	}
	if _, err := s.LogCalls(t.Context(), first); err != nil {
		t.Fatal(err)
	}
	l, err := New(s, Options{SpoolDir: dir, BatchSize: 7})
	if err != nil {
		t.Fatal(err)
	}
	if st := l.Stats(); st.Recovered != crashCalls-crashFinished || st.Spooled != crashCalls || st.InProgress != 0 {
		t.Fatalf("restart stats %+v; want %d recovered, %d spooled (torn entry discarded)", st, crashCalls-crashFinished, crashCalls)
	}
	start(t, l)
	if err := l.WaitIdle(waitCtx(t)); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range crashCalls {
		ids = append(ids, crashID(i))
	}
	wantOnce(t, countCalls(t, s), ids)
	if st := l.Stats(); st.Written != crashCalls-10 || st.Dupes != 10 {
		t.Fatalf("stats = %+v; want %d written, 10 duplicates", st, crashCalls-10)
	}
	for _, in := range voiceCalls(t, s) {
		var i int
		if _, err := fmt.Sscanf(in.Voice.CallID, "crash-%d", &i); err != nil {
			t.Fatalf("unexpected call %q", in.Voice.CallID)
		}
		v := in.Voice
		if i < crashFinished {
			if v.Outcome != store.OutcomeCompleted || v.HangupCause == CauseServerRestart {
				t.Errorf("finished call %s recorded as %s/%s; want its own record", v.CallID, v.Outcome, v.HangupCause)
			}
			continue
		}
		if v.Outcome != store.OutcomeFailed || v.HangupCause != CauseServerRestart || v.HangupSide != "hotline" ||
			v.CallerNumber != "0912345678" || v.FlowName != "support" || !in.StartedAt.Equal(sample("").StartedAt) {
			t.Errorf("call in progress %s recorded as %+v (started %v); want failed/server-restart with what the mark knew", v.CallID, v, in.StartedAt)
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, SpoolFile)); err != nil || fi.Size() != 0 {
		t.Fatalf("spool not emptied after replay: %v %v", fi, err)
	}
	closeNow(t, l)

	// A second restart finds nothing left to do.
	l2, err := New(s, Options{SpoolDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if st := l2.Stats(); st.Recovered != 0 || st.Spooled != 0 {
		t.Fatalf("second restart stats %+v; want nothing", st)
	}
	closeNow(t, l2)
	wantOnce(t, countCalls(t, s), ids)
}
