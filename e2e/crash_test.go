package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/app"
	"github.com/hotline-dev/hotline/calllog"
	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/internal/testenv"
	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/store/postgres/pgtest"
	"github.com/hotline-dev/hotline/store/storeopen"
	"github.com/hotline-dev/hotline/testcall"
)

// The crash tests run Hotline as a child process (this test binary
// re-executed as TestCrashChild), place real calls, kill -9 it and start
// it again on the same spool and database.
const (
	childDirEnv = "HOTLINE_E2E_CHILD_DIR"
	childDBEnv  = "HOTLINE_E2E_CHILD_DB"
	// childWebhookEnv, when set, is the URL of a webhook receiver.
	childWebhookEnv = "HOTLINE_E2E_CHILD_WEBHOOK"
	holdNumber      = "300"
)

// holdFlow keeps a caller in a menu (10 minutes) until they hang up.
const holdFlow = `flow: crash-hold
numbers: ["` + holdNumber + `"]
languages: [en]
start: welcome
nodes:
  welcome:
    type: play
    prompts: [welcome]
    next: hold
  hold:
    type: menu
    prompts: [you-entered]
    options: {"1": bye}
    timeout: 10m
    retries: 0
    exhausted: bye
  bye:
    type: hangup
    prompts: [goodbye]
`

// childConfig is the child server's configuration: the hold flow, dir's
// spool, db as the ticket history, loopback ports chosen by the kernel.
func childConfig(dir, db string) config.Config {
	cfg := config.Default()
	cfg.SIP.UDP, cfg.SIP.TCP = "127.0.0.1:0", "127.0.0.1:0"
	cfg.SIP.DrainTime = time.Second
	cfg.SIP.RateLimit = 0
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.Media.Prompts = "../prompts"
	cfg.Media.PortMin, cfg.Media.PortMax = 21000, 22998 // below the ephemeral range (32768-): never a port sipp was just given
	cfg.Media.InactivityTimeout = 10 * time.Minute      // sipp sends no RTP
	cfg.Flows.Dir = filepath.Join(dir, "flows")
	cfg.Flows.Watch = false
	cfg.Database.URL = db
	cfg.Database.SpoolDir = filepath.Join(dir, "spool")
	if url := os.Getenv(childWebhookEnv); url != "" { // webhooks_test.go
		cfg.Webhooks = map[string]config.Webhook{"desk": {URL: url, Secret: hookSecret}}
		cfg.WebhookDelivery = config.WebhookDelivery{BackoffMin: 100 * time.Millisecond, BackoffMax: time.Second}
	}
	return cfg
}

// TestCrashChild is the child server: it runs Hotline as `hotline serve`
// does and reports on stdout "READY <sip udp addr>", "EVENT <type>
// <call id>" for call.answered, ivr.node and call.ended, and "IDLE" once
// its call log has written everything it started with (or that arrived
// since) to the database. SIGTERM stops it cleanly.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(childDirEnv)
	if dir == "" {
		t.Skip("the child server of the crash tests; runs only when they re-execute the test binary")
	}
	cfg := childConfig(dir, os.Getenv(childDBEnv))
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	a, err := app.New(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	sub := a.Bus().Subscribe(100000)
	var wg sync.WaitGroup
	wg.Go(func() {
		for e := range sub.C {
			switch e.Type {
			case events.CallAnswered, events.NodeEntered, events.CallEnded:
				fmt.Printf("EVENT %s %s\n", e.Type, e.CallID)
			}
		}
	})
	wg.Go(func() {
		if a.CallLog().WaitIdle(ctx) == nil {
			fmt.Println("IDLE")
		}
	})
	fmt.Printf("READY %s\n", a.SIPAddrs()["udp"])
	if err := a.Run(ctx); err != nil {
		t.Error(err)
	}
	sub.Close()
	wg.Wait()
}

// child is one run of the child server.
type child struct {
	t     *testing.T
	cmd   *exec.Cmd
	lines chan string   // stdout, closed at exit
	diag  func() string // more to print when the child is waited for in vain
	sip   string
	log   string
	// What its events said, by Call-ID.
	answered, entered, ended map[string]bool
	idle                     bool
}

func startChild(t *testing.T, dir, db string, n int) *child {
	t.Helper()
	c := &child{t: t, lines: make(chan string, 1024), log: filepath.Join(dir, fmt.Sprintf("child-%d.log", n)),
		answered: map[string]bool{}, entered: map[string]bool{}, ended: map[string]bool{}}
	logf, err := os.Create(c.log)
	must(t, err)
	defer logf.Close()
	c.cmd = exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1", "-test.timeout=5m")
	c.cmd.Env = append(os.Environ(), childDirEnv+"="+dir, childDBEnv+"="+db)
	c.cmd.Stderr = logf
	out, err := c.cmd.StdoutPipe()
	must(t, err)
	must(t, c.cmd.Start())
	go func() {
		defer close(c.lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() { c.kill() })
	c.until(60*time.Second, "READY", func() bool { return c.sip != "" })
	return c
}

// until reads the child's stdout until cond holds.
func (c *child) until(d time.Duration, what string, cond func() bool) {
	c.t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	for !cond() {
		select {
		case line, ok := <-c.lines:
			if !ok {
				c.t.Fatalf("child server exited before %s; its log:\n%s", what, c.tail())
			}
			c.read(line)
		case <-timer.C:
			more := ""
			if c.diag != nil {
				more = c.diag()
			}
			c.t.Fatalf("no %s from the child server within %v (answered %d, ended %d)\n%sits log:\n%s",
				what, d, len(c.answered), len(c.ended), more, c.tail())
		}
	}
}

func (c *child) read(line string) {
	f := strings.Fields(line)
	switch {
	case len(f) == 2 && f[0] == "READY":
		c.sip = f[1]
	case len(f) == 1 && f[0] == "IDLE":
		c.idle = true
	case len(f) == 3 && f[0] == "EVENT":
		switch f[1] {
		case events.CallAnswered:
			c.answered[f[2]] = true
		case events.NodeEntered:
			c.entered[f[2]] = true
		case events.CallEnded:
			c.ended[f[2]] = true
		}
	}
}

// kill is kill -9: no deferred code, no flush, no shutdown.
func (c *child) kill() {
	if c.cmd.ProcessState == nil {
		_ = c.cmd.Process.Kill()
		_ = c.cmd.Wait()
	}
}

// stop is a clean shutdown (SIGTERM).
func (c *child) stop() {
	c.t.Helper()
	must(c.t, c.cmd.Process.Signal(syscall.SIGTERM))
	for range c.lines { // until it exits
	}
	if err := c.cmd.Wait(); err != nil {
		c.t.Errorf("child server stopped with %v; its log:\n%s", err, c.tail())
	}
}

func (c *child) tail() string {
	b, _ := os.ReadFile(c.log)
	if len(b) > 6000 {
		b = b[len(b)-6000:]
	}
	return string(b)
}

// calls are the test's callers: Go callers (the testcall package, as
// `hotline dial`) and sipp processes.
type calls struct {
	t      *testing.T
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	sipps  []*exec.Cmd
	// sippErr are their stderr files: a sipp that could not start its
	// call (a port taken, a bad reply) says why there.
	sippErr []string
	// goErr is why each Go caller that failed did.
	mu    sync.Mutex
	goErr []string
	once  sync.Once
}

func newCalls(t *testing.T) *calls {
	ctx, cancel := context.WithCancel(context.Background())
	cs := &calls{t: t, ctx: ctx, cancel: cancel}
	t.Cleanup(cs.end)
	return cs
}

// gocall dials number at addr from from, presses digits (a
// testcall.ParseSchedule schedule) and stays on the line for talk (unless
// Hotline hangs up first). The result goes to res, if not nil.
func (cs *calls) gocall(addr, number, from, digits string, talk time.Duration, res chan<- *testcall.Result) {
	steps, err := testcall.ParseSchedule(digits)
	must(cs.t, err)
	cs.wg.Go(func() {
		r, err := testcall.Run(cs.ctx, testcall.Options{URI: "sip:" + number + "@" + addr, From: from, Duration: talk,
			Digits: steps, AnswerTimeout: 20 * time.Second, NoAudioOK: true}, io.Discard)
		if err != nil && r != nil && r.Answered {
			err = nil // a caller cut off by the kill is still a placed call
		}
		if err != nil {
			cs.mu.Lock()
			cs.goErr = append(cs.goErr, fmt.Sprintf("go caller %s: %v", from, err))
			cs.mu.Unlock()
		}
		if res != nil {
			if err != nil {
				r = nil
			}
			res <- r
		}
	})
}

// sipp calls number with uac_pause_bye.xml: on the line for talk, then
// BYE. wait() reports how it exited.
func (cs *calls) sipp(addr, number string, talk time.Duration) (wait func() error) {
	bin := testenv.Tool(cs.t, "sipp", "Debian: apt-get install sip-tester")
	b := ports(cs.t)
	cmd := exec.Command(bin, "-sf", "uac_pause_bye.xml", "-s", number, "-m", "1", "-d", fmt.Sprint(talk.Milliseconds()),
		"-timeout", "300s", "-i", "127.0.0.1", "-mi", "127.0.0.1", "-mp", fmt.Sprint(b.media()),
		"-p", fmt.Sprint(b.sip()), "-nostdin", addr)
	cmd.Dir = "../testdata/sipp"
	errf, err := os.Create(filepath.Join(cs.t.TempDir(), "sipp.stderr"))
	must(cs.t, err)
	defer errf.Close()
	cmd.Stdout, cmd.Stderr = io.Discard, errf
	must(cs.t, cmd.Start())
	cs.sippErr = append(cs.sippErr, errf.Name())
	exited := make(chan error, 1)
	cs.wg.Go(func() { exited <- cmd.Wait() })
	cs.sipps = append(cs.sipps, cmd)
	return func() error { err := <-exited; exited <- err; return err }
}

// status is what each sipp said on stderr and why Go callers failed, for
// a test that waited in vain for its calls.
func (cs *calls) status() string {
	var b strings.Builder
	cs.mu.Lock()
	for _, e := range cs.goErr {
		b.WriteString(e + "\n")
	}
	cs.mu.Unlock()
	for i, name := range cs.sippErr {
		out, _ := os.ReadFile(name)
		fmt.Fprintf(&b, "sipp %d (pid %d) stderr: %q\n", i, cs.sipps[i].Process.Pid, strings.TrimSpace(string(out)))
	}
	return b.String()
}

// end hangs the Go callers up and kills sipp (by PID): the server they
// called is gone. Later calls wait for the first to finish.
func (cs *calls) end() {
	cs.once.Do(func() {
		cs.cancel()
		for _, c := range cs.sipps {
			_ = c.Process.Kill() // an error: it has exited already
		}
		cs.wg.Wait()
	})
}

// crashAndRestart places calls, kills the server with some finished and
// some in progress, restarts it (with the database down meanwhile when
// down/up are given) and checks the records against the answered calls.
func crashAndRestart(t *testing.T, db string, down, up func()) {
	dir := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(dir, "flows"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "flows", "hold.yaml"), []byte(holdFlow), 0o644))

	c1 := startChild(t, dir, db, 1)
	cs := newCalls(t)
	c1.diag = cs.status
	const goEnd, goUp, sippEnd, sippUp = 4, 4, 2, 2
	for i := range goEnd {
		cs.gocall(c1.sip, holdNumber, fmt.Sprintf("091000000%d", i), "", 2*time.Second, nil)
	}
	for i := range goUp {
		cs.gocall(c1.sip, holdNumber, fmt.Sprintf("092000000%d", i), "", 10*time.Minute, nil)
	}
	for range sippEnd {
		cs.sipp(c1.sip, holdNumber, 2*time.Second)
	}
	for range sippUp {
		cs.sipp(c1.sip, holdNumber, 10*time.Minute)
	}
	const total, finishing = goEnd + goUp + sippEnd + sippUp, goEnd + sippEnd
	// Every call answered and in its flow (so marked), the short ones
	// ended (so recorded): kill at once, as close to the last end as we can.
	c1.until(60*time.Second, "calls answered and ended", func() bool {
		if len(c1.answered) < total || len(c1.ended) < finishing {
			return false
		}
		for id := range c1.answered {
			if !c1.entered[id] {
				return false
			}
		}
		return true
	})
	c1.kill()
	answered, ended := c1.answered, c1.ended
	if len(answered) != total || len(ended) != finishing {
		t.Fatalf("before the kill: %d answered, %d ended; want %d and %d", len(answered), len(ended), total, finishing)
	}
	go cs.end() // the callers' BYEs go nowhere now; let them give up meanwhile

	if down != nil {
		down()
	}
	c2 := startChild(t, dir, db, 2)
	if up != nil {
		up()
	}
	c2.until(60*time.Second, "IDLE (records written)", func() bool { return c2.idle })
	c2.stop()
	cs.end()

	s, err := storeopen.Open(t.Context(), db, store.Options{})
	must(t, err)
	defer s.Close()
	got := map[string][]store.Interaction{}
	items, _, err := s.ListInteractions(t.Context(), store.InteractionFilter{Channel: store.ChannelVoice}, store.Page{Limit: 500})
	must(t, err)
	for _, it := range items {
		got[it.Voice.CallID] = append(got[it.Voice.CallID], it)
	}
	if len(got) != len(answered) {
		t.Errorf("%d calls recorded; %d were answered", len(got), len(answered))
	}
	for id := range answered {
		recs := got[id]
		if len(recs) != 1 {
			t.Errorf("answered call %s has %d records; want exactly 1", id, len(recs))
			continue
		}
		v := recs[0].Voice
		if v.CalledNumber != holdNumber || v.FlowName != "crash-hold" || v.CallerNumber == "" {
			t.Errorf("call %s: called %q flow %q caller %q; want what was known at answer", id, v.CalledNumber, v.FlowName, v.CallerNumber)
		}
		if ended[id] {
			if v.HangupCause == calllog.CauseServerRestart || v.Outcome == store.OutcomeFailed {
				t.Errorf("call %s ended before the kill but is recorded %s/%s", id, v.Outcome, v.HangupCause)
			}
			continue
		}
		if v.Outcome != store.OutcomeFailed || v.HangupCause != calllog.CauseServerRestart {
			t.Errorf("call %s was up at the kill; recorded %s/%s, want %s/%s", id, v.Outcome, v.HangupCause, store.OutcomeFailed, calllog.CauseServerRestart)
		}
	}
	for id := range got {
		if !answered[id] {
			t.Errorf("record for call %s, which was never answered", id)
		}
	}
}

// kill -9 with calls up, SQLite: every answered call has exactly one
// record, the ones in progress failed/server-restart.
func TestCrashRecordsEveryAnsweredCallSQLite(t *testing.T) {
	leakCheck(t)
	crashAndRestart(t, "sqlite:"+filepath.Join(t.TempDir(), "hotline.db"), nil, nil)
}

// The same on PostgreSQL, with the database also down when Hotline comes
// back: it starts anyway and writes the records once the database answers.
func TestCrashRecordsEveryAnsweredCallPostgresDownAtRestart(t *testing.T) {
	leakCheck(t)
	pg := pgtest.StartCluster(t)
	crashAndRestart(t, pg.URL(), pg.Stop, pg.Start)
}
