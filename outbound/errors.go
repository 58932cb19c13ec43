package outbound

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every refusal wraps ErrRefused; a refused dial is a
// *RefusedError that also wraps the sentinel of its Reason.
var (
	// ErrRefused means the policy does not let Hotline call that URI or
	// number. The wrapping error says which part was refused and why.
	ErrRefused = errors.New("outbound: destination not allowed")
	// ErrConfig means an allow:, outbound: or trunks: entry is not valid;
	// the wrapping error names the entry and the line it was written on.
	ErrConfig = errors.New("outbound: invalid configuration")
	// ErrBlocked means the number is in a blocked range: a premium-rate,
	// shared-cost or personal number, or an outbound.block_prefixes prefix.
	ErrBlocked = errors.New("outbound: number in a blocked range")
	// ErrRateLimited means a number, or the caller on whose behalf Hotline
	// dials, has had its dials for the hour (outbound.max_per_*_per_hour).
	ErrRateLimited = errors.New("outbound: dial rate limit reached")
	// ErrBusy means the outbound calls up at once are at their cap
	// (outbound.max_calls), or every trunk that serves the number is full
	// (trunks[].max_calls).
	ErrBusy = errors.New("outbound: too many outbound calls")
	// ErrDailyCap means the day's dials are at outbound.max_per_day.
	ErrDailyCap = errors.New("outbound: daily cap on dials reached")
	// ErrNoTrunk means no trunk serves the number (none lists a prefix
	// of it and none is the default).
	ErrNoTrunk = errors.New("outbound: no trunk serves the number")
)

// Reason says why a dial was refused, in a word the ticket history, the
// event stream and the log share.
type Reason string

// Reasons for refusing a dial.
const (
	ReasonNotAllowed Reason = "not-allowed" // not in the allow-list (allow:)
	ReasonBlocked    Reason = "blocked"     // premium-rate, shared-cost, personal or a blocked prefix
	ReasonNumberRate Reason = "number-rate" // outbound.max_per_number_per_hour
	ReasonSourceRate Reason = "source-rate" // outbound.max_per_source_per_hour
	ReasonMaxCalls   Reason = "max-calls"   // outbound.max_calls
	ReasonTrunkBusy  Reason = "trunk-busy"  // every trunk that serves the number is at its max_calls
	ReasonDailyCap   Reason = "daily-cap"   // outbound.max_per_day
	ReasonNoTrunk    Reason = "no-trunk"    // no trunk serves the number
)

func (r Reason) sentinel() error {
	switch r {
	case ReasonBlocked:
		return ErrBlocked
	case ReasonNumberRate, ReasonSourceRate:
		return ErrRateLimited
	case ReasonMaxCalls, ReasonTrunkBusy:
		return ErrBusy
	case ReasonDailyCap:
		return ErrDailyCap
	case ReasonNoTrunk:
		return ErrNoTrunk
	}
	return nil
}

// RefusedError is a dial the policy refused (CheckDial). The caller records
// Reason (and Error) in the ticket history.
type RefusedError struct {
	Reason Reason
	Dest   string // the number (E.164 when known) or URI
	Detail string // what was over which limit, or what the allow-list said
	Err    error  // the allow-list's error, for ReasonNotAllowed and ReasonBlocked
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("outbound: dial to %s refused (%s): %s", e.Dest, e.Reason, e.Detail)
}

// Unwrap exposes ErrRefused, the Reason's sentinel and the cause to errors.Is.
func (e *RefusedError) Unwrap() []error {
	errs := []error{ErrRefused}
	if s := e.Reason.sentinel(); s != nil {
		errs = append(errs, s)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// Temporary reports whether the same dial may be admitted later: a rate,
// a cap or a busy trunk, not the allow-list, a blocked range or a missing
// trunk. A callback scheduler retries a temporary refusal without counting
// an attempt.
func (e *RefusedError) Temporary() bool {
	switch e.Reason {
	case ReasonNumberRate, ReasonSourceRate, ReasonMaxCalls, ReasonTrunkBusy, ReasonDailyCap:
		return true
	}
	return false
}
