package config

import (
	"fmt"
	"strings"
	"time"

	"github.com/hotline-dev/hotline/calendar"
)

// Callback modes (queues.<name>.callback.mode).
const (
	CallbackCustomerFirst = "customer_first" // dial the customer, then connect them to the next agent
	CallbackAgentFirst    = "agent_first"    // reserve and ring an agent, then dial the customer
)

// QueueCallback is a queue's callback service (docs/callbacks.md): callers
// who ask keep their place in the queue and are called back from it.
type QueueCallback struct {
	Enabled  bool   `yaml:"enabled"`
	Mode     string `yaml:"mode"`     // customer_first (default) or agent_first
	Calendar string `yaml:"calendar"` // business hours callbacks are dialled in (a calendars: name); "" = any time
	// MaxAttempts is how many calls a callback gets (no answer, busy, no
	// confirmation, ... each use one); default 3.
	MaxAttempts int `yaml:"max_attempts"`
	// RetrySpacing is the wait after the first failed attempt, the second,
	// ...; the last value repeats. Default [5m, 15m, 30m].
	RetrySpacing []time.Duration `yaml:"retry_spacing"`
	// Expiry is how long a request lives from when it was made; then it
	// ends as expired. Default 24h.
	Expiry         time.Duration `yaml:"expiry"`
	ConfirmKey     string        `yaml:"confirm_key"`     // the key the customer presses to be connected; default "1"
	ConfirmTimeout time.Duration `yaml:"confirm_timeout"` // how long the prompt waits for it; default 10s
	// RingTimeout is how long the customer's phone rings before the
	// attempt ends no_answer (and is retried); default 30s.
	RingTimeout time.Duration   `yaml:"ring_timeout"`
	PacingRatio float64         `yaml:"pacing_ratio"` // callbacks dialling per agent predicted free; default 1
	Prompts     CallbackPrompts `yaml:"prompts"`
}

// CallbackPrompts name the prompts a callback plays (prompt names in the
// library, like a queue's music).
type CallbackPrompts struct {
	Greeting string `yaml:"greeting"` // to the customer on answer, before the time of their call; default callback-greeting
	Confirm  string `yaml:"confirm"`  // "press 1 to speak to an agent now"; default callback-connect-key (callback-confirm is the IVR's "we will call you back")
	Whisper  string `yaml:"whisper"`  // agent_first: to the agent before the customer is dialled; default callback-whisper
}

// Callbacks bounds callback requests (a request makes Hotline dial a
// number, so a form on a website must not become a way to call someone
// again and again). Each is per hour; 0 takes the default, negative is off.
type Callbacks struct {
	PerNumber int `yaml:"per_number"` // requests for one number; default 3
	PerSource int `yaml:"per_source"` // API requests from one token and client address; default 60
	Total     int `yaml:"total"`      // all requests; default 2000
}

func (c Callbacks) withDefaults() Callbacks {
	fillInt(&c.PerNumber, 3)
	fillInt(&c.PerSource, 60)
	fillInt(&c.Total, 2000)
	return c
}

// WithDefaults fills unset keys with their documented defaults.
func (c QueueCallback) WithDefaults() QueueCallback {
	if c.Mode == "" {
		c.Mode = CallbackCustomerFirst
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = 3
	}
	if len(c.RetrySpacing) == 0 {
		c.RetrySpacing = []time.Duration{5 * time.Minute, 15 * time.Minute, 30 * time.Minute}
	}
	if c.Expiry == 0 {
		c.Expiry = 24 * time.Hour
	}
	if c.ConfirmKey == "" {
		c.ConfirmKey = "1"
	}
	if c.ConfirmTimeout == 0 {
		c.ConfirmTimeout = 10 * time.Second
	}
	if c.RingTimeout == 0 {
		c.RingTimeout = 30 * time.Second
	}
	if c.PacingRatio == 0 {
		c.PacingRatio = 1
	}
	if c.Prompts.Greeting == "" {
		c.Prompts.Greeting = "callback-greeting"
	}
	if c.Prompts.Confirm == "" {
		c.Prompts.Confirm = "callback-connect-key"
	}
	if c.Prompts.Whisper == "" {
		c.Prompts.Whisper = "callback-whisper"
	}
	return c
}

// Limits on callback keys: beyond them a value is a typo, not a policy.
const (
	maxCallbackAttempts = 20
	maxCallbackExpiry   = 30 * 24 * time.Hour
	maxPacingRatio      = 10
)

// validate checks the block (defaults filled); the error names the key
// relative to the block ("mode: ..."). calendars are the file's.
func (c QueueCallback) validate(calendars map[string]Calendar) error {
	switch c.Mode {
	case CallbackCustomerFirst, CallbackAgentFirst:
	default:
		return fmt.Errorf("mode: %q is not %s or %s", c.Mode, CallbackCustomerFirst, CallbackAgentFirst)
	}
	if c.Calendar != "" {
		spec, ok := calendars[c.Calendar]
		if !ok {
			return fmt.Errorf("calendar: no calendar %q in calendars", c.Calendar)
		}
		cal, err := calendar.Parse(spec)
		if err != nil {
			return fmt.Errorf("calendar: %q: %w", c.Calendar, err)
		}
		if _, ok := cal.NextOpen(time.Now()); !ok {
			return fmt.Errorf("calendar: %q is never open in the next two years: no callback could ever be dialled", c.Calendar)
		}
	}
	if c.MaxAttempts < 1 || c.MaxAttempts > maxCallbackAttempts {
		return fmt.Errorf("max_attempts: %d is not between 1 and %d", c.MaxAttempts, maxCallbackAttempts)
	}
	for i, d := range c.RetrySpacing {
		if d < time.Second {
			return fmt.Errorf("retry_spacing[%d]: %v is shorter than 1s", i, d)
		}
	}
	if c.Expiry < time.Minute || c.Expiry > maxCallbackExpiry {
		return fmt.Errorf("expiry: %v is not between 1m and %v", c.Expiry, maxCallbackExpiry)
	}
	if len(c.ConfirmKey) != 1 || !strings.Contains("0123456789*#", c.ConfirmKey) {
		return fmt.Errorf("confirm_key: %q is not one key of 0-9, * or #", c.ConfirmKey)
	}
	if c.ConfirmTimeout < time.Second || c.ConfirmTimeout > time.Minute {
		return fmt.Errorf("confirm_timeout: %v is not between 1s and 1m", c.ConfirmTimeout)
	}
	if c.RingTimeout < time.Second || c.RingTimeout > 5*time.Minute {
		return fmt.Errorf("ring_timeout: %v is not between 1s and 5m", c.RingTimeout)
	}
	if !(c.PacingRatio > 0 && c.PacingRatio <= maxPacingRatio) { // also refuses NaN
		return fmt.Errorf("pacing_ratio: %v is not above 0 and at most %d", c.PacingRatio, maxPacingRatio)
	}
	for _, p := range []struct{ key, name string }{{"greeting", c.Prompts.Greeting}, {"confirm", c.Prompts.Confirm}, {"whisper", c.Prompts.Whisper}} {
		if !promptName(p.name) {
			return fmt.Errorf("prompts.%s: %q is not a prompt name (letters, digits, '-', '_')", p.key, p.name)
		}
	}
	return nil
}

// promptName: a prompt is a file name in the library's language folders,
// so nothing that could leave them.
func promptName(s string) bool {
	if s == "" || len(s) > 100 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}
