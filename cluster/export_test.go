package cluster

// WithImporting returns cfg with f called at each step of a takeover's
// rebuild (after the snapshot is read, before each agent and caller and
// before Resumed): a test makes the rebuild slow with it.
func WithImporting(cfg Config, f func()) Config {
	cfg.importing = f
	return cfg
}
