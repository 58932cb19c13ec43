package sip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/hotline-dev/hotline/media"
)

// errCallerBye and friends are the context causes behind a call's ctx.
var (
	errCallerBye    = errors.New("sip: caller hung up")
	errMediaTimeout = errors.New("sip: media timeout")
	errShutdown     = errors.New("sip: server shutdown")
)

// Call is one inbound call as the IVR and the queue see it.
type Call struct {
	id, fromTag    string
	caller, called string
	log            *slog.Logger
	srv            *Server
	dialog         *sipgo.DialogServerSession
	media          *media.Session
	feature        *featureCall // a feature-code call: served by serveFeature
	slot           *setupSlot   // its admission (setup.go)

	ctx    context.Context
	cancel context.CancelCauseFunc
	done   chan struct{}
	// ackCh hands a late offer's ACK (it carries the answer) from the ACK
	// handler to run; nil otherwise and once run has it, so that no ACK is
	// parked in it for the rest of the call (issue 15: ~2 KiB a call). Under mu.
	ackCh chan *sip.Request
	bg    sync.WaitGroup // the media watchdog's check once it runs, re-INVITE work

	mu       sync.Mutex
	neg      Negotiated // current negotiated stream
	version  uint64     // o= version (RFC 3264 §8)
	sessID   uint64
	answered time.Time
	ended    bool
	closing  bool          // finish has started: no new background work
	reack    chan struct{} // closed when the re-INVITE 2xx being retransmitted is ACKed
	reackSeq uint32
	byeSent  bool
	byeIn    bool // a BYE from the caller is being answered
	// stopWatch unregisters the media watchdog (watchMedia); nil once done.
	stopWatch func() bool
	cause     Cause
	side      Side
}

// ID is the SIP Call-ID.
func (c *Call) ID() string { return c.id }

// FromTag is the caller's From tag (RFC 3261 §8.1.1.3): with the Call-ID it
// names the call in the ticket history (a new From tag is a new call, §12).
func (c *Call) FromTag() string { return c.fromTag }

// Caller is the From user part, CR/LF/NUL stripped.
func (c *Call) Caller() string { return c.caller }

// Called is the Request-URI user part (the dialled number).
func (c *Call) Called() string { return c.called }

// Source is the address (host:port) the INVITE came from: the caller's
// phone or trunk. The caller ID is what the caller says; this is where the
// call came from (per-source limits).
func (c *Call) Source() string { return c.dialog.InviteRequest.Source() }

// Media is the call's RTP session.
func (c *Call) Media() *media.Session { return c.media }

// Play plays prompts and blocks until they finish or ctx is done.
func (c *Call) Play(ctx context.Context, p ...*media.Prompt) error { return c.media.Play(ctx, p...) }

// Loop plays first, then loop over and over, in the background
// (media.Session.Loop; bridge.StartHold's music on hold).
func (c *Call) Loop(loop *media.Prompt, first ...*media.Prompt) (stop func(), err error) {
	return c.media.Loop(loop, first...)
}

// Digits delivers DTMF from RFC 4733, INFO and in-band detection.
func (c *Call) Digits() <-chan media.Digit { return c.media.Digits() }

// Done is closed when the call has ended and its resources are freed.
func (c *Call) Done() <-chan struct{} { return c.done }

// Logger has call_id attached.
func (c *Call) Logger() *slog.Logger { return c.log }

// Hangup sends BYE now (RFC 3261 §15.1.1) and records cause. The handler's
// ctx is cancelled; ServeCall should return.
func (c *Call) Hangup(ctx context.Context, cause Cause) error {
	if !c.markEnded(Cause(clean(string(cause))), SideLocal) {
		return ErrCallEnded
	}
	c.mu.Lock()
	c.byeSent = true
	c.mu.Unlock()
	err := c.bye(ctx, cause)
	c.cancel(errors.New("sip: hung up: " + clean(string(cause))))
	return err
}

// markEnded records the first cause only; it reports whether this call won.
func (c *Call) markEnded(cause Cause, side Side) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended {
		return false
	}
	c.ended, c.cause, c.side = true, cause, side
	return true
}

func (c *Call) bye(ctx context.Context, cause Cause) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req := c.dialog.InviteRequest
	bye := sip.NewRequest(sip.BYE, req.Contact().Address)
	bye.SetTransport(req.Transport())
	// RFC 3326: say why we hung up.
	bye.AppendHeader(sip.NewHeader("Reason", `SIP;text="`+strings.ReplaceAll(clean(string(cause)), `"`, "")+`"`))
	if err := c.dialog.WriteBye(ctx, bye); err != nil {
		c.log.Warn("BYE failed", "err", err)
		return fmt.Errorf("sip: BYE: %w", err)
	}
	return nil
}

// remote converts a negotiation into the media package's view of the far end.
func (n Negotiated) remote() media.Remote {
	return media.Remote{Addr: n.Remote, Codec: n.Codec, PayloadType: n.PayloadType, DTMFPayloadType: n.DTMFPT, Ptime: n.Ptime, Signal: n.Signal}
}

// watchMedia arranges for the call to be cancelled when the far end stops
// sending RTP (the session ends with ErrMediaTimeout). It registers on the
// session (AfterDone) rather than parking a goroutine per call (issue 15);
// the check runs, counted in c.bg, only once the session has ended.
// unwatchMedia undoes it when the call ends first.
func (c *Call) watchMedia() {
	c.bg.Add(1)
	stop := c.media.AfterDone(func() {
		defer c.bg.Done()
		if errors.Is(c.media.Err(), media.ErrMediaTimeout) && c.markEnded(CauseMediaTimeout, SideLocal) {
			c.log.Info("media timeout, hanging up")
			c.cancel(errMediaTimeout)
		}
	})
	c.mu.Lock()
	c.stopWatch = stop
	c.mu.Unlock()
}

// unwatchMedia unregisters watchMedia's check; when it had already started,
// c.bg.Wait waits for it.
func (c *Call) unwatchMedia() {
	c.mu.Lock()
	stop := c.stopWatch
	c.stopWatch = nil
	c.mu.Unlock()
	if stop != nil && stop() {
		c.bg.Done()
	}
}
