package app

import (
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hotline-dev/hotline/outbound"
)

// outboundCollector reads the outbound policy's counts when scraped:
// dials admitted and refused (by reason), calls to numbers up per trunk,
// and the day's dials against the daily cap (docs/metrics.md).
type outboundCollector struct{ policy *outbound.Policy }

var (
	outboundAdmittedDesc = prometheus.NewDesc("hotline_outbound_dials_total", "Dials to numbers and trunks the outbound policy admitted.", nil, nil)
	outboundRefusedDesc  = prometheus.NewDesc("hotline_outbound_dials_refused_total", "Dials the outbound policy refused, by reason.", []string{"reason"}, nil)
	outboundActiveDesc   = prometheus.NewDesc("hotline_outbound_calls_active", "Calls to numbers up (ringing or answered), by trunk (\"\": straight to an allow.hosts host); their sum is held to outbound.max_calls.", []string{"trunk"}, nil)
	outboundTodayDesc    = prometheus.NewDesc("hotline_outbound_dials_today", "Dials counted today (office calendar's day) against outbound.max_per_day.", nil, nil)
)

// refusalReasons are exported with 0 from the start, so a rate() alert
// sees the first refusal.
var refusalReasons = []outbound.Reason{outbound.ReasonNotAllowed, outbound.ReasonBlocked, outbound.ReasonNumberRate,
	outbound.ReasonSourceRate, outbound.ReasonMaxCalls, outbound.ReasonTrunkBusy, outbound.ReasonDailyCap, outbound.ReasonNoTrunk}

func (c outboundCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{outboundAdmittedDesc, outboundRefusedDesc, outboundActiveDesc, outboundTodayDesc} {
		ch <- d
	}
}

func (c outboundCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.policy.Stats()
	ch <- prometheus.MustNewConstMetric(outboundAdmittedDesc, prometheus.CounterValue, float64(s.Admitted))
	for _, r := range refusalReasons {
		ch <- prometheus.MustNewConstMetric(outboundRefusedDesc, prometheus.CounterValue, float64(s.Refused[r]), string(r))
	}
	ch <- prometheus.MustNewConstMetric(outboundTodayDesc, prometheus.GaugeValue, float64(s.Today))
	names := make([]string, 0, len(s.Trunks))
	direct := s.Active
	for n, up := range s.Trunks {
		names = append(names, n)
		direct -= up
	}
	slices.Sort(names)
	ch <- prometheus.MustNewConstMetric(outboundActiveDesc, prometheus.GaugeValue, float64(direct), "")
	for _, n := range names {
		ch <- prometheus.MustNewConstMetric(outboundActiveDesc, prometheus.GaugeValue, float64(s.Trunks[n]), n)
	}
}
