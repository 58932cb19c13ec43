package testcall

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hotline-dev/hotline/media"
	"github.com/hotline-dev/hotline/sip"
)

// sendDigits sends each step at answered+At, stopping early if the call ends.
func sendDigits(ctx context.Context, oc *sip.OutboundCall, o Options, answered time.Time, res *Result, p *printer) error {
	var firstErr error
	for _, st := range o.Digits {
		wait := time.Until(answered.Add(st.At))
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-oc.Done():
				t.Stop()
				return firstErr
			case <-ctx.Done():
				t.Stop()
				return firstErr
			}
		}
		at := time.Since(answered)
		var err error
		switch o.DTMF {
		case DTMFINFO:
			err = oc.SendINFO(ctx, st.Key, o.DigitDuration)
		case DTMFInband:
			err = oc.Media().SendDigit(ctx, st.Key, o.DigitDuration, media.SourceInband)
		default:
			err = oc.Media().SendDigit(ctx, st.Key, o.DigitDuration, media.SourceRFC4733)
		}
		d := DigitSent{Key: st.Key, At: at, Mode: o.DTMF}
		if errors.Is(err, media.ErrSessionClosed) {
			// The far end hung up while the digit's last packets were going
			// out (typically because it acted on this digit): it was sent.
			p.event("digit", "key", string(st.Key), "mode", o.DTMF, "at", at.Round(time.Millisecond), "cut", "hangup")
			res.Digits = append(res.Digits, d)
			return firstErr
		}
		if err != nil {
			d.Err = err.Error()
			if firstErr == nil {
				firstErr = fmt.Errorf("testcall: digit %c: %w", st.Key, err)
			}
			p.event("digit-failed", "key", string(st.Key), "mode", o.DTMF, "err", err)
		} else {
			p.event("digit", "key", string(st.Key), "mode", o.DTMF, "at", at.Round(time.Millisecond))
		}
		res.Digits = append(res.Digits, d)
	}
	return firstErr
}
