package store

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors. Backends wrap them with %w so callers use errors.Is and
// the HTTP API maps them to 404 / 409 / 422 / 503.
var (
	// ErrNotFound means no row has that id (or phone, or email).
	ErrNotFound = errors.New("store: not found")
	// ErrConflict means a uniqueness rule was broken (a phone or email already
	// belongs to another customer, a call (Call-ID and From tag) already logged).
	ErrConflict = errors.New("store: conflict")
	// ErrInvalid means a field value is not acceptable; see *FieldError.
	ErrInvalid = errors.New("store: invalid value")
	// ErrUnavailable means the database did not answer: unreachable,
	// refusing connections, shutting down, or no answer within the
	// deadline (Options.Timeout, the context). Retrying later may work.
	ErrUnavailable = errors.New("store: database unavailable")
)

// FieldError names the field that is wrong. It wraps ErrInvalid.
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }
func (e *FieldError) Unwrap() error { return ErrInvalid }

// Page asks for one page of a list. Cursor is opaque (from the previous page).
type Page struct {
	Limit  int
	Cursor string
}

// Since asks a list for changes: the rows written (created or changed)
// at or after Updated, or created at or after Created (zero: no bound).
// A list with a Since, or with a cursor from such a list, is a sync list:
// rows in the order they were committed (oldest first), and a cursor on
// every page, also the last, to ask for what was committed after it. Such
// a cursor keeps the Since; the other filters are sent again.
type Since struct {
	Updated time.Time
	Created time.Time
}

// IsZero reports whether s bounds nothing.
func (s Since) IsZero() bool { return s.Updated.IsZero() && s.Created.IsZero() }

// CustomerFilter, TicketFilter and InteractionFilter narrow list calls;
// zero fields do not filter.
type CustomerFilter struct {
	Phone string // E.164 or anything Normalize accepts
	Email string
	Tier  Tier
	// ExternalID finds the customer with that id in that source.
	ExternalID ExternalID
	// Query searches: a phone number (any format), an email, "source:id"
	// or a bare external id, or words each starting a word of the name
	// (case and accents ignored: "nguyen" finds "Nguyễn").
	Query string
	Since Since
}

type TicketFilter struct {
	CustomerID int64
	Status     string
	Category   string
	ExternalID ExternalID
	// Query searches the subject (like CustomerFilter.Query's name) and
	// external ids.
	Query string
	Since Since
}

type InteractionFilter struct {
	CustomerID int64
	TicketID   int64
	Channel    string
	Since      Since
}

// LogResult tells what LogCall did.
type LogResult struct {
	InteractionID int64
	CustomerID    int64
	TicketID      int64
	Duplicate     bool // the call (Call-ID and From tag) was already logged; nothing was written
	NewCustomer   bool
	NewTicket     bool
}

// Store is the ticket history. Both backends implement it and pass the same
// conformance suite (store/storetest).
type Store interface {
	CreateCustomer(ctx context.Context, c *Customer) error
	GetCustomer(ctx context.Context, id int64) (*Customer, error)
	UpdateCustomer(ctx context.Context, c *Customer) error
	ListCustomers(ctx context.Context, f CustomerFilter, p Page) ([]Customer, string, error)
	FindCustomerByPhone(ctx context.Context, e164 string) (*Customer, error)
	FindCustomerByEmail(ctx context.Context, email string) (*Customer, error)

	CreateTicket(ctx context.Context, t *Ticket) error
	GetTicket(ctx context.Context, id int64) (*Ticket, error)
	UpdateTicket(ctx context.Context, t *Ticket) error
	ListTickets(ctx context.Context, f TicketFilter, p Page) ([]Ticket, string, error)

	CreateInteraction(ctx context.Context, i *Interaction) error
	GetInteraction(ctx context.Context, id int64) (*Interaction, error)
	ListInteractions(ctx context.Context, f InteractionFilter, p Page) ([]Interaction, string, error)
	// Timeline lists a customer's interactions on every channel, newest first.
	Timeline(ctx context.Context, customerID int64, p Page) ([]Interaction, string, error)

	// LogCall records one finished call in a single transaction: exactly one
	// voice interaction per call, a call being its Call-ID and the caller's
	// From tag (RFC 3261 §12); finds or creates the customer by caller
	// number; attaches to the customer's open ticket in the same category or
	// opens one. Logging the same call again is a no-op (Duplicate); a
	// later call that reuses a Call-ID with a new From tag is a new call.
	LogCall(ctx context.Context, r CallRecord) (LogResult, error)
	// LogCalls is LogCall for a batch in one transaction (the spool replayer
	// and the high-rate path use it).
	LogCalls(ctx context.Context, rs []CallRecord) ([]LogResult, error)

	Ping(ctx context.Context) error
	Close() error
}

// Clock lets tests control timestamps.
type Clock func() time.Time
