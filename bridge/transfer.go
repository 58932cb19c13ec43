package bridge

import (
	"context"
	"errors"

	"github.com/hotline-dev/hotline/sip"
)

// FinishTransfer ends an accepted blind transfer: the final NOTIFY to the
// transferor b (RFC 3515 §2.4.5: code 200 when the transferee reached the
// target, the failure otherwise), then BYE, since b has handed the other
// side on. Both get hangupGrace even when ctx has ended. A NOTIFY that
// fails is logged on the transfer's logger; the BYE is sent regardless.
func FinishTransfer(ctx context.Context, b Call, t *sip.Transfer, code int, reason string) {
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), hangupGrace)
	defer cancel()
	if err := t.Finish(hctx, code, reason); err != nil && !errors.Is(err, sip.ErrCallEnded) {
		t.Logger().Info("bridge: transfer NOTIFY", "err", err)
	}
	_ = b.Hangup(hctx)
}
