package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/recording"
	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/store/storeopen"
)

// recordingsCmd is `hotline recordings import [--config FILE] [--dir DIR]`:
// copy the recordings under recordings.dir (or DIR) into the database, for
// a deployment moving to recordings.store: database (docs/cluster.md
// "Recordings"). Only files whose recording has a live row are copied;
// the files stay; running it again copies nothing twice.
func recordingsCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("recordings", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "configuration file (default: built-in defaults)")
	dirFlag := fs.String("dir", "", "directory to import from (default: recordings.dir)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: hotline recordings import [--config FILE] [--dir DIR]")
		fs.PrintDefaults()
	}
	if len(args) == 0 || args[0] != "import" {
		fs.Usage()
		return 2
	}
	if err := fs.Parse(args[1:]); err != nil { // the flag package has printed the usage
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return 2
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		fmt.Fprintln(stderr, "hotline recordings import:", err)
		return 1
	}
	dir := cfg.Recordings.Dir
	if *dirFlag != "" {
		dir = *dirFlag
	}
	from, err := recording.NewDir(dir)
	if err != nil {
		fmt.Fprintln(stderr, "hotline recordings import: --dir:", err)
		return 1
	}
	st, err := storeopen.Open(ctx, cfg.Database.URL, store.Options{DefaultCountry: cfg.Phone.DefaultCountry, Timeout: cfg.Database.Timeout})
	if err != nil {
		fmt.Fprintln(stderr, "hotline recordings import:", err)
		return 1
	}
	defer st.Close()
	audio, ok1 := st.(store.RecordingAudio)
	index, ok2 := st.(store.Recordings)
	if !ok1 || !ok2 {
		fmt.Fprintf(stderr, "hotline recordings import: store %T keeps no recordings\n", st)
		return 1
	}
	res, err := recording.Import(ctx, from, recording.NewDatabase(audio), index)
	fmt.Fprintf(stdout, "imported %d, already in the database %d, skipped %d (no live recording row) from %s\n",
		res.Imported, res.Present, res.Skipped, dir)
	if err != nil {
		fmt.Fprintln(stderr, "hotline recordings import:", err)
		return 1
	}
	if cfg.Recordings.Store != config.RecordingsDatabase {
		fmt.Fprintln(stdout, "recordings.store is "+cfg.Recordings.Store+": set recordings.store: database to serve them from the database")
	}
	return 0
}
