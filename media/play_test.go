package media

import (
	"bytes"
	"context"
	"testing"
	"testing/synctest"
	"time"
)

// TestPlayAcrossPromptBoundaries: prompts are played back to back without
// gaps; only the very end is padded with silence to a whole frame.
func TestPlayAcrossPromptBoundaries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		a, _ := memSession(t, n, addrA, SessionConfig{})
		peer := n.listen(addrB)
		a.Start(remoteAt(addrB))
		p1 := NewPromptPCM("a", Tone([]float64{300}, 100*time.Second/SampleRate))
		p2 := NewPromptPCM("b", Tone([]float64{700}, 300*time.Second/SampleRate))
		if err := a.Play(context.Background(), p1, nil, p2); err != nil {
			t.Fatal(err)
		}
		var got []byte
		for _, k := range drain(t, peer) {
			got = append(got, k.Payload...)
		}
		want := append(append([]byte{}, p1.Payload(PCMU)...), p2.Payload(PCMU)...)
		want = append(want, bytes.Repeat([]byte{ulawSilence}, 480-len(want))...)
		if !bytes.Equal(got, want) {
			t.Fatalf("payload %d bytes differs from the two prompts plus padding (%d bytes)", len(got), len(want))
		}
	})
}

// TestPlayMixesLiveAudio: a prompt and live audio at the same time are
// summed (e.g. a whisper prompt over a bridged call).
func TestPlayMixesLiveAudio(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		a, _ := memSession(t, n, addrA, SessionConfig{})
		peer := n.listen(addrB)
		a.Start(remoteAt(addrB))
		constant := func(v int16, n int) []int16 {
			out := make([]int16, n)
			for i := range out {
				out[i] = v
			}
			return out
		}
		// Hold keeps the sender from taking the live frame alone before
		// the prompt is queued; goroutine scheduling is real in a bubble.
		a.SetHold(true)
		a.WriteAudio(constant(500, 160))
		errc := make(chan error, 1)
		go func() { errc <- a.Play(context.Background(), NewPromptPCM("c", constant(1000, 160))) }()
		synctest.Wait()
		a.SetHold(false)
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		pkts := drain(t, peer)
		if len(pkts) != 1 {
			t.Fatalf("%d packets, want 1", len(pkts))
		}
		pcm := make([]int16, 160)
		decodeG711(PCMU, pcm, pkts[0].Payload)
		for i, v := range pcm {
			if v < 1400 || v > 1600 { // µ-law step near 1500 is 64
				t.Fatalf("sample %d = %d, want about 1500", i, v)
			}
		}
	})
}
