package testcall

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hotline-dev/hotline/media"
	"github.com/hotline-dev/hotline/sip"
)

// DTMF modes.
const (
	DTMFRFC4733 = "rfc4733" // RTP telephone-event (RFC 4733)
	DTMFInband  = "inband"  // tones in the audio
	DTMFINFO    = "info"    // SIP INFO application/dtmf-relay (RFC 6086)
)

// Errors a run can end with.
var (
	// ErrNoAudio means the call was answered but no RTP audio arrived.
	ErrNoAudio = errors.New("testcall: no audio received")
	// ErrBadOptions means Options could not be used as given.
	ErrBadOptions = errors.New("testcall: bad options")
)

// Options describe one test call.
type Options struct {
	URI           string // sip:100@127.0.0.1:5060
	From          string // caller number, [0-9+*#]
	DisplayName   string
	Digits        []Step        // see ParseSchedule
	DTMF          string        // rfc4733 (default), inband, info
	DigitDuration time.Duration // default 160 ms
	Duration      time.Duration // hang up this long after answer; default 20s
	AnswerTimeout time.Duration // give up ringing after this; default 30s
	Record        string        // WAV path for what we heard; "" = none
	Bind          string        // local SIP address; default the route to the target on port 0
	Codecs        []media.Codec
	Logger        *slog.Logger
	// NoAudioOK makes a call with no received audio a success (signalling tests).
	NoAudioOK bool
}

// DigitSent is one digit we sent.
type DigitSent struct {
	Key  rune          `json:"key"`
	At   time.Duration `json:"at"` // since answer
	Mode string        `json:"mode"`
	Err  string        `json:"err,omitempty"`
}

// Result is what the call did.
type Result struct {
	Answered    bool
	Codec       string
	AnswerDelay time.Duration // INVITE to 200
	Talk        time.Duration // answer to hangup
	PCM         []int16       // received audio, 8 kHz
	Audio       time.Duration // len(PCM) as time
	NonSilent   time.Duration // frames above the silence threshold
	Packets     uint64        // RTP packets received
	SeqGaps     uint64        // packets missing from sequence gaps (RFC 3550 §6.4.1)
	GapMin      time.Duration // inter-packet arrival gaps
	GapMax      time.Duration
	GapMean     time.Duration
	Digits      []DigitSent
	HungUpBy    sip.Side
	HangupCause sip.Cause
	PacketsSent uint64
}

// Run places the call and returns when it has ended. Events are written to
// out one per line. The error is non-nil when the call was not answered, a
// digit could not be sent, or (unless NoAudioOK) no audio was received; the
// Result is returned whenever the call was placed.
func Run(ctx context.Context, o Options, out io.Writer) (_ *Result, err error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	p := &printer{w: out, start: time.Now()}
	bind := o.Bind
	if bind == "" {
		var err error
		if bind, err = routeTo(o.URI); err != nil {
			return nil, err
		}
	}
	cli, err := sip.NewClient(sip.ClientConfig{Addr: bind, Logger: o.Logger, InactivityTimeout: o.Duration + 30*time.Second})
	if err != nil {
		return nil, err
	}
	served := make(chan error, 1)
	go func() { served <- cli.Run(context.Background()) }()
	defer func() { // the user agent's socket failing is the call's error too
		cli.Close()
		if serr := <-served; serr != nil {
			err = errors.Join(err, serr)
		}
	}()
	p.event("dialing", "uri", o.URI, "from", o.From, "bind", cli.Addr().String())
	res := &Result{}
	dctx, cancel := context.WithTimeout(ctx, o.AnswerTimeout)
	defer cancel()
	t0 := time.Now()
	oc, err := cli.Dial(dctx, o.URI, sip.DialOptions{From: o.From, DisplayName: o.DisplayName, Codecs: o.Codecs,
		OnRinging: func() { p.event("ringing") }})
	if err != nil {
		var se *sip.StatusError
		if errors.As(err, &se) {
			p.event("failed", "status", se.Code, "reason", se.Reason)
		} else {
			p.event("failed", "err", err)
		}
		return res, fmt.Errorf("testcall: %w", err)
	}
	answered := time.Now()
	res.Answered, res.AnswerDelay, res.Codec = true, answered.Sub(t0), oc.Negotiated().Codec.String()
	p.event("answered", "codec", res.Codec, "ptime", oc.Negotiated().Ptime, "remote", oc.Negotiated().Remote)
	rec := newRecorder(o.Duration)
	oc.Media().SetAudioSink(rec.sink)
	// Send a continuous silent stream, as a phone does, so the far end's
	// RTP inactivity timer never fires on a long test call.
	playCtx, stopPlay := context.WithCancel(ctx)
	var played sync.WaitGroup
	played.Add(1)
	go func() {
		defer played.Done()
		oc.Media().Play(playCtx, media.NewPromptPCM("silence", make([]int16, int(o.Duration/time.Millisecond)*media.SampleRate/1000)))
	}()
	defer played.Wait()
	defer stopPlay()
	digitErr := sendDigits(ctx, oc, o, answered, res, p)
	timer := time.NewTimer(max(0, o.Duration-time.Since(answered)))
	defer timer.Stop()
	select {
	case <-oc.Done():
	case <-timer.C:
	case <-ctx.Done():
	}
	hctx, hcancel := context.WithTimeout(context.Background(), 5*time.Second)
	oc.Hangup(hctx)
	hcancel()
	<-oc.Done()
	res.Talk = time.Since(answered)
	res.HangupCause, res.HungUpBy = oc.Ended()
	oc.Media().SetAudioSink(nil)
	st := oc.Media().Stats()
	res.Packets, res.SeqGaps, res.PacketsSent = st.PacketsReceived, st.Lost, st.PacketsSent
	rec.fill(res)
	p.event("hangup", "by", res.HungUpBy, "cause", res.HangupCause, "talk", res.Talk.Round(time.Millisecond))
	p.event("received", "packets", res.Packets, "bytes", st.BytesReceived, "audio", res.Audio, "non_silent", res.NonSilent,
		"seq_gaps", res.SeqGaps, "gap_min", res.GapMin, "gap_mean", res.GapMean, "gap_max", res.GapMax)
	p.event("sent", "packets", st.PacketsSent, "digits", len(res.Digits))
	if o.Record != "" {
		if err := writeWAV(o.Record, res.PCM); err != nil {
			return res, err
		}
		p.event("recorded", "file", o.Record, "audio", res.Audio)
	}
	if digitErr != nil {
		return res, digitErr
	}
	if res.Packets == 0 && !o.NoAudioOK {
		return res, ErrNoAudio
	}
	return res, nil
}

func (o *Options) defaults() error {
	if o.DTMF == "" {
		o.DTMF = DTMFRFC4733
	}
	switch o.DTMF {
	case DTMFRFC4733, DTMFInband, DTMFINFO:
	default:
		return fmt.Errorf("%w: dtmf %q is not rfc4733, inband or info", ErrBadOptions, o.DTMF)
	}
	if o.DigitDuration == 0 {
		o.DigitDuration = 160 * time.Millisecond
	}
	if o.Duration == 0 {
		o.Duration = 20 * time.Second
	}
	if o.AnswerTimeout == 0 {
		o.AnswerTimeout = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	for _, s := range o.Digits {
		if !validKey(s.Key) {
			return fmt.Errorf("%w: digit %q", ErrBadOptions, s.Key)
		}
	}
	return nil
}

// routeTo finds the local IP that routes to the URI's host, port 0.
func routeTo(uri string) (string, error) {
	rest, ok := strings.CutPrefix(uri, "sip:")
	if !ok {
		return "", fmt.Errorf("%w: uri %q must start with sip:", ErrBadOptions, uri)
	}
	if _, h, ok := strings.Cut(rest, "@"); ok {
		rest = h
	}
	rest, _, _ = strings.Cut(rest, ";")
	host := rest
	if h, _, err := net.SplitHostPort(rest); err == nil {
		host = h
	}
	c, err := net.Dial("udp", net.JoinHostPort(strings.Trim(host, "[]"), "5060")) // no packet is sent
	if err != nil {
		return "", fmt.Errorf("testcall: no route to %s: %w", url.PathEscape(host), err)
	}
	defer c.Close()
	h, _, _ := net.SplitHostPort(c.LocalAddr().String())
	return net.JoinHostPort(h, "0"), nil
}

func writeWAV(path string, pcm []int16) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("testcall: record: %w", err)
	}
	if err := media.WriteWAV(f, pcm); err != nil {
		f.Close()
		return fmt.Errorf("testcall: record %s: %w", path, err)
	}
	return f.Close()
}

type printer struct {
	mu    sync.Mutex
	w     io.Writer
	start time.Time
}

// event prints "t=1.234s name k=v ...", one event per line.
func (p *printer) event(name string, kv ...any) {
	if p.w == nil {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "t=%.3fs %s", time.Since(p.start).Seconds(), name)
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(&b, " %v=%v", kv[i], kv[i+1])
	}
	p.mu.Lock()
	fmt.Fprintln(p.w, b.String())
	p.mu.Unlock()
}
