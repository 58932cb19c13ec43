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

// TestLoopPlaysFirstThenLoopsUntilStop: Loop returns at once; the sender
// plays the first prompts, then the loop prompt over and over without
// gaps, until stop; a Play supersedes it.
func TestLoopPlaysFirstThenLoopsUntilStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		a, _ := memSession(t, n, addrA, SessionConfig{})
		peer := n.listen(addrB)
		first := NewPromptPCM("first", Tone([]float64{300}, 100*time.Second/SampleRate))
		music := NewPromptPCM("music", Tone([]float64{700}, 300*time.Second/SampleRate))
		if _, err := a.Loop(music); err != ErrNotStarted {
			t.Fatalf("Loop before Start: %v, want ErrNotStarted", err)
		}
		a.Start(remoteAt(addrB))
		stop, err := a.Loop(music, first)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond) // fake time: 10 frames of 160 samples
		synctest.Wait()
		var got []byte
		for _, k := range drain(t, peer) {
			got = append(got, k.Payload...)
		}
		want := append([]byte{}, first.Payload(PCMU)...)
		for len(want) < len(got) {
			want = append(want, music.Payload(PCMU)...)
		}
		if len(got) < 9*160 || !bytes.Equal(got, want[:len(got)]) {
			t.Fatalf("sent %d bytes; want the first prompt then the music looped, at least 9 frames", len(got))
		}
		stop()
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		drain(t, peer) // at most the frame under way when stop ran
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		if left := drain(t, peer); len(left) != 0 {
			t.Fatalf("%d packets after stop", len(left))
		}
		if _, err := a.Loop(music); err != nil {
			t.Fatal(err)
		}
		if err := a.Play(context.Background(), first); err != nil {
			t.Fatalf("Play over a Loop: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		drain(t, peer)
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		if left := drain(t, peer); len(left) != 0 {
			t.Fatalf("%d packets after a Play superseded the Loop and ended", len(left))
		}
	})
}
