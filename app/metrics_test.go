package app

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hotline-dev/hotline/events"
)

func TestMetricsCountEventsAndExposeRuntime(t *testing.T) {
	bus := events.NewBus()
	m := newMetrics(bus, []gauge{{"hotline_calls_active", "Calls in progress.", func() float64 { return 3 }}})
	for _, e := range []events.Event{
		{Type: events.CallStarted}, {Type: events.CallStarted},
		{Type: events.DigitPressed, Data: map[string]any{"source": "rfc4733"}},
		{Type: events.CallRejected, Data: map[string]any{"status": 503}},
		{Type: events.NodeEntered, Data: map[string]any{"flow": "support", "type": "menu"}},
	} {
		m.observe(e)
	}
	rec := httptest.NewRecorder()
	m.handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		"hotline_calls_started_total 2",
		`hotline_dtmf_digits_total{source="rfc4733"} 1`,
		`hotline_calls_rejected_total{status="503"} 1`,
		`hotline_ivr_nodes_total{flow="support",type="menu"} 1`,
		"hotline_calls_active 3",
		"go_goroutines ",
		"process_resident_memory_bytes ",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
