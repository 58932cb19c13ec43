package sip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/hotline-dev/hotline/media"
)

// OutboundCall is an answered call we placed.
type OutboundCall struct {
	id       string
	c        *Client
	dialog   *sipgo.DialogClientSession
	media    *media.Session
	neg      Negotiated
	log      *slog.Logger
	watching bool   // guarded by Client.mu: watch goroutine running
	onEnd    func() // run once the call has ended, before Done closes (DialOut: release the grant)

	end_ chan struct{} // closed by the first end()
	bye  chan struct{} // closed by Hangup once its BYE is answered (or failed)
	done chan struct{} // closed when media is closed

	mu        sync.Mutex
	ended     bool
	cause     Cause
	side      Side
	referFn   ReferFunc // see OnRefer (refer.go)
	referring bool      // a REFER was accepted: one transfer per call
}

// ID is the SIP Call-ID.
func (o *OutboundCall) ID() string { return o.id }

// Logger has the call's call_id (DialOptions.CallID, else the leg's own
// Call-ID) and, for a leg of another call, leg_id.
func (o *OutboundCall) Logger() *slog.Logger { return o.log }

// Media is the call's RTP session.
func (o *OutboundCall) Media() *media.Session { return o.media }

// Negotiated is what the answer chose.
func (o *OutboundCall) Negotiated() Negotiated { return o.neg }

// Done is closed once the call has ended and media is closed.
func (o *OutboundCall) Done() <-chan struct{} { return o.done }

// Ended reports the cause and the side after Done.
func (o *OutboundCall) Ended() (Cause, Side) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.cause, o.side
}

func (o *OutboundCall) end(cause Cause, side Side) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.ended {
		return false
	}
	o.ended, o.cause, o.side = true, cause, side
	close(o.end_)
	return true
}

// Hangup sends BYE (RFC 3261 §15.1.1) and waits until the call is torn down.
func (o *OutboundCall) Hangup(ctx context.Context) error {
	if !o.end(CauseHangup, SideLocal) {
		<-o.done
		return ErrCallEnded
	}
	err := o.dialog.Bye(ctx)
	close(o.bye)
	<-o.done
	if err != nil {
		return fmt.Errorf("sip: BYE: %w", err)
	}
	return nil
}

// SendINFO sends one digit as application/dtmf-relay (RFC 6086 §4.2).
func (o *OutboundCall) SendINFO(ctx context.Context, key rune, dur time.Duration) error {
	if !validKey(key) {
		return fmt.Errorf("sip: INFO: key %q is not 0-9, *, #, A-D", key)
	}
	req := sip.NewRequest(sip.INFO, o.dialog.InviteResponse.Contact().Address)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/dtmf-relay"))
	req.SetBody([]byte(fmt.Sprintf("Signal=%c\r\nDuration=%d\r\n", key, dur.Milliseconds())))
	res, err := o.dialog.Do(ctx, req)
	if err != nil {
		return fmt.Errorf("sip: INFO: %w", err)
	}
	if res.StatusCode != sip.StatusOK {
		return statusErr(res.StatusCode, clean(res.Reason), errors.New("INFO refused"))
	}
	return nil
}

// validKey reports whether k is a DTMF key: 0-9, *, #, A-D (media's key table).
func validKey(k rune) bool {
	_, _, err := media.DTMFFreqs(k)
	return err == nil
}

// watch ends the call on remote BYE, local hangup, media timeout or client close.
func (o *OutboundCall) watch() {
	select {
	case <-o.end_:
	case <-o.media.Done():
		if o.end(CauseMediaTimeout, SideLocal) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			o.dialog.Bye(ctx)
			cancel()
		}
	}
	o.media.Close()
	o.dialog.Close()
	if cause, _ := o.Ended(); cause == CauseHangup {
		// The call stays the client's until its BYE is done: a Shutdown
		// waiting for the calls to end must not close the user agent
		// under it.
		<-o.bye
	}
	o.c.forget(o.dialog.ID)
	if o.onEnd != nil {
		o.onEnd()
	}
	close(o.done)
}
