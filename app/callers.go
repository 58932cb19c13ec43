package app

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/store"
)

// UnverifiedCaller is the caller ID a call is filed under when its caller
// would have created a customer over the bounds (config customers): all
// such calls share one customer, "Unknown caller unverified", and its
// tickets; the caller ID they gave is kept in the summary and the
// interaction is tagged TagUnverified.
const (
	UnverifiedCaller = "unverified"
	TagUnverified    = "unverified-caller"
)

// callerBudget bounds how many customers unauthenticated callers create
// per day, per SIP source address and in total. A caller that creates one
// is admitted once per day: their next call that day finds their customer
// (or, for a non-number caller ID, is recognised here). It is enforced when
// the ticket history answered the lookup at call start; while the database
// is down the store decides when it is back (nothing is lost either way).
type callerBudget struct {
	perSource, perDay int // < 0: no bound
	loc               *time.Location

	mu       sync.Mutex
	day      string
	total    int
	bySource map[string]int
	admitted map[string]bool // caller keys admitted today
}

func newCallerBudget(c config.Customers, loc *time.Location) *callerBudget {
	return &callerBudget{perSource: c.NewPerSource, perDay: c.NewPerDay, loc: loc}
}

// admit reports whether a caller (key) from source may create a customer
// now, and counts it when it may.
func (b *callerBudget) admit(source, key string, now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if day := now.In(b.loc).Format(time.DateOnly); day != b.day {
		b.day, b.total, b.bySource, b.admitted = day, 0, map[string]int{}, map[string]bool{}
	}
	if b.admitted[key] {
		return true
	}
	if b.perDay >= 0 && b.total >= b.perDay || b.perSource >= 0 && b.bySource[source] >= b.perSource {
		return false
	}
	b.total++
	b.bySource[source]++
	b.admitted[key] = true
	return true
}

// boundNewCaller files a call under UnverifiedCaller when logging it would
// create a customer over the day's bounds. It reports whether it did.
func (a *App) boundNewCaller(rec *store.CallRecord, source string, l lookup, key string) bool {
	if l != lookupNotFound && l != lookupRaw {
		return false
	}
	if a.callers.admit(sourceHost(source), key, time.Now()) {
		return false
	}
	given := rec.Voice.CallerNumber
	if len(given) > 64 {
		given = given[:64]
	}
	rec.Voice.CallerNumber = UnverifiedCaller
	rec.Tags = append(rec.Tags, TagUnverified)
	rec.Summary += fmt.Sprintf("; caller ID %q from %s not verified: the day's bound on new customers is reached (config customers)",
		strings.ToValidUTF8(given, "?"), sourceHost(source))
	return true
}

func sourceHost(src string) string {
	if h, _, err := net.SplitHostPort(src); err == nil {
		return h
	}
	return src
}
