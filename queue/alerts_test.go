package queue

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
)

func sl(v float64) *float64 { return &v }

// The rule alone: each threshold's amber and red edges.
func TestJudge(t *testing.T) {
	view := func(wait float64, s *float64, waiting, avail, paused int) QueueView {
		return QueueView{QueueStats: QueueStats{Waiting: waiting, LongestWaitSeconds: wait,
			AgentsByPresence: map[string]int{"available": avail, "paused": paused, "logged_out": 1},
			Windows:          []Window{{Name: "30m", ServiceLevel: s}, {Name: "today", ServiceLevel: sl(1)}}}}
	}
	lw := config.QueueAlerts{LongestWait: 60 * time.Second}
	sla := config.QueueAlerts{ServiceLevel: 0.8}
	none := config.QueueAlerts{NoAgentsWhileWaiting: true}
	for _, tc := range []struct {
		name  string
		rules config.QueueAlerts
		v     QueueView
		want  string // kind:level,... ; detail checked apart
	}{
		{"off", config.QueueAlerts{}, view(999, sl(0), 5, 0, 0), ""},
		{"wait below amber", lw, view(44.9, nil, 1, 1, 0), ""},
		{"wait at amber", lw, view(45, nil, 1, 1, 0), "longest_wait:amber"},
		{"wait just below red", lw, view(59.9, nil, 1, 1, 0), "longest_wait:amber"},
		{"wait at red", lw, view(60, nil, 1, 1, 0), "longest_wait:red"},
		{"sl unknown", sla, view(0, nil, 0, 1, 0), ""},
		{"sl at target plus a quarter", sla, view(0, sl(0.85), 0, 1, 0), ""},
		{"sl below amber line", sla, view(0, sl(0.849), 0, 1, 0), "service_level:amber"},
		{"sl at target", sla, view(0, sl(0.8), 0, 1, 0), "service_level:amber"},
		{"sl below target", sla, view(0, sl(0.79), 0, 1, 0), "service_level:red"},
		{"sl today is not the window", sla, view(0, sl(0.5), 0, 1, 0), "service_level:red"},
		{"nobody waits", none, view(0, nil, 0, 0, 0), ""},
		{"waiting, an agent available", none, view(3, nil, 1, 1, 2), ""},
		{"waiting, all paused", none, view(3, nil, 1, 0, 2), "no_agents_while_waiting:amber"},
		{"waiting, none logged in", none, view(3, nil, 1, 0, 0), "no_agents_while_waiting:red"},
		{"all three", config.QueueAlerts{LongestWait: time.Minute, ServiceLevel: 0.8, NoAgentsWhileWaiting: true},
			view(61, sl(0.1), 2, 0, 0), "longest_wait:red,service_level:red,no_agents_while_waiting:red"},
	} {
		var got []string
		for _, a := range judge(tc.rules, tc.v) {
			got = append(got, a.Kind+":"+a.Level)
			if a.Detail == "" {
				t.Errorf("%s: %s has no detail", tc.name, a.Kind)
			}
		}
		if g := strings.Join(got, ","); g != tc.want {
			t.Errorf("%s: alerts %q, want %q", tc.name, g, tc.want)
		}
	}
}

// alertEvents drains the rig's subscription and returns the queue.alert
// payloads in it.
func (g *rig) alertEvents() []AlertChange {
	var out []AlertChange
	for {
		select {
		case e := <-g.sub.C:
			if e.Type == QueueAlert {
				out = append(out, e.Payload.(AlertChange))
			}
		default:
			return out
		}
	}
}

func changes(cs []AlertChange) string {
	var s []string
	for _, c := range cs {
		s = append(s, c.Kind+":"+c.Previous+">"+c.Level)
	}
	return strings.Join(s, ",")
}

// A real queue on a fake clock: thresholds crossed and cleared, each
// change one event, the view carrying the alerts in force.
func TestAlertsOnTheService(t *testing.T) {
	q := config.Queue{JoinEmpty: true, ServiceLevel: 20 * time.Second,
		Alerts: config.QueueAlerts{LongestWait: 60 * time.Second, ServiceLevel: 0.8, NoAgentsWhileWaiting: true}}
	g := newRig(t, one(q), agents("a1"))
	step := func(name, want string) {
		t.Helper()
		got := g.s.EvaluateAlerts()
		if changes(got) != want {
			t.Fatalf("%s: changes %q, want %q", name, changes(got), want)
		}
		if ev := g.alertEvents(); changes(ev) != want {
			t.Fatalf("%s: queue.alert events %q, want %q", name, changes(ev), want)
		}
	}
	step("idle queue", "")
	g.join("c1", "q", "")
	step("a caller, nobody logged in", "no_agents_while_waiting:ok>red")
	step("nothing changed", "")
	g.must(g.s.Login("a1"))
	g.must(g.s.Pause("a1", "lunch"))
	step("the only agent paused", "no_agents_while_waiting:red>amber")
	g.advance(44 * time.Second)
	step("44 s", "")
	g.advance(time.Second)
	step("45 s: 75 % of 60 s", "longest_wait:ok>amber")
	v, err := g.s.Queue("q")
	g.must(err)
	if len(v.Alerts) != 2 || v.Alerts[0].Kind != AlertLongestWait || !v.Alerts[0].Since.Equal(t0.Add(45*time.Second)) ||
		v.Thresholds.LongestWait != time.Minute {
		t.Fatalf("view alerts %+v thresholds %+v", v.Alerts, v.Thresholds)
	}
	g.advance(10 * time.Second)
	step("55 s: still amber, the detail moves", "")
	v, _ = g.s.Queue("q")
	if !strings.Contains(v.Alerts[0].Detail, "55 s") || !v.Alerts[0].Since.Equal(t0.Add(45*time.Second)) {
		t.Fatalf("amber at 55 s: %+v", v.Alerts[0])
	}
	g.advance(5 * time.Second)
	step("60 s", "longest_wait:amber>red")
	g.must(g.s.Leave("c1", ReasonAbandoned))
	step("abandoned after 60 s: the wait and agents clear, the service level falls",
		"service_level:ok>red,longest_wait:red>ok,no_agents_while_waiting:amber>ok")
	v, _ = g.s.Queue("q")
	if len(v.Alerts) != 1 || v.Alerts[0].Kind != AlertServiceLevel || v.Alerts[0].Level != LevelRed {
		t.Fatalf("after the abandon: %+v", v.Alerts)
	}
	// The window slides past the abandon: no figure, no alert.
	g.advance(31 * time.Minute)
	step("30 minutes later", "service_level:red>ok")
}

// The event on the wire: type queue.alert, the payload as data.
func TestAlertEventJSON(t *testing.T) {
	e := events.Event{Seq: 7, Type: QueueAlert, Queue: "sales", Time: t0,
		Payload: AlertChange{Queue: "sales", Kind: AlertLongestWait, Level: LevelRed, Previous: LevelAmber, Since: t0, Detail: "longest wait 61 s (threshold 60 s)"}}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"seq":7,"time":"2026-03-04T09:00:00Z","type":"queue.alert","queue":"sales","data":{"queue":"sales","kind":"longest_wait","level":"red","previous":"amber","since":"2026-03-04T09:00:00Z","detail":"longest wait 61 s (threshold 60 s)"}}`
	if string(b) != want {
		t.Errorf("json\n got %s\nwant %s", b, want)
	}
}

// RunAlerts reacts to the queue's own events (no waiting for its ticker)
// and stops with its context.
func TestRunAlertsOnEvents(t *testing.T) {
	q := config.Queue{JoinEmpty: true, Alerts: config.QueueAlerts{NoAgentsWhileWaiting: true}}
	g := newRig(t, one(q), agents("a1"))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.s.RunAlerts(ctx) }()
	deadline := time.After(10 * time.Second)
	// The join may come before RunAlerts subscribed; its ticker evaluates
	// then. Either way the alert arrives.
	g.join("c1", "q", "")
	for {
		select {
		case e := <-g.sub.C:
			if e.Type != QueueAlert {
				continue
			}
			if c := e.Payload.(AlertChange); c.Kind != AlertNoAgents || c.Level != LevelRed {
				t.Fatalf("alert %+v", c)
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("RunAlerts: %v", err)
			}
			return
		case <-deadline:
			t.Fatal("no queue.alert within 10 s")
		}
	}
}

func TestRunAlertsWithoutThresholdsReturns(t *testing.T) {
	g := newRig(t, one(config.Queue{}), agents("a1"))
	if err := g.s.RunAlerts(context.Background()); err != nil {
		t.Fatal(err)
	}
}
