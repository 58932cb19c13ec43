// Command hotline is the IVR and phone-callback server and its tools.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set by the build (-ldflags "-X main.version=...").
var version = "dev"

type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

func commands() map[string]command {
	return map[string]command{
		"serve":      {"run the SIP and HTTP server", serveCmd},
		"flows":      {"check or simulate flow files (flows check [DIR], flows simulate FILE --digits 1,2)", flowsCmd},
		"dial":       {"place a test call: dial sip:100@127.0.0.1:5060 --digits 1@3s,2@6s --record out.wav", dialCmd},
		"migrate":    {"apply or show database migrations (migrate up|status)", migrateCmd},
		"recordings": {"copy recordings.dir's files into the database (recordings import [--dir DIR])", recordingsCmd},
		"version":    {"print the version", versionCmd},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmds := commands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr, cmds)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "hotline: unknown command %q\n", args[0])
		usage(stderr, cmds)
		return 2
	}
	return c.run(ctx, args[1:], stdout, stderr)
}

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "usage: hotline <command> [flags]")
	for _, name := range []string{"serve", "flows", "dial", "migrate", "recordings", "version"} {
		fmt.Fprintf(w, "  %-10s %s\n", name, cmds[name].summary)
	}
}

func versionCmd(_ context.Context, _ []string, stdout, _ io.Writer) int {
	fmt.Fprintln(stdout, "hotline", version)
	return 0
}
