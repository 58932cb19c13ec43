package config

import (
	"encoding/json"
	"fmt"
	"math"
	"time"

	"go.yaml.in/yaml/v4"
)

// QueueAlerts are a queue's wallboard thresholds (queues.<name>.alerts,
// docs/wallboard.md "Alerts"). Every key is off by default; package queue
// evaluates them and the queue view carries the alerts they raise.
type QueueAlerts struct {
	// LongestWait: the longest current wait; red at it, amber at 75 % of it.
	LongestWait time.Duration `yaml:"longest_wait"`
	// ServiceLevel: the "30m" window's service level (0..1); red below it,
	// amber below it plus a quarter of what is left to 1.
	ServiceLevel float64 `yaml:"service_level"`
	// NoAgentsWhileWaiting: callers wait and no member is logged in (red)
	// or every logged-in member is paused (amber).
	NoAgentsWhileWaiting bool `yaml:"no_agents_while_waiting"`
}

// Any reports whether a threshold is set.
func (a QueueAlerts) Any() bool {
	return a.LongestWait > 0 || a.ServiceLevel > 0 || a.NoAgentsWhileWaiting
}

// MarshalJSON writes LongestWait in seconds, as the API writes durations.
func (a QueueAlerts) MarshalJSON() ([]byte, error) {
	type out struct {
		LongestWait          float64 `json:"longest_wait_s,omitempty"`
		ServiceLevel         float64 `json:"service_level,omitempty"`
		NoAgentsWhileWaiting bool    `json:"no_agents_while_waiting,omitempty"`
	}
	return json.Marshal(out{a.LongestWait.Seconds(), a.ServiceLevel, a.NoAgentsWhileWaiting})
}

// UnmarshalYAML decodes alerts: with unknown keys and impossible values an
// error naming the line, so a typo cannot leave a threshold silently off.
func (a *QueueAlerts) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: alerts: want a mapping with keys longest_wait, service_level, no_agents_while_waiting", n.Line)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch k.Value {
		case "longest_wait":
			if err := v.Decode(&a.LongestWait); err != nil {
				return fmt.Errorf("line %d: alerts.longest_wait: %q is not a duration (60s, 2m)", v.Line, v.Value)
			}
			if a.LongestWait < 0 || a.LongestWait > 24*time.Hour {
				return fmt.Errorf("line %d: alerts.longest_wait: %v is not between 0 (off) and 24h", v.Line, a.LongestWait)
			}
		case "service_level":
			if err := v.Decode(&a.ServiceLevel); err != nil {
				return fmt.Errorf("line %d: alerts.service_level: %q is not a number", v.Line, v.Value)
			}
			if math.IsNaN(a.ServiceLevel) || a.ServiceLevel < 0 || a.ServiceLevel > 1 {
				return fmt.Errorf("line %d: alerts.service_level: %v is not a fraction between 0 (off) and 1 (0.8 is 80 %%)", v.Line, a.ServiceLevel)
			}
		case "no_agents_while_waiting":
			if err := v.Decode(&a.NoAgentsWhileWaiting); err != nil {
				return fmt.Errorf("line %d: alerts.no_agents_while_waiting: %q is not true or false", v.Line, v.Value)
			}
		default:
			return fmt.Errorf("line %d: field %s not found in type config.QueueAlerts", k.Line, k.Value)
		}
	}
	return nil
}
