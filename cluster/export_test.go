package cluster

import "time"

// WithImporting returns cfg with f called at each step of a takeover's
// rebuild (after the snapshot is read, before each agent and caller and
// before Resumed): a test makes the rebuild slow with it.
func WithImporting(cfg Config, f func()) Config {
	cfg.importing = f
	return cfg
}

// WithAside returns cfg with a takeover's long steps (the snapshot read)
// beating aside every every and giving up after most in all (zero: the
// defaults).
func WithAside(cfg Config, every, most time.Duration) Config {
	cfg.everyAside, cfg.maxAside = every, most
	return cfg
}

// ErrTakeoverTooLong is errTakeoverTooLong, for the tests.
var ErrTakeoverTooLong = errTakeoverTooLong
