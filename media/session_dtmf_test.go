package media

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

// pair starts two sessions on memNet sending to each other.
func pair(t *testing.T, cfgB SessionConfig) (a, b *Session, peerOfA *memConn) {
	n := newMemNet()
	a, _ = memSession(t, n, addrA, SessionConfig{})
	b, peerOfA = memSession(t, n, addrB, cfgB)
	if err := a.Start(remoteAt(addrB)); err != nil {
		t.Fatal(err)
	}
	if err := b.Start(remoteAt(addrA)); err != nil {
		t.Fatal(err)
	}
	return a, b, peerOfA
}

func readDigits(s *Session) string {
	var out string
	for {
		select {
		case d := <-s.Digits():
			out += string(d.Key)
		default:
			return out
		}
	}
}

func TestSessionRFC4733Wire(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		a, _ := memSession(t, n, addrA, SessionConfig{})
		peer := n.listen(addrB)
		a.Start(remoteAt(addrB))
		if err := a.SendDigit(context.Background(), '#', 100*time.Millisecond, SourceRFC4733); err != nil {
			t.Fatal(err)
		}
		pkts := drain(t, peer)
		// RFC 4733 §2.5.1: one timestamp for the event, marker on the first
		// packet, growing duration, the end packet three times.
		wantDur := []uint16{160, 320, 480, 640, 800, 800, 800}
		if len(pkts) != len(wantDur) {
			t.Fatalf("%d packets, want %d", len(pkts), len(wantDur))
		}
		for i, k := range pkts {
			ev, err := ParseTelephoneEvent(k.Payload)
			if err != nil {
				t.Fatal(err)
			}
			if k.PayloadType != 101 || k.Timestamp != pkts[0].Timestamp || k.Marker != (i == 0) || k.SequenceNumber != pkts[0].SequenceNumber+uint16(i) {
				t.Fatalf("packet %d header: pt %d ts %d marker %v seq %d", i, k.PayloadType, k.Timestamp, k.Marker, k.SequenceNumber)
			}
			if ev.Event != 11 || ev.Duration != wantDur[i] || ev.End != (i >= 4) {
				t.Fatalf("packet %d event %+v", i, ev)
			}
		}
		// Audio after the event: new talkspurt with the clock's timestamp.
		a.Play(context.Background(), NewPromptPCM("p", make([]int16, 160)))
		after := drain(t, peer)
		if len(after) != 1 || !after[0].Marker || after[0].Timestamp != pkts[0].Timestamp+7*160 {
			t.Fatalf("audio after event: marker %v ts +%d", after[0].Marker, after[0].Timestamp-pkts[0].Timestamp)
		}
	})
}

func TestSessionDigitsBetweenSessions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b, _ := pair(t, SessionConfig{InbandDTMF: true})
		ctx := context.Background()
		for _, k := range "12#" {
			if err := a.SendDigit(ctx, k, 80*time.Millisecond, SourceRFC4733); err != nil {
				t.Fatal(err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		synctest.Wait()
		var got []Digit
		for len(b.Digits()) > 0 {
			got = append(got, <-b.Digits())
		}
		if len(got) != 3 || got[0].Key != '1' || got[1].Key != '2' || got[2].Key != '#' {
			t.Fatalf("digits %+v, want 1 2 #", got)
		}
		for _, d := range got {
			if d.Source != SourceRFC4733 || d.Duration != 80*time.Millisecond || d.At.IsZero() {
				t.Fatalf("digit %+v", d)
			}
		}
		// Inband: tones mixed into the stream, found by Goertzel.
		for _, k := range "90" {
			if err := a.SendDigit(ctx, k, 100*time.Millisecond, SourceInband); err != nil {
				t.Fatal(err)
			}
		}
		synctest.Wait()
		var inband []Digit
		for len(b.Digits()) > 0 {
			inband = append(inband, <-b.Digits())
		}
		if len(inband) != 2 || inband[0].Key != '9' || inband[1].Key != '0' || inband[0].Source != SourceInband {
			t.Fatalf("inband digits %+v, want 9 0", inband)
		}
		st := b.Stats()
		if st.DigitsRFC4733 != 3 || st.DigitsInband != 2 || st.Lost != 0 {
			t.Fatalf("stats %+v", st)
		}
	})
}

// TestSessionCrossSourceDedup: a phone that sends a key both as RFC 4733
// events and as SIP INFO presses it once.
func TestSessionCrossSourceDedup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b, _ := pair(t, SessionConfig{})
		ctx := context.Background()
		b.InjectDigit(Digit{Key: '5', Duration: 100 * time.Millisecond}) // INFO arrives first
		a.SendDigit(ctx, '5', 100*time.Millisecond, SourceRFC4733)
		synctest.Wait()
		time.Sleep(2 * time.Second)
		a.SendDigit(ctx, '5', 100*time.Millisecond, SourceRFC4733) // a real second press
		synctest.Wait()
		b.InjectDigit(Digit{Key: '5'})
		b.InjectDigit(Digit{Key: 'z'}) // not a key: ignored
		if got := readDigits(b); got != "55" {
			t.Fatalf("digits %q, want 55", got)
		}
		st := b.Stats()
		if st.DigitsINFO != 1 || st.DigitsRFC4733 != 1 || st.DigitsDuplicate != 2 {
			t.Fatalf("stats %+v", st)
		}
	})
}

func TestSessionSendDigitCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet()
		a, _ := memSession(t, n, addrA, SessionConfig{})
		peer := n.listen(addrB)
		a.Start(remoteAt(addrB))
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if err := a.SendDigit(ctx, '1', 5*time.Second, SourceRFC4733); err != context.DeadlineExceeded {
			t.Fatalf("SendDigit = %v", err)
		}
		time.Sleep(200 * time.Millisecond)
		pkts := drain(t, peer)
		last, _ := ParseTelephoneEvent(pkts[len(pkts)-1].Payload)
		if len(pkts) > 8 || !last.End {
			t.Fatalf("cancelled event: %d packets, last %+v; want it ended promptly with E", len(pkts), last)
		}
	})
}
