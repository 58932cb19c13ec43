// Command profserver is `hotline serve` for the benchmark's profiling run:
// the same app.New/Run from a configuration file, plus net/http/pprof on a
// separate loopback address, because the server exposes neither pprof nor
// go_goroutines. scripts/bench.sh uses it only to count goroutines per call
// and take a CPU profile; the headline figures come from bin/hotline.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"github.com/hotline-dev/hotline/app"
	"github.com/hotline-dev/hotline/config"
)

func main() { os.Exit(run()) }

func run() int {
	cfgPath := flag.String("config", "", "configuration file")
	pprofAddr := flag.String("pprof", "127.0.0.1:0", "pprof listen address (loopback)")
	memRate := flag.Int("memprofilerate", 0, "runtime.MemProfileRate (bytes per heap sample; 0: Go's default, 512 KiB), e.g. 4096 for a per-call heap profile")
	flag.Parse()
	if *memRate > 0 {
		runtime.MemProfileRate = *memRate
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "profserver:", err)
		return 1
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	a, err := app.New(ctx, cfg, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, "profserver:", err)
		return 1
	}
	ln, err := net.Listen("tcp", *pprofAddr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "profserver:", err)
		return 1
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	srv := &http.Server{Handler: mux}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln)
	}()
	fmt.Fprintf(os.Stderr, "pprof on http://%s/debug/pprof/\n", ln.Addr())
	err = a.Run(ctx)
	srv.Close()
	<-done
	if err != nil {
		fmt.Fprintln(os.Stderr, "profserver:", err)
		return 1
	}
	return 0
}
