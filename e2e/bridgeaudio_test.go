package e2e

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/internal/phonetest"
	"github.com/hotline-dev/hotline/media"
	"github.com/hotline-dev/hotline/sip"
)

// talkThenHangUp proves a caller and an agent's test phone are bridged
// with audio both ways: the caller hears the phone's 440 Hz, the phone
// hears the caller's 1000 Hz; then the caller hangs up and the agent's leg
// ends. what names the pair in failures ("caller C and x's phone").
func talkThenHangUp(t *testing.T, ctx context.Context, c *sip.OutboundCall, agent *phonetest.Call, what string) {
	t.Helper()
	heard := make(chan struct{})
	var once sync.Once
	c.Media().SetAudioSink(func(pcm []int16) {
		if media.ToneShare(pcm, 440) > 0.6 {
			once.Do(func() { close(heard) })
		}
	})
	select {
	case <-heard:
	case <-c.Done():
		t.Fatalf("%s: the call ended before the caller heard the agent's phone", what)
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: the caller did not hear the agent's phone through the bridge", what)
	}
	playCtx, stopPlay := context.WithCancel(ctx)
	played := make(chan struct{})
	go func() {
		defer close(played)
		_ = c.Media().Play(playCtx, media.NewPromptPCM("caller-tone", media.Tone([]float64{1000}, 5*time.Second)))
	}()
	agent.Heard(t, within(t, 5*time.Second), 1000, what+": the caller through the bridge")
	stopPlay()
	<-played
	must(t, c.Hangup(ctx))
	agent.WaitEnded(t, within(t, 5*time.Second), what+": the agent's leg after the caller hung up")
}
