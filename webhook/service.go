// Package webhook delivers Hotline's events to helpdesks: signed JSON
// POSTs (sign.go), durable through an outbox in the database, at least
// once, in order per subscription, retried with back-off and jitter
// (jobs) for 24 h and then kept as a dead letter the API can replay.
//
// The call path never waits: the bus observer (synchronous with Publish)
// only encodes the event and puts it on a bounded in-memory queue; the
// outbox writer writes batches of it to the database in its own goroutine
// and retries while the database is away; the deliverer claims the head
// of each subscription's line (one transaction, before sending), POSTs it
// and records the outcome. When the queue is full (the database has been
// unwritable for that long) an event is dropped and counted rather than
// blocking a call: Stats().Dropped, and an error log line.
package webhook

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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
	Client   *http.Client // default: one with Delivery.Timeout
	Logger   *slog.Logger
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
	log     *slog.Logger
	retry   jobs.Retry
	dbRetry jobs.Backoff

	subs      atomic.Pointer[map[string]*sub]
	loaded    chan struct{} // closed once the API's subscriptions are loaded
	loadOnce  sync.Once
	in        chan Event
	kick      chan struct{}
	stopObs   func()
	sends     sync.WaitGroup
	closeOnce sync.Once
	done      chan struct{}

	dropped, enqueued, delivered, failed, dead, writeFails atomic.Uint64
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
	if cfg.Client == nil {
		// Its own transport: Run closes its idle connections at the end.
		cfg.Client = &http.Client{Timeout: cfg.Delivery.Timeout, Transport: http.DefaultTransport.(*http.Transport).Clone(),
			// A redirect would send the signed body somewhere not configured.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	s := &Service{cfg: cfg, log: cfg.Logger.With("component", "webhook", "boot", cfg.Boot),
		retry: jobs.Retry{Backoff: jobs.Backoff{Min: cfg.Delivery.BackoffMin, Max: cfg.Delivery.BackoffMax, Jitter: 0.5, Rand: cfg.Rand},
			Horizon: cfg.Delivery.Retry},
		dbRetry: jobs.Backoff{Min: 250 * time.Millisecond, Max: 5 * time.Second},
		loaded:  make(chan struct{}), in: make(chan Event, cfg.Buffer), kick: make(chan struct{}, 1), done: make(chan struct{})}
	for name, w := range cfg.File {
		if err := config.ValidateWebhook("webhooks."+name, w.URL, w.Events); err != nil {
			return nil, err
		}
		if err := config.CheckWebhookSecret("webhooks."+name, w.Secret); err != nil {
			return nil, err
		}
	}
	s.setSubs(nil)
	if cfg.Bus != nil {
		s.stopObs = cfg.Bus.Observe(s.observe)
	}
	return s, nil
}

// Boot is the id of this process's claims.
func (s *Service) Boot() string { return s.cfg.Boot }

func (s *Service) setSubs(api []store.WebhookSubscription) {
	m := map[string]*sub{}
	for name, w := range s.cfg.File {
		m[name] = newSub(name, w.URL, w.Secret, "config", w.Events, time.Time{}, time.Time{})
	}
	for _, w := range api {
		m[w.ID] = newSub(w.ID, w.URL, w.Secret, "api", w.Events, w.CreatedAt, w.UpdatedAt)
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
	default:
		if n := s.dropped.Add(1); n == 1 || n%1000 == 0 {
			s.log.Error("webhook: event queue full (the outbox cannot be written); events dropped", "call_id", ev.CallID,
				"type", ev.Type, "dropped", n, "buffer", s.cfg.Buffer)
		}
	}
}

// TicketCreated, TicketUpdated, InteractionCreated and CallLogged are
// the store writes' events: the app calls them after a write committed.
// They never wait either.
func (s *Service) TicketCreated(t store.Ticket) {
	s.pushStore(fmt.Sprintf("ticket_%d_created", t.ID), "ticket.created", t.CreatedAt, "", t)
}

func (s *Service) TicketUpdated(t store.Ticket) {
	s.pushStore(fmt.Sprintf("ticket_%d_updated_%d", t.ID, t.UpdatedAt.UnixMicro()), "ticket.updated", t.UpdatedAt, "", t)
}

func (s *Service) InteractionCreated(i store.Interaction) {
	s.pushStore(fmt.Sprintf("interaction_%d_created", i.ID), "interaction.created", i.CreatedAt, "", i)
}

// CallLogged is a call's record written to the ticket history: call.ended
// with the record, then the ticket and interaction it made. A duplicate
// (a replayed spool batch) makes none: the first write made them.
func (s *Service) CallLogged(r store.CallRecord, res store.LogResult) {
	if res.Duplicate {
		return
	}
	callID := r.Voice.CallID
	s.pushStore(fmt.Sprintf("call_%d_ended", res.InteractionID), "call.ended", r.EndedAt, callID,
		CallEnded{Record: r, InteractionID: res.InteractionID, CustomerID: res.CustomerID, TicketID: res.TicketID,
			NewCustomer: res.NewCustomer, NewTicket: res.NewTicket})
	if res.NewTicket {
		s.pushStore(fmt.Sprintf("ticket_%d_created", res.TicketID), "ticket.created", r.EndedAt, callID,
			map[string]any{"id": res.TicketID, "customer_id": res.CustomerID, "subject": r.Subject, "category": r.Category})
	}
	s.pushStore(fmt.Sprintf("interaction_%d_created", res.InteractionID), "interaction.created", r.EndedAt, callID,
		map[string]any{"id": res.InteractionID, "customer_id": res.CustomerID, "ticket_id": res.TicketID, "channel": "voice",
			"direction": r.Direction, "subject": r.Subject, "summary": r.Summary})
}

func (s *Service) pushStore(id, typ string, at time.Time, callID string, v any) {
	if at.IsZero() {
		at = s.cfg.Now()
	}
	ev, err := storeEvent(id, typ, at, callID, v)
	if err != nil {
		s.log.Error("webhook: event not encodable; dropped", "call_id", callID, "type", typ, "err", err)
		return
	}
	s.push(ev)
}

// Stats reports the counters.
func (s *Service) Stats() Stats {
	return Stats{Queued: len(s.in), Dropped: s.dropped.Load(), Enqueued: s.enqueued.Load(), Delivered: s.delivered.Load(),
		Failed: s.failed.Load(), Dead: s.dead.Load(), WriteFails: s.writeFails.Load()}
}
