package sip

import (
	"errors"
	"fmt"
)

// Sentinel errors. Each maps to a SIP status through StatusError at the edge.
var (
	// ErrServerClosed is returned by Serve after Shutdown or Close.
	ErrServerClosed = errors.New("sip: server closed")
	// ErrNoCommonCodec means the offer had no PCMU/PCMA we can use (488, RFC 3264 §6).
	ErrNoCommonCodec = errors.New("sip: no common codec")
	// ErrBadSDP means a session description could not be parsed or lacks audio.
	ErrBadSDP = errors.New("sip: malformed SDP")
	// ErrBadHeader means a request header is missing or malformed (400).
	ErrBadHeader = errors.New("sip: bad header")
	// ErrBusy means MaxCalls concurrent calls are up (503).
	ErrBusy = errors.New("sip: too many calls")
	// ErrDraining means the server is shutting down and takes no new calls (503).
	ErrDraining = errors.New("sip: server draining")
	// ErrNotFound means no flow claims the dialled number (404).
	ErrNotFound = errors.New("sip: number not found")
	// ErrCallEnded is returned by operations on a call that has already ended.
	ErrCallEnded = errors.New("sip: call ended")
	// ErrBadURI means a dial URI is not a usable sip: URI.
	ErrBadURI = errors.New("sip: bad dial URI")
	// ErrCanceled means an outbound call was cancelled before answer.
	ErrCanceled = errors.New("sip: call cancelled before answer")
)

// StatusError is an error that knows the SIP response it stands for, both for
// responses we send (e.g. 488 on ErrNoCommonCodec) and ones we received on Dial.
type StatusError struct {
	Code   int    // SIP status code
	Reason string // reason phrase
	Err    error  // underlying sentinel or cause, may be nil
}

// statusCoder is what the server's edge looks for when rejecting a request.
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

func statusErr(code int, reason string, err error) *StatusError {
	return &StatusError{Code: code, Reason: reason, Err: err}
}
