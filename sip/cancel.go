package sip

import (
	"context"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// waitAnswer waits for the final response to our INVITE, answering 401/407
// challenges with o's credentials (RFC 3261 §22.2).
//
// When ctx ends first, RFC 3261 §9.1 applies: "If no provisional response
// has been received, the CANCEL request MUST NOT be sent; rather, the client
// MUST wait for the arrival of a provisional response before sending the
// request." So with a provisional in hand (on the current
// transaction: a challenge starts a new one) the CANCEL goes at once;
// without one we keep waiting for the first provisional, at most Timer B
// (64*T1, §17.1.1.2), and cancel then. A 2xx that arrives instead is
// returned as success with ctx done: the caller must ACK and BYE it (§15).
// A final non-2xx ends the wait; a challenge is not answered once cancelled.
// sipgo's own cancel path is not enough on its own: after a challenge it
// would CANCEL the new transaction before any provisional, and a 2xx racing
// the CANCEL comes back as an error with the dialog neither ACKed nor BYEd.
func waitAnswer(ctx context.Context, d *sipgo.DialogClientSession, o DialOptions) error {
	var (
		mu          sync.Mutex
		provisional bool        // a provisional arrived on the current transaction
		pending     bool        // ctx ended before one did: cancel when it comes
		bound       *time.Timer // gives up waiting for a provisional
	)
	wctx, wcancel := context.WithCancelCause(context.Background())
	defer wcancel(nil)
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		if provisional {
			wcancel(ctx.Err())
			return
		}
		pending = true
		bound = time.AfterFunc(64*sip.T1, func() { wcancel(sipgo.WaitAnswerForceCancelErr) })
	})
	defer func() {
		stop()
		mu.Lock()
		if bound != nil {
			bound.Stop()
		}
		mu.Unlock()
	}()
	return d.WaitAnswer(wctx, sipgo.AnswerOptions{Username: o.Username, Password: o.Password,
		OnResponse: func(res *sip.Response) error {
			mu.Lock()
			provisional = res.IsProvisional()
			cancelNow := pending && provisional
			final := pending && !provisional && !res.IsSuccess()
			mu.Unlock()
			if cancelNow {
				wcancel(ctx.Err())
			}
			if final {
				return &sipgo.ErrDialogResponse{Res: res}
			}
			if (res.StatusCode == 180 || res.StatusCode == 183) && o.OnRinging != nil {
				o.OnRinging()
			}
			return nil
		}})
}
