package media

import (
	"encoding/binary"
	"fmt"
	"time"
)

// TelephoneEvent is one RFC 4733 §2.3 named-event payload:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     event     |E|R| volume    |          duration             |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
type TelephoneEvent struct {
	Event    uint8  // RFC 4733 §3.2: 0-9, 10 '*', 11 '#', 12-15 A-D
	End      bool   // E bit: last packet(s) of the event
	Volume   uint8  // 0 to -63 dBm0, as the positive number 0-63
	Duration uint16 // in RTP timestamp units since the event's timestamp
}

// eventLen is the size of one event report. RFC 4733 §2.5.1.5 lets a packet
// carry several consecutive reports; we read the first (senders that pack
// reports are rare, and the later event's own packets follow).
const eventLen = 4

// ParseTelephoneEvent parses the first event block of an RFC 4733 payload.
func ParseTelephoneEvent(b []byte) (TelephoneEvent, error) {
	if len(b) < eventLen {
		return TelephoneEvent{}, fmt.Errorf("%w: payload length %d, need %d", ErrBadEvent, len(b), eventLen)
	}
	return TelephoneEvent{
		Event:    b[0],
		End:      b[1]&0x80 != 0,
		Volume:   b[1] & 0x3F,
		Duration: binary.BigEndian.Uint16(b[2:4]),
	}, nil
}

// AppendTo appends the 4-byte wire form of e to b.
func (e TelephoneEvent) AppendTo(b []byte) []byte {
	flags := e.Volume & 0x3F
	if e.End {
		flags |= 0x80
	}
	return binary.BigEndian.AppendUint16(append(b, e.Event, flags), e.Duration)
}

// Key returns the DTMF key of the event, or 0 for a non-DTMF event
// (flash-hook, tones) that we ignore.
func (e TelephoneEvent) Key() rune { return eventKey(e.Event) }

func eventKey(ev uint8) rune {
	switch {
	case ev <= 9:
		return rune('0' + ev)
	case ev == 10:
		return '*'
	case ev == 11:
		return '#'
	case ev <= 15:
		return rune('A' + ev - 12)
	}
	return 0
}

// eventCode is the inverse of eventKey.
func eventCode(key rune) (uint8, error) {
	switch {
	case key >= '0' && key <= '9':
		return uint8(key - '0'), nil
	case key == '*':
		return 10, nil
	case key == '#':
		return 11, nil
	case key >= 'A' && key <= 'D':
		return uint8(key-'A') + 12, nil
	}
	return 0, fmt.Errorf("%w: %q", ErrBadDigit, key)
}

// eventReceiver turns a stream of telephone-event packets into one digit per
// event. RFC 4733 §2.5.1: all packets of one event carry the event's start
// timestamp, so the timestamp identifies the event; the end packet is sent
// three times (§2.5.1.4) and must count once. A digit is reported when its
// end is seen, or, when every end packet was lost, when a later event or
// later audio shows it is over.
type eventReceiver struct {
	pending bool // an event has started and not ended
	ts      uint32
	key     rune
	dur     uint16
	ended   bool // endedTS is valid
	endedTS uint32
}

// eventDigit is one digit found by eventReceiver.
type eventDigit struct {
	key rune
	dur time.Duration
}

// event handles one telephone-event packet with RTP timestamp ts. It returns
// up to two digits (an unfinished earlier event, then this one).
func (r *eventReceiver) event(ts uint32, e TelephoneEvent, out []eventDigit) []eventDigit {
	key := e.Key()
	if r.ended && ts == r.endedTS {
		return out // retransmitted end packet or a late update of a done event
	}
	if r.pending && ts != r.ts {
		out = r.flush(out)
	}
	if key == 0 {
		return out
	}
	if e.End {
		r.pending = false
		r.ended, r.endedTS = true, ts
		return append(out, eventDigit{key: key, dur: samplesToDuration(int(e.Duration))})
	}
	if !r.pending {
		r.pending, r.ts, r.key, r.dur = true, ts, key, e.Duration
	} else if e.Duration > r.dur {
		r.dur = e.Duration
	}
	return out
}

// audio is called with the timestamp of each audio packet: audio well past
// the pending event's last reported duration means its end packets were lost.
func (r *eventReceiver) audio(ts uint32, out []eventDigit) []eventDigit {
	if !r.pending {
		return out
	}
	// Signed difference handles timestamp wrap-around (RFC 3550 §5.1).
	if int32(ts-r.ts) > int32(r.dur)+eventGraceSamples {
		return r.flush(out)
	}
	return out
}

// eventGraceSamples is how far past the last reported duration audio must
// be before a pending event is declared over (150 ms).
const eventGraceSamples = 1200

func (r *eventReceiver) flush(out []eventDigit) []eventDigit {
	r.pending = false
	r.ended, r.endedTS = true, r.ts
	out = append(out, eventDigit{key: r.key, dur: samplesToDuration(int(r.dur))})
	r.dur = 0
	return out
}

func samplesToDuration(n int) time.Duration {
	return time.Duration(n) * time.Second / SampleRate
}
