package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/api"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/sip"
)

// sse is a minimal Server-Sent Events reader for tests.
type sse struct {
	t      *testing.T
	res    *http.Response
	r      *bufio.Reader
	cancel context.CancelFunc
}

// openStream connects and reads up to the server's opening comment, which
// the handler writes after subscribing to the bus: events published after
// openStream returns are delivered.
func (e *env) openStream(query string) *sse {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", e.url+"/api/v1/events"+query, nil)
	if err != nil {
		cancel()
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+readToken)
	res, err := e.http.Do(req)
	if err != nil {
		cancel()
		e.t.Fatal(err)
	}
	s := &sse{t: e.t, res: res, r: bufio.NewReader(res.Body), cancel: cancel}
	e.t.Cleanup(s.close)
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		e.t.Fatalf("stream: status %d, content type %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	if first := s.block(); !strings.HasPrefix(first, ": hotline events") {
		e.t.Fatalf("stream opened with %q", first)
	}
	return s
}

func (s *sse) close() { s.cancel(); _ = s.res.Body.Close() }

// block reads one message block (up to a blank line), without the newline.
func (s *sse) block() string {
	s.t.Helper()
	var lines []string
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			s.t.Fatalf("stream read: %v (after %q)", err, lines)
		}
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			return strings.Join(lines, "\n")
		}
		lines = append(lines, line)
	}
}

// event reads blocks until an event (skipping heartbeat comments).
func (s *sse) event() (id string, ev events.Event) {
	s.t.Helper()
	for {
		b := s.block()
		if strings.HasPrefix(b, ":") {
			continue
		}
		for _, line := range strings.Split(b, "\n") {
			switch {
			case strings.HasPrefix(line, "id: "):
				id = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "data: "):
				if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ev); err != nil {
					s.t.Fatalf("event data %q: %v", line, err)
				}
			}
		}
		return id, ev
	}
}

func TestEventsStream(t *testing.T) {
	e := newEnv(t)
	all := e.openStream("")
	calls := e.openStream("?types=call.,agent.")
	e.bus.Publish(events.Event{Type: events.QueueJoined, Queue: "sales", CallID: "c1"})
	e.bus.Publish(events.Event{Type: events.CallStarted, CallID: "c1", Payload: sip.CallStart{Caller: "+84912345678"}})

	id, ev := all.event()
	if ev.Type != events.QueueJoined || ev.Queue != "sales" || id != "1" || ev.Seq != 1 {
		t.Fatalf("first event id %s %+v", id, ev)
	}
	id, ev = all.event()
	if ev.Type != events.CallStarted || id != "2" || data(ev)["caller"] != "+84912345678" {
		t.Fatalf("second event id %s %+v", id, ev)
	}
	id, ev = calls.event()
	if ev.Type != events.CallStarted || id != "2" {
		t.Fatalf("filtered stream got id %s %+v, want only call.started", id, ev)
	}
}

// data is a decoded event's data object (nil when it has none).
func data(ev events.Event) map[string]any {
	m, _ := ev.Payload.(map[string]any)
	return m
}

// TestEventsUnencodable: a payload JSON cannot encode still sends the
// event, its data saying why.
func TestEventsUnencodable(t *testing.T) {
	e := newEnv(t)
	s := e.openStream("")
	e.bus.Publish(events.Event{Type: "test.broken", CallID: "c1", Payload: struct{ C chan int }{make(chan int)}})
	_, ev := s.event()
	if msg, _ := data(ev)["error"].(string); ev.Type != "test.broken" || ev.CallID != "c1" || !strings.HasPrefix(msg, "unencodable data: ") {
		t.Fatalf("event %+v", ev)
	}
}

func TestEventsHeartbeat(t *testing.T) {
	e := newEnv(t, func(c *api.Config) { c.Heartbeat = time.Millisecond })
	s := e.openStream("")
	if b := s.block(); b != ": ping" {
		t.Fatalf("want a heartbeat comment, got %q", b)
	}
}

// TestEventsEndOnShutdown: Shutdown ends open streams (the client sees EOF)
// and returns once their handlers are done; later streams are refused.
func TestEventsEndOnShutdown(t *testing.T) {
	e := newEnv(t)
	s := e.openStream("")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.api.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if _, err := io.ReadAll(s.r); err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("stream did not end cleanly: %v", err)
	}
	r := e.do("GET", "/api/v1/events", readToken, nil)
	if r.status != http.StatusServiceUnavailable {
		t.Fatalf("stream after shutdown: status %d", r.status)
	}
}

// TestEventsEndOnDisconnect: a client that goes away releases its handler
// without any shutdown. The wait polls the gauge until a deadline: it is a
// condition, not a guess at how long the handler takes.
func TestEventsEndOnDisconnect(t *testing.T) {
	e := newEnv(t)
	s := e.openStream("")
	if n := e.api.ActiveStreams(); n != 1 {
		t.Fatalf("ActiveStreams %d with one client", n)
	}
	s.close()
	deadline := time.After(5 * time.Second)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for e.api.ActiveStreams() != 0 {
		select {
		case <-deadline:
			t.Fatalf("handler still running 5s after the client left (%d streams)", e.api.ActiveStreams())
		case <-tick.C:
		}
	}
}

// A burst goes out in batches (events.go, sendEvents): every event of it
// arrives, in order, each its own message, and a filtered stream skips
// the others inside a batch too.
func TestEventsStreamBurst(t *testing.T) {
	e := newEnv(t)
	all := e.openStream("")
	agents := e.openStream("?types=agent.")
	const n = 1000 // more than one batch (256), less than a subscriber's buffer (1024)
	for i := range n {
		typ := events.QueueJoined
		if i%10 == 0 {
			typ = events.AgentState
		}
		e.bus.Publish(events.Event{Type: typ, Queue: "sales", Agent: "a" + strconv.Itoa(i)})
	}
	for i := range n {
		id, ev := all.event()
		if id != strconv.Itoa(i+1) || ev.Agent != "a"+strconv.Itoa(i) {
			t.Fatalf("event %d of the burst: id %s %+v", i, id, ev)
		}
	}
	for i := 0; i < n; i += 10 {
		id, ev := agents.event()
		if ev.Type != events.AgentState || id != strconv.Itoa(i+1) {
			t.Fatalf("filtered event %d: id %s %+v", i, id, ev)
		}
	}
	if d := e.bus.Dropped(); d != 0 {
		t.Errorf("the bus dropped %d deliveries", d)
	}
}

// In a cluster the stream also carries other nodes' events (published
// with PublishRemote), with their origin and its sequence, and the
// origin's JSON as data; the stream's ids stay this node's one series.
func TestEventsStreamCarriesOtherNodes(t *testing.T) {
	e := newEnv(t)
	e.bus.SetNode("a")
	all := e.openStream("?types=queue.")
	e.bus.Publish(events.Event{Type: events.QueueJoined, Queue: "sales", CallID: "c1"})
	e.bus.PublishRemote(events.Event{Type: events.QueueLeft, Queue: "sales", CallID: "c2", Origin: "b", OriginSeq: 77,
		Time: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC), Payload: json.RawMessage(`{"reason":"abandoned","wait_ms":1200}`)})

	id, ev := all.event()
	if id != "1" || ev.Origin != "a" || ev.OriginSeq != 1 || ev.CallID != "c1" {
		t.Fatalf("own event id %s %+v; want origin a, origin_seq 1", id, ev)
	}
	id, ev = all.event()
	if id != "2" || ev.Origin != "b" || ev.OriginSeq != 77 || ev.CallID != "c2" || data(ev)["reason"] != "abandoned" ||
		!ev.Time.Equal(time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)) {
		t.Fatalf("other node's event id %s %+v", id, ev)
	}
}
