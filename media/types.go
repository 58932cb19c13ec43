package media

import "time"

// Codec identifies a G.711 law by its static RTP payload type (RFC 3551 §6).
type Codec uint8

const (
	PCMU Codec = 0
	PCMA Codec = 8
)

func (c Codec) String() string {
	switch c {
	case PCMU:
		return "PCMU"
	case PCMA:
		return "PCMA"
	}
	return "unknown"
}

// DigitSource says how a DTMF digit reached us.
type DigitSource string

const (
	SourceRFC4733 DigitSource = "rfc4733" // RTP telephone-event (RFC 4733)
	SourceINFO    DigitSource = "info"    // SIP INFO (RFC 2976/6086 body)
	SourceInband  DigitSource = "inband"  // Goertzel-detected tones in the audio
)

// Digit is one DTMF key press as detected, with provenance for the call trace.
type Digit struct {
	Key      rune          `json:"key"` // '0'-'9', '*', '#', 'A'-'D'
	Source   DigitSource   `json:"source"`
	At       time.Time     `json:"at"`
	Duration time.Duration `json:"duration"`
}
