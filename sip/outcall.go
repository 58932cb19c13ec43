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
	watching bool // guarded by Client.mu: watch goroutine running

	end_ chan struct{} // closed by the first end()
	done chan struct{} // closed when media is closed

	mu        sync.Mutex
	ended     bool
	cause     string
	side      string
	referFn   ReferFunc // see OnRefer (refer.go)
	referring bool      // a REFER was accepted: one transfer per call
}

// ID is the SIP Call-ID.
func (o *OutboundCall) ID() string { return o.id }

// Media is the call's RTP session.
func (o *OutboundCall) Media() *media.Session { return o.media }

// Negotiated is what the answer chose.
func (o *OutboundCall) Negotiated() Negotiated { return o.neg }

// Done is closed once the call has ended and media is closed.
func (o *OutboundCall) Done() <-chan struct{} { return o.done }

// Ended reports the cause and the side ("local" or "remote") after Done.
func (o *OutboundCall) Ended() (cause, side string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.cause, o.side
}

func (o *OutboundCall) end(cause, side string) bool {
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
	if !o.end("hangup", "local") {
		<-o.done
		return ErrCallEnded
	}
	err := o.dialog.Bye(ctx)
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
		if o.end("media-timeout", "local") {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			o.dialog.Bye(ctx)
			cancel()
		}
	}
	o.media.Close()
	o.dialog.Close()
	o.c.mu.Lock()
	delete(o.c.calls, o.dialog.ID)
	o.c.mu.Unlock()
	close(o.done)
}
