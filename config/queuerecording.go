package config

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v4"
)

// Recording channel layouts (QueueRecording.Channels).
const (
	// RecordingMixed is one 8 kHz mono WAV: caller and agent summed.
	RecordingMixed = "mixed"
	// RecordingSplit is one 8 kHz stereo WAV: the caller on the left
	// channel, the agent on the right, for transcription or QA that must
	// tell the speakers apart.
	RecordingSplit = "split"
)

// DefaultRecordingAnnounce is the prompt a recorded queue plays to the
// caller before the agent joins (prompts/prompts.txt).
const DefaultRecordingAnnounce = "recording-notice"

// DefaultRecordingRetention is how long a call recording is kept when the
// queue does not say: recordings are personal data, kept no longer than
// needed (GDPR art. 5(1)(e) and Vietnam's Decree 13/2023 both ask for a
// limit), so there is no "forever" by default.
const DefaultRecordingRetention = 90 * 24 * time.Hour

// maxRecordingRetention bounds retention: beyond ten years it is a typo.
const maxRecordingRetention = 10 * 365 * 24 * time.Hour

// QueueRecording is a queue's call recording (queues.<name>.recording,
// docs/configuration.md "Call recording"); off by default. With it on, the
// caller hears Announce before the agent joins, and the bridged call is
// recorded both ways (Channels) and kept for Retention.
type QueueRecording struct {
	Enabled  bool   `yaml:"enabled"`
	Announce string `yaml:"announce"` // prompt name; default recording-notice
	Channels string `yaml:"channels"` // mixed (default) or split
	// Retention is how long a recording is kept after the call; then the
	// retention sweep deletes its file and marks it deleted. "90d", "36h"
	// or any Go duration; default 90d.
	Retention time.Duration `yaml:"retention"`
}

// WithDefaults fills unset keys.
func (r QueueRecording) WithDefaults() QueueRecording {
	if r.Announce == "" {
		r.Announce = DefaultRecordingAnnounce
	}
	if r.Channels == "" {
		r.Channels = RecordingMixed
	}
	if r.Retention == 0 {
		r.Retention = DefaultRecordingRetention
	}
	return r
}

// MarshalJSON writes the retention in seconds, as the API writes durations.
func (r QueueRecording) MarshalJSON() ([]byte, error) {
	type out struct {
		Enabled   bool    `json:"enabled"`
		Announce  string  `json:"announce,omitempty"`
		Channels  string  `json:"channels,omitempty"`
		Retention float64 `json:"retention_s,omitempty"`
	}
	return json.Marshal(out{r.Enabled, r.Announce, r.Channels, r.Retention.Seconds()})
}

// UnmarshalYAML decodes the block; unknown keys and impossible values are
// an error naming the line, so a typo cannot leave recording silently off
// (or on).
func (r *QueueRecording) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: recording: want a mapping with keys enabled, announce, channels, retention", n.Line)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch k.Value {
		case "enabled":
			if err := v.Decode(&r.Enabled); err != nil {
				return fmt.Errorf("line %d: recording.enabled: %q is not true or false", v.Line, v.Value)
			}
		case "announce":
			r.Announce = v.Value
		case "channels":
			r.Channels = v.Value
			if r.Channels != RecordingMixed && r.Channels != RecordingSplit {
				return fmt.Errorf("line %d: recording.channels: %q is not %s or %s", v.Line, v.Value, RecordingMixed, RecordingSplit)
			}
		case "retention":
			d, err := ParseRetention(v.Value)
			if err != nil {
				return fmt.Errorf("line %d: recording.retention: %w", v.Line, err)
			}
			r.Retention = d
		default:
			return fmt.Errorf("line %d: field %s not found in type config.QueueRecording", k.Line, k.Value)
		}
	}
	return nil
}

// ParseRetention reads a retention period: whole days ("90d") or a Go
// duration ("36h"), at least one hour (a sweep runs hourly) and at most
// ten years.
func ParseRetention(s string) (time.Duration, error) {
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil {
			return 0, fmt.Errorf("%q is not a number of days (90d) or a duration (36h)", s)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("%q is not a number of days (90d) or a duration (36h)", s)
		}
	}
	if d < time.Hour || d > maxRecordingRetention {
		return 0, fmt.Errorf("%s is not between 1h and 3650d", s)
	}
	return d, nil
}
