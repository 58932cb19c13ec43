package store_test

import (
	"testing"
	"time"

	"github.com/hotline-dev/hotline/store"
)

func TestApplyLegs(t *testing.T) {
	at := time.Date(2026, 2, 1, 8, 0, 0, 0, time.UTC)
	tests := []struct {
		name              string
		legs              []store.CallLeg
		queue, agent      string
		wait, talk        float64
		keepsHandoffQueue bool
	}{
		{name: "no legs: the hand-off's queue stays", keepsHandoffQueue: true},
		{name: "waited, nobody answered", legs: []store.CallLeg{{Queue: "sales", WaitSeconds: 40, End: store.LegUnanswered}},
			queue: "sales", wait: 40},
		{name: "a transfer: first queue, first answering agent, totals",
			legs: []store.CallLeg{
				{Queue: "technical", WaitSeconds: 5, End: store.LegUnanswered, Reason: "exit-key"},
				{Queue: "operator", Agent: "lan", AnsweredAt: &at, WaitSeconds: 8, TalkSeconds: 60, End: store.LegTransferred},
				{Queue: "sales", Agent: "mai", AnsweredAt: &at, WaitSeconds: 3, TalkSeconds: 30, End: store.LegHangup},
			},
			queue: "technical", agent: "lan", wait: 16, talk: 90},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := store.VoiceDetails{Queue: "from-handoff", Agent: "stale", WaitSeconds: 99, TalkSeconds: 99}
			if tt.keepsHandoffQueue {
				v = store.VoiceDetails{Queue: "from-handoff"}
			}
			v.ApplyLegs(tt.legs)
			if tt.keepsHandoffQueue {
				if v.Queue != "from-handoff" || v.Agent != "" || v.WaitSeconds != 0 || v.TalkSeconds != 0 {
					t.Fatalf("without legs: %+v", v)
				}
				return
			}
			if v.Queue != tt.queue || v.Agent != tt.agent || v.WaitSeconds != tt.wait || v.TalkSeconds != tt.talk || len(v.Legs) != len(tt.legs) {
				t.Fatalf("queue %q agent %q wait %v talk %v; want %q %q %v %v", v.Queue, v.Agent, v.WaitSeconds, v.TalkSeconds,
					tt.queue, tt.agent, tt.wait, tt.talk)
			}
		})
	}
}
