package config

// Recordings is where recorded audio is kept (voicemail messages; docs/flows.md
// "voicemail"). The metadata is in the database.
type Recordings struct {
	// Dir holds one WAV file per recording. Default ./var/recordings
	// (created with mode 0750: recordings are personal data).
	Dir string `yaml:"dir"`
}

func (r Recordings) withDefaults() Recordings {
	if r.Dir == "" {
		r.Dir = "./var/recordings"
	}
	return r
}
