package app

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/hotline-dev/hotline/media"
	"github.com/hotline-dev/hotline/phone"
	"github.com/hotline-dev/hotline/sip"
	"github.com/hotline-dev/hotline/store"
)

// The customer lookup at call start: who the ticket history says is
// calling (tier, customer id), passed to the flow as ivr.Attributes.

// lookup is what the ticket history said about a caller at call start.
type lookup int

const (
	lookupUnknown  lookup = iota // not asked or no answer (database down, too slow)
	lookupFound                  // a customer has the number
	lookupNotFound               // nobody has the number: logging the call creates a customer
	lookupRaw                    // not a number (a SIP name): logging may create an "Unknown caller" customer
	lookupShared                 // anonymous: the shared anonymous customer
)

// knownCall is a *sip.Call that knows its customer (ivr.Attributes): the
// flow and the queue see the caller's tier from the ticket history.
type knownCall struct {
	*sip.Call
	attrs map[string]string
}

func (k knownCall) Attributes() map[string]string { return k.attrs }

// SetReceiveTap lets a voicemail node record the caller (ivr.AudioTap).
func (k knownCall) SetReceiveTap(f func(media.Frame)) { k.Media().SetReceiveTap(f) }

// customerLookupTimeout bounds the ticket-history lookup at call start: a
// slow database must not keep a caller in silence.
const customerLookupTimeout = 300 * time.Millisecond

// callerAttributes finds the caller in the ticket history. An unknown or
// anonymous caller, or a database that does not answer in time, is tier new.
// It also says what the lookup found and the caller's key for the day's
// bound on new customers (callerBudget).
func (a *App) callerAttributes(ctx context.Context, caller string) (map[string]string, lookup, string) {
	attrs := map[string]string{"tier": string(store.TierNew), "customer_id": ""}
	e164, err := phone.Normalize(caller, a.cfg.Phone.DefaultCountry)
	if err != nil {
		key := strings.ToLower(strings.TrimSpace(caller))
		if key == "" || key == "anonymous" {
			return attrs, lookupShared, key
		}
		return attrs, lookupRaw, "caller:" + key
	}
	// Not cancelled by the caller's hang-up: a caller who hangs up at once
	// must not slip past the bound on new customers (callerBudget).
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), customerLookupTimeout)
	defer cancel()
	st, err := a.store.get(ctx)
	if err != nil {
		return attrs, lookupUnknown, e164
	}
	c, err := st.FindCustomerByPhone(ctx, e164)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return attrs, lookupNotFound, e164
	case err != nil:
		return attrs, lookupUnknown, e164
	}
	if c.Tier != "" {
		attrs["tier"] = string(c.Tier)
	}
	attrs["customer_id"] = strconv.FormatInt(c.ID, 10)
	return attrs, lookupFound, e164
}
