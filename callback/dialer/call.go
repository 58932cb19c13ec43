package dialer

import (
	"context"

	"github.com/hotline-dev/hotline/bridge"
	"github.com/hotline-dev/hotline/ivr"
	"github.com/hotline-dev/hotline/media"
	"github.com/hotline-dev/hotline/sip"
)

// Call is the customer's answered call as the Connector gets it: an
// ivr.Call (so the queue's Enqueuer can hold it, play to it and read its
// keys like an inbound caller's) and a bridge.Call (so it can be
// connected to an agent's leg). The Dialer owns it: it hangs it up once
// Connect has returned.
type Call struct {
	oc       *sip.OutboundCall
	number   string // the customer's number, E.164
	callerID string // the number Hotline presented
}

var (
	_ ivr.Call    = (*Call)(nil)
	_ bridge.Call = (*Call)(nil)
)

// ID is the INVITE's Call-ID (DialRequest.CallID).
func (c *Call) ID() string { return c.oc.ID() }

// Caller is the customer's number (E.164), as an inbound caller's Caller
// is theirs.
func (c *Call) Caller() string { return c.number }

// Called is the caller ID Hotline presented on the trunk.
func (c *Call) Called() string { return c.callerID }

// Play plays prompts to the customer until they have played or ctx ends.
func (c *Call) Play(ctx context.Context, prompts ...*media.Prompt) error {
	return c.oc.Media().Play(ctx, prompts...)
}

// Digits are the keys the customer presses (RFC 4733 events; in-band
// tones are not listened for).
func (c *Call) Digits() <-chan media.Digit { return c.oc.Media().Digits() }

// Media is the call's RTP session.
func (c *Call) Media() *media.Session { return c.oc.Media() }

// Leg is the call's media as a bridge leg.
func (c *Call) Leg() bridge.Leg { return c.oc.Media() }

// Done is closed once the call has ended (either side).
func (c *Call) Done() <-chan struct{} { return c.oc.Done() }

// Hangup sends BYE and waits until the call is torn down; the Dialer
// calls it, a Connector need not.
func (c *Call) Hangup(ctx context.Context) error { return c.oc.Hangup(ctx) }

// Ended is the end cause and side once Done is closed.
func (c *Call) Ended() (sip.Cause, sip.Side) { return c.oc.Ended() }

// Outbound is the SIP call itself (its Logger, Negotiated, SendINFO).
func (c *Call) Outbound() *sip.OutboundCall { return c.oc }

// ended reports whether the call is over.
func ended(done <-chan struct{}) bool {
	select {
	case <-done:
		return true
	default:
		return false
	}
}
