package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/store/storeopen"
)

// migrateCmd is `hotline migrate up|status [--config FILE]`: apply pending
// schema migrations, or list applied and pending ones. The database is the
// config's database.url (env HOTLINE_DATABASE_URL overrides).
func migrateCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "configuration file (default: built-in defaults)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: hotline migrate up|status [--config FILE]")
		fs.PrintDefaults()
	}
	if len(args) == 0 {
		fs.Usage()
		return 2
	}
	sub := args[0]
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if sub != "up" && sub != "status" || fs.NArg() != 0 {
		fs.Usage()
		return 2
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		fmt.Fprintln(stderr, "hotline migrate:", err)
		return 1
	}
	r, closer, err := storeopen.Migrator(ctx, cfg.Database.URL)
	if err != nil {
		fmt.Fprintln(stderr, "hotline migrate:", err)
		return 1
	}
	defer closer.Close()
	if sub == "up" {
		did, err := r.Up(ctx)
		for _, m := range did {
			fmt.Fprintf(stdout, "applied %04d %s\n", m.Version, m.Name)
		}
		if err != nil {
			fmt.Fprintln(stderr, "hotline migrate up:", err)
			return 1
		}
		if len(did) == 0 {
			fmt.Fprintln(stdout, "schema is up to date")
		}
		return 0
	}
	sts, err := r.Status(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "hotline migrate status:", err)
		return 1
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tNAME\tSTATE\tAPPLIED AT")
	pending := 0
	for _, s := range sts {
		state := "pending"
		switch {
		case s.Unknown:
			state = "applied (unknown to this binary)"
		case s.Changed:
			state = "applied (CHANGED since)"
		case s.Applied:
			state = "applied"
		default:
			pending++
		}
		fmt.Fprintf(tw, "%04d\t%s\t%s\t%s\n", s.Version, s.Name, state, s.AppliedAt)
	}
	_ = tw.Flush()
	fmt.Fprintf(stdout, "%d pending\n", pending)
	return 0
}
