package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCallbackDefaults(t *testing.T) {
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	cb := c.Queues["technical"].Callback
	if !cb.Enabled || cb.Calendar != "office" || cb.Mode != CallbackCustomerFirst || cb.MaxAttempts != 3 ||
		cb.Expiry != 24*time.Hour || cb.ConfirmKey != "1" || cb.RingTimeout != 30*time.Second || cb.PacingRatio != 1 || len(cb.RetrySpacing) != 3 ||
		cb.Prompts.Greeting != "callback-greeting" {
		t.Errorf("demo queue callback = %+v", cb)
	}
	if c.Callbacks != (Callbacks{PerNumber: 3, PerSource: 60, Total: 2000}) {
		t.Errorf("callbacks = %+v", c.Callbacks)
	}
}

func TestCallbackFromFile(t *testing.T) {
	path := writeConfig(t, `
calendars:
  office:
    timezone: Asia/Ho_Chi_Minh
    hours: {mon: ["08:00-17:00"]}
queues:
  billing:
    callback:
      enabled: true
      mode: agent_first
      calendar: office
      max_attempts: 5
      retry_spacing: [1m, 10m]
      expiry: 48h
      confirm_key: "#"
      ring_timeout: 20s
      pacing_ratio: 1.5
      prompts: {greeting: billing-hello}
callbacks:
  per_number: -1
`)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	cb := c.Queues["billing"].Callback
	if cb.Mode != CallbackAgentFirst || cb.MaxAttempts != 5 || cb.RetrySpacing[1] != 10*time.Minute || cb.Expiry != 48*time.Hour ||
		cb.ConfirmKey != "#" || cb.RingTimeout != 20*time.Second || cb.PacingRatio != 1.5 || cb.Prompts.Greeting != "billing-hello" || cb.Prompts.Confirm != "callback-connect-key" {
		t.Errorf("billing callback = %+v", cb)
	}
	if c.Callbacks.PerNumber != -1 || c.Callbacks.PerSource != 60 {
		t.Errorf("callbacks = %+v (negative is off and kept)", c.Callbacks)
	}
}

func TestCallbackErrorsNameTheKey(t *testing.T) {
	for _, tc := range []struct{ block, want string }{
		{`mode: agent`, `queues.billing.callback.mode: "agent" is not customer_first or agent_first`},
		{`calendar: shop`, `queues.billing.callback.calendar: no calendar "shop" in calendars`},
		{`calendar: closed`, `queues.billing.callback.calendar: "closed" is never open`},
		{`max_attempts: 50`, `queues.billing.callback.max_attempts: 50 is not between 1 and 20`},
		{`max_attempts: -1`, `queues.billing.callback.max_attempts: -1`},
		{`retry_spacing: [1m, 0s]`, `queues.billing.callback.retry_spacing[1]: 0s is shorter than 1s`},
		{`expiry: 1000h`, `queues.billing.callback.expiry: 1000h0m0s is not between 1m and 720h0m0s`},
		{`confirm_key: "12"`, `queues.billing.callback.confirm_key: "12" is not one key`},
		{`confirm_key: "a"`, `queues.billing.callback.confirm_key: "a"`},
		{`confirm_timeout: 2h`, `queues.billing.callback.confirm_timeout: 2h0m0s`},
		{`ring_timeout: 500ms`, `queues.billing.callback.ring_timeout: 500ms is not between 1s and 5m`},
		{`ring_timeout: 10m`, `queues.billing.callback.ring_timeout: 10m0s`},
		{`pacing_ratio: -2`, `queues.billing.callback.pacing_ratio: -2 is not above 0`},
		{`pacing_ratio: .nan`, `queues.billing.callback.pacing_ratio: NaN`},
		{`prompts: {whisper: ../../etc/passwd}`, `queues.billing.callback.prompts.whisper: "../../etc/passwd" is not a prompt name`},
		{`enabld: true`, `field enabld not found in type config.QueueCallback`},
	} {
		path := writeConfig(t, `
calendars:
  closed: {timezone: UTC}
queues:
  billing:
    callback:
      `+tc.block+"\n")
		_, err := Load(path)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Load = %v, want an error containing %q", tc.block, err, tc.want)
		}
	}
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hotline.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
