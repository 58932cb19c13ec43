package media

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
)

// Two sessions on one pacer, started off the pacer's grid: after each
// talkspurt's first frame (sent when the prompt starts) every frame goes on
// the first grid tick at or after its slot, so each stream keeps one
// offset from its schedule (exact 20 ms spacing, no jitter) and is never
// more than paceGrid late. Once both sessions are closed the pacer's
// goroutine is gone (synctest.Test fails on a goroutine left blocked).
func TestPacerSharedGrid(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		p := newPacer()
		a, _ := memSession(t, n, addrA, SessionConfig{})
		b, _ := memSession(t, n, "10.0.0.3:4002", SessionConfig{})
		a.pacer, b.pacer = p, p
		peerA, peerB := n.listen(addrB), n.listen("10.0.0.4:5002")
		if err := a.Start(remoteAt(addrB)); err != nil {
			t.Fatal(err)
		}
		if err := b.Start(remoteAt("10.0.0.4:5002")); err != nil {
			t.Fatal(err)
		}
		prompt := NewPromptPCM("tone", Tone([]float64{440}, 200*time.Millisecond))
		var wg sync.WaitGroup
		var t0 [2]time.Time
		for i, s := range []*Session{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				time.Sleep(time.Duration(i)*7*time.Millisecond + 300*time.Microsecond)
				t0[i] = time.Now()
				if err := s.Play(context.Background(), prompt); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		for i, peer := range []*memConn{peerA, peerB} {
			pkts := drain(t, peer)
			if len(pkts) != 10 {
				t.Fatalf("stream %d: %d packets, want 10", i, len(pkts))
			}
			if !pkts[0].at.Equal(t0[i]) {
				t.Errorf("stream %d: first frame at +%v after Play, want at once", i, pkts[0].at.Sub(t0[i]))
			}
			for k := 1; k < len(pkts); k++ {
				slot := t0[i].Add(time.Duration(k) * 20 * time.Millisecond)
				late := pkts[k].at.Sub(slot)
				if late < 0 || late >= paceGrid {
					t.Errorf("stream %d frame %d: %v after its slot, want [0, %v)", i, k, late, paceGrid)
				}
				if k > 1 {
					if d := pkts[k].at.Sub(pkts[k-1].at); d != 20*time.Millisecond {
						t.Errorf("stream %d frame %d: %v after the previous one, want 20ms", i, k, d)
					}
				}
			}
		}
		a.Close()
		b.Close()
		synctest.Wait()
		p.mu.Lock()
		running := p.running
		p.mu.Unlock()
		if running {
			t.Error("pacer still running with both sessions closed")
		}
	})
}

// The sessions of one PortPool share its pacers: 40 calls playing at once
// cost no goroutine of their own but the Play callers, at most one pacer
// and one RTP poller per core; every caller hears every frame, and nothing
// is left running afterwards.
func TestPacerPoolSessionsShareGoroutines(t *testing.T) {
	defer goleak.VerifyNone(t)
	const calls = 40
	base := freeEvenRange(t, 2*calls)
	pool, err := NewPortPool(base, base+4*calls-1)
	if err != nil {
		t.Fatal(err)
	}
	g0 := runtime.NumGoroutine()
	var senders, peers []*Session
	for range calls {
		a, b := loopbackPair(t, pool, SessionConfig{})
		senders, peers = append(senders, a), append(peers, b)
	}
	prompt := NewPromptPCM("tone", Tone([]float64{440}, 300*time.Millisecond))
	var wg sync.WaitGroup
	started := make(chan struct{})
	for _, s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-started
			if err := s.Play(context.Background(), prompt); err != nil {
				t.Error(err)
			}
		}()
	}
	close(started)
	// While they play: the Play callers, and the pacers and the RTP
	// pollers (poller_linux.go; elsewhere a reader per session), whose
	// number does not grow with the calls.
	deadline := time.Now().Add(10 * time.Second)
	for _, b := range peers {
		for b.Stats().PacketsReceived == 0 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
	}
	readers := 0
	if runtime.GOOS != "linux" {
		readers = 2 * calls
	}
	if g, most := runtime.NumGoroutine()-g0, readers+calls+2*runtime.GOMAXPROCS(0); g > most {
		t.Errorf("%d goroutines while %d calls play, want at most %d", g, calls, most)
	}
	wg.Wait()
	for i, b := range peers {
		deadline = time.Now().Add(10 * time.Second)
		for b.Stats().PacketsReceived < 15 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if st := b.Stats(); st.PacketsReceived != 15 || st.Lost != 0 {
			t.Errorf("call %d: received %d, lost %d; want 15 and 0", i, st.PacketsReceived, st.Lost)
		}
	}
	for i := range senders {
		senders[i].Close()
		peers[i].Close()
	}
}
