package callback_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/callback"
	"github.com/hotline-dev/hotline/callback/callbacktest"
	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/store/postgres/pgtest"
	"github.com/hotline-dev/hotline/store/storeopen"
)

// crashEnv is the variable that makes this test binary the crash test's
// child: its value is the database URL.
const crashEnv = "HOTLINE_CALLBACK_CRASH_CHILD"

// crashQueues: one queue open at all hours (the test runs on the wall clock).
func crashQueues() map[string]config.Queue {
	cb := config.QueueCallback{Enabled: true, MaxAttempts: 3}
	return map[string]config.Queue{"technical": {Callback: cb.WithDefaults()}}
}

func startScheduler(t *testing.T, url string) (*callback.Scheduler, *callbacktest.ACD, *callbacktest.Dialer, store.Store, chan callback.Waiting, *events.Subscription) {
	t.Helper()
	bus := events.NewBus()
	sub := bus.Subscribe(1000)
	t.Cleanup(sub.Close)
	db, err := storeopen.Open(context.Background(), url, store.Options{DefaultCountry: "VN"})
	if err != nil {
		t.Fatal(err)
	}
	offers := make(chan callback.Waiting, 100)
	acd := callbacktest.NewACD()
	acd.OnOffer = func(w callback.Waiting) { offers <- w }
	dialer := callbacktest.NewDialer(100)
	s, err := callback.New(callback.Config{Store: db.(store.Callbacks), Queues: crashQueues(), Policy: policy(t), ACD: acd, Dialer: dialer,
		Limits: config.Callbacks{PerNumber: -1, PerSource: -1, Total: -1}, Bus: bus})
	if err != nil {
		t.Fatal(err)
	}
	run := make(chan error, 1)
	go func() { run <- s.Run(context.Background()) }()
	t.Cleanup(func() {
		_ = s.Close()
		if err := <-run; err != nil {
			t.Errorf("Run: %v", err)
		}
		_ = db.Close()
	})
	select {
	case <-s.Ready():
	case <-time.After(30 * time.Second):
		t.Fatal("scheduler not ready")
	}
	return s, acd, dialer, db, offers, sub
}

func takeOffers(t *testing.T, offers chan callback.Waiting, n int) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for range n {
		select {
		case <-offers:
		case <-deadline:
			t.Fatalf("fewer than %d offers", n)
		}
	}
}

// TestCrashChild is the child of TestCrashKill9: five callbacks pending,
// the first one dialling, then it waits to be killed.
func TestCrashChild(t *testing.T) {
	url := os.Getenv(crashEnv)
	if url == "" {
		t.Skip("run by TestCrashKill9")
	}
	s, acd, dialer, _, offers, _ := startScheduler(t, url)
	now := time.Now()
	for i := range 5 {
		n := fmt.Sprintf("+8491230000%d", i)
		if _, err := s.Request(context.Background(), callback.Request{Source: store.SourceVirtualHold, Queue: "technical", Number: n,
			Caller: n, JoinedAt: now.Add(-time.Duration(10-i) * time.Minute), CallID: "crash-" + n, FromTag: "ft"}); err != nil {
			t.Fatal(err)
		}
	}
	takeOffers(t, offers, 5)
	if _, _, err := acd.DialHead(context.Background(), s, "technical", 1); err != nil {
		t.Fatal(err)
	}
	c := <-dialer.Calls
	fmt.Printf("READY %d %s\n", c.Req.CallbackID, c.Req.CallID)
	select {} // until SIGKILL
}

// TestCrashKill9: a process with callbacks pending and one dialling is
// killed with SIGKILL. The next process finds every one at its place, none
// lost, and the one that was dialling interrupted and dialled once more
// (attempt 2), first in line.
func TestCrashKill9(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			var url string
			if backend == "sqlite" {
				url = "sqlite:" + filepath.Join(t.TempDir(), "hotline.db")
			} else {
				url = pgtest.Schema(t)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), crashEnv+"="+url)
			cmd.Stderr = os.Stderr
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			var claimed int64
			var callID string
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if _, err := fmt.Sscanf(sc.Text(), "READY %d %s", &claimed, &callID); err == nil {
					break
				}
			}
			if claimed == 0 {
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
				t.Fatalf("the child never got ready: %v", sc.Err())
			}
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			if err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
				t.Fatalf("child: %v, want killed", err)
			}

			s, acd, dialer, db, offers, sub := startScheduler(t, url)
			takeOffers(t, offers, 5)
			line := ids(acd.Line("technical"))
			if len(line) != 5 || line[0] != claimed || !slices.Equal(line, ids(s.Line("technical"))) {
				t.Fatalf("after the restart the line is %v (scheduler %v); %d was dialling", line, ids(s.Line("technical")), claimed)
			}
			open, err := db.(store.Callbacks).OpenCallbacks(context.Background())
			if err != nil || len(open) != 5 {
				t.Fatalf("open callbacks after the crash: %d, %v", len(open), err)
			}
			for i := 1; i < len(line); i++ {
				a, _ := db.(store.Callbacks).GetCallback(context.Background(), line[i-1])
				b, _ := db.(store.Callbacks).GetCallback(context.Background(), line[i])
				if !a.JoinedAt.Before(b.JoinedAt) || b.Attempts != 0 {
					t.Fatalf("out of place or dialled: %+v then %+v", a, b)
				}
			}
			row, err := db.(store.Callbacks).GetCallback(context.Background(), claimed)
			if err != nil || row.State != store.CallbackWaiting || row.Interrupted != 1 || row.MaxAttempts != 4 || len(row.Calls) != 1 ||
				row.Calls[0].Result != store.AttemptInterrupted || row.Calls[0].CallID != callID {
				t.Fatalf("the callback that was dialling: %+v, %v", row, err)
			}
			if _, _, err := acd.DialHead(context.Background(), s, "technical", 1); err != nil {
				t.Fatal(err)
			}
			var again *callbacktest.Call
			select {
			case again = <-dialer.Calls:
			case <-time.After(30 * time.Second):
				t.Fatal("the interrupted callback was not dialled again")
			}
			if again.Req.CallbackID != claimed || again.Req.Attempt != 2 || again.Req.CallID == callID {
				t.Fatalf("the retry: %+v", again.Req)
			}
			again.End(callback.Result{Result: store.AttemptCompleted, Agent: "lan"})
			deadline := time.After(30 * time.Second)
		wait:
			for {
				select {
				case ev := <-sub.C:
					if c, ok := ev.Payload.(callback.Change); ok && c.ID == claimed && ev.Type == callback.EventCompleted {
						break wait
					}
				case <-deadline:
					t.Fatal("no completed event")
				}
			}
			row, err = db.(store.Callbacks).GetCallback(context.Background(), claimed)
			if err != nil || row.State != store.CallbackCompleted {
				t.Fatalf("not completed: %+v, %v", row, err)
			}
			if n := len(dialer.Dialled()); n != 1 || len(row.Calls) != 2 {
				t.Fatalf("dialled %d times after the restart, %d attempts recorded", n, len(row.Calls))
			}
		})
	}
}
