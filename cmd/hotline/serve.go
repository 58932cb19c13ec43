package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
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
	cfg.Version = version
	if cfg.SIP.UserAgent == "" {
		cfg.SIP.UserAgent = "Hotline/" + version
	}
	log, err := app.NewLogger(stderr, cfg.Log)
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
				// The registry logs each problem and the outcome, once.
				log.Info("SIGHUP: reloading flows")
				_, _ = a.Reload()
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
