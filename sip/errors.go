package sip

import (
	"errors"
	"fmt"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// Sentinel errors. Those a request can be refused with map to a SIP status
// in statusOf, the one place an error becomes a response.
var (
	// ErrServerClosed is returned by Listen and Serve once the server has
	// been shut down or closed (a Serve that was running returns nil).
	ErrServerClosed = errors.New("sip: server closed")
	// ErrClientClosed is returned by Dial (and answers in-dialog requests
	// with 503) once the client has been closed.
	ErrClientClosed = errors.New("sip: client closed")
	// ErrNoCommonCodec means the offer had no PCMU/PCMA we can use (488, RFC 3264 §6).
	ErrNoCommonCodec = errors.New("sip: no common codec")
	// ErrBadSDP means a session description could not be parsed or lacks audio (400).
	ErrBadSDP = errors.New("sip: malformed SDP")
	// ErrBadHeader means a request header is missing or malformed (400,
	// the reason phrase naming it: "Bad Request (missing From)").
	ErrBadHeader = errors.New("sip: bad header")
	// ErrBadExtension means the request Requires an option we do not
	// support (420 with Unsupported, RFC 3261 §8.2.2.3).
	ErrBadExtension = errors.New("sip: unsupported extension required")
	// ErrUnsupportedBody means a body of a type the method does not take
	// (415 with Accept, RFC 3261 §21.4.13).
	ErrUnsupportedBody = errors.New("sip: unsupported body type")
	// ErrBusy means MaxCalls concurrent calls are up (503).
	ErrBusy = errors.New("sip: too many calls")
	// ErrSetupBusy means too many calls are waiting for their ACK, from the
	// source or in total (503 with Retry-After; Limits.MaxUnconfirmed*).
	ErrSetupBusy = errors.New("sip: too many calls being set up")
	// ErrRateLimited means the source (or all sources together) sent more
	// out-of-dialog requests than the edge's rate (503 with Retry-After).
	ErrRateLimited = errors.New("sip: rate limited")
	// ErrDraining means the server is shutting down and takes no new calls
	// (503; the server adds its Retry-After).
	ErrDraining = errors.New("sip: server draining")
	// ErrNotFound means no flow claims the dialled number (404).
	ErrNotFound = errors.New("sip: number not found")
	// ErrNoDialog means an in-dialog request or a CANCEL matched no dialog
	// or transaction of ours (481, RFC 3261 §12.2.2, §9.2).
	ErrNoDialog = errors.New("sip: no such dialog or transaction")
	// ErrMethodNotAllowed means a method we do not serve (405 with Allow,
	// RFC 3261 §21.4.6).
	ErrMethodNotAllowed = errors.New("sip: method not allowed")
	// ErrCallEnded is returned by operations on a call that has already
	// ended (481 when a request meets it).
	ErrCallEnded = errors.New("sip: call ended")
	// ErrBadURI means a dial URI is not a usable sip: URI.
	ErrBadURI = errors.New("sip: bad dial URI")
	// ErrCallIDInUse means an INVITE reused the Call-ID of a call that is
	// still up (400, or 482 for a merged request; see callid.go).
	ErrCallIDInUse = errors.New("sip: Call-ID in use by a live call")
	// ErrCanceled means an outbound call was cancelled before answer.
	ErrCanceled = errors.New("sip: call cancelled before answer")
	// ErrBadRefer means a REFER's Refer-To is missing, repeated or malformed
	// (400, RFC 3515 §2.4.1).
	ErrBadRefer = errors.New("sip: bad Refer-To")
	// ErrTransferPending means a REFER arrived while another transfer of
	// the call is under way (491, RFC 3515 §2.4.2: one at a time).
	ErrTransferPending = errors.New("sip: a transfer is already in progress")
	// ErrTransferRefused means Hotline does not let the far end transfer
	// the call (403 unless the ReferFunc's error names a status).
	ErrTransferRefused = errors.New("sip: transfer refused")
)

// StatusError is an error that knows the SIP response it stands for, both for
// responses we send (a handler's refusal) and ones we received on Dial.
type StatusError struct {
	Code   int          // SIP status code
	Reason string       // reason phrase
	Header []sip.Header // added to a response we send: Retry-After, Warning, Accept, Allow, Unsupported
	Err    error        // underlying sentinel or cause, may be nil
}

// statusCoder is the shape of an error that knows its SIP status.
type statusCoder interface {
	error
	SIPStatus() int
}

var (
	_ statusCoder = (*StatusError)(nil)
	_ error       = (*StatusError)(nil)
)

// SIPStatus returns the SIP status code.
func (e *StatusError) SIPStatus() int { return e.Code }

func (e *StatusError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("sip %d %s: %v", e.Code, e.Reason, e.Err)
	}
	return fmt.Sprintf("sip %d %s", e.Code, e.Reason)
}

// Unwrap exposes the underlying sentinel to errors.Is.
func (e *StatusError) Unwrap() error { return e.Err }

func statusErr(code int, reason string, err error, hdrs ...sip.Header) *StatusError {
	return &StatusError{Code: code, Reason: reason, Header: hdrs, Err: err}
}

// badRequest is a 400 whose reason phrase says what was wrong ("Bad Request (DTMF body)").
func badRequest(what string, err error) *StatusError {
	return statusErr(sip.StatusBadRequest, "Bad Request ("+what+")", err)
}

// unsupportedBody is a 415 listing the body types the method takes.
func unsupportedBody(accept string) *StatusError {
	return statusErr(sip.StatusUnsupportedMediaType, "Unsupported Media Type", ErrUnsupportedBody, sip.NewHeader("Accept", accept))
}

// warnMedia is RFC 3261 §20.43's "304 Media type not available" warning.
func warnMedia() sip.Header {
	return sip.NewHeader("Warning", `304 hotline "media type not available"`)
}

// statusOf is the one mapping from an error to the SIP response it stands
// for (as api/errors.go is for HTTP): a *StatusError with a final failure
// code says so itself, the sentinels above map by errors.Is, anything else
// is 500. The result wraps err, so its Error() keeps the cause for logs and
// the call.rejected event.
func statusOf(err error) *StatusError {
	var se *StatusError
	if errors.As(err, &se) && se.Code >= 400 && se.Code < 700 {
		return se
	}
	switch {
	case errors.Is(err, ErrNoCommonCodec):
		return statusErr(sip.StatusNotAcceptableHere, "Not Acceptable Here", err, warnMedia())
	case errors.Is(err, ErrBadSDP):
		return statusErr(sip.StatusBadRequest, "Bad Request (SDP)", err, warnMedia())
	case errors.Is(err, ErrBadRefer):
		return badRequest("Refer-To", err)
	case errors.Is(err, ErrBadHeader):
		// The detail is what the wrap added: "sip: bad header: missing From".
		detail := "header"
		if _, d, ok := strings.Cut(err.Error(), ErrBadHeader.Error()+": "); ok && d != "" {
			detail = d
		}
		return badRequest(detail, err)
	case errors.Is(err, ErrBadExtension):
		return statusErr(sip.StatusBadExtension, "Bad Extension", err)
	case errors.Is(err, ErrUnsupportedBody):
		return statusErr(sip.StatusUnsupportedMediaType, "Unsupported Media Type", err)
	case errors.Is(err, ErrNotFound):
		return statusErr(sip.StatusNotFound, "Not Found", err)
	case errors.Is(err, ErrNoDialog), errors.Is(err, ErrCallEnded):
		return statusErr(sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist", err)
	case errors.Is(err, ErrMethodNotAllowed):
		return statusErr(sip.StatusMethodNotAllowed, "Method Not Allowed", err, sip.NewHeader("Allow", allowed))
	case errors.Is(err, ErrTransferPending):
		return statusErr(sip.StatusRequestPending, "Request Pending", err)
	case errors.Is(err, ErrTransferRefused):
		return statusErr(sip.StatusForbidden, "Forbidden", err)
	case errors.Is(err, ErrRateLimited):
		return statusErr(sip.StatusServiceUnavailable, "Rate Limited", err, sip.NewHeader("Retry-After", "1"))
	case errors.Is(err, ErrSetupBusy):
		return statusErr(sip.StatusServiceUnavailable, "Too Many Calls Being Set Up", err, sip.NewHeader("Retry-After", "5"))
	case errors.Is(err, ErrBusy), errors.Is(err, ErrDraining), errors.Is(err, ErrServerClosed), errors.Is(err, ErrClientClosed):
		return statusErr(sip.StatusServiceUnavailable, "Service Unavailable", err)
	default:
		return statusErr(sip.StatusInternalServerError, "Server Internal Error", err)
	}
}

// errorResponse is the response to req that err stands for (statusOf),
// with the status's headers. Every refusal we send is built here, whatever
// carries it: the transaction, the dialog, or a stateless UDP write.
func errorResponse(req *sip.Request, err error) *sip.Response {
	se := statusOf(err)
	res := sip.NewResponseFromRequest(req, se.Code, se.Reason, nil)
	for _, h := range se.Header {
		res.AppendHeader(h)
	}
	return res
}
