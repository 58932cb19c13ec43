package bridge

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/hotline-dev/hotline/media"
	"github.com/hotline-dev/hotline/sip"
)

// End is why Connect returned.
type End int

// Ends of a Connect.
const (
	// EndedByContext: ctx ended (for an inbound a: its caller hung up, or
	// Hotline ended the call). b is still up: the owner hangs it up.
	EndedByContext End = iota + 1
	// EndedByA: a's call ended (Done closed).
	EndedByA
	// EndedByB: b's call ended: the agent or the number hung up, or its
	// media timed out.
	EndedByB
	// EndedByTransfer: b's REFER was accepted (Options.Refer returned
	// nil); both legs are still up, and the owner carries the transfer out
	// and then calls FinishTransfer once.
	EndedByTransfer
)

func (e End) String() string {
	switch e {
	case EndedByContext:
		return "context"
	case EndedByA:
		return "a"
	case EndedByB:
		return "b"
	case EndedByTransfer:
		return "transfer"
	}
	return "unknown"
}

// Options shape a Connect.
type Options struct {
	// Refer, when set and b can take REFERs (a SIPCall), decides on each
	// REFER b sends while connected (RFC 3515 blind transfer; see
	// sip.ReferFunc: it runs on the SIP handler goroutine and must not
	// block). Returning nil accepts it: Hotline answers 202 and NOTIFYs
	// 100 Trying, and Connect returns EndedByTransfer with the transfer.
	// An error refuses it with its status (a *sip.StatusError, else 403)
	// and the connection goes on; so is every REFER after the first
	// accepted, or after Connect has returned. nil: b's REFERs are refused
	// (403).
	Refer sip.ReferFunc
	// Tap, when set, receives every audio frame either leg receives while
	// connected, with its RTP timing and the side it came from (a call
	// recorder). It runs on the legs' RTP readers (media's pollers, each
	// serving many calls), beside the relay: it must not block and must copy Frame.PCM to keep it. A leg that
	// cannot tap (not a *media.Session or a Leg with SetReceiveTap) is
	// not heard by it. nil: no tap is installed, and the relay does
	// exactly what it does without one.
	Tap func(from Side, f media.Frame)
}

// Side names a Connect's parties for a Tap.
type Side int

// The sides of a Connect.
const (
	SideA Side = iota // a: the party served (the caller)
	SideB             // b: the party serving them (the agent)
)

// tapper is a leg whose received audio can be tapped (media.Session).
type tapper interface{ SetReceiveTap(f func(media.Frame)) }

// installTap puts o.Tap on both legs and returns what removes it.
func installTap(al, bl Leg, tap func(Side, media.Frame)) (remove func()) {
	if tap == nil {
		return func() {}
	}
	var taps []tapper
	for side, l := range []Leg{al, bl} {
		t, ok := l.(tapper)
		if !ok {
			continue
		}
		s := Side(side)
		t.SetReceiveTap(func(f media.Frame) { tap(s, f) })
		taps = append(taps, t)
	}
	return func() {
		for _, t := range taps {
			t.SetReceiveTap(nil)
		}
	}
}

// referrer is a leg whose phone can send REFER (SIPCall).
type referrer interface{ OnRefer(sip.ReferFunc) }

// Connect relays audio both ways between a and b and DTMF each way (RFC 4733
// events re-sent on the other leg) until ctx ends, a's or b's call ends, or
// a REFER from b is accepted (Options.Refer). It hangs up nobody: the owner
// decides what becomes of the side still up (Hangup). The transfer is
// non-nil only with EndedByTransfer. A transfer accepted in the instant the
// connection ended otherwise cannot be carried out: Connect finishes it
// with 487 and hangs b up (b asked to leave), and returns how it ended.
//
// Audio is relayed frame by frame from each leg's RTP reader straight into
// the other leg's socket: with *media.Session legs of the same codec a
// frame's bytes are forwarded as they arrived (WriteEncoded: the outgoing
// leg's own SSRC, sequence and timestamp), with another codec re-encoded,
// and sent at once with no pacing delay, unless a prompt or a digit is
// being sent on that leg (then it waits at most one frame). Other legs
// relay linear PCM (SetAudioSink into WriteAudio).
// BenchmarkBridgeRelay measures the added delay.
func Connect(ctx context.Context, a, b Party, o Options) (End, *sip.Transfer) {
	rf, ok := b.(referrer)
	if o.Refer == nil || !ok {
		return connect(ctx, a, b, nil, o.Tap), nil
	}
	var (
		mu      sync.Mutex
		closed  bool
		pending *sip.Transfer
		fired   = make(chan struct{})
	)
	rf.OnRefer(func(t *sip.Transfer) error {
		mu.Lock()
		defer mu.Unlock()
		if closed || pending != nil {
			return &sip.StatusError{Code: 403, Reason: "Forbidden", Err: errors.New("bridge: call no longer connected")}
		}
		if err := o.Refer(t); err != nil {
			return err
		}
		pending = t
		close(fired)
		return nil
	})
	end := connect(ctx, a, b, fired, o.Tap)
	rf.OnRefer(nil)
	mu.Lock()
	closed = true
	t := pending
	mu.Unlock()
	if end == EndedByTransfer {
		return end, t
	}
	if t != nil { // accepted as the connection ended: nothing to carry out
		if c, ok := b.(Call); ok {
			FinishTransfer(ctx, c, t, 487, "Request Terminated")
		}
	}
	return end, nil
}

// connect is Connect without REFER: stop closing ends it with
// EndedByTransfer, and wins over a or b ending in the same instant. tap is
// Options.Tap.
func connect(ctx context.Context, a, b Party, stop <-chan struct{}, tap func(Side, media.Frame)) End {
	al, bl := a.Leg(), b.Leg()
	defer relayAudio(al, bl)()
	defer installTap(al, bl, tap)()
	rctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(2)
	go relayDigits(rctx, &wg, al, bl)
	go relayDigits(rctx, &wg, bl, al)
	stopped := func(end End) End {
		select {
		case <-stop:
			return EndedByTransfer
		default:
			return end
		}
	}
	var end End
	select {
	case <-stop:
		end = EndedByTransfer
	case <-a.Done():
		end = stopped(EndedByA)
	case <-b.Done():
		end = stopped(EndedByB)
	case <-ctx.Done():
		end = EndedByContext
	}
	cancel()
	wg.Wait()
	return end
}

// encodedLeg is a leg that can hand over and take audio still in its
// codec (*media.Session): a relay between two of them forwards the bytes
// of each frame as they arrive, from the receiving leg's reader, with no
// decode and re-encode when both legs speak the same codec.
type encodedLeg interface {
	SetPayloadSink(f func(c media.Codec, payload []byte))
	WriteEncoded(c media.Codec, payload []byte)
}

// relayAudio makes each leg's received audio the other's outgoing audio,
// and returns what undoes it.
func relayAudio(al, bl Leg) (remove func()) {
	ae, aok := al.(encodedLeg)
	be, bok := bl.(encodedLeg)
	if aok && bok {
		ae.SetPayloadSink(be.WriteEncoded)
		be.SetPayloadSink(ae.WriteEncoded)
		return func() {
			ae.SetPayloadSink(nil)
			be.SetPayloadSink(nil)
		}
	}
	al.SetAudioSink(bl.WriteAudio)
	bl.SetAudioSink(al.WriteAudio)
	return func() {
		al.SetAudioSink(nil)
		bl.SetAudioSink(nil)
	}
}

// relayDigits re-sends each digit from's far end pressed to to's far end as
// an RFC 4733 event (RFC 4733 §2.5), until ctx ends.
func relayDigits(ctx context.Context, wg *sync.WaitGroup, from, to Leg) {
	defer wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case d, ok := <-from.Digits():
			if !ok {
				return
			}
			dur := d.Duration
			if dur <= 0 {
				dur = 100 * time.Millisecond
			}
			_ = to.SendDigit(ctx, d.Key, dur, media.SourceRFC4733)
		}
	}
}
