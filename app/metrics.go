package app

import (
	"context"
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hotline-dev/hotline/events"
)

// metrics turns the event stream and per-call media counters into Prometheus
// series, so "the audio is choppy" or "callers hang up in the menu" is a
// number on a dashboard. It uses its own registry: no package globals.
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
	dropped    prometheus.CounterFunc
}

// gauge is a value read when Prometheus scrapes.
type gauge struct {
	name, help string
	value      func() float64
}

func newMetrics(bus *events.Bus, gauges []gauge) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	f := func(c prometheus.Collector) { m.reg.MustRegister(c) }
	m.started = prometheus.NewCounter(prometheus.CounterOpts{Name: "hotline_calls_started_total", Help: "Inbound calls accepted (INVITE answered or ringing)."})
	m.ended = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hotline_calls_ended_total", Help: "Calls ended, by hang-up side."}, []string{"side"})
	m.rejected = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hotline_calls_rejected_total", Help: "INVITEs refused, by SIP status."}, []string{"status"})
	m.digits = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hotline_dtmf_digits_total", Help: "DTMF digits received, by source (rfc4733, info, inband)."}, []string{"source"})
	m.prompts = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hotline_prompts_played_total", Help: "Prompts played, by whether a digit interrupted them (barge-in)."}, []string{"interrupted"})
	m.nodes = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hotline_ivr_nodes_total", Help: "IVR nodes entered, by flow and node type."}, []string{"flow", "type"})
	m.outcomes = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hotline_call_outcomes_total", Help: "Finished calls by ticket-history outcome."}, []string{"outcome"})
	m.rtpPackets = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hotline_rtp_packets_total", Help: "RTP packets of finished calls, by direction (sent, received, lost)."}, []string{"kind"})
	m.rtpEvents = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hotline_rtp_pacing_events_total", Help: "Outgoing pacing anomalies of finished calls: late frames and catch-ups."}, []string{"kind"})
	// Goroutines, heap and RSS per call are part of the per-call budget
	// (docs/benchmarks.md): an operator must see them too.
	f(collectors.NewGoCollector())
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, c := range []prometheus.Collector{m.started, m.ended, m.rejected, m.digits, m.prompts, m.nodes, m.outcomes, m.rtpPackets, m.rtpEvents} {
		f(c)
	}
	f(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "hotline_events_dropped_total", Help: "Event deliveries skipped because a subscriber (SSE client) was too slow."},
		func() float64 { return float64(bus.Dropped()) }))
	for _, g := range gauges {
		f(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: g.name, Help: g.help}, g.value))
	}
	return m
}

// observe updates counters from one event.
func (m *metrics) observe(e events.Event) {
	switch e.Type {
	case events.CallStarted:
		m.started.Inc()
	case events.CallEnded:
		m.ended.WithLabelValues(str(e.Data["side"])).Inc()
	case events.CallRejected:
		m.rejected.WithLabelValues(str(e.Data["status"])).Inc()
	case events.DigitPressed:
		m.digits.WithLabelValues(str(e.Data["source"])).Inc()
	case events.PromptPlayed:
		m.prompts.WithLabelValues(str(e.Data["interrupted"])).Inc()
	case events.NodeEntered:
		m.nodes.WithLabelValues(str(e.Data["flow"]), str(e.Data["type"])).Inc()
	}
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

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

func str(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}
