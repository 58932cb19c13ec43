package store

import (
	"context"
	"time"
)

// WebhookState is where one delivery of an event to a subscription is.
type WebhookState string

// Delivery states.
const (
	WebhookPending   WebhookState = "pending"   // not yet accepted by the receiver: due at NextAt, or being tried
	WebhookDelivered WebhookState = "delivered" // the receiver answered 2xx
	WebhookDead      WebhookState = "dead"      // retried for the whole horizon (24 h) without a 2xx: the dead letter; replayable
)

// WebhookSubscription is one receiver made through the API (those of the
// configuration file are not stored). Secret signs its deliveries; the
// API never shows it after creation.
type WebhookSubscription struct {
	ID        string    `json:"id"`
	URL       string    `json:"url"`
	Secret    string    `json:"-"`
	Events    []string  `json:"events"` // event types it receives; empty: all
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// WebhookDelivery is one row of the outbox: event EventID for
// subscription Subscription. Body is the JSON sent, byte for byte, on
// every attempt (the signature covers it).
type WebhookDelivery struct {
	ID           int64        `json:"id"`
	Subscription string       `json:"subscription"`
	EventID      string       `json:"event_id"`
	EventType    string       `json:"event_type"`
	Body         []byte       `json:"-"`
	State        WebhookState `json:"state"`
	Attempts     int          `json:"attempts"`
	CreatedAt    time.Time    `json:"created_at"`
	FirstAt      time.Time    `json:"first_at"` // the retry horizon's start: CreatedAt, or when it was replayed
	NextAt       time.Time    `json:"next_at"`
	LastStatus   int          `json:"last_status,omitempty"` // the receiver's HTTP status (0: no answer)
	LastError    string       `json:"last_error,omitempty"`
	DoneAt       *time.Time   `json:"done_at,omitempty"` // delivered or dead
}

// WebhookClaim takes the due head of every subscription's line for one
// attempt: By names the process (its boot id), the claim lasts until
// At+Lease (a process killed mid-attempt loses it then, and the delivery
// is tried again: at-least-once).
type WebhookClaim struct {
	By    string
	At    time.Time
	Lease time.Duration
	// Limit is how many deliveries of each subscription's line may be
	// claimed at once (its oldest, all due and unclaimed, in order); the
	// claimant sends them one after the other. Default 1: the head.
	Limit int
}

// WebhookResult is the outcome of one claimed attempt.
type WebhookResult struct {
	ID     int64
	By     string
	At     time.Time
	State  WebhookState // pending (retry at NextAt), delivered or dead
	NextAt time.Time
	Status int
	Error  string
}

// WebhookFilter narrows ListWebhookDeliveries; zero fields do not filter.
type WebhookFilter struct {
	Subscription string
	State        WebhookState
}

// Webhooks is the webhook outbox and the API's subscriptions. Both
// backends implement it next to Store (store/storetest checks them).
type Webhooks interface {
	CreateWebhook(ctx context.Context, w *WebhookSubscription) error
	GetWebhook(ctx context.Context, id string) (*WebhookSubscription, error)
	ListWebhooks(ctx context.Context) ([]WebhookSubscription, error)
	// UpdateWebhook replaces URL, Events and (when not empty) Secret.
	UpdateWebhook(ctx context.Context, w *WebhookSubscription) error
	// DeleteWebhook removes the subscription and its pending deliveries
	// (delivered and dead ones stay visible).
	DeleteWebhook(ctx context.Context, id string) error

	// EnqueueWebhooks adds deliveries (Subscription, EventID, EventType,
	// Body, CreatedAt; NextAt defaults to CreatedAt) in one transaction,
	// in order; one whose (Subscription, EventID) is stored already (a
	// retried batch) is skipped.
	EnqueueWebhooks(ctx context.Context, ds []WebhookDelivery) error
	// ClaimWebhooks claims, in one transaction, the oldest pending
	// delivery of each subscription when it is due at c.At and not
	// claimed by a live lease: the claim is taken before anything is sent,
	// and a subscription's later events wait behind its head (ordering).
	ClaimWebhooks(ctx context.Context, c WebhookClaim) ([]WebhookDelivery, error)
	// FinishWebhook records a claimed attempt's outcome and releases the
	// claim; ErrVersion when r.By no longer holds it.
	FinishWebhook(ctx context.Context, r WebhookResult) error
	// FinishWebhooks is FinishWebhook for several, in one transaction;
	// a delivery r.By no longer holds is skipped.
	FinishWebhooks(ctx context.Context, rs []WebhookResult) error
	// ReleaseWebhooks gives back claimed deliveries that were not tried
	// (behind one that failed): unclaimed, their attempt uncounted.
	ReleaseWebhooks(ctx context.Context, by string, ids []int64) error
	// NextWebhookDue is the earliest NextAt of a pending head (ok false:
	// nothing pending): the deliverer's timer.
	NextWebhookDue(ctx context.Context) (at time.Time, ok bool, err error)
	ListWebhookDeliveries(ctx context.Context, f WebhookFilter, p Page) ([]WebhookDelivery, string, error)
	GetWebhookDelivery(ctx context.Context, id int64) (*WebhookDelivery, error)
	// PruneWebhooks deletes delivered and dead deliveries finished
	// before before (the outbox does not grow for ever); it reports how
	// many.
	PruneWebhooks(ctx context.Context, before time.Time) (int, error)
	// ReplayWebhook puts a dead (or delivered) delivery back in its line,
	// due at at, its attempts reset; ErrNotFound for no such id.
	ReplayWebhook(ctx context.Context, id int64, at time.Time) (WebhookDelivery, error)
}

// ChangeKind names a store write that makes webhook events.
type ChangeKind string

// The writes an Outbox hears.
const (
	ChangeTicketCreated      ChangeKind = "ticket.created"      // CreateTicket: Ticket
	ChangeTicketUpdated      ChangeKind = "ticket.updated"      // UpdateTicket: Ticket
	ChangeInteractionCreated ChangeKind = "interaction.created" // CreateInteraction: Interaction
	// ChangeCallLogged is one record LogCall or LogCalls wrote (not a
	// duplicate): Call and Result.
	ChangeCallLogged ChangeKind = "call.logged"
)

// Change is one committed-to-be write, as it is after the write (ids,
// timestamps, version set).
type Change struct {
	Kind        ChangeKind
	Ticket      *Ticket
	Interaction *Interaction
	Call        *CallRecord
	Result      LogResult
}

// Outbox makes the webhook deliveries of the store's own writes
// (Options.Outbox; the webhook service is one). The backends write them in
// the write's transaction, after its rows: a ticket, interaction or call
// that is committed has its deliveries in the outbox, one rolled back has
// none, and no crash falls between the two.
type Outbox interface {
	// Emit returns the outbox rows of change c, for the
	// subscriptions that want its events: subs are the API's as the
	// write's transaction reads them (ID and Events only); the Outbox
	// adds those it knows itself (the configuration file's). It is called
	// inside the transaction, so it must not block; an error fails the
	// write.
	Emit(c Change, subs []WebhookSubscription) ([]WebhookDelivery, error)
	// Committed is called after a transaction that added n > 0 rows
	// committed (the deliverer wakes up).
	Committed(n int)
}
