package app

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/internal/siptest"
	"github.com/hotline-dev/hotline/queue"
	"github.com/hotline-dev/hotline/sip"
)

// queueFlow puts the caller of 300 in queue "wait" (nobody to answer) and
// says goodbye when they leave it.
const queueFlow = `flow: wait
numbers: ["300"]
languages: [en]
start: wait
nodes:
  wait:
    type: enqueue
    queue: wait
    next: bye
  bye:
    type: hangup
    prompts: [goodbye]
`

// lifecycleApp builds an App serving queueFlow, its queue timing out after
// maxWait, and runs it; runErr receives what Run returned.
func lifecycleApp(t *testing.T, maxWait, drain time.Duration) (a *App, runErr <-chan error, sub *events.Subscription) {
	t.Helper()
	cfg := testConfig(t)
	cfg.Flows.Dir = t.TempDir()
	if err := os.WriteFile(filepath.Join(cfg.Flows.Dir, "wait.yaml"), []byte(queueFlow), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg.Flows.Watch = false
	cfg.Queues = map[string]config.Queue{"wait": config.Queue{JoinEmpty: true, MaxWait: maxWait}.WithDefaults()}
	cfg.SIP.DrainTime = drain
	a, err := New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	sub = a.Bus().Subscribe(4096)
	t.Cleanup(sub.Close)
	done := make(chan error, 1)
	go func() { done <- a.Run(context.Background()) }()
	t.Cleanup(func() { _ = a.Close() })
	return a, done, sub
}

// next waits for the first event of typ for callID.
func next(t *testing.T, sub *events.Subscription, typ, callID string) events.Event {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case e := <-sub.C:
			if e.Type == typ && e.CallID == callID {
				return e
			}
		case <-timeout:
			t.Fatalf("no %s for %s", typ, callID)
		}
	}
}

// When another component fails (here the HTTP listener), the shutdown
// drains the live calls: the queue keeps its deadlines (the caller leaves
// on max_wait and hears goodbye) and the call ends as the flow ends it,
// not hung up; Run reports the failure.
func TestComponentFailureDrainsLiveCalls(t *testing.T) {
	a, runErr, sub := lifecycleApp(t, 2*time.Second, time.Minute)
	cli := siptest.Client(t, sip.ClientConfig{Addr: "127.0.0.1:0"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	call, err := cli.Dial(ctx, "sip:300@"+a.SIPAddrs()["udp"].String(), sip.DialOptions{From: "0281234567"})
	if err != nil {
		t.Fatal(err)
	}
	next(t, sub, events.QueueJoined, call.ID())
	_ = a.httpRaw.Close() // the HTTP listener fails under the server

	left := next(t, sub, events.QueueLeft, call.ID())
	if !a.stopping.Load() {
		t.Fatal("the caller left the queue before the failure started the shutdown")
	}
	if p, _ := left.Payload.(queue.Left); p.Reason != queue.ReasonTimeout {
		t.Fatalf("left the queue: %+v, want %s (the queue's deadlines go on while calls drain)", left.Payload, queue.ReasonTimeout)
	}
	ended := next(t, sub, events.CallEnded, call.ID())
	if p, _ := ended.Payload.(sip.CallEnd); p.Cause != sip.CauseCompleted {
		t.Fatalf("call ended %+v, want %s (the flow's end, not the shutdown's)", ended.Payload, sip.CauseCompleted)
	}
	select {
	case err := <-runErr:
		if err == nil || !strings.Contains(err.Error(), "http") {
			t.Fatalf("Run = %v, want the HTTP failure", err)
		}
	case <-ctx.Done():
		t.Fatal("Run did not return once the calls had drained")
	}
}

// Close stops a running App at once: a live call is hung up without the
// drain time, Run returns nil, and everything is released (a new App on
// the same spool, database and ports starts).
func TestCloseStopsRunAtOnce(t *testing.T) {
	a, runErr, sub := lifecycleApp(t, time.Hour, time.Hour)
	cli := siptest.Client(t, sip.ClientConfig{Addr: "127.0.0.1:0"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	call, err := cli.Dial(ctx, "sip:300@"+a.SIPAddrs()["udp"].String(), sip.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	next(t, sub, events.QueueJoined, call.ID())
	if err := a.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case <-call.Done():
	case <-ctx.Done():
		t.Fatal("the live call was not hung up")
	}
	if err := <-runErr; err != nil {
		t.Fatalf("Run after Close: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if n := a.Ports().InUse(); n != 0 {
		t.Errorf("%d RTP ports in use", n)
	}
}

// Close without Run releases what New built; Run after Close returns nil.
func TestCloseWithoutRun(t *testing.T) {
	cfg := testConfig(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := New(context.Background(), cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := a.Run(context.Background()); err != nil {
		t.Fatalf("Run after Close: %v", err)
	}
	cfg.SIP.UDP, cfg.HTTP.Addr = a.SIPAddrs()["udp"].String(), a.HTTPAddr().String() // the same ports again
	b, err := New(context.Background(), cfg, log)
	if err != nil {
		t.Fatalf("New after Close, same spool, database and ports: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}
