package app

import (
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/hotline-dev/hotline/config"
)

// durationText prints every time.Duration attribute as Go writes it
// ("1.5s", "320ms"), in text and JSON alike: slog's JSON handler would
// print a bare count of nanoseconds.
func durationText(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		return slog.String(a.Key, a.Value.Duration().String())
	}
	return a
}

// NewLogger is the server's logger as log.level and log.format say
// (hotline serve; tests use it to see what an operator sees).
func NewLogger(w io.Writer, c config.Log) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.Level)); err != nil {
		return nil, fmt.Errorf("log.level: %q is not debug, info, warn or error", c.Level)
	}
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: durationText}
	switch strings.ToLower(c.Format) {
	case "", "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log.format: %q is not text or json", c.Format)
}
