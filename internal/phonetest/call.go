package phonetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"

	"github.com/hotline-dev/hotline/internal/referphone"
	"github.com/hotline-dev/hotline/media"
)

// Call is a call the phone answered.
type Call struct {
	inv   Invite
	d     *sipgo.DialogServerSession
	sess  *media.Session
	hears map[float64]*referphone.Tone
	ended chan struct{} // BYE either way, or cleanup
	once  sync.Once
	quit  context.CancelFunc
}

func (c *Call) end() { c.once.Do(func() { close(c.ended); c.quit() }) }

// Invite is the INVITE the call was answered for.
func (c *Call) Invite() Invite { return c.inv }

// Media is the call's RTP session. Its audio sink is the phone's
// listening: a test that sets its own gives up Heard.
func (c *Call) Media() *media.Session { return c.sess }

// Ended is closed by a BYE either way (or the test's end).
func (c *Call) Ended() <-chan struct{} { return c.ended }

// NextInvite is the next INVITE the phone read.
func (p *Phone) NextInvite(t testing.TB, ctx context.Context) Invite {
	t.Helper()
	select {
	case inv := <-p.invites:
		return inv
	case <-ctx.Done():
		t.Fatal("no INVITE reached the phone")
	}
	return Invite{}
}

// NextCall is the next call the phone answered.
func (p *Phone) NextCall(t testing.TB, ctx context.Context) *Call {
	t.Helper()
	select {
	case c := <-p.calls:
		return c
	case <-ctx.Done():
		t.Fatal("the phone answered no call")
	}
	return nil
}

// Heard waits until the call heard freq (one of New's listen tones); what
// names it in the failure.
func (c *Call) Heard(t testing.TB, ctx context.Context, freq float64, what string) {
	t.Helper()
	h, ok := c.hears[freq]
	if !ok {
		t.Fatalf("the phone does not listen for %v Hz (%s): give it to phonetest.New", freq, what)
	}
	select {
	case <-h.C:
	case <-ctx.Done():
		t.Fatalf("the phone never heard %s (%v Hz)", what, freq)
	}
}

// Press sends key as an RFC 4733 event.
func (c *Call) Press(t testing.TB, ctx context.Context, key rune) {
	t.Helper()
	if err := c.sess.SendDigit(ctx, key, 120*time.Millisecond, media.SourceRFC4733); err != nil && !closed(c.ended) {
		// (Hotline may take the key from the event's first packet and
		// hang up before the last: that is no failure of the press.)
		t.Fatalf("press %c: %v", key, err)
	}
}

// Hangup sends BYE from the phone.
func (c *Call) Hangup(t testing.TB, ctx context.Context) {
	t.Helper()
	if err := c.d.Bye(ctx); err != nil {
		t.Fatalf("phone BYE: %v", err)
	}
	c.end()
}

// WaitEnded waits for the call's BYE; what is the failure.
func (c *Call) WaitEnded(t testing.TB, ctx context.Context, what string) {
	t.Helper()
	select {
	case <-c.ended:
	case <-ctx.Done():
		t.Fatal(what)
	}
}

func closed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
	}
	return false
}
