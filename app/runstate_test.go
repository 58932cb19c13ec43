package app

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/queue"
)

// A restart keeps the floor as it was: agents logged in or paused (with
// the reason), and today's counters.
func TestRestartKeepsAgentsAndToday(t *testing.T) {
	cfg := testConfig(t)
	cfg.Agents = []config.Agent{
		{ID: "a1", Name: "An", Queues: map[string]int{"sales": 0}}, // not offered technical's callers,
		{ID: "a2", Name: "Binh", Queues: map[string]int{"technical": 0}},
		{ID: "a3", Name: "Chi", Queues: map[string]int{"technical": 0}},
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	run := func(body func(a *App)) {
		t.Helper()
		a, err := New(context.Background(), cfg, log)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- a.Run(ctx) }()
		body(a)
		cancel() // a clean stop: the writer's last write follows the drain
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
	}
	var before queue.Window
	run(func(a *App) {
		svc := a.acd.svc
		must(t, svc.Login("a1"))
		must(t, svc.Login("a2"))
		must(t, svc.Pause("a2", "lunch"))
		for _, c := range []string{"c1", "c2"} {
			if _, err := svc.Join(queue.JoinRequest{CallID: c, Queue: "technical"}); err != nil {
				t.Fatal(err)
			}
		}
		must(t, svc.Leave("c1", queue.ReasonAbandoned))
		st, _ := svc.Stats().Queue("technical", time.Now())
		before = st.Windows[1]
	})
	run(func(a *App) {
		for id, want := range map[string][2]string{"a1": {"available", ""}, "a2": {"paused", "lunch"}, "a3": {"logged_out", ""}} {
			ag, err := a.acd.svc.Agent(id)
			if err != nil || string(ag.Presence) != want[0] || ag.Reason != want[1] {
				t.Errorf("%s after restart: %+v, %v; want %v", id, ag, err, want)
			}
		}
		st, _ := a.acd.svc.Stats().Queue("technical", time.Now())
		today := st.Windows[1]
		if today.Joined != before.Joined || today.Abandoned != before.Abandoned || today.Joined != 2 || today.Exited != 1 {
			t.Errorf("today after restart = %+v, before %+v (c2 was cut off: exited)", today, before)
		}
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
