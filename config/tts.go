package config

import (
	"fmt"
	"os/exec"
	"time"
)

// TTS is text-to-speech for free text in flows ({tts: var}, docs/say.md).
type TTS struct {
	// Engine: "" (default) is espeak-ng when installed, else none;
	// "espeak-ng" requires it; "none" turns text-to-speech off.
	Engine string `yaml:"engine"`
	// Dir caches synthesised texts (one WAV per hash of engine, voice and
	// text). Default ./var/tts.
	Dir string `yaml:"dir"`
	// Wait bounds how long a call waits for a text not yet cached before
	// the entry's fallback prompt plays instead (the text is cached for
	// the next caller). Default 2s.
	Wait time.Duration `yaml:"wait"`
}

// TTS engines.
const (
	TTSEspeak = "espeak-ng"
	TTSNone   = "none"
)

// EngineName is the engine in use: espeak-ng, or "" when text-to-speech is
// off or espeak-ng is not installed.
func (t TTS) EngineName() string {
	switch t.Engine {
	case TTSNone:
		return ""
	case "", TTSEspeak:
		if _, err := exec.LookPath("espeak-ng"); err == nil {
			return TTSEspeak
		}
	}
	return ""
}

// Defaults fills Dir and Wait.
func (t TTS) withDefaults() TTS {
	if t.Dir == "" {
		t.Dir = "./var/tts"
	}
	if t.Wait == 0 {
		t.Wait = 2 * time.Second
	}
	return t
}

func (t TTS) validate() error {
	switch t.Engine {
	case "", TTSNone:
	case TTSEspeak:
		if t.EngineName() == "" {
			return fmt.Errorf("tts.engine: espeak-ng is not installed (install it, or set engine: none)")
		}
	default:
		return fmt.Errorf("tts.engine: %q is not espeak-ng or none", t.Engine)
	}
	if t.Wait < 0 || t.Wait > 30*time.Second {
		return fmt.Errorf("tts.wait: %v is not between 0 and 30s", t.Wait)
	}
	return nil
}
