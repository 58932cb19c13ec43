package bridge

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hotline-dev/hotline/media"
	"github.com/hotline-dev/hotline/sip"
)

// TestConnectRelaysAudioAndDigits: each side hears the other and the
// other's digits (RFC 4733, a missing duration sent as 100 ms) until b
// hangs up; then the sinks are gone and nobody was hung up by Connect.
func TestConnectRelaysAudioAndDigits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := newFakeLeg(), newFakeCall()
		out := make(chan End, 1)
		go func() {
			end, tr := Connect(t.Context(), Media(a), b, Options{})
			if tr != nil {
				t.Errorf("transfer %v without Refer", tr)
			}
			out <- end
		}()
		synctest.Wait()
		a.hear([]int16{1, 2, 3})
		b.leg.hear([]int16{7, 8})
		a.digits <- media.Digit{Key: '5', Duration: 240 * time.Millisecond}
		b.leg.digits <- media.Digit{Key: '#'}
		synctest.Wait()
		if len(b.leg.got) != 1 || b.leg.got[0][2] != 3 || len(a.got) != 1 || a.got[0][1] != 8 {
			t.Fatalf("audio not relayed: b got %v, a got %v", b.leg.got, a.got)
		}
		wantSent := func(l *fakeLeg, key rune, dur time.Duration) {
			t.Helper()
			if len(l.sent) != 1 || l.sent[0].Key != key || l.sent[0].Duration != dur || l.sent[0].Source != media.SourceRFC4733 {
				t.Fatalf("digits sent %+v, want %c for %v as RFC 4733", l.sent, key, dur)
			}
		}
		wantSent(b.leg, '5', 240*time.Millisecond)
		wantSent(a, '#', 100*time.Millisecond)
		b.bye()
		if end := <-out; end != EndedByB {
			t.Fatalf("ended by %v, want b", end)
		}
		if a.hasSink() || b.leg.hasSink() {
			t.Fatal("audio sinks left in place after Connect returned")
		}
		if b.wasHungUp() {
			t.Fatal("Connect hung b up itself")
		}
	})
}

// TestConnectEnds: what ends a connection, and that an accepted transfer
// wins over either side's end in the same instant; Connect hangs up nobody.
func TestConnectEnds(t *testing.T) {
	tests := []struct {
		name                     string
		stop, aEnds, bEnds, cctx bool
		want                     End
	}{
		{"b hangs up", false, false, true, false, EndedByB},
		{"a's call ends", false, true, false, false, EndedByA},
		{"context ends", false, false, false, true, EndedByContext},
		{"transfer accepted", true, false, false, false, EndedByTransfer},
		{"transfer wins over b's BYE", true, false, true, false, EndedByTransfer},
		{"transfer wins over a's end", true, true, false, false, EndedByTransfer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			a, b, stop := newFakeCall(), newFakeCall(), make(chan struct{})
			if tt.stop {
				close(stop)
			}
			if tt.aEnds {
				a.bye()
			}
			if tt.bEnds {
				b.bye()
			}
			if tt.cctx {
				cancel()
			}
			if got := connect(ctx, a, b, stop, nil); got != tt.want {
				t.Fatalf("connect ended by %v, want %v", got, tt.want)
			}
			if a.wasHungUp() || b.wasHungUp() {
				t.Fatal("connect hung a side up itself")
			}
		})
	}
}

// TestConnectRefer: b's REFER goes to Options.Refer while connected; a
// refusal keeps the connection, an acceptance ends it with the transfer,
// and REFERs after it (or after Connect returned) are refused.
func TestConnectRefer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := newFakeLeg(), referringCall{newFakeCall()}
		refused := &sip.StatusError{Code: 480, Reason: "Temporarily Unavailable"}
		var asked []string
		type result struct {
			end End
			t   *sip.Transfer
		}
		out := make(chan result, 1)
		go func() {
			end, tr := Connect(t.Context(), Media(a), b, Options{Refer: func(t *sip.Transfer) error {
				asked = append(asked, t.User)
				if t.User != "sales" {
					return refused
				}
				return nil
			}})
			out <- result{end, tr}
		}()
		synctest.Wait()
		if err := b.sendRefer(&sip.Transfer{Refer: sip.Refer{User: "billing", Host: "hotline"}}); !errors.Is(err, refused) {
			t.Fatalf("refused REFER answered %v", err)
		}
		synctest.Wait()
		select {
		case r := <-out:
			t.Fatalf("Connect returned %v after a refused REFER", r.end)
		default:
		}
		accepted := &sip.Transfer{Refer: sip.Refer{User: "sales", Host: "hotline"}}
		if err := b.sendRefer(accepted); err != nil {
			t.Fatalf("accepted REFER answered %v", err)
		}
		var se *sip.StatusError
		if err := b.sendRefer(&sip.Transfer{Refer: sip.Refer{User: "sales", Host: "hotline"}}); !errors.As(err, &se) || se.Code != 403 {
			t.Fatalf("second REFER answered %v, want 403", err)
		}
		r := <-out
		if r.end != EndedByTransfer || r.t != accepted {
			t.Fatalf("Connect = %v, %p; want transfer %p", r.end, r.t, accepted)
		}
		if err := b.sendRefer(&sip.Transfer{Refer: sip.Refer{User: "sales", Host: "hotline"}}); !errors.As(err, &se) || se.Code != 403 {
			t.Fatalf("REFER after Connect returned answered %v, want 403", err)
		}
		if len(asked) != 2 || asked[0] != "billing" || asked[1] != "sales" {
			t.Fatalf("decision asked about %v, want billing then sales only", asked)
		}
		if b.wasHungUp() {
			t.Fatal("Connect hung the transferring leg up itself")
		}
	})
}

// TestConnectReferNeedsDecision: without Options.Refer nothing is installed
// (the sip default refuses with 403).
func TestConnectReferNeedsDecision(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := referringCall{newFakeCall()}
		done := make(chan End, 1)
		go func() { e, _ := Connect(t.Context(), Media(newFakeLeg()), b, Options{}); done <- e }()
		synctest.Wait()
		var se *sip.StatusError
		if err := b.sendRefer(&sip.Transfer{}); !errors.As(err, &se) || se.Code != 403 {
			t.Fatalf("REFER answered %v, want 403", err)
		}
		b.bye()
		if e := <-done; e != EndedByB {
			t.Fatalf("ended by %v", e)
		}
	})
}
