package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/internal/logthrottle"
	"github.com/hotline-dev/hotline/netguard"
	"github.com/hotline-dev/hotline/sip"
)

// newHTTPServer guards the HTTP listener (connection caps, accept back-off)
// and sets the timeouts that free a connection from a client that sends
// slowly or not at all (issue 8.3, docs/security.md). There is no
// WriteTimeout: the SSE stream writes for as long as the client listens;
// and no server-wide ReadTimeout, which would also end SSE streams (a read
// deadline that passes cancels the request's context in net/http), so the
// body deadline is set per request by bodyDeadline.
func newHTTPServer(ln net.Listener, c config.HTTP, h http.Handler, log *slog.Logger) *httpServer {
	glog := slog.New(logthrottle.New(log.Handler(), logthrottle.Options{}))
	g := netguard.New(ln, netguard.Config{MaxConns: positive(c.MaxConns), MaxConnsPerSource: positive(c.MaxConnsPerSource),
		Logger: glog, Name: "http"})
	srv := &http.Server{Handler: bodyDeadline(h, positiveDur(c.ReadTimeout)),
		ReadHeaderTimeout: positiveDur(c.ReadHeaderTimeout), IdleTimeout: positiveDur(c.IdleTimeout),
		MaxHeaderBytes: positive(c.MaxHeaderBytes), ErrorLog: slog.NewLogLogger(glog.Handler(), slog.LevelWarn)}
	return &httpServer{srv: srv, ln: g}
}

// httpServer is net/http's server in the lifecycle convention of the other
// components (docs/architecture.md): Serve returns nil on a clean stop.
// This is the one place net/http's http.ErrServerClosed is read.
type httpServer struct {
	srv *http.Server
	ln  *netguard.Listener
}

// Serve serves ln until ctx is done (then it closes the server) or
// Shutdown or Close is called, and returns nil then; an error only when
// the listener failed.
func (h *httpServer) Serve(ctx context.Context) error {
	defer context.AfterFunc(ctx, func() { _ = h.srv.Close() })()
	if err := h.srv.Serve(h.ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http: serve: %w", err)
	}
	return nil
}

// Shutdown stops accepting and waits for the requests in progress (event
// streams end: their Close is registered) until ctx is done.
func (h *httpServer) Shutdown(ctx context.Context) error { return h.srv.Shutdown(ctx) }

// Close closes the listener and every connection at once.
func (h *httpServer) Close() error {
	return errors.Join(h.srv.Close(), h.ln.Close())
}

// bodyDeadline gives a request that has a body d to deliver it (a
// 1-byte-per-2-s body holds a connection and a goroutine for as long as the
// client likes otherwise). The deadline is the connection's: net/http
// resets it for the next request.
func bodyDeadline(h http.Handler, d time.Duration) http.Handler {
	if d <= 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody {
			_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(d))
		}
		h.ServeHTTP(w, r)
	})
}

func positive(v int) int {
	return max(v, 0)
}

func positiveDur(v time.Duration) time.Duration {
	return max(v, 0)
}

// edgeCollector exports the SIP edge's counters and the HTTP listener's
// refusals (docs/security.md lists each event).
type edgeCollector struct {
	sip  *sip.Server
	http *netguard.Listener
}

var (
	edgeDesc = prometheus.NewDesc("hotline_sip_edge_events_total",
		"Requests, datagrams and connections refused or cut at the SIP edge, by event (docs/security.md).", []string{"event"}, nil)
	httpEdgeDesc = prometheus.NewDesc("hotline_http_edge_events_total",
		"HTTP connections refused and accept errors retried, by event.", []string{"event"}, nil)
)

func (edgeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- edgeDesc
	ch <- httpEdgeDesc
}

func (e edgeCollector) Collect(ch chan<- prometheus.Metric) {
	for name, v := range e.sip.EdgeCounts() {
		ch <- prometheus.MustNewConstMetric(edgeDesc, prometheus.CounterValue, float64(v), name)
	}
	st := e.http.Stats()
	for name, v := range map[string]uint64{"refused_total": st.RefusedTotal, "refused_source": st.RefusedSource, "accept_retries": st.AcceptRetries} {
		ch <- prometheus.MustNewConstMetric(httpEdgeDesc, prometheus.CounterValue, float64(v), name)
	}
}
