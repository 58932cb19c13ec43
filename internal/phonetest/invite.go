package phonetest

import (
	"context"

	gosip "github.com/emiago/sipgo/sip"

	"github.com/hotline-dev/hotline/internal/referphone"
	"github.com/hotline-dev/hotline/media"
)

func (p *Phone) onInvite(req *gosip.Request, tx gosip.ServerTransaction) {
	inv := Invite{CallID: req.CallID().Value(), User: req.Recipient.User}
	if f := req.From(); f != nil {
		inv.FromTag, _ = f.Params.Get("tag")
		inv.FromUser = f.Address.User
	}
	p.mu.Lock()
	closed := p.closed
	var act Action
	if !closed {
		act = p.decide(inv)
		p.wg.Add(1)
	}
	p.mu.Unlock()
	if closed {
		return
	}
	defer p.wg.Done()
	p.invites <- inv
	switch act {
	case Answer:
		p.pickUp(req, tx, inv)
	case Ring:
		// The transaction answers a CANCEL with 487 itself (and ends only
		// after its timer); OnCancel says when it came.
		cancelled := make(chan struct{})
		tx.OnCancel(func(*gosip.Request) { close(cancelled) })
		_ = tx.Respond(gosip.NewResponseFromRequest(req, 180, "Ringing", nil))
		select {
		case <-cancelled:
			p.cancels <- inv.CallID
		case <-p.stop:
		}
	default:
		_ = tx.Respond(gosip.NewResponseFromRequest(req, int(act), reasonPhrase(int(act)), nil))
	}
}

func reasonPhrase(code int) string {
	switch code {
	case 486:
		return "Busy Here"
	case 600:
		return "Busy Everywhere"
	case 603:
		return "Decline"
	case 403:
		return "Forbidden"
	case 480:
		return "Temporarily Unavailable"
	case 503:
		return "Service Unavailable"
	}
	return "Refused"
}

// pickUp answers with PCMU, plays the phone's voice until the call ends,
// and listens for the tones asked for.
func (p *Phone) pickUp(req *gosip.Request, tx gosip.ServerTransaction, inv Invite) {
	d, err := p.cache.ReadInvite(req, tx)
	if err != nil {
		_ = tx.Respond(gosip.NewResponseFromRequest(req, 400, "Bad Request", nil))
		return
	}
	sess, answer, no := referphone.AnswerOffer(req, p.pool, []media.Codec{media.PCMU}, 9)
	if no != nil {
		_ = d.Respond(no.Code, no.Reason, nil)
		d.Close()
		return
	}
	ctx, quit := context.WithCancel(context.Background())
	c := &Call{inv: inv, d: d, sess: sess, hears: map[float64]*referphone.Tone{}, ended: make(chan struct{}), quit: quit}
	for _, f := range p.listen {
		c.hears[f] = referphone.NewTone(f)
	}
	sess.SetAudioSink(func(pcm []int16) {
		for _, h := range c.hears {
			h.Sink(pcm)
		}
	})
	p.mu.Lock()
	p.live[d] = c
	p.mu.Unlock()
	if err := d.RespondSDP(answer); err != nil {
		c.end()
	} else {
		p.calls <- c
	}
	referphone.PlayTone(ctx, sess, p.voice) // until BYE either way or cleanup
	sess.Close()
	d.Close()
	p.mu.Lock()
	delete(p.live, d)
	p.mu.Unlock()
}

func (p *Phone) onBye(req *gosip.Request, tx gosip.ServerTransaction) {
	d := referphone.ReadBye(p.cache, req, tx)
	if d == nil {
		return
	}
	p.mu.Lock()
	c := p.live[d]
	p.mu.Unlock()
	if c != nil {
		c.end()
	}
}
