package bridge

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/hotline-dev/hotline/sip"
)

// Dialer places an outbound leg (the B2BUA's INVITE) and returns once it is
// answered. Cancelling ctx before the answer gives up on it (SIPDialer sends
// CANCEL, RFC 3261 §9.1); a final non-2xx is a *sip.StatusError.
//
// uri must have passed the outbound policy (package outbound: a registered
// contact, a static agent URI, a transfer target, a callback number, each
// as outbound.Target.URI): a Dialer dials what it is given and checks
// nothing, so that the policy is the one place that decides.
type Dialer interface {
	Dial(ctx context.Context, uri string, o sip.DialOptions) (Call, error)
}

// SIPDialer dials with a *sip.Client.
type SIPDialer struct {
	Client *sip.Client
	// Routes, when set, gives the route set of a contact URI: the Path it
	// registered with (registrar.RouteSet), so the INVITE goes through
	// the proxy the phone registered through. nil or empty: none.
	Routes func(contactURI string) []string
}

var _ Dialer = SIPDialer{}

// Dial implements Dialer. The URI is dialled as given (RFC 3261 §10), user
// part and parameters kept (sip.Client.DialContact), since it comes from
// the outbound policy, never from caller input.
func (d SIPDialer) Dial(ctx context.Context, uri string, o sip.DialOptions) (Call, error) {
	if d.Routes != nil && len(o.Route) == 0 {
		o.Route = d.Routes(uri)
	}
	oc, err := d.Client.DialContact(ctx, uri, o)
	if err != nil {
		return nil, err
	}
	return SIPCall{oc}, nil
}

// SIPCall is the Call SIPDialer returns: the *sip.OutboundCall (its ID,
// Logger, Negotiated, OnRefer, SendINFO stay reachable) with its media
// session as the Leg.
type SIPCall struct{ *sip.OutboundCall }

var _ Call = SIPCall{}

// Leg is the call's RTP session.
func (c SIPCall) Leg() Leg { return c.Media() }

// Failure is why a dial did not end in an answered call, in the words the
// queue's offers and the callbacks' attempts record.
type Failure string

// Failures.
const (
	NoAnswer Failure = "no-answer" // rang until the caller's deadline, or the far end gave up (408, 480, 487)
	Busy     Failure = "busy"      // 486, 600
	Declined Failure = "declined"  // 603
	Failed   Failure = "error"     // anything else: unreachable, 404, 5xx, a transport error
)

// Classify maps a Dial error to a Failure (RFC 3261 §21 status classes).
func Classify(err error) Failure {
	var se *sip.StatusError
	if errors.As(err, &se) {
		switch se.Code {
		case 486, 600:
			return Busy
		case 603:
			return Declined
		case 408, 480, 487:
			return NoAnswer
		}
		return Failed
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return NoAnswer
	}
	return Failed
}

// hangupGrace is how long a BYE (or a final NOTIFY) may take after the
// context that asked for it has ended: the far end must be released even
// when the call that owned the leg is already gone.
const hangupGrace = 5 * time.Second

// Hangup sends BYE on c, allowing it hangupGrace even when ctx (the owner's
// call) has already ended. A call already ended returns sip.ErrCallEnded.
func Hangup(ctx context.Context, c Call) error {
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), hangupGrace)
	defer cancel()
	return c.Hangup(hctx)
}

// DialWhile dials uri with d while hold runs on its own goroutine (music
// for the party waiting on the other side, a whisper "please wait" for an
// agent), and returns once the dial has and hold has stopped: hold's
// context ends when the dial returns or ctx ends. A ring timeout is ctx's
// deadline.
func DialWhile(ctx context.Context, d Dialer, uri string, o sip.DialOptions, hold func(ctx context.Context)) (Call, error) {
	hctx, stop := context.WithCancel(ctx)
	var held sync.WaitGroup
	if hold != nil {
		held.Add(1)
		go func() {
			defer held.Done()
			hold(hctx)
		}()
	}
	c, err := d.Dial(ctx, uri, o)
	stop()
	held.Wait()
	return c, err
}
