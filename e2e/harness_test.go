// Package e2e places real SIP calls over loopback against an in-process
// Hotline (app.App on port 0): with the project's own Go caller and with
// independent clients (sipp, baresip). Assertions come from the server's
// call events and the ticket history, never from timing.
package e2e

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/app"
	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/ivr"
	"github.com/hotline-dev/hotline/store"
)

const testToken = "e2e-write-token"

// harness is one running Hotline with a subscription to its events.
type harness struct {
	t    *testing.T
	app  *app.App
	sub  *events.Subscription
	seen []events.Event
	stop func() error
	dir  string
	logs *logLines // every log line, as JSON
	// recordings is recordings.store: where checkVoicemail looks for the audio.
	recordings string
}

// start runs Hotline with the shipped prompts, the shipped support flow plus
// the sipp e2e flow and the straight-to-a-queue flow (number 300), SQLite in a temp dir, and an office calendar that is
// always open so the support flow does not depend on the time of day.
func start(t *testing.T, mutate func(*config.Config)) *harness {
	t.Helper()
	dir := t.TempDir()
	cfg := testConfig(t, dir, mutate)
	return startWith(t, dir, cfg)
}

// testConfig is start's configuration in dir (flows, spool, SQLite),
// mutated and validated.
func testConfig(t *testing.T, dir string, mutate func(*config.Config)) config.Config {
	t.Helper()
	flowsDir := filepath.Join(dir, "flows")
	must(t, os.MkdirAll(flowsDir, 0o755))
	copyFile(t, "../etc/flows/support.yaml", filepath.Join(flowsDir, "support.yaml"))
	copyFile(t, "../testdata/sipp/flows/e2e.yaml", filepath.Join(flowsDir, "e2e.yaml"))
	copyFile(t, "testdata/flows/queues.yaml", filepath.Join(flowsDir, "queues.yaml"))

	orders := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		order := strings.TrimPrefix(r.URL.Path, "/orders/")
		if strings.HasPrefix(order, "000") {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"order": order, "status": "shipped", "delivery": map[string]string{"eta": "2026-11-25"}})
	}))
	t.Cleanup(orders.Close)

	cfg := config.Default()
	cfg.SIP.UDP, cfg.SIP.TCP = "127.0.0.1:0", "127.0.0.1:0"
	cfg.SIP.DrainTime = 5 * time.Second
	// Load from one address is the test, not an attack.
	cfg.SIP.RateLimit, cfg.SIP.RateLimitTotal, cfg.SIP.MaxUnconfirmedPerSource = 0, -1, -1
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.HTTP.Tokens = []config.Token{{Name: "e2e", Secret: testToken, Scope: "write"}}
	cfg.Media.Prompts = "../prompts"
	cfg.Media.PortMin, cfg.Media.PortMax = 23000, 29998 // below the ephemeral range (32768-): never a port a caller was just given
	cfg.Flows.Dir = flowsDir
	cfg.Flows.Watch = false
	cfg.Database.URL = "sqlite:" + filepath.Join(dir, "hotline.db")
	cfg.Database.SpoolDir = filepath.Join(dir, "spool")
	cfg.Recordings.Dir = filepath.Join(dir, "recordings")
	allDay := []string{"00:00-24:00"}
	cfg.Calendars["office"] = config.Calendar{TimeZone: "Asia/Ho_Chi_Minh", Hours: map[string][]string{
		"mon": allDay, "tue": allDay, "wed": allDay, "thu": allDay, "fri": allDay, "sat": allDay, "sun": allDay}}
	cfg.Lookups["order-status"] = config.Lookup{URL: orders.URL + "/orders/{order}", Method: "GET", Timeout: 2 * time.Second}
	if mutate != nil {
		mutate(&cfg)
	}
	must(t, cfg.Validate())
	return cfg
}

// startWith runs Hotline with cfg (testConfig's) from dir.
func startWith(t *testing.T, dir string, cfg config.Config) *harness {
	t.Helper()
	logs := &logLines{}
	text, err := app.NewLogger(testWriter{t}, config.Log{Level: "info", Format: "text"})
	must(t, err)
	asJSON, err := app.NewLogger(logs, config.Log{Level: "info", Format: "json"}) // as `hotline serve` logs
	must(t, err)
	log := slog.New(slog.NewMultiHandler(text.Handler(), asJSON.Handler()))
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, log)
	if err != nil {
		cancel()
		t.Fatalf("app.New: %v", err)
	}
	h := &harness{t: t, app: a, sub: a.Bus().Subscribe(100000), dir: dir, logs: logs, recordings: cfg.Recordings.Store}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	// Start-up is over when the callback scheduler has loaded: its lines
	// then come before the test's calls, not among them.
	select {
	case <-a.CallbacksReady():
	case <-time.After(20 * time.Second):
		cancel()
		t.Fatal("the callback scheduler did not load within 20s")
	}
	// In a cluster, the other nodes' events reach this node's stream
	// once its relay listens: a test's calls come after that.
	select {
	case <-a.RelayReady():
	case <-time.After(20 * time.Second):
		cancel()
		t.Fatal("the cluster's event relay did not listen within 20s")
	}
	h.stop = func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(30 * time.Second):
			t.Fatal("app did not stop within 30s")
			return nil
		}
	}
	t.Cleanup(func() {
		if h.stop != nil {
			_ = h.stop()
		}
		h.sub.Close()
	})
	return h
}

// shutdown stops the app now (before leak checks).
func (h *harness) shutdown() {
	h.t.Helper()
	stop := h.stop
	h.stop = nil
	if err := stop(); err != nil {
		h.t.Errorf("app.Run: %v", err)
	}
}

func (h *harness) sipAddr(transport string) string {
	return h.app.SIPAddrs()[transport].String()
}

// waitEvent returns the first event (already seen or new) matching match.
func (h *harness) waitEvent(d time.Duration, what string, match func(events.Event) bool) events.Event {
	h.t.Helper()
	for _, e := range h.seen {
		if match(e) {
			return e
		}
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case e := <-h.sub.C:
			h.seen = append(h.seen, e)
			if match(e) {
				return e
			}
		case <-timer.C:
			h.t.Fatalf("no %s within %v; events so far:\n%s", what, d, h.dump())
			return events.Event{}
		}
	}
}

// node waits for the call to enter an IVR node.
func (h *harness) node(callID, node string) {
	h.t.Helper()
	h.waitEvent(30*time.Second, "node "+node, func(e events.Event) bool {
		return e.Type == events.NodeEntered && (callID == "" || e.CallID == callID) && payload[ivr.NodeEnter](e).Node == node
	})
}

// callEvents returns every event seen so far for one call.
func (h *harness) callEvents(callID string) []events.Event {
	var out []events.Event
	for _, e := range h.seen {
		if e.CallID == callID {
			out = append(out, e)
		}
	}
	return out
}

// payload is e's typed payload, or T's zero value when it carries another.
func payload[T any](e events.Event) T {
	p, _ := e.Payload.(T)
	return p
}

func (h *harness) dump() string {
	var b strings.Builder
	for _, e := range h.seen {
		j, _ := json.Marshal(e.Payload)
		b.WriteString("  " + e.Type + " " + e.CallID + " " + string(j) + "\n")
	}
	return b.String()
}

// interaction waits for the call's record in the ticket history.
func (h *harness) interaction(callID string) store.Interaction {
	h.t.Helper()
	// call.ended is published after the handler has handed the record to
	// the call log, so waiting for it and then for the log to drain is enough.
	h.waitEvent(30*time.Second, "call.ended", func(e events.Event) bool {
		return e.CallID == callID && e.Type == events.CallEnded
	})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := h.app.CallLog().WaitIdle(ctx); err != nil {
		h.t.Fatalf("call log did not drain: %v", err)
	}
	st, err := h.app.Store(ctx)
	must(h.t, err)
	items, _, err := st.ListInteractions(ctx, store.InteractionFilter{Channel: store.ChannelVoice}, store.Page{Limit: 100})
	must(h.t, err)
	for _, it := range items {
		if it.Voice != nil && it.Voice.CallID == callID {
			return it
		}
	}
	h.t.Fatalf("no voice interaction for call %s among %d", callID, len(items))
	return store.Interaction{}
}

func path(it store.Interaction) []string {
	var out []string
	for _, s := range it.Voice.Path {
		out = append(out, s.Node)
	}
	return out
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	must(t, err)
	must(t, os.WriteFile(to, b, 0o644))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

var _ io.Writer = testWriter{}

// logLines keeps the server's JSON log lines (tests check what an
// operator would grep).
type logLines struct {
	mu    sync.Mutex
	lines []map[string]any
}

func (l *logLines) Write(p []byte) (int, error) {
	var m map[string]any
	if err := json.Unmarshal(p, &m); err != nil {
		return 0, err
	}
	l.mu.Lock()
	l.lines = append(l.lines, m)
	l.mu.Unlock()
	return len(p), nil
}

func (l *logLines) all() []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]map[string]any(nil), l.lines...)
}
