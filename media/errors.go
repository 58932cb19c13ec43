package media

import "errors"

// Sentinel errors of the media package. Callers test them with errors.Is; the
// package wraps them with the file, field or operation that failed.
var (
	// ErrBadPortRange is returned by NewPortPool when min/max do not describe
	// a usable range that holds at least one even port.
	ErrBadPortRange = errors.New("media: bad RTP port range")
	// ErrNoPorts is returned when every even port of the pool is in use,
	// quarantined, or failed to bind.
	ErrNoPorts = errors.New("media: no free RTP port")

	// ErrBadWAV is returned for a WAV file that is malformed (truncated chunk,
	// missing fmt or data chunk, odd sizes) or whose format is not one we play.
	ErrBadWAV = errors.New("media: bad WAV file")
	// ErrBadPrompt is returned for any prompt file that cannot be played
	// (a bad WAV, FLAC or MP3 file, a format or rate we do not read); the
	// error names the file and what is wrong.
	ErrBadPrompt = errors.New("media: unusable prompt file")
	// ErrPromptNotFound is returned by Library.Prompt for an unknown
	// language/name pair.
	ErrPromptNotFound = errors.New("media: prompt not found")

	// ErrBadRTP is returned for a datagram that is not an RTP packet we accept
	// (RFC 3550 §5.1: version 2, complete header, valid padding).
	ErrBadRTP = errors.New("media: bad RTP packet")
	// ErrBadEvent is returned for an RFC 4733 telephone-event payload that is
	// malformed (RFC 4733 §2.3).
	ErrBadEvent = errors.New("media: bad telephone-event payload")
	// ErrBadDTMFInfo is returned for a SIP INFO body that does not carry a
	// DTMF key we understand.
	ErrBadDTMFInfo = errors.New("media: bad DTMF INFO body")
	// ErrUnsupportedContentType is returned for an INFO body whose
	// Content-Type is neither application/dtmf-relay nor application/dtmf.
	ErrUnsupportedContentType = errors.New("media: unsupported DTMF INFO content type")
	// ErrBadDigit is returned for a key that is not a DTMF key
	// (0-9, *, #, A-D).
	ErrBadDigit = errors.New("media: not a DTMF key")

	// ErrBadRemote is returned by Start/SetRemote for an unusable remote
	// description (invalid address, codec or payload type).
	ErrBadRemote = errors.New("media: bad remote description")
	// ErrNotStarted is returned by operations that need Start first.
	ErrNotStarted = errors.New("media: session not started")
	// ErrAlreadyStarted is returned by a second Start; use SetRemote instead.
	ErrAlreadyStarted = errors.New("media: session already started")
	// ErrSessionClosed is returned by operations on a closed session and by
	// Err after Close.
	ErrSessionClosed = errors.New("media: session closed")
	// ErrMediaTimeout is the session error when no RTP arrived for
	// SessionConfig.InactivityTimeout; the SIP layer hangs up then.
	ErrMediaTimeout = errors.New("media: no RTP received (media timeout)")
	// ErrPlaySuperseded is returned by a Play that was replaced by a newer
	// Play call on the same session.
	ErrPlaySuperseded = errors.New("media: play superseded by a newer play")
	// ErrNoTelephoneEvent is returned by SendDigit with SourceRFC4733 when the
	// remote did not negotiate telephone-event (DTMFPayloadType 0).
	ErrNoTelephoneEvent = errors.New("media: telephone-event not negotiated")
	// ErrBadDigitSource is returned by SendDigit for a source it cannot send
	// (only SourceRFC4733 and SourceInband travel in RTP).
	ErrBadDigitSource = errors.New("media: digit source cannot be sent in RTP")
)
