package queue

import (
	"context"
	"errors"

	"github.com/hotline-dev/hotline/ivr"
)

// Ticket is a caller's place as the call path holds it: *Place in one
// node, a cluster place (the leader decides, the outcome arrives through
// the database) in a cluster.
type Ticket interface {
	Done() <-chan struct{}
	Outcome() Outcome // valid once Done is closed
}

// Desk is the ACD as the call path drives it: the Enqueuer (joins, keys,
// leaves, hang-ups, positions) and the SIPRinger (answered, failed). The
// Service's Desk is the one-node ACD; app's cluster desk sends the same
// calls to the cluster's leader (docs/cluster.md), so the call path has one
// code path in both modes.
//
// Join's refusals (full, empty) are either an *ExitError (the Service) or
// the ticket's outcome with Exit (a cluster): the Enqueuer handles both.
// Answered may return nil for an offer that had ended; the Ringer then gets
// Cancel(offer, CancelGone) and hangs the agent's leg up.
type Desk interface {
	Join(ctx context.Context, call ivr.Call, r JoinRequest) (Ticket, error)
	Leave(ctx context.Context, callID, reason string) error
	Key(ctx context.Context, callID, digit string) error
	Hangup(ctx context.Context, callID string) error
	Answered(ctx context.Context, offerID string) error
	Failed(ctx context.Context, offerID, result string) error
	Position(callID string) (Position, error)
}

// CancelGone is the Cancel reason for an offer whose agent answered after
// the offer ended (a cluster's leader decides that later than Answered
// returns): the ringer hangs the answered leg up.
const CancelGone = "gone"

// Desk is the Service as a Desk (one node).
func (s *Service) Desk() Desk { return serviceDesk{s} }

type serviceDesk struct{ s *Service }

func (d serviceDesk) Join(_ context.Context, _ ivr.Call, r JoinRequest) (Ticket, error) {
	p, err := d.s.Join(r)
	if err != nil {
		return nil, err // a nil *Place must not become a non-nil Ticket
	}
	return p, nil
}

func (d serviceDesk) Leave(_ context.Context, callID, reason string) error {
	return d.s.Leave(callID, reason)
}

func (d serviceDesk) Key(_ context.Context, callID, digit string) error {
	_, err := d.s.Key(callID, digit)
	return err
}

func (d serviceDesk) Hangup(_ context.Context, callID string) error { return d.s.Hangup(callID) }

func (d serviceDesk) Answered(_ context.Context, offerID string) error { return d.s.Answered(offerID) }

func (d serviceDesk) Failed(_ context.Context, offerID, result string) error {
	return d.s.Failed(offerID, result)
}

func (d serviceDesk) Position(callID string) (Position, error) { return d.s.Position(callID) }

// errNoOutcome is wait's error when a cluster's leader did not confirm a
// leave in time (no leader for now): the caller is gone anyway.
var errNoOutcome = errors.New("queue: no outcome from the ACD after leaving")
