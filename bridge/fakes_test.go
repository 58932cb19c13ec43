package bridge

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/hotline-dev/hotline/media"
	"github.com/hotline-dev/hotline/sip"
)

// fakeLeg is a Leg whose far end the test plays: hear delivers audio as the
// RTP reader would, digits carries what the far end pressed.
type fakeLeg struct {
	mu     sync.Mutex
	sink   func([]int16)
	got    [][]int16
	sent   []media.Digit
	digits chan media.Digit
}

func newFakeLeg() *fakeLeg { return &fakeLeg{digits: make(chan media.Digit, 8)} }

func (l *fakeLeg) SetAudioSink(f func([]int16)) { l.mu.Lock(); l.sink = f; l.mu.Unlock() }
func (l *fakeLeg) WriteAudio(p []int16) {
	l.mu.Lock()
	l.got = append(l.got, slices.Clone(p))
	l.mu.Unlock()
}
func (l *fakeLeg) Digits() <-chan media.Digit { return l.digits }
func (l *fakeLeg) SendDigit(_ context.Context, k rune, d time.Duration, src media.DigitSource) error {
	l.mu.Lock()
	l.sent = append(l.sent, media.Digit{Key: k, Duration: d, Source: src})
	l.mu.Unlock()
	return nil
}
func (l *fakeLeg) Play(ctx context.Context, _ ...*media.Prompt) error {
	<-ctx.Done()
	return ctx.Err()
}

func (l *fakeLeg) hasSink() bool { l.mu.Lock(); defer l.mu.Unlock(); return l.sink != nil }

// hear delivers received audio to the leg's sink.
func (l *fakeLeg) hear(p []int16) {
	l.mu.Lock()
	f := l.sink
	l.mu.Unlock()
	if f != nil {
		f(p)
	}
}

// fakeCall is an answered Call; closing done is the far end's BYE. With
// refers it takes REFERs as a SIPCall does (OnRefer).
type fakeCall struct {
	leg  *fakeLeg
	done chan struct{}
	once sync.Once

	mu     sync.Mutex
	hungUp bool
	refer  sip.ReferFunc
}

func newFakeCall() *fakeCall { return &fakeCall{leg: newFakeLeg(), done: make(chan struct{})} }

func (c *fakeCall) Leg() Leg              { return c.leg }
func (c *fakeCall) Done() <-chan struct{} { return c.done }
func (c *fakeCall) Ended() (sip.Cause, sip.Side) {
	if c.wasHungUp() {
		return sip.CauseHangup, sip.SideLocal
	}
	return sip.CauseRemoteBye, sip.SideRemote
}
func (c *fakeCall) Hangup(context.Context) error {
	c.mu.Lock()
	c.hungUp = true
	c.mu.Unlock()
	c.bye()
	return nil
}
func (c *fakeCall) bye()            { c.once.Do(func() { close(c.done) }) }
func (c *fakeCall) wasHungUp() bool { c.mu.Lock(); defer c.mu.Unlock(); return c.hungUp }

// referringCall is a fakeCall whose phone can send REFER.
type referringCall struct{ *fakeCall }

func (c referringCall) OnRefer(f sip.ReferFunc) { c.mu.Lock(); c.refer = f; c.mu.Unlock() }

// sendRefer is the far end's REFER: the installed decision's answer, or a
// 403 as sip.Client gives when none is installed.
func (c referringCall) sendRefer(t *sip.Transfer) error {
	c.mu.Lock()
	f := c.refer
	c.mu.Unlock()
	if f == nil {
		return &sip.StatusError{Code: 403, Reason: "Forbidden"}
	}
	return f(t)
}
