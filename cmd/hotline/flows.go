package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hotline-dev/hotline/app"
	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/flows"
	"github.com/hotline-dev/hotline/ivr"
	"github.com/hotline-dev/hotline/media"
)

const flowsUsage = `usage:
  hotline flows check [--config FILE] [--prompts DIR] [DIR]
      check every flow file in DIR (default: flows.dir of the configuration, ./etc/flows)
      against the configuration's queues, lookups and calendars and the prompt library;
      exit status 1 when there is any error
  hotline flows simulate FILE [--digits 1,3,123456#,-] [--lang vi] [--caller +8490...]
      [--called 100] [--at 2026-11-23T10:00:00+07:00] [--lookup NAME=FILE.json]...
      [--lookup-fail NAME]... [--config FILE] [--prompts DIR]
      walk a flow with no phone: each --digits item is one input event
      (a menu choice, a gather's digits, a confirmation; - or timeout lets it time out)
`

func flowsCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, flowsUsage)
		return 2
	}
	switch args[0] {
	case "check":
		return flowsCheck(args[1:], stdout, stderr)
	case "simulate":
		return flowsSimulate(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, flowsUsage)
		return 0
	}
	fmt.Fprintf(stderr, "hotline flows: unknown subcommand %q\n%s", args[0], flowsUsage)
	return 2
}

// parseAnywhere parses flags placed before or after positional arguments.
func parseAnywhere(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// flowEnv loads the configuration and the prompt library the simulator
// needs. A prompt library that cannot be loaded is reported and left out
// (the simulator then says prompt names without checking them); the checker
// does not use it: it reads the prompts through flows.LoadAll, as serve does.
func flowEnv(configPath, promptsDir string, stderr io.Writer) (config.Config, *media.Library, error) {
	cfg, err := config.Load(configPath)
	if err != nil {
		return cfg, nil, err
	}
	if promptsDir == "" {
		promptsDir = cfg.Media.Prompts
	}
	cfg.Media.Prompts = promptsDir
	lib, err := media.LoadLibrary(promptsDir)
	if err != nil {
		fmt.Fprintf(stderr, "hotline flows: prompts not checked: %v\n", err)
		return cfg, nil, nil
	}
	return cfg, lib, nil
}

func flowsCheck(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("flows check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "configuration file (default: built-in defaults)")
	promptsDir := fs.String("prompts", "", "prompt directory (default: media.prompts of the configuration)")
	pos, err := parseAnywhere(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) > 1 {
		fmt.Fprintf(stderr, "hotline flows check: one directory, got %d\n", len(pos))
		return 2
	}
	cfg, err := config.Load(*configPath)
	if err != nil {
		fmt.Fprintf(stderr, "hotline flows check: %v\n", err)
		return 1
	}
	if *promptsDir != "" {
		cfg.Media.Prompts = *promptsDir
	}
	// The configuration is checked as serve checks it (secrets aside).
	warnings, err := app.CheckConfig(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "hotline flows check: %v\n", err)
		return 1
	}
	for _, w := range warnings {
		fmt.Fprintf(stdout, "warning: %s\n", w)
	}
	dir := cfg.Flows.Dir
	if len(pos) == 1 {
		dir = pos[0]
	}
	// The same validation as serve's start and reloads: every prompt file
	// that cannot be used is an error naming it, as it would stop serve.
	lib := media.NewLibrary(cfg.Media.Prompts)
	set, _, ps := flows.LoadAll(dir, flows.EnvFromConfig(cfg, lib), lib)
	for _, p := range ps {
		fmt.Fprintln(stdout, p)
	}
	errs, warns := flows.Count(ps)
	fmt.Fprintf(stdout, "%s: %d flow(s), %d error(s), %d warning(s) (prompts: %s)\n", dir, len(set.Flows()), errs, warns, cfg.Media.Prompts)
	if errs > 0 {
		return 1
	}
	return 0
}

// repeated collects a repeatable flag.
type repeated []string

func (r *repeated) String() string     { return strings.Join(*r, ",") }
func (r *repeated) Set(v string) error { *r = append(*r, v); return nil }

func flowsSimulate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("flows simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	digits := fs.String("digits", "", "input events, comma-separated: 1,3,123456#,- (- or timeout: let the node time out)")
	lang := fs.String("lang", "", "starting language (default: the flow's)")
	caller := fs.String("caller", "", "calling number")
	called := fs.String("called", "", "dialled number (default: the flow's first)")
	at := fs.String("at", "", "simulated time, RFC 3339 (default: now)")
	configPath := fs.String("config", "", "configuration file (default: built-in defaults)")
	promptsDir := fs.String("prompts", "", "prompt directory (default: media.prompts of the configuration)")
	var lookups, fails repeated
	fs.Var(&lookups, "lookup", "NAME=FILE: the lookup NAME answers with the JSON in FILE (repeatable)")
	fs.Var(&fails, "lookup-fail", "NAME: the lookup NAME fails (repeatable)")
	pos, err := parseAnywhere(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "hotline flows simulate: want one flow FILE")
		return 2
	}
	opts := ivr.SimOptions{Language: *lang, Caller: *caller, Called: *called, Answers: map[string][]byte{}, Fail: map[string]bool{}}
	if *digits != "" {
		opts.Inputs = strings.Split(*digits, ",")
	}
	if *at != "" {
		if opts.At, err = time.Parse(time.RFC3339, *at); err != nil {
			fmt.Fprintf(stderr, "hotline flows simulate: --at: %v\n", err)
			return 2
		}
	}
	for _, l := range lookups {
		name, file, ok := strings.Cut(l, "=")
		if !ok || name == "" {
			fmt.Fprintf(stderr, "hotline flows simulate: --lookup %q: want NAME=FILE\n", l)
			return 2
		}
		if opts.Answers[name], err = os.ReadFile(file); err != nil {
			fmt.Fprintf(stderr, "hotline flows simulate: --lookup %s: %v\n", name, err)
			return 1
		}
	}
	for _, name := range fails {
		opts.Fail[name] = true
	}
	cfg, lib, err := flowEnv(*configPath, *promptsDir, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "hotline flows simulate: %v\n", err)
		return 1
	}
	flow, code := loadOneFlow(pos[0], flows.EnvFromConfig(cfg, lib), stdout, stderr)
	if flow == nil {
		return code
	}
	opts.Calendars, opts.PromptsDir = cfg.Calendars, cfg.Media.Prompts
	opts.Lookups = config.ResolveLookups(cfg.Lookups, config.SelfURL(cfg.HTTP.Addr))
	if lib != nil {
		opts.Prompts = lib
	}
	opts.Texts = promptTexts(cfg.Media.Prompts, stderr)
	if _, err := ivr.Simulate(ctx, flow, opts, stdout); err != nil {
		fmt.Fprintf(stderr, "hotline flows simulate: %v\n", err)
		return 1
	}
	return 0
}

// loadOneFlow parses and checks one file; errors refuse the simulation.
func loadOneFlow(path string, env flows.Env, stdout, stderr io.Writer) (*flows.Flow, int) {
	data, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintf(stderr, "hotline flows simulate: %v\n", err)
		return nil, 1
	}
	flow, ps := flows.Parse(path, data)
	if flow != nil {
		ps = append(ps, flows.Check(flows.NewSet(flow), env)...)
	}
	flows.Sort(ps)
	for _, p := range ps {
		fmt.Fprintln(stdout, p)
	}
	if errs, _ := flows.Count(ps); errs > 0 || flow == nil {
		fmt.Fprintf(stderr, "hotline flows simulate: %s has %d error(s); fix them first (hotline flows check)\n", path, errs)
		return nil, 1
	}
	return flow, 0
}

// promptTexts reads <dir>/prompts.txt, when there is one, so the simulator
// prints what the callback dialogue says in words; nil without it.
func promptTexts(dir string, stderr io.Writer) func(lang, name string) (string, bool) {
	f, err := os.Open(filepath.Join(dir, "prompts.txt"))
	if err != nil {
		return nil
	}
	defer f.Close()
	texts, err := ivr.PromptTexts(f)
	if err != nil {
		fmt.Fprintf(stderr, "hotline flows simulate: %v (fragment names shown instead)\n", err)
		return nil
	}
	return texts
}
