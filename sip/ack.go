package sip

import (
	"context"
	"errors"
	"time"

	"github.com/emiago/sipgo/sip"
)

// errNoAck means a 2xx was not ACKed within its wait.
var errNoAck = errors.New("sip: 2xx not acknowledged")

// awaitAck retransmits a 2xx to an INVITE, first sent at start, at T1,
// doubling up to T2, until its ACK closes acked, wait() has passed since
// start (re-read at each retransmission: it shrinks under load, setup.go),
// or ctx ends. RFC 3261 §13.3.1.4 has the TU, not the transaction,
// retransmit the 2xx; RFC 6026 §8.1 passes those through the transaction in
// its Accepted state, so the response leaves on the connection the INVITE
// came in on. The first send is the caller's, before its handler returns:
// sipgo terminates a transaction left without a final response.
func awaitAck(ctx context.Context, tx sip.ServerTransaction, res *sip.Response, start time.Time, acked <-chan struct{}, wait func() time.Duration) error {
	interval := sip.T1
	t := time.NewTimer(interval)
	defer t.Stop()
	for {
		left := wait() - time.Since(start)
		if left <= 0 {
			return errNoAck
		}
		t.Reset(min(interval, left))
		select {
		case <-acked:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-tx.Done():
			// Terminated under us (Timer L, or the transport closed).
			select {
			case <-acked:
				return nil
			default:
				return errNoAck
			}
		case <-t.C:
			if time.Since(start) >= wait() {
				return errNoAck
			}
			if err := tx.Respond(res); err != nil {
				return err
			}
			interval = min(2*interval, sip.T2)
		}
	}
}

// expectAck registers the ACK the call waits for (CSeq seq), replacing one
// still awaited: a new INVITE means the previous one was ACKed.
func (c *Call) expectAck(seq uint32) <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.expectAckLocked(seq)
}

func (c *Call) expectAckLocked(seq uint32) <-chan struct{} {
	if c.reack != nil {
		close(c.reack)
	}
	acked := make(chan struct{})
	c.reack, c.reackSeq = acked, seq
	return acked
}
