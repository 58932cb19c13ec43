package api

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hotline-dev/hotline/events"
)

// Stream tuning.
const (
	streamBuffer       = 1024             // events buffered per client before the bus drops for it
	streamWriteTimeout = 10 * time.Second // a client that does not read for this long is cut off
	streamBatch        = 256              // events written (and flushed) together at most, when they queue up
)

// streamEvents is GET /api/v1/events: every event on the bus as Server-Sent
// Events (https://html.spec.whatwg.org/multipage/server-sent-events.html).
// Each event is one "id: <seq>" plus one "data: <JSON event>" line; a
// comment line is sent every heartbeat so proxies keep the connection open.
// ?types=call.,queue. keeps only events whose type starts with one of the
// comma-separated prefixes. The stream has no history: a client that
// reconnects gets events from that moment on (gaps show in seq).
//
// The handler runs on the request's goroutine and returns when the client
// goes away, the server calls Close/Shutdown, or the bus subscription ends.
func (s *Server) streamEvents(w http.ResponseWriter, r *http.Request) {
	prefixes := typePrefixes(r.URL.Query().Get("types"))
	rc := http.NewResponseController(w)
	if !s.startStream() {
		s.writeError(w, r, &Error{Kind: ErrUnavailable, Message: "shutting down"})
		return
	}
	defer s.streams.Done()
	defer s.active.Add(-1)

	// A stream opened with a session cookie ends when the session does
	// (sign out, expiry); it keeps the session in use while it is open.
	var sess *session
	var ended <-chan struct{} // nil (blocks forever) for a bearer token
	if p := principalOf(r.Context()); p != nil && p.session != nil {
		sess, ended = p.session, p.session.done
	}

	var sub *events.Subscription
	var in <-chan events.Event // nil (blocks forever) without a bus
	if s.cfg.Bus != nil {
		sub = s.cfg.Bus.SubscribeAll(streamBuffer) // other nodes' events too (a cluster)
		defer sub.Close()
		in = sub.C
	}

	// The per-write deadlines below must not outlive the stream on a
	// kept-alive connection.
	defer func() { _ = rc.SetWriteDeadline(time.Time{}) }()

	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriter(w)
	send := func(chunk string) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout)) // unsupported writers: best effort
		if _, err := bw.WriteString(chunk); err != nil {
			return false
		}
		if err := bw.Flush(); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	// sendEvents sends e and whatever else is already waiting (up to
	// streamBatch events) in one write: under a burst, one syscall and one
	// client wake-up per batch instead of per event, which keeps 50 open
	// boards from falling behind (docs/benchmarks.md, "Event stream
	// fan-out"). An event alone still goes out at once.
	var batch strings.Builder
	sendEvents := func(e events.Event) (more bool) {
		batch.Reset()
		if matches(e.Type, prefixes) {
			batch.WriteString(s.encoded.get(e))
		}
		more = true
	drain:
		for n := 1; n < streamBatch; n++ {
			select {
			case e, ok := <-in:
				if !ok {
					more = false
					break drain
				}
				if matches(e.Type, prefixes) {
					batch.WriteString(s.encoded.get(e))
				}
			default:
				break drain
			}
		}
		if batch.Len() == 0 {
			return more
		}
		return send(batch.String()) && more
	}
	if !send(": hotline events\nretry: 3000\n\n") {
		return
	}

	heartbeat := time.NewTicker(s.cfg.Heartbeat)
	defer heartbeat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.done:
			return
		case <-ended:
			return
		case <-heartbeat.C:
			if sess != nil && !s.sessions.touch(sess, s.now()) {
				return
			}
			if !send(": ping\n\n") {
				return
			}
		case e, ok := <-in:
			if !ok {
				return
			}
			if !sendEvents(e) {
				s.log.Debug("event stream ended: write failed or the bus closed", "token", tokenName(r.Context()))
				return
			}
		}
	}
}

// encodedEvents shares each event's SSE message among the open streams:
// with 50 boards open an event is encoded once, not 50 times. A ring of
// the latest events by sequence number (each stream is at most its
// buffer behind the bus, so older ones are rarely asked for; a miss just
// encodes again). The first stream to ask encodes while the others wait
// for it (once).
type encodedEvents struct {
	mu   sync.Mutex
	ring [2048]*encodedEvent
}

type encodedEvent struct {
	seq  uint64
	once sync.Once
	msg  string
}

func (c *encodedEvents) get(e events.Event) string {
	if e.Seq == 0 { // not from a bus: nothing to share it by
		return formatEvent(e)
	}
	slot := &c.ring[e.Seq%uint64(len(c.ring))]
	c.mu.Lock()
	x := *slot
	if x == nil || x.seq != e.Seq {
		if x != nil && x.seq > e.Seq { // a stream far behind: its slot was reused
			c.mu.Unlock()
			return formatEvent(e)
		}
		x = &encodedEvent{seq: e.Seq}
		*slot = x
	}
	c.mu.Unlock()
	x.once.Do(func() { x.msg = formatEvent(e) })
	return x.msg
}

// formatEvent renders one SSE message. JSON never contains a raw newline,
// so one data line is enough.
func formatEvent(e events.Event) string {
	b, err := json.Marshal(e)
	if err != nil {
		// The payload holds something JSON cannot encode: keep the
		// envelope, say so in data.
		e.Payload = unencodable{Error: "unencodable data: " + err.Error()}
		b, _ = json.Marshal(e)
	}
	var sb strings.Builder
	sb.WriteString("id: ")
	sb.WriteString(strconv.FormatUint(e.Seq, 10))
	sb.WriteString("\ndata: ")
	sb.Write(b)
	sb.WriteString("\n\n")
	return sb.String()
}

// unencodable is the data of an event whose payload JSON cannot encode.
type unencodable struct {
	Error string `json:"error"`
}

func typePrefixes(raw string) []string {
	var out []string
	for _, p := range strings.Split(raw, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func matches(typ string, prefixes []string) bool {
	if len(prefixes) == 0 {
		return true
	}
	for _, p := range prefixes {
		if strings.HasPrefix(typ, p) {
			return true
		}
	}
	return false
}
