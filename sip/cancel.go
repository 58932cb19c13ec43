package sip

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// errAbandoned tells dial that ctx ended before the answer: the INVITE now
// belongs to the client's background goroutine.
var errAbandoned = errors.New("sip: dial abandoned")

// waitAnswer waits for the final response to our INVITE, answering 401/407
// challenges with o's credentials (RFC 3261 §22.2). It returns nil on a 2xx
// (the dialog is dial's to ACK), the failure, or errAbandoned when ctx ended
// first; it never waits on the far end after ctx is done.
//
// An abandoned INVITE is finished in the background on a goroutine the
// Client owns (Close waits for it), as RFC 3261 §9.1 requires: "If no
// provisional response has been received, the CANCEL request MUST NOT be
// sent; rather, the client MUST wait for the arrival of a provisional
// response before sending the request." So with a provisional in hand (on
// the current transaction: a challenge starts a new one) the CANCEL goes at
// once; without one it waits for the first provisional, at most Timer B
// (64*T1, §17.1.1.2), and cancels then. A 2xx that arrives instead (before
// the CANCEL, or racing it) is ACKed and then ended with BYE (§15); a final
// non-2xx needs nothing more, and a challenge is not answered once
// abandoned. sipgo's own cancel path is not enough alone: after a challenge
// it would CANCEL the new transaction before any provisional, and a 2xx
// racing the CANCEL comes back as an error with the dialog neither ACKed nor
// BYEd.
func (c *Client) waitAnswer(ctx context.Context, d *sipgo.DialogClientSession, o DialOptions, log *slog.Logger) error {
	var (
		mu          sync.Mutex
		provisional bool        // a provisional arrived on the current transaction
		abandoned   bool        // ctx ended first: the goroutine owns the dialog
		finished    bool        // WaitAnswer returned first: dial owns the dialog
		bound       *time.Timer // gives up waiting for a provisional
	)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClientClosed
	}
	c.wg.Add(1)
	c.mu.Unlock()
	wctx, wcancel := context.WithCancelCause(context.Background())
	result := make(chan error, 1)
	giveUp := make(chan struct{})
	stopCtx := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		if finished {
			return
		}
		abandoned = true
		close(giveUp)
		if provisional {
			wcancel(ctx.Err()) // sipgo sends the CANCEL
			return
		}
		bound = time.AfterFunc(64*sip.T1, func() { wcancel(sipgo.WaitAnswerForceCancelErr) })
	})
	stopClose := context.AfterFunc(c.base, func() { wcancel(sipgo.WaitAnswerForceCancelErr) })
	go func() {
		defer c.wg.Done()
		defer wcancel(nil)
		defer stopClose()
		err := d.WaitAnswer(wctx, sipgo.AnswerOptions{Username: o.Username, Password: o.Password,
			OnResponse: func(res *sip.Response) error {
				mu.Lock()
				provisional = res.IsProvisional()
				gone := abandoned
				mu.Unlock()
				switch {
				case gone && provisional:
					wcancel(ctx.Err())
				case gone && !res.IsSuccess():
					return &sipgo.ErrDialogResponse{Res: res} // do not answer a challenge
				case !gone && (res.StatusCode == 180 || res.StatusCode == 183) && o.OnRinging != nil:
					o.OnRinging()
				}
				return nil
			}})
		stopCtx()
		mu.Lock()
		finished = true
		gone := abandoned
		if bound != nil {
			bound.Stop()
		}
		mu.Unlock()
		if !gone {
			result <- err
			return
		}
		if err == nil {
			// Answered after all: RFC 3261 §15 — ACK the 2xx, then BYE.
			bctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			d.Ack(bctx)
			d.Bye(bctx)
			cancel()
			log.Info("outbound call answered after cancel: ACK and BYE sent")
		}
		d.Close()
	}()
	select {
	case err := <-result:
		return err
	case <-giveUp:
		return errAbandoned
	}
}
