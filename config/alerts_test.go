package config

import (
	"strings"
	"testing"
	"time"
)

func TestQueueAlertsOffByDefault(t *testing.T) {
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	for name, q := range c.Queues {
		if q.Alerts.Any() {
			t.Errorf("queue %s: alerts %+v, want off by default", name, q.Alerts)
		}
	}
}

func TestQueueAlertsFromFile(t *testing.T) {
	path := writeConfig(t, `
queues:
  sales:
    alerts:
      longest_wait: 60s
      service_level: 0.8
      no_agents_while_waiting: true
  support:
    alerts: {longest_wait: 2m}
`)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Queues["sales"].Alerts, (QueueAlerts{LongestWait: time.Minute, ServiceLevel: 0.8, NoAgentsWhileWaiting: true}); got != want {
		t.Errorf("sales alerts = %+v, want %+v", got, want)
	}
	if got := c.Queues["support"].Alerts; got != (QueueAlerts{LongestWait: 2 * time.Minute}) || !got.Any() {
		t.Errorf("support alerts = %+v", got)
	}
}

// A bad alert key names its line (the alerts block starts on line 4 of the
// file below, its first key on line 5).
func TestQueueAlertsErrorsNameTheLine(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{`longest_wait: soon`, `line 5: alerts.longest_wait: "soon" is not a duration`},
		{`longest_wait: -5s`, `line 5: alerts.longest_wait: -5s is not between 0 (off) and 24h`},
		{`service_level: 80`, `line 5: alerts.service_level: 80 is not a fraction between 0 (off) and 1`},
		{`service_level: .nan`, `line 5: alerts.service_level: NaN`},
		{`service_level: high`, `line 5: alerts.service_level: "high" is not a number`},
		{`no_agents_while_waiting: maybe`, `line 5: alerts.no_agents_while_waiting: "maybe" is not true or false`},
		{`longest_wiat: 60s`, `line 5: field longest_wiat not found in type config.QueueAlerts`},
	} {
		path := writeConfig(t, "\nqueues:\n  sales:\n    alerts:\n      "+tc.body+"\n")
		_, err := Load(path)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to contain %q", tc.body, err, tc.want)
		}
	}
	path := writeConfig(t, "\nqueues:\n  sales:\n    alerts: 60s\n")
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "line 4: alerts: want a mapping") {
		t.Errorf("alerts: 60s: error %v", err)
	}
}

func TestQueueAlertsJSONInSeconds(t *testing.T) {
	b, err := QueueAlerts{LongestWait: 90 * time.Second, ServiceLevel: 0.8}.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"longest_wait_s":90,"service_level":0.8}`; got != want {
		t.Errorf("json = %s, want %s", got, want)
	}
}
