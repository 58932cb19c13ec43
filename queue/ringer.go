package queue

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hotline-dev/hotline/media"
	"github.com/hotline-dev/hotline/sip"
)

// Leg is the media of one side of a bridge; *media.Session satisfies it.
// Audio crosses as linear PCM, so PCMU and PCMA legs transcode for free: each
// session decodes what it receives and encodes what it sends.
type Leg interface {
	SetAudioSink(f func(pcm []int16))
	WriteAudio(pcm []int16)
	Digits() <-chan media.Digit
	SendDigit(ctx context.Context, key rune, dur time.Duration, src media.DigitSource) error
}

// AgentCall is an answered call to an agent.
type AgentCall interface {
	Leg() Leg
	Done() <-chan struct{}
	Hangup(ctx context.Context) error
}

// Dialer places the INVITE to an agent (B2BUA outbound leg) and returns once
// it is answered. Cancelling ctx before the answer must send CANCEL.
type Dialer interface {
	Dial(ctx context.Context, uri string, o Offer) (AgentCall, error)
}

// SIPDialer dials agents with a *sip.Client.
type SIPDialer struct {
	Client *sip.Client
	// OnRinging, if set, is called when the agent's phone answers 180/183.
	OnRinging func(Offer)
}

// Dial implements Dialer. The caller's number is shown to the agent when it
// is a dialable string ([0-9+*#]).
func (d SIPDialer) Dial(ctx context.Context, uri string, o Offer) (AgentCall, error) {
	opts := sip.DialOptions{DisplayName: "Queue " + o.Queue}
	if d.OnRinging != nil {
		opts.OnRinging = func() { d.OnRinging(o) }
	}
	if o.Caller != "" && strings.Trim(o.Caller, "0123456789+*#") == "" {
		opts.From = o.Caller
	}
	// uri is a registered contact or an allow-listed static URI, never
	// caller input: dial it as registered (RFC 3261 §10).
	oc, err := d.Client.DialContact(ctx, uri, opts)
	if err != nil {
		return nil, err
	}
	return sipAgentCall{oc}, nil
}

type sipAgentCall struct{ *sip.OutboundCall }

func (c sipAgentCall) Leg() Leg { return c.Media() }

// RingerConfig configures a SIPRinger.
type RingerConfig struct {
	Dialer Dialer
	// Contacts returns the registered contact URIs of a SIP username, best
	// first (adapt registrar.Registrar.Lookup).
	Contacts func(username string) []string
	// AllowHosts lists the hosts a static agent URI may point at (config
	// allow.hosts); a static URI elsewhere is never dialled (toll fraud).
	AllowHosts []string
	Logger     *slog.Logger
}

// SIPRinger is the Ringer that rings agents' phones. Each ring runs on a
// goroutine it owns; Close cancels them and waits.
type SIPRinger struct {
	cfg  RingerConfig
	svc  *Service
	base context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup

	mu       sync.Mutex
	ringing  map[string]context.CancelCauseFunc
	answered map[string]AgentCall
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
		answered: map[string]AgentCall{}}
}

// Bind sets the service the ringer reports to.
func (r *SIPRinger) Bind(s *Service) { r.svc = s }

// Ring implements Ringer.
func (r *SIPRinger) Ring(o Offer) {
	uri := r.target(o)
	if uri == "" {
		r.cfg.Logger.Warn("queue: agent has no registered contact or allowed URI", "agent", o.Agent)
		_ = r.svc.Failed(o.ID, ResultError)
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
		ac, err := r.cfg.Dialer.Dial(ctx, uri, o)
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
			res := classify(err)
			if ctx.Err() != nil {
				res = ResultNoAnswer
			}
			r.cfg.Logger.Info("queue: agent not reached", "agent", o.Agent, "uri", uri, "result", res, "err", err)
			_ = r.svc.Failed(o.ID, res) // ErrOfferGone: the queue's own deadline won
			return
		}
		if err := r.svc.Answered(o.ID); err != nil {
			r.mu.Lock()
			delete(r.answered, o.ID)
			r.mu.Unlock()
			hctx, hcancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = ac.Hangup(hctx) // answered too late: BYE the agent
			hcancel()
		}
	}()
}

// Cancel implements Ringer: the INVITE is cancelled (RFC 3261 §9.1).
func (r *SIPRinger) Cancel(o Offer, reason string) {
	r.mu.Lock()
	cancel := r.ringing[o.ID]
	r.mu.Unlock()
	if cancel != nil {
		cancel(errCancelledByQueue)
	}
}

// Take hands over the answered agent leg of an offer (once).
func (r *SIPRinger) Take(offerID string) (AgentCall, bool) {
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
	r.answered = map[string]AgentCall{}
	r.mu.Unlock()
	for _, ac := range left {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = ac.Hangup(ctx)
		cancel()
	}
	return nil
}

// target picks the URI to ring: the agent's registered contact, else its
// static URI when the host is allow-listed.
func (r *SIPRinger) target(o Offer) string {
	if r.cfg.Contacts != nil && o.Username != "" {
		if cs := r.cfg.Contacts(o.Username); len(cs) > 0 {
			return cs[0]
		}
	}
	if o.URI != "" && r.allowed(o.URI) {
		return o.URI
	}
	return ""
}

func (r *SIPRinger) allowed(uri string) bool {
	rest, ok := strings.CutPrefix(uri, "sip:")
	if !ok {
		return false
	}
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		rest = rest[i+1:]
	}
	if i := strings.IndexAny(rest, ";?>"); i >= 0 {
		rest = rest[:i]
	}
	host := rest
	if h, _, err := net.SplitHostPort(rest); err == nil {
		host = h
	}
	return host != "" && slices.Contains(r.cfg.AllowHosts, host)
}

// classify maps a dial failure to an offer result.
func classify(err error) string {
	var se *sip.StatusError
	if errors.As(err, &se) {
		switch se.Code {
		case 486, 600:
			return ResultBusy
		case 603:
			return ResultDeclined
		case 408, 480, 487:
			return ResultNoAnswer
		}
	}
	return ResultError
}
