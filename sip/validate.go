package sip

import (
	"fmt"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// supportedOptions are the option tags (RFC 3261 §19.2) we implement: none.
// A request that Requires any other gets 420.
var supportedOptions = map[string]bool{}

// validate applies the checks RFC 3261 asks of a UAS before it serves a
// request (not called for ACK, which is never answered); the error is the
// refusal (statusOf).
func validate(req *sip.Request) error {
	// §8.1.1.7, §20.16: the CSeq method MUST match the request's
	// (RFC 4475 §3.1.2.16 mismatch01).
	if cs := req.CSeq(); cs != nil && !strings.EqualFold(cs.MethodName.String(), req.Method.String()) {
		return fmt.Errorf("%w: CSeq method %s does not match %s", ErrBadHeader, clean(cs.MethodName.String()), clean(req.Method.String()))
	}
	// §20.14, §7.4.1: one message, one length (RFC 4475 §3.1.2.19 mcl01).
	if cls := req.GetHeaders("Content-Length"); len(cls) > 1 {
		for _, h := range cls[1:] {
			if strings.TrimSpace(h.Value()) != strings.TrimSpace(cls[0].Value()) {
				return fmt.Errorf("%w: conflicting Content-Length", ErrBadHeader)
			}
		}
	}
	// §8.2.2.3: an option we do not support in Require gets 420 listing it
	// in Unsupported; CANCEL's Require is ignored (and ACK's, never validated).
	if !req.IsCancel() {
		var unsupported []string
		for _, h := range req.GetHeaders("Require") {
			for _, opt := range strings.Split(h.Value(), ",") {
				opt = strings.TrimSpace(opt)
				if opt != "" && !supportedOptions[strings.ToLower(opt)] {
					unsupported = append(unsupported, clean(opt))
				}
			}
		}
		if len(unsupported) > 0 {
			list := strings.Join(unsupported, ", ")
			return statusErr(sip.StatusBadExtension, "Bad Extension", fmt.Errorf("%w: %s", ErrBadExtension, list),
				sip.NewHeader("Unsupported", list))
		}
	}
	return nil
}
