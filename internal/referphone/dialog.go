package referphone

import (
	"net/netip"

	"github.com/emiago/sipgo"
	gosip "github.com/emiago/sipgo/sip"

	"github.com/hotline-dev/hotline/media"
	"github.com/hotline-dev/hotline/sip"
)

// Refusal is why AnswerOffer could not answer: the final status to send.
type Refusal struct {
	Code   int
	Reason string
}

// AnswerOffer answers req's SDP offer with one of codecs: a media session
// on 127.0.0.1 from pool, started toward the offer (strict RTP: the
// signalling source), and the SDP answer to send with 200. The test phones
// on plain sipgo share it so that they negotiate alike.
func AnswerOffer(req *gosip.Request, pool *media.PortPool, codecs []media.Codec, sessionID uint64) (*media.Session, []byte, *Refusal) {
	neg, err := sip.NegotiateOffer(req.Body(), codecs)
	if err != nil {
		return nil, nil, &Refusal{488, "Not Acceptable Here"}
	}
	sess, err := media.NewSession(media.SessionConfig{IP: netip.MustParseAddr("127.0.0.1"), Pool: pool})
	if err != nil {
		return nil, nil, &Refusal{503, "Service Unavailable"}
	}
	answer, err := sip.BuildAnswer(sip.LocalSDP{Addr: sess.LocalAddr(), SessionID: sessionID, Version: 1}, neg)
	if err == nil {
		src, _ := netip.ParseAddrPort(req.Source())
		err = sess.Start(media.Remote{Addr: neg.Remote, Codec: neg.Codec, PayloadType: neg.PayloadType,
			DTMFPayloadType: neg.DTMFPT, Ptime: neg.Ptime, Signal: src.Addr()})
	}
	if err != nil {
		sess.Close()
		return nil, nil, &Refusal{500, "Server Internal Error"}
	}
	return sess, answer, nil
}

// ReadBye takes a BYE for a dialog in cache (481 when there is none) and
// returns that dialog, or nil.
func ReadBye(cache *sipgo.DialogServerCache, req *gosip.Request, tx gosip.ServerTransaction) *sipgo.DialogServerSession {
	d, err := cache.MatchDialogRequest(req)
	if err != nil {
		_ = tx.Respond(gosip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
		return nil
	}
	_ = d.ReadBye(req, tx)
	return d
}
