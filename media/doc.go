// Package media is the RTP side of a call: one Session per call with one
// UDP socket from a PortPool, G.711 (PCMU/PCMA, RFC 3551 §4.5.14) audio,
// prompts loaded from WAV files and encoded once, and DTMF from three
// sources (RFC 4733 telephone-events, SIP INFO bodies, inband tones found by
// a Goertzel detector) de-duplicated into one Digits channel.
//
// Design choices worth knowing:
//
//   - A Session runs exactly two goroutines, a reader and a sender, both
//     started by Start and joined by Close.
//   - The sender paces frames on start + n*ptime. When nothing is playing
//     it sends no RTP at all: no comfort noise is negotiated, and a silent
//     stream costs bandwidth and CPU for nothing at 1,500 calls. A new
//     talkspurt sets the marker bit and a timestamp that follows the clock
//     (RFC 3551 §4.1), so receivers handle the gap as silence.
//   - Live audio (WriteAudio: a bridge relaying the other leg) is not paced
//     when nothing else is being sent: each frame leaves at once from the
//     writer's goroutine, so a bridge adds no frame of delay. With a prompt
//     or an inband digit playing it is queued and mixed on the pacer's
//     slots. Both paths share one SSRC, sequence and timestamp (txMu).
//   - Symmetric RTP: the first packet of a negotiated payload type moves the
//     send address to its source (NAT); later moves need 3 in-sequence
//     packets from the new source, so one spoofed packet cannot steal audio.
//   - Digits are reported when the press ends (RFC 4733 end packet, or the
//     tone released), so Digit.Duration is known; At is the press start.
//   - The inactivity watchdog lives in the sender goroutine; the reader only
//     stamps the time of the last accepted packet.
package media
