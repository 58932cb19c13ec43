package app

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"sort"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hotline-dev/hotline/calllog"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/ivr"
	"github.com/hotline-dev/hotline/queue"
	"github.com/hotline-dev/hotline/sip"
	"github.com/hotline-dev/hotline/store"
)

// metrics turns the event stream, per-call media counters and the
// components' own counters into Prometheus series, so "the audio is
// choppy", "callers hang up in the menu" or "the database is slow" is a
// number on a dashboard. It uses its own registry: no package globals.
// docs/metrics.md lists every series; a test keeps the two in step.
type metrics struct {
	reg        *prometheus.Registry
	started    prometheus.Counter
	ended      *prometheus.CounterVec
	rejected   *prometheus.CounterVec
	digits     *prometheus.CounterVec
	prompts    *prometheus.CounterVec
	nodes      *prometheus.CounterVec
	outcomes   *prometheus.CounterVec
	rtpPackets *prometheus.CounterVec
	rtpEvents  *prometheus.CounterVec
	setup      prometheus.Histogram
	response   prometheus.Histogram
	httpTime   *prometheus.HistogramVec
	dbWrite    *prometheus.HistogramVec

	// Owned by the goroutine that calls observe (run): when each ringing
	// call's INVITE arrived, and each call's last digit.
	inviteAt  map[string]time.Time
	lastDigit map[string]time.Time
}

// gauge is a value read when Prometheus scrapes.
type gauge struct {
	name, help string
	value      func() float64
}

// latency buckets from 5 ms to 10 s: prompt, API and database answers.
var latencyBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

func newMetrics(bus *events.Bus, gauges []gauge) *metrics {
	m := &metrics{reg: prometheus.NewRegistry(), inviteAt: map[string]time.Time{}, lastDigit: map[string]time.Time{}}
	f := func(c prometheus.Collector) { m.reg.MustRegister(c) }
	m.started = prometheus.NewCounter(prometheus.CounterOpts{Name: "hotline_calls_started_total", Help: "Inbound calls accepted (INVITE answered or ringing)."})
	m.ended = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hotline_calls_ended_total", Help: "Calls ended, by hang-up side."}, []string{"side"})
	m.rejected = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hotline_calls_rejected_total", Help: "INVITEs refused, by SIP status."}, []string{"status"})
	m.digits = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hotline_dtmf_digits_total", Help: "DTMF digits received, by source (rfc4733, info, inband)."}, []string{"source"})
	m.prompts = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hotline_prompts_played_total", Help: "Prompts played, by whether a digit interrupted them (barge-in)."}, []string{"interrupted"})
	m.nodes = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hotline_ivr_nodes_total", Help: "IVR nodes entered, by flow and node type."}, []string{"flow", "type"})
	m.outcomes = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hotline_call_outcomes_total", Help: "Finished calls by ticket-history outcome."}, []string{"outcome"})
	m.rtpPackets = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hotline_rtp_packets_total", Help: "RTP packets of finished calls, by kind: sent, received, lost, rejected (dropped for their source, strict RTP), withheld (not sent: the far end never answered)."}, []string{"kind"})
	m.rtpEvents = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hotline_rtp_pacing_events_total", Help: "Outgoing pacing anomalies of finished calls: late frames and catch-ups."}, []string{"kind"})
	m.setup = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "hotline_call_setup_seconds",
		Help:    "Inbound call setup: INVITE accepted to call answered (200 OK ACKed, media started); includes sip.ring_time.",
		Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}})
	m.response = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "hotline_ivr_digit_to_prompt_seconds",
		Help: "IVR responsiveness: a caller's last digit to the start of the next prompt (includes lookups).", Buckets: latencyBuckets})
	m.httpTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "hotline_http_request_duration_seconds",
		Help: "HTTP requests (API, metrics, demo) by route pattern, method and status class; the SSE stream counts its whole life.", Buckets: latencyBuckets},
		[]string{"route", "method", "code"})
	m.dbWrite = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "hotline_db_write_duration_seconds",
		Help: "Ticket-history writes of call records (one batch each), by result (ok, error).", Buckets: latencyBuckets}, []string{"result"})
	// Goroutines, heap and RSS per call are part of the per-call budget
	// (docs/benchmarks.md): an operator must see them too.
	f(collectors.NewGoCollector())
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, c := range []prometheus.Collector{m.started, m.ended, m.rejected, m.digits, m.prompts, m.nodes, m.outcomes,
		m.rtpPackets, m.rtpEvents, m.setup, m.response, m.httpTime, m.dbWrite} {
		f(c)
	}
	f(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "hotline_events_dropped_total", Help: "Event deliveries skipped because a subscriber (SSE client) was too slow."},
		func() float64 { return float64(bus.Dropped()) }))
	for _, g := range gauges {
		f(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: g.name, Help: g.help}, g.value))
	}
	return m
}

// buildInfo publishes the running version (constant 1, the facts in labels).
func (m *metrics) buildInfo(version string) {
	if version == "" {
		version = "dev"
	}
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "hotline_build_info",
		Help:        "Always 1; the labels say which build is running.",
		ConstLabels: prometheus.Labels{"version": version, "goversion": runtime.Version()}}, func() float64 { return 1 }))
}

// flowReloads counts reloads from the registry's own counters.
func (m *metrics) flowReloads(counts func() (loaded, rejected uint64)) {
	for _, r := range []struct {
		result string
		pick   func(loaded, rejected uint64) uint64
	}{
		{"ok", func(l, _ uint64) uint64 { return l }},
		{"rejected", func(_, r uint64) uint64 { return r }},
	} {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "hotline_flow_reloads_total",
			Help:        "Flow directory loads (start-up, SIGHUP, watch) by result: ok replaced the set, rejected kept the one in service.",
			ConstLabels: prometheus.Labels{"result": r.result}},
			func() float64 { return float64(r.pick(counts())) }))
	}
}

// observe updates counters from one event.
func (m *metrics) observe(e events.Event) {
	switch e.Type {
	case events.CallStarted:
		m.started.Inc()
		m.inviteAt[e.CallID] = e.Time
	case events.CallAnswered:
		if at, ok := m.inviteAt[e.CallID]; ok {
			m.setup.Observe(e.Time.Sub(at).Seconds())
			delete(m.inviteAt, e.CallID)
		}
	case events.CallEnded:
		p, _ := e.Payload.(sip.CallEnd)
		m.ended.WithLabelValues(p.Side).Inc()
		delete(m.inviteAt, e.CallID)
		delete(m.lastDigit, e.CallID)
	case events.CallRejected:
		p, _ := e.Payload.(sip.CallReject)
		m.rejected.WithLabelValues(strconv.Itoa(p.Status)).Inc()
	case events.DigitPressed:
		p, _ := e.Payload.(ivr.DigitPress)
		m.digits.WithLabelValues(p.Source).Inc()
		if !p.Discarded {
			m.lastDigit[e.CallID] = e.Time
		}
	case events.PromptPlayed:
		p, _ := e.Payload.(ivr.PromptPlay)
		m.prompts.WithLabelValues(strconv.FormatBool(p.Interrupted)).Inc()
		m.promptStarted(e.CallID, e.Time, p)
	case events.NodeEntered:
		p, _ := e.Payload.(ivr.NodeEnter)
		m.nodes.WithLabelValues(p.Flow, p.Type).Inc()
	}
}

// promptStarted observes the wait from the caller's last digit to this
// prompt's start (the event comes when it has played: its time less its
// duration). A prompt the digit interrupted started before it: not counted.
func (m *metrics) promptStarted(callID string, at time.Time, p ivr.PromptPlay) {
	digit, ok := m.lastDigit[callID]
	if !ok || p.Missing {
		return
	}
	start := at.Add(-time.Duration(p.DurationMS) * time.Millisecond)
	if start.Before(digit) {
		return
	}
	m.response.Observe(start.Sub(digit).Seconds())
	delete(m.lastDigit, callID)
}

// run consumes the bus until ctx ends. The App owns this goroutine.
func (m *metrics) run(ctx context.Context, sub *events.Subscription) error {
	defer sub.Close()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-sub.C:
			if !ok {
				return nil
			}
			m.observe(e)
		}
	}
}

// register adds collectors another component exposes (the registrar's).
func (m *metrics) register(cs ...prometheus.Collector) {
	for _, c := range cs {
		m.reg.MustRegister(c)
	}
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// instrument times every HTTP request by the route pattern chi matched
// (bounded: never the raw path), method and status class.
func (m *metrics) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		route := "unmatched"
		if rctx := chi.RouteContext(r.Context()); rctx != nil && sw.code() != http.StatusNotFound {
			if p := rctx.RoutePattern(); p != "" {
				route = p
			}
		}
		method := r.Method
		switch method {
		case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		default:
			method = "other"
		}
		m.httpTime.WithLabelValues(route, method, fmt.Sprintf("%dxx", sw.code()/100)).Observe(time.Since(start).Seconds())
	})
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(p []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(p)
}

// Unwrap lets http.NewResponseController reach Flush (the SSE stream).
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusWriter) code() int {
	if s.status == 0 {
		return http.StatusOK
	}
	return s.status
}

// timedSink times the call log's batch writes to the ticket history.
type timedSink struct {
	calllog.Sink
	h *prometheus.HistogramVec
}

func (t timedSink) LogCalls(ctx context.Context, rs []store.CallRecord) ([]store.LogResult, error) {
	start := time.Now()
	res, err := t.Sink.LogCalls(ctx, rs)
	result := "ok"
	if err != nil {
		result = "error"
	}
	t.h.WithLabelValues(result).Observe(time.Since(start).Seconds())
	return res, err
}

// queueCollector reads each queue's live state and lifetime totals when
// Prometheus scrapes (the wallboard's own numbers): from queue.Stats on
// one node, from the cluster view in a cluster (the leader's figures, the
// same on every node's /metrics: sum them over nodes and they count
// N times; docs/metrics.md).
type queueCollector struct {
	stats  func(name string, now time.Time) (queue.QueueStats, bool)
	queues []string
	now    func() time.Time
}

// statsOf reads a single node's Stats.
func statsOf(st *queue.Stats) func(string, time.Time) (queue.QueueStats, bool) { return st.Queue }

// viewStats reads the cluster view (nothing before the first view).
func viewStats(v interface {
	Queue(string) (queue.QueueView, error)
}) func(string, time.Time) (queue.QueueStats, bool) {
	return func(name string, _ time.Time) (queue.QueueStats, bool) {
		qv, err := v.Queue(name)
		return qv.QueueStats, err == nil
	}
}

var (
	queueWaitingDesc   = prometheus.NewDesc("hotline_queue_waiting", "Callers waiting in the queue now.", []string{"queue"}, nil)
	queueLongestDesc   = prometheus.NewDesc("hotline_queue_longest_wait_seconds", "How long the longest-waiting caller has waited.", []string{"queue"}, nil)
	queuePresenceDesc  = prometheus.NewDesc("hotline_queue_agents", "The queue's agents by presence (logged_out, available, paused).", []string{"queue", "presence"}, nil)
	queueActivityDesc  = prometheus.NewDesc("hotline_queue_agents_activity", "The queue's agents by activity (idle, ringing, on_call, wrap_up, reserved).", []string{"queue", "activity"}, nil)
	queueJoinedDesc    = prometheus.NewDesc("hotline_queue_joined_total", "Callers who joined the queue (refused joins included).", []string{"queue"}, nil)
	queueAnsweredDesc  = prometheus.NewDesc("hotline_queue_answered_total", "Callers an agent answered.", []string{"queue"}, nil)
	queueAbandonedDesc = prometheus.NewDesc("hotline_queue_abandoned_total", "Callers who hung up while waiting or while an agent rang.", []string{"queue"}, nil)
	queueExitedDesc    = prometheus.NewDesc("hotline_queue_exited_total", "Callers who left another way (timeout, full, empty, exit key, transfer).", []string{"queue"}, nil)
)

func (c queueCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{queueWaitingDesc, queueLongestDesc, queuePresenceDesc, queueActivityDesc,
		queueJoinedDesc, queueAnsweredDesc, queueAbandonedDesc, queueExitedDesc} {
		ch <- d
	}
}

func (c queueCollector) Collect(ch chan<- prometheus.Metric) {
	now := c.now()
	for _, name := range c.queues {
		st, ok := c.stats(name, now)
		if !ok {
			continue
		}
		ch <- prometheus.MustNewConstMetric(queueWaitingDesc, prometheus.GaugeValue, float64(st.Waiting), name)
		ch <- prometheus.MustNewConstMetric(queueLongestDesc, prometheus.GaugeValue, st.LongestWaitSeconds, name)
		for _, p := range []queue.Presence{queue.LoggedOut, queue.Available, queue.Paused} {
			ch <- prometheus.MustNewConstMetric(queuePresenceDesc, prometheus.GaugeValue, float64(st.AgentsByPresence[string(p)]), name, string(p))
		}
		for _, a := range []queue.Activity{queue.Idle, queue.Ringing, queue.OnCall, queue.WrapUp, queue.Reserved} {
			ch <- prometheus.MustNewConstMetric(queueActivityDesc, prometheus.GaugeValue, float64(st.AgentsByActivity[string(a)]), name, string(a))
		}
		ch <- prometheus.MustNewConstMetric(queueJoinedDesc, prometheus.CounterValue, float64(st.Totals.Joined), name)
		ch <- prometheus.MustNewConstMetric(queueAnsweredDesc, prometheus.CounterValue, float64(st.Totals.Answered), name)
		ch <- prometheus.MustNewConstMetric(queueAbandonedDesc, prometheus.CounterValue, float64(st.Totals.Abandoned), name)
		ch <- prometheus.MustNewConstMetric(queueExitedDesc, prometheus.CounterValue, float64(st.Totals.Exited), name)
	}
}

// sipCollector reads the SIP server's response counts when scraped.
type sipCollector struct {
	responses func() map[sip.ResponseKey]uint64
}

var sipResponsesDesc = prometheus.NewDesc("hotline_sip_responses_total",
	"SIP responses Hotline's server sent, by request method and status class (1xx..6xx).", []string{"method", "class"}, nil)

func (c sipCollector) Describe(ch chan<- *prometheus.Desc) { ch <- sipResponsesDesc }

func (c sipCollector) Collect(ch chan<- prometheus.Metric) {
	counts := c.responses()
	keys := make([]sip.ResponseKey, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return keys[i].Method < keys[j].Method || keys[i].Method == keys[j].Method && keys[i].Class < keys[j].Class
	})
	for _, k := range keys {
		ch <- prometheus.MustNewConstMetric(sipResponsesDesc, prometheus.CounterValue, float64(counts[k]), k.Method, k.Class)
	}
}
