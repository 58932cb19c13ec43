package queue

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/hotline-dev/hotline/bridge"
	"github.com/hotline-dev/hotline/outbound"
	"github.com/hotline-dev/hotline/sip"
)

// dialOptions are the agent leg's INVITE options for a caller of queue:
// the agent's phone shows "Queue <name>" and the caller's number when it is
// a dialable string ([0-9+*#]); the leg logs the caller's call_id (and its
// own leg_id).
func dialOptions(queue, caller, callID string) sip.DialOptions {
	opts := sip.DialOptions{DisplayName: "Queue " + queue, CallID: callID}
	if caller != "" && strings.Trim(caller, "0123456789+*#") == "" {
		opts.From = caller
	}
	opts.Source = caller // the outbound policy's per-source rate on dials to numbers
	return opts
}

// RingerConfig configures a SIPRinger.
type RingerConfig struct {
	// Dialer places the agent legs (bridge.SIPDialer in the server) with
	// the URI the outbound policy returned.
	Dialer bridge.Dialer
	// Contacts returns the registered contact URIs of a SIP username, best
	// first (adapt registrar.Registrar.Lookup).
	Contacts func(username string) []string
	// Policy is the outbound policy (toll-fraud guard) every URI is checked
	// against at dial time, registered contacts included: the registrar
	// checked them at REGISTER, but a binding may predate a configuration
	// change. nil allows no static URI and no numeric contact.
	Policy *outbound.Policy
	// OnRinging, if set, is called when the agent's phone answers 180/183.
	OnRinging func(Offer)
	Logger    *slog.Logger
}

// SIPRinger is the Ringer that rings agents' phones: the ACD's side of an
// offer (which URI, what the queue is told, the answered leg kept until the
// caller's Enqueue takes it) over a bridge.Dialer. Each ring runs on a
// goroutine it owns; Close cancels them and waits.
type SIPRinger struct {
	cfg  RingerConfig
	svc  Desk
	base context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup

	mu       sync.Mutex
	ringing  map[string]context.CancelCauseFunc
	answered map[string]bridge.Call
}

// errCancelledByQueue marks a ring the queue cancelled (it already knows).
var errCancelledByQueue = errors.New("queue: ring cancelled by queue")

// NewSIPRinger builds a ringer; Bind it to the Service before use.
func NewSIPRinger(cfg RingerConfig) *SIPRinger {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	base, stop := context.WithCancel(context.Background())
	return &SIPRinger{cfg: cfg, base: base, stop: stop, ringing: map[string]context.CancelCauseFunc{},
		answered: map[string]bridge.Call{}}
}

// Bind sets the service the ringer reports to.
func (r *SIPRinger) Bind(s *Service) { r.svc = s.Desk() }

// BindDesk sets the ACD the ringer reports to (a cluster's desk).
func (r *SIPRinger) BindDesk(d Desk) { r.svc = d }

// Ring implements Ringer.
func (r *SIPRinger) Ring(o Offer) {
	uri := r.target(o)
	if uri == "" {
		r.cfg.Logger.Warn("queue: agent has no registered contact or allowed URI", "call_id", o.CallID, "queue", o.Queue, "agent", o.Agent)
		_ = r.svc.Failed(r.base, o.ID, ResultError)
		return
	}
	cctx, cancel := context.WithCancelCause(r.base)
	ctx, cancelDeadline := context.WithDeadline(cctx, o.Deadline)
	r.mu.Lock()
	r.ringing[o.ID] = cancel
	r.mu.Unlock()
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer cancelDeadline()
		defer cancel(nil)
		opts := dialOptions(o.Queue, o.Caller, o.CallID)
		if r.cfg.OnRinging != nil {
			opts.OnRinging = func() { r.cfg.OnRinging(o) }
		}
		// uri passed the outbound policy (target): dialled as given.
		ac, err := r.cfg.Dialer.Dial(ctx, uri, opts)
		r.mu.Lock()
		delete(r.ringing, o.ID)
		if err == nil {
			r.answered[o.ID] = ac
		}
		r.mu.Unlock()
		if err != nil {
			if errors.Is(context.Cause(cctx), errCancelledByQueue) || r.base.Err() != nil {
				return
			}
			res := offerResult(bridge.Classify(err))
			if ctx.Err() != nil {
				res = ResultNoAnswer
			}
			r.cfg.Logger.Info("queue: agent not reached", "call_id", o.CallID, "queue", o.Queue, "agent", o.Agent, "uri", uri, "result", res, "err", err)
			_ = r.svc.Failed(r.base, o.ID, res) // ErrOfferGone: the queue's own deadline won
			return
		}
		if err := r.svc.Answered(r.base, o.ID); err != nil {
			r.mu.Lock()
			delete(r.answered, o.ID)
			r.mu.Unlock()
			_ = bridge.Hangup(context.Background(), ac) // answered too late: BYE the agent
		}
	}()
}

// Cancel implements Ringer: the INVITE is cancelled (RFC 3261 §9.1).
func (r *SIPRinger) Cancel(o Offer, reason string) {
	r.mu.Lock()
	cancel := r.ringing[o.ID]
	var gone bridge.Call
	if reason == CancelGone {
		// Answered after the offer ended (a cluster leader says so
		// after Answered returned): nobody will Take this leg.
		gone = r.answered[o.ID]
		delete(r.answered, o.ID)
	}
	r.mu.Unlock()
	if cancel != nil {
		cancel(errCancelledByQueue)
	}
	if gone != nil {
		r.cfg.Logger.Info("queue: agent answered an offer that had ended; hanging up", "offer", o.ID)
		ctx, stop := context.WithTimeout(r.base, 5*time.Second)
		_ = bridge.Hangup(ctx, gone)
		stop()
	}
}

// Take hands over the answered agent leg of an offer (once).
func (r *SIPRinger) Take(offerID string) (bridge.Call, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ac, ok := r.answered[offerID]
	delete(r.answered, offerID)
	return ac, ok
}

// Close cancels every ring, hangs up answered legs nobody took, and waits.
func (r *SIPRinger) Close() error {
	r.stop()
	r.wg.Wait()
	r.mu.Lock()
	left := r.answered
	r.answered = map[string]bridge.Call{}
	r.mu.Unlock()
	for _, ac := range left {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = ac.Hangup(ctx)
		cancel()
	}
	return nil
}

// target picks the URI to ring: the agent's best registered contact the
// outbound policy allows, else its static URI if the policy allows it.
func (r *SIPRinger) target(o Offer) string {
	if uri := allowedContact(r.cfg.Policy, r.cfg.Contacts, o.Username, r.cfg.Logger); uri != "" {
		return uri
	}
	if o.URI == "" {
		return ""
	}
	t, err := r.cfg.Policy.CheckURI(outbound.AgentURI, o.URI)
	if err != nil {
		r.cfg.Logger.Warn("queue: agent URI refused by the outbound policy", "agent", o.Agent, "err", err)
		return ""
	}
	return t.URI
}

// allowedContact is the best registered contact of username the policy
// lets Hotline dial, or "". A refused one is logged and skipped: it was
// registered before the allow-list changed, or the registrar was bypassed.
func allowedContact(p *outbound.Policy, contacts func(string) []string, username string, log *slog.Logger) string {
	if contacts == nil || username == "" {
		return ""
	}
	for _, c := range contacts(username) {
		t, err := p.CheckURI(outbound.Contact, c)
		if err != nil {
			log.Warn("queue: registered contact refused by the outbound policy", "user", username, "err", err)
			continue
		}
		return t.URI
	}
	return ""
}

// offerResult is the offer result (OfferEnded) of a dial failure.
func offerResult(f bridge.Failure) string {
	switch f {
	case bridge.Busy:
		return ResultBusy
	case bridge.Declined:
		return ResultDeclined
	case bridge.NoAnswer:
		return ResultNoAnswer
	}
	return ResultError
}
