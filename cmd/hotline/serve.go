package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/hotline-dev/hotline/app"
	"github.com/hotline-dev/hotline/config"
)

func serveCmd(ctx context.Context, args []string, _, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "configuration file (default: built-in defaults)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		fmt.Fprintln(stderr, "hotline serve:", err)
		return 1
	}
	if cfg.SIP.UserAgent == "" {
		cfg.SIP.UserAgent = "Hotline/" + version
	}
	log, err := newLogger(stderr, cfg.Log)
	if err != nil {
		fmt.Fprintln(stderr, "hotline serve:", err)
		return 1
	}
	a, err := app.New(ctx, cfg, log)
	if err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}

	// SIGHUP reloads the flows; the signal goroutine ends with serve.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	hupDone := make(chan struct{})
	hupCtx, stopHup := context.WithCancel(ctx)
	go func() {
		defer close(hupDone)
		for {
			select {
			case <-hupCtx.Done():
				return
			case <-hup:
				problems, err := a.Reload()
				for _, p := range problems {
					log.Warn("flow problem", "problem", p.String())
				}
				if err != nil {
					log.Error("flow reload refused; previous flows keep serving", "err", err)
				} else {
					log.Info("flows reloaded")
				}
			}
		}
	}()
	err = a.Run(ctx)
	stopHup()
	<-hupDone
	if err != nil {
		log.Error("stopped with error", "err", err)
		return 1
	}
	log.Info("stopped")
	return 0
}

func newLogger(w io.Writer, c config.Log) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.Level)); err != nil {
		return nil, fmt.Errorf("log.level: %q is not debug, info, warn or error", c.Level)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(c.Format) {
	case "", "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log.format: %q is not text or json", c.Format)
}
