// Package webhook delivers Hotline's events to helpdesks: signed JSON
// POSTs (sign.go), durable through an outbox in the database, at least
// once, in order per subscription, retried with back-off and jitter
// (jobs) for 24 h and then kept as a dead letter the API can replay.
//
// Events reach the outbox one way per kind. Those of a store write
// (ticket created or updated, interaction created, call.ended with its
// record) are written by the store in the write's own transaction: the
// Service is the store's Outbox (Emit), so they are committed exactly
// when the write is. The others (call.started, call.answered, agent
// state, callbacks) have no write of their own: the bus observer
// (synchronous with Publish, on the call's goroutine) only encodes them
// and puts them on a bounded in-memory queue, and the outbox writer
// commits batches of it in its own goroutine, retrying while the database
// is away; a kill -9 loses what is queued and not yet committed. When the
// queue is full (the database has been unwritable for that long) an event
// is dropped and counted rather than blocking a call: Stats().Dropped, and
// an error log line. Flush lets the call log order a call's queued events
// before its call.ended.
//
// The deliverer claims the head of each subscription's line (one
// transaction, before sending), POSTs it and records the outcome. Every
// connection is checked against the refused ranges (guard.go: SSRF), and
// the API's secrets are encrypted at rest when keys are configured
// (seal.go).
package webhook

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/jobs"
	"github.com/hotline-dev/hotline/store"
)

// Defaults for zero Config fields.
const (
	DefaultBuffer = 65536 // events held in memory while the outbox write is pending
	batchMax      = 512
)

// Config builds a Service.
type Config struct {
	// Store opens the outbox (the app's lazily opened database); an error
	// is an outage, retried.
	Store func(ctx context.Context) (store.Webhooks, error)
	Bus   *events.Bus
	// File are the configuration's subscriptions, secrets resolved.
	File     map[string]config.Webhook
	Delivery config.WebhookDelivery
	// Client sends the deliveries; default: one with Delivery.Timeout
	// whose every connection is checked against the refused ranges
	// (Delivery.AllowNetworks), following no redirect. One given here is
	// used as it is.
	Client *http.Client
	Logger *slog.Logger
	// Boot names this process's claims and the events it makes from the
	// bus; default random. Two processes must never share one.
	Boot string
	Now  func() time.Time // default time.Now (tests inject a clock)
	Rand func() float64   // the jitter's draw; default math/rand
	// Buffer is how many events may wait for the outbox write.
	Buffer int
	// Lease is how long a claim lasts; default 2×Delivery.Timeout + 30s
	// (a process killed mid-send leaves its claim that long). Attempts of
	// a claimed run stop when the next might outlast it.
	Lease time.Duration
}

// Subscription is one receiver as the API shows it (never its secret).
type Subscription struct {
	ID        string    `json:"id"`
	URL       string    `json:"url"`
	Events    []string  `json:"events"`
	Source    string    `json:"source"` // config or api
	CreatedAt time.Time `json:"created_at,omitzero"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

type sub struct {
	Subscription
	secret []byte
	broken error // the stored secret does not open: every attempt fails with this
	all    bool
	types  map[string]bool
}

func (s *sub) wants(typ string) bool { return s.all || s.types[typ] }

func newSub(id, url, secret, source string, evs []string, created, updated time.Time) *sub {
	s := &sub{Subscription: Subscription{ID: id, URL: url, Events: slices.Clone(evs), Source: source, CreatedAt: created, UpdatedAt: updated},
		secret: []byte(secret), types: map[string]bool{}}
	if s.Events == nil {
		s.Events = []string{}
	}
	for _, e := range evs {
		s.types[e] = true
	}
	s.all = len(evs) == 0 || s.types["*"]
	return s
}

// Stats are counts since start.
type Stats struct {
	Queued     int    // events waiting for the outbox write
	Dropped    uint64 // events lost because the queue was full
	Enqueued   uint64 // deliveries written to the outbox
	Delivered  uint64
	Failed     uint64 // attempts that did not get a 2xx
	Dead       uint64
	WriteFails uint64 // outbox writes that failed (retried)
}

// Service is the outbox writer and the deliverer. Run it; Close it.
type Service struct {
	cfg     Config
	guard   guard
	seal    *sealer
	log     *slog.Logger
	retry   jobs.Retry
	dbRetry jobs.Backoff

	subs       atomic.Pointer[map[string]*sub]
	reloadMu   sync.Mutex // one reload's compare and set at a time
	apiVersion string     // subsVersion of the API's subscriptions in subs
	apiLoaded  bool
	loaded     chan struct{} // closed once the API's subscriptions are loaded
	loadOnce   sync.Once
	in         chan Event
	kick       chan struct{}
	stopObs    func()
	sends      sync.WaitGroup
	closeOnce  sync.Once
	done       chan struct{}

	dropped, enqueued, delivered, failed, dead, writeFails atomic.Uint64

	// pushed counts the events put on the queue, written those the writer
	// is done with (in the outbox, or not encodable); progress is closed
	// and replaced each time written grows (Flush waits on it).
	pushed, written atomic.Uint64
	progMu          sync.Mutex
	progress        chan struct{}
	wake            chan struct{} // Flush cuts the writer's retry wait short
}

// New checks cfg; it observes the bus from now on (events before Run are
// queued).
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, errors.New("webhook: Config.Store is required")
	}
	cfg.Delivery = cfg.Delivery.WithDefaults()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Boot == "" {
		var b [6]byte
		_, _ = rand.Read(b[:])
		cfg.Boot = hex.EncodeToString(b[:])
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Buffer <= 0 {
		cfg.Buffer = DefaultBuffer
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 2*cfg.Delivery.Timeout + 30*time.Second
	}
	// Room for one attempt at least, or nothing would ever be sent.
	cfg.Lease = max(cfg.Lease, cfg.Delivery.Timeout+leaseMargin+time.Second)
	allow, err := cfg.Delivery.AllowPrefixes()
	if err != nil {
		return nil, err
	}
	g := guard{allow: allow}
	seal, err := newSealer(cfg.Delivery.SecretKeys)
	if err != nil {
		return nil, err
	}
	if cfg.Client == nil {
		// Its own transport: Run closes its idle connections at the end.
		cfg.Client = &http.Client{Timeout: cfg.Delivery.Timeout, Transport: g.transport(cfg.Delivery.Timeout),
			// A redirect would send the signed body somewhere not configured.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	s := &Service{cfg: cfg, guard: g, seal: seal, log: cfg.Logger.With("component", "webhook", "boot", cfg.Boot),
		retry: jobs.Retry{Backoff: jobs.Backoff{Min: cfg.Delivery.BackoffMin, Max: cfg.Delivery.BackoffMax, Jitter: 0.5, Rand: cfg.Rand},
			Horizon: cfg.Delivery.Retry},
		dbRetry: jobs.Backoff{Min: 250 * time.Millisecond, Max: 5 * time.Second},
		loaded:  make(chan struct{}), in: make(chan Event, cfg.Buffer), kick: make(chan struct{}, 1), done: make(chan struct{}),
		progress: make(chan struct{}), wake: make(chan struct{}, 1)}
	for name, w := range cfg.File {
		if err := config.ValidateWebhook("webhooks."+name, w.URL, w.Events); err != nil {
			return nil, err
		}
		if err := config.CheckWebhookSecret("webhooks."+name, w.Secret); err != nil {
			return nil, err
		}
		if err := s.checkDestination(w.URL); err != nil {
			return nil, fmt.Errorf("webhooks.%s.url: %w", name, err)
		}
	}
	s.setSubs(nil)
	if cfg.Bus != nil {
		s.stopObs = cfg.Bus.Observe(s.observe)
	}
	return s, nil
}

// checkDestination refuses a subscription URL in a refused range (the
// host, or what it resolves to within a few seconds).
func (s *Service) checkDestination(url string) error {
	ctx, cancel := context.WithTimeout(context.Background(), min(s.cfg.Delivery.Timeout, 5*time.Second))
	defer cancel()
	return s.guard.checkURL(ctx, url)
}

// Boot is the id of this process's claims.
func (s *Service) Boot() string { return s.cfg.Boot }

func (s *Service) setSubs(api []store.WebhookSubscription) {
	m := map[string]*sub{}
	for name, w := range s.cfg.File {
		m[name] = newSub(name, w.URL, w.Secret, "config", w.Events, time.Time{}, time.Time{})
	}
	for _, w := range api {
		secret, err := s.seal.open(w.ID, w.Secret)
		m[w.ID] = newSub(w.ID, w.URL, secret, "api", w.Events, w.CreatedAt, w.UpdatedAt)
		if err != nil {
			m[w.ID].secret, m[w.ID].broken = nil, err
			s.log.Error("webhook: a subscription's secret cannot be read; its deliveries fail", "subscription", w.ID, "err", err)
		}
	}
	s.subs.Store(&m)
}

// observe runs on the publisher's goroutine (a call's): encode, queue,
// never wait.
func (s *Service) observe(e events.Event) {
	ev, ok, err := fromBus(s.cfg.Boot, e)
	if err != nil {
		s.log.Error("webhook: event not encodable; dropped", "call_id", e.CallID, "type", e.Type, "err", err)
		return
	}
	if ok {
		s.push(ev)
	}
}

func (s *Service) push(ev Event) {
	select {
	case s.in <- ev:
		s.pushed.Add(1)
	default:
		if n := s.dropped.Add(1); n == 1 || n%1000 == 0 {
			s.log.Error("webhook: event queue full (the outbox cannot be written); events dropped", "call_id", ev.CallID,
				"type", ev.Type, "dropped", n, "buffer", s.cfg.Buffer)
		}
	}
}

// Flush waits until every event queued before it is in the outbox, for
// at most Delivery.Timeout or half of what is left of ctx: the call log calls it before writing
// call records, whose call.ended must follow the call's call.started and
// call.answered in a subscription's line. It gives up quietly (the
// records are written anyway) when the outbox cannot be written that
// long: then, and only then, call.ended may arrive before them.
func (s *Service) Flush(ctx context.Context) {
	target := s.pushed.Load()
	wait := s.cfg.Delivery.Timeout
	if dl, ok := ctx.Deadline(); ok {
		wait = min(wait, time.Until(dl)/2) // leave the caller's write half its time
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	for {
		s.progMu.Lock()
		ch := s.progress
		s.progMu.Unlock()
		if s.written.Load() >= target {
			return
		}
		select {
		case s.wake <- struct{}{}:
		default:
		}
		select {
		case <-ch:
		case <-ctx.Done():
			s.log.Warn("webhook: events still not in the outbox; call records written without waiting", "waiting", target-s.written.Load())
			return
		case <-s.done:
			return
		}
	}
}

// wrote records that the writer is done with n more events.
func (s *Service) wrote(n int) {
	s.written.Add(uint64(n))
	s.progMu.Lock()
	close(s.progress)
	s.progress = make(chan struct{})
	s.progMu.Unlock()
}

var _ store.Outbox = (*Service)(nil)

// Emit implements store.Outbox: the store's writes (a ticket
// created or updated, an interaction created, a call's record logged)
// make their events inside the write's transaction, so they are in the
// outbox exactly when the write is committed. subs are the API's
// subscriptions as that transaction reads them; the file's are added.
// No queue, no I/O: it only encodes.
func (s *Service) Emit(c store.Change, subs []store.WebhookSubscription) ([]store.WebhookDelivery, error) {
	evs, err := changeEvents(c, s.cfg.Now)
	if err != nil {
		return nil, err
	}
	m := map[string]*sub{}
	for id, sb := range *s.subs.Load() {
		if sb.Source == "config" {
			m[id] = sb
		}
	}
	for _, w := range subs {
		m[w.ID] = newSub(w.ID, "", "", "api", w.Events, time.Time{}, time.Time{})
	}
	var ds []store.WebhookDelivery
	for _, ev := range evs {
		d, err := fanout(m, ev)
		if err != nil {
			return nil, err
		}
		ds = append(ds, d...)
	}
	return ds, nil
}

// Committed implements store.Outbox: n deliveries are in the outbox.
func (s *Service) Committed(n int) {
	s.enqueued.Add(uint64(n))
	s.kickDeliver()
}

// changeEvents are the events of a store write, with ids made of the
// rows' ids (and a ticket's version): the same write always makes the
// same ids, and a retried transaction no more than once.
func changeEvents(c store.Change, now func() time.Time) ([]Event, error) {
	at := func(t time.Time) time.Time {
		if t.IsZero() {
			return now()
		}
		return t
	}
	switch {
	case c.Kind == store.ChangeTicketCreated && c.Ticket != nil:
		t := c.Ticket
		ev, err := storeEvent(fmt.Sprintf("ticket_%d_created", t.ID), "ticket.created", at(t.CreatedAt), "", t)
		return []Event{ev}, err
	case c.Kind == store.ChangeTicketUpdated && c.Ticket != nil:
		t := c.Ticket
		ev, err := storeEvent(fmt.Sprintf("ticket_%d_updated_%d", t.ID, t.Version), "ticket.updated", at(t.UpdatedAt), "", t)
		return []Event{ev}, err
	case c.Kind == store.ChangeInteractionCreated && c.Interaction != nil:
		i := c.Interaction
		ev, err := storeEvent(fmt.Sprintf("interaction_%d_created", i.ID), "interaction.created", at(i.CreatedAt), "", i)
		return []Event{ev}, err
	case c.Kind == store.ChangeCallLogged && c.Call != nil:
		// call.ended with the record, then the ticket and interaction it made.
		r, res := c.Call, c.Result
		callID, ended := r.Voice.CallID, at(r.EndedAt)
		var out []Event
		ev, err := storeEvent(fmt.Sprintf("call_%d_ended", res.InteractionID), "call.ended", ended, callID,
			CallEnded{Record: *r, InteractionID: res.InteractionID, CustomerID: res.CustomerID, TicketID: res.TicketID,
				NewCustomer: res.NewCustomer, NewTicket: res.NewTicket})
		if err != nil {
			return nil, err
		}
		out = append(out, ev)
		if res.NewTicket {
			ev, err := storeEvent(fmt.Sprintf("ticket_%d_created", res.TicketID), "ticket.created", ended, callID,
				map[string]any{"id": res.TicketID, "customer_id": res.CustomerID, "subject": r.Subject, "category": r.Category})
			if err != nil {
				return nil, err
			}
			out = append(out, ev)
		}
		ev, err = storeEvent(fmt.Sprintf("interaction_%d_created", res.InteractionID), "interaction.created", ended, callID,
			map[string]any{"id": res.InteractionID, "customer_id": res.CustomerID, "ticket_id": res.TicketID, "channel": "voice",
				"direction": r.Direction, "subject": r.Subject, "summary": r.Summary})
		if err != nil {
			return nil, err
		}
		return append(out, ev), nil
	}
	return nil, fmt.Errorf("webhook: change %q without its row", c.Kind)
}

// fanout is ev's outbox rows: one per subscription of subs that wants it,
// by subscription id.
func fanout(subs map[string]*sub, ev Event) ([]store.WebhookDelivery, error) {
	body, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("webhook: event %s %s: %w", ev.Type, ev.ID, err)
	}
	var ds []store.WebhookDelivery
	for _, id := range sortedSubs(subs) {
		if subs[id].wants(ev.Type) {
			ds = append(ds, store.WebhookDelivery{Subscription: id, EventID: ev.ID, EventType: ev.Type, Body: body, CreatedAt: ev.Created})
		}
	}
	return ds, nil
}

// Stats reports the counters.
func (s *Service) Stats() Stats {
	return Stats{Queued: len(s.in), Dropped: s.dropped.Load(), Enqueued: s.enqueued.Load(), Delivered: s.delivered.Load(),
		Failed: s.failed.Load(), Dead: s.dead.Load(), WriteFails: s.writeFails.Load()}
}
