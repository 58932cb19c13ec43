package config

import (
	"encoding/base64"
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// WebhookEvents are the event types a webhook subscription may ask for
// (docs/api.md "Webhooks"). An empty events list, or "*", is all of them.
var WebhookEvents = []string{
	"call.started", "call.answered", "call.ended",
	"ticket.created", "ticket.updated",
	"interaction.created",
	"callback.requested", "callback.attempted", "callback.completed", "callback.expired", "callback.failed", "callback.cancelled",
	"agent.state",
}

// MinWebhookSecret is the shortest signing secret accepted (bytes): an
// HMAC-SHA256 key shorter than its 32-byte output weakens it.
const MinWebhookSecret = 32

// Webhook is one subscription of the configuration file (webhooks: by
// name). Subscriptions made through the API live in the database.
type Webhook struct {
	URL    string   `yaml:"url"`    // http or https; POSTed a JSON event
	Secret string   `yaml:"secret"` // HMAC-SHA256 key, ≥32 bytes; may be "env:NAME"
	Events []string `yaml:"events"` // types to receive; empty or ["*"]: all
}

// WebhookDelivery tunes delivery for every subscription (webhook_delivery:).
type WebhookDelivery struct {
	// Retry is how long a delivery is retried before it goes to the dead
	// letter; default 24h.
	Retry time.Duration `yaml:"retry"`
	// BackoffMin and BackoffMax space the retries (doubling, with jitter);
	// defaults 5s and 1h.
	BackoffMin time.Duration `yaml:"backoff_min"`
	BackoffMax time.Duration `yaml:"backoff_max"`
	Timeout    time.Duration `yaml:"timeout"` // per attempt; default 10s
	// Keep is how long delivered and dead deliveries stay in the outbox
	// (visible, replayable); default 168h (a week).
	Keep time.Duration `yaml:"keep"`
	// AllowNetworks are CIDRs (or single IPs) a delivery may connect to
	// although they are in a refused range: loopback, private (RFC 1918,
	// ULA), link-local (cloud metadata at 169.254.169.254), unspecified,
	// multicast. Default none: those are refused.
	AllowNetworks []string `yaml:"allow_networks"`
	// SecretKeys encrypt the API subscriptions' signing secrets in the
	// database (AES-256-GCM): the first encrypts, every one decrypts (a
	// rotation lists the new key first, the old after it). Default none:
	// the secrets are stored as given.
	SecretKeys []WebhookKey `yaml:"secret_keys"`
}

// WebhookKey is one key of webhook_delivery.secret_keys.
type WebhookKey struct {
	ID  string `yaml:"id"`  // stored with each secret it encrypts: [a-z0-9_-], up to 32
	Key string `yaml:"key"` // 32 bytes, base64 (openssl rand -base64 32); may be "env:NAME"
}

var webhookKeyID = regexp.MustCompile(`^[a-z0-9_-]{1,32}$`)

// WebhookKeyBytes decodes a resolved key (where names it in errors).
func WebhookKeyBytes(where, key string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(key))
	if err != nil || len(b) != 32 {
		return nil, fmt.Errorf("%s: want 32 bytes in base64 (openssl rand -base64 32)", where)
	}
	return b, nil
}

// AllowPrefixes parses AllowNetworks; errors name the key and index.
func (d WebhookDelivery) AllowPrefixes() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for i, v := range d.AllowNetworks {
		if p, err := netip.ParsePrefix(strings.TrimSpace(v)); err == nil {
			out = append(out, p.Masked())
			continue
		}
		ip, err := netip.ParseAddr(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("webhook_delivery.allow_networks[%d]: %q is not an IP or CIDR", i, v)
		}
		ip = ip.Unmap()
		out = append(out, netip.PrefixFrom(ip, ip.BitLen()))
	}
	return out, nil
}

// WithDefaults fills zero fields.
func (d WebhookDelivery) WithDefaults() WebhookDelivery {
	def := func(v *time.Duration, x time.Duration) {
		if *v <= 0 {
			*v = x
		}
	}
	def(&d.Retry, 24*time.Hour)
	def(&d.BackoffMin, 5*time.Second)
	def(&d.BackoffMax, time.Hour)
	def(&d.Timeout, 10*time.Second)
	def(&d.Keep, 7*24*time.Hour)
	return d
}

var webhookName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// ValidateWebhook checks one subscription's URL and event filter (not
// its secret: see CheckWebhookSecret). where prefixes the key in errors.
func ValidateWebhook(where, rawURL string, events []string) error {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s.url: %q is not an http or https URL", where, rawURL)
	}
	if u.User != nil {
		return fmt.Errorf("%s.url: credentials in the URL would be logged; sign with the secret instead", where)
	}
	for i, e := range events {
		if e != "*" && !slices.Contains(WebhookEvents, e) {
			return fmt.Errorf("%s.events[%d]: %q is not an event type (%s, or *)", where, i, e, strings.Join(WebhookEvents, ", "))
		}
	}
	return nil
}

// CheckWebhookSecret checks a resolved secret's length.
func CheckWebhookSecret(where, secret string) error {
	if len(secret) < MinWebhookSecret {
		return fmt.Errorf("%s.secret: %d bytes, need at least %d", where, len(secret), MinWebhookSecret)
	}
	return nil
}

func (c *Config) validateWebhooks() error {
	for _, name := range sortedKeys(c.Webhooks) {
		w := c.Webhooks[name]
		where := "webhooks." + name
		if !webhookName.MatchString(name) || strings.HasPrefix(name, "wh_") {
			return fmt.Errorf("%s: a name is lower-case letters, digits, - and _ (up to 64), not starting wh_ (the API's ids)", where)
		}
		if err := ValidateWebhook(where, w.URL, w.Events); err != nil {
			return err
		}
		switch {
		case w.Secret == "" || w.Secret == "env:":
			return fmt.Errorf("%s.secret: empty", where)
		case !strings.HasPrefix(w.Secret, "env:"):
			if err := CheckWebhookSecret(where, w.Secret); err != nil {
				return err
			}
		}
	}
	d := c.WebhookDelivery
	if d.Retry < 0 || d.BackoffMin < 0 || d.BackoffMax < 0 || d.Timeout < 0 || d.Keep < 0 {
		return fmt.Errorf("webhook_delivery: durations must be positive")
	}
	if d.BackoffMin > 0 && d.BackoffMax > 0 && d.BackoffMin > d.BackoffMax {
		return fmt.Errorf("webhook_delivery.backoff_min: %v is more than backoff_max %v", d.BackoffMin, d.BackoffMax)
	}
	if _, err := d.AllowPrefixes(); err != nil {
		return err
	}
	seen := map[string]bool{}
	for i, k := range d.SecretKeys {
		where := fmt.Sprintf("webhook_delivery.secret_keys[%d]", i)
		if !webhookKeyID.MatchString(k.ID) || seen[k.ID] {
			return fmt.Errorf("%s.id: %q: want a unique id of lower-case letters, digits, - and _ (up to 32)", where, k.ID)
		}
		seen[k.ID] = true
		switch {
		case k.Key == "" || k.Key == "env:":
			return fmt.Errorf("%s.key: empty", where)
		case !strings.HasPrefix(k.Key, "env:"):
			if _, err := WebhookKeyBytes(where+".key", k.Key); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkWebhookSecrets resolves env: secrets and keys (serve only).
func (c *Config) checkWebhookSecrets() error {
	for i, k := range c.WebhookDelivery.SecretKeys {
		if !strings.HasPrefix(k.Key, "env:") {
			continue
		}
		where := fmt.Sprintf("webhook_delivery.secret_keys[%d].key", i)
		v := Secret(k.Key)
		if v == "" {
			return fmt.Errorf("%s: %s is not set in the environment", where, k.Key)
		}
		if _, err := WebhookKeyBytes(where, v); err != nil {
			return fmt.Errorf("%w (from %s)", err, k.Key)
		}
	}
	for _, name := range sortedKeys(c.Webhooks) {
		w := c.Webhooks[name]
		if !strings.HasPrefix(w.Secret, "env:") {
			continue
		}
		s := Secret(w.Secret)
		if s == "" {
			return fmt.Errorf("webhooks.%s.secret: %s is not set in the environment", name, w.Secret)
		}
		if err := CheckWebhookSecret("webhooks."+name, s); err != nil {
			return fmt.Errorf("%w (from %s)", err, w.Secret)
		}
	}
	return nil
}
