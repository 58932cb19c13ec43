package app

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/ivr"
	"github.com/hotline-dev/hotline/sip"
)

func TestMetricsCountEventsAndExposeRuntime(t *testing.T) {
	bus := events.NewBus()
	m := newMetrics(bus, []gauge{{"hotline_calls_active", "Calls in progress.", func() float64 { return 3 }}})
	for _, e := range []events.Event{
		{Type: events.CallStarted}, {Type: events.CallStarted},
		{Type: events.DigitPressed, Payload: ivr.DigitPress{Source: "rfc4733"}},
		{Type: events.CallRejected, Payload: sip.CallReject{Status: 503}},
		{Type: events.NodeEntered, Payload: ivr.NodeEnter{Flow: "support", Type: "menu"}},
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

// Call setup and digit-to-prompt latency come from the events' times.
func TestMetricsLatencyHistograms(t *testing.T) {
	m := newMetrics(events.NewBus(), nil)
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	for _, e := range []events.Event{
		{Type: events.CallStarted, CallID: "a", Time: at(0)},
		{Type: events.CallAnswered, CallID: "a", Time: at(300 * time.Millisecond)},
		// A prompt the digit interrupted started before it: not a latency.
		{Type: events.DigitPressed, CallID: "a", Time: at(2 * time.Second), Payload: ivr.DigitPress{Source: "rfc4733"}},
		{Type: events.PromptPlayed, CallID: "a", Time: at(2 * time.Second), Payload: ivr.PromptPlay{Interrupted: true, DurationMS: 1500}},
		// The next prompt starts 500 ms after the digit (it ends 2 s later).
		{Type: events.PromptPlayed, CallID: "a", Time: at(4500 * time.Millisecond), Payload: ivr.PromptPlay{DurationMS: 2000}},
		// A later prompt with no new digit is not counted again.
		{Type: events.PromptPlayed, CallID: "a", Time: at(9 * time.Second), Payload: ivr.PromptPlay{DurationMS: 1000}},
		{Type: events.CallEnded, CallID: "a", Time: at(10 * time.Second), Payload: sip.CallEnd{Side: sip.EndedByCaller}},
	} {
		m.observe(e)
	}
	body := scrape(t, m)
	for _, want := range []string{
		"hotline_call_setup_seconds_sum 0.3\n", "hotline_call_setup_seconds_count 1\n",
		"hotline_ivr_digit_to_prompt_seconds_sum 0.5\n", "hotline_ivr_digit_to_prompt_seconds_count 1\n",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if len(m.inviteAt) != 0 || len(m.lastDigit) != 0 {
		t.Errorf("per-call state left after the call ended: %v %v", m.inviteAt, m.lastDigit)
	}
}

func scrape(t *testing.T, m *metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	return string(body)
}
