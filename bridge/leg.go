package bridge

import (
	"context"
	"time"

	"github.com/hotline-dev/hotline/media"
	"github.com/hotline-dev/hotline/sip"
)

// Player plays prompts and returns when they have been played or ctx ends;
// *media.Session, *sip.Call and ivr.Call satisfy it.
type Player interface {
	Play(ctx context.Context, prompts ...*media.Prompt) error
}

// Leg is the media of one side of a connection; *media.Session satisfies it.
// Audio crosses as linear PCM, so PCMU and PCMA legs transcode for free:
// each session decodes what it receives and encodes what it sends.
type Leg interface {
	Player
	SetAudioSink(f func(pcm []int16))
	WriteAudio(pcm []int16)
	Digits() <-chan media.Digit
	SendDigit(ctx context.Context, key rune, dur time.Duration, src media.DigitSource) error
}

// Party is one side of a Connect: its media, and a channel closed when its
// call has ended (nil: only the Connect's context ends it).
type Party interface {
	Leg() Leg
	Done() <-chan struct{}
}

// Call is an answered call Hotline placed (a Dialer's result).
type Call interface {
	Party
	// Hangup sends BYE and waits until the call is torn down; on a call
	// already ended it returns sip.ErrCallEnded.
	Hangup(ctx context.Context) error
	// Ended is the end cause and side once Done is closed (as
	// sip.OutboundCall.Ended reports them).
	Ended() (sip.Cause, sip.Side)
}

// Media is a Party with no call of its own to watch: an inbound call's
// media, whose end is the context the owner passes to Connect.
func Media(l Leg) Party { return mediaParty{l} }

type mediaParty struct{ l Leg }

func (m mediaParty) Leg() Leg              { return m.l }
func (m mediaParty) Done() <-chan struct{} { return nil }
