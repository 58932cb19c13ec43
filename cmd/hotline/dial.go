package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/hotline-dev/hotline/app"
	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/media"
	"github.com/hotline-dev/hotline/testcall"
)

// dialCmd places one test call: hotline dial sip:100@127.0.0.1:5060
// --digits "1@3s,2@6s" --dtmf rfc4733|inband|info --record out.wav
// --duration 20s --from 0912345678. Exit 0 on an answered call that
// received audio, 1 on any failure, 2 on usage errors.
func dialCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dial", flag.ContinueOnError)
	fs.SetOutput(stderr)
	digits := fs.String("digits", "", `digits to send after answer: "1@3s,2@6s,123456#@9s" (keys@offset; several keys are pressed 300ms apart)`)
	dtmf := fs.String("dtmf", testcall.DTMFRFC4733, "how to send digits: rfc4733, inband or info")
	record := fs.String("record", "", "write what we hear to this WAV file")
	duration := fs.Duration("duration", 20*time.Second, "hang up this long after answer")
	answer := fs.Duration("answer-timeout", 30*time.Second, "give up if not answered within this")
	from := fs.String("from", "", "caller number (0-9, +, *, #)")
	display := fs.String("display", "", "caller display name")
	bind := fs.String("bind", "", "local SIP address (default: the route to the target, port 0)")
	codec := fs.String("codec", "", "offer only this codec: PCMU or PCMA (default both)")
	digitDur := fs.Duration("digit-duration", 160*time.Millisecond, "length of each digit")
	verbose := fs.Bool("v", false, "log SIP and media debug output to stderr")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: hotline dial sip:NUMBER@HOST[:PORT] [flags]")
		fs.PrintDefaults()
	}
	// The URI may come before or after the flags.
	var uri string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		uri, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	rest := fs.Args()
	if uri == "" && len(rest) > 0 {
		uri, rest = rest[0], rest[1:]
	}
	if uri == "" || len(rest) > 0 {
		fs.Usage()
		return 2
	}
	steps, err := testcall.ParseSchedule(*digits)
	if err != nil {
		fmt.Fprintln(stderr, "hotline dial:", err)
		return 2
	}
	var codecs []media.Codec
	switch strings.ToUpper(*codec) {
	case "":
	case "PCMU":
		codecs = []media.Codec{media.PCMU}
	case "PCMA":
		codecs = []media.Codec{media.PCMA}
	default:
		fmt.Fprintf(stderr, "hotline dial: --codec %q is not PCMU or PCMA\n", *codec)
		return 2
	}
	level := "warn"
	if *verbose {
		level = "debug"
	}
	logger, err := app.NewLogger(stderr, config.Log{Level: level, Format: "text"})
	if err != nil {
		fmt.Fprintln(stderr, "hotline dial:", err)
		return 1
	}
	_, err = testcall.Run(ctx, testcall.Options{URI: uri, From: *from, DisplayName: *display, Digits: steps, DTMF: *dtmf,
		DigitDuration: *digitDur, Duration: *duration, AnswerTimeout: *answer, Record: *record, Bind: *bind,
		Codecs: codecs, Logger: logger}, stdout)
	if err != nil {
		fmt.Fprintln(stderr, "hotline dial:", err)
		if errors.Is(err, testcall.ErrBadOptions) {
			return 2
		}
		return 1 // includes a call that was not answered
	}
	return 0
}
