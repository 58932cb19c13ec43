package config

import "fmt"

// Recording stores (recordings.store).
const (
	RecordingsDir      = "dir"      // one file per recording under recordings.dir
	RecordingsDatabase = "database" // in the ticket database (table recording_audio)
)

// Recordings is where recorded audio is kept (voicemail messages, call
// recordings; docs/configuration.md "recordings"). The metadata is in
// the database either way.
type Recordings struct {
	// Store is dir (files under Dir) or database (the audio in the ticket
	// database, so every node of a cluster serves every recording without
	// shared storage). Default: database when cluster.enabled, dir
	// otherwise.
	Store string `yaml:"store"`
	// Dir holds one WAV file per recording (store: dir), and is where
	// `hotline recordings import` reads from. Default ./var/recordings
	// (created with mode 0750: recordings are personal data).
	Dir string `yaml:"dir"`
}

func (r Recordings) withDefaults(cluster bool) Recordings {
	if r.Dir == "" {
		r.Dir = "./var/recordings"
	}
	if r.Store == "" {
		r.Store = RecordingsDir
		if cluster {
			r.Store = RecordingsDatabase
		}
	}
	return r
}

func (r Recordings) validate() error {
	switch r.Store {
	case RecordingsDir, RecordingsDatabase:
		return nil
	}
	return fmt.Errorf("recordings.store: %q is not %s or %s", r.Store, RecordingsDir, RecordingsDatabase)
}
