// Package config reads hotline.yaml. Every key is optional: Default() is a
// complete, working configuration (SIP on 127.0.0.1:5060, HTTP on
// 127.0.0.1:8080, SQLite under ./var, the shipped flows and prompts).
// docs/configuration.md documents every key; keep the two in step.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the whole file.
type Config struct {
	SIP       SIP                 `yaml:"sip"`
	Media     Media               `yaml:"media"`
	HTTP      HTTP                `yaml:"http"`
	Flows     Flows               `yaml:"flows"`
	Database  Database            `yaml:"database"`
	Log       Log                 `yaml:"log"`
	Phone     Phone               `yaml:"phone"`
	Lookups   map[string]Lookup   `yaml:"lookups"`   // HTTP lookups a flow may call, by name
	Allow     Allow               `yaml:"allow"`     // destinations Hotline may dial (toll-fraud guard)
	Agents    []Agent             `yaml:"agents"`    // issue: agent queues
	Queues    map[string]Queue    `yaml:"queues"`    // by name
	Calendars map[string]Calendar `yaml:"calendars"` // business hours by name
}

// SIP is the user agent.
type SIP struct {
	UDP        string        `yaml:"udp"` // default 127.0.0.1:5060; "" disables
	TCP        string        `yaml:"tcp"` // default 127.0.0.1:5060; "" disables
	TLS        string        `yaml:"tls"` // listen address; needs cert+key
	TLSCert    string        `yaml:"tls_cert"`
	TLSKey     string        `yaml:"tls_key"`
	PublicAddr string        `yaml:"public_addr"` // IP put in Contact/SDP; default: the UDP listen IP
	Domain     string        `yaml:"domain"`      // realm for digest auth; default "hotline"
	MaxCalls   int           `yaml:"max_calls"`   // concurrent calls; beyond: 503. default 2000
	RingTime   time.Duration `yaml:"ring_time"`   // 180 Ringing shown this long before 200; default 0 (answer at once)
	DrainTime  time.Duration `yaml:"drain_time"`  // on SIGTERM, live calls get this long; default 30s
	RetryAfter time.Duration `yaml:"retry_after"` // Retry-After on 503 while draining; default 60s
	RateLimit  float64       `yaml:"rate_limit"`  // unauthenticated requests/s per source IP; default 50
	RateBurst  int           `yaml:"rate_burst"`  // default 100
	UserAgent  string        `yaml:"user_agent"`  // default "Hotline/<version>"
}

// Media is RTP.
type Media struct {
	PortMin           int           `yaml:"port_min"`           // default 20000 (even)
	PortMax           int           `yaml:"port_max"`           // default 30000
	InactivityTimeout time.Duration `yaml:"inactivity_timeout"` // no RTP received this long: hang up. default 30s
	Prompts           string        `yaml:"prompts"`            // prompt dir: <dir>/<lang>/<name>.wav. default ./prompts
	InbandDTMF        string        `yaml:"inband_dtmf"`        // auto (when no telephone-event), always, never. default auto
}

// HTTP is the API, wallboard and metrics listener.
type HTTP struct {
	Addr      string  `yaml:"addr"`       // default 127.0.0.1:8080
	Tokens    []Token `yaml:"tokens"`     // bearer tokens; none configured: API answers 401 to all
	RateLimit float64 `yaml:"rate_limit"` // requests/s per token; default 100
}

// Token is one API bearer token. Secret may be "env:NAME" to read $NAME.
type Token struct {
	Name   string `yaml:"name"`
	Secret string `yaml:"secret"`
	Scope  string `yaml:"scope"` // read or write (write implies read)
}

// Flows locates the flow files.
type Flows struct {
	Dir     string `yaml:"dir"`     // default ./flows
	Watch   bool   `yaml:"watch"`   // reload on file change; default true
	Default string `yaml:"default"` // flow used for a dialled number no flow claims; default "" (404)
}

// Database selects the ticket-history store.
type Database struct {
	URL      string `yaml:"url"`       // postgres://... or sqlite:path. default sqlite:./var/hotline.db; env HOTLINE_DATABASE_URL
	SpoolDir string `yaml:"spool_dir"` // call-log spool while the DB is down. default ./var/spool
}

// Log is logging.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error. default info
	Format string `yaml:"format"` // text or json. default text
}

// Phone is number handling.
type Phone struct {
	DefaultCountry string `yaml:"default_country"` // ISO 3166 alpha-2 for national numbers; default VN
}

// Lookup is a URL a flow's http node may call.
type Lookup struct {
	URL     string            `yaml:"url"`     // may contain {var} placeholders, URL-escaped on use
	Method  string            `yaml:"method"`  // GET or POST; default GET
	Timeout time.Duration     `yaml:"timeout"` // default 3s
	Headers map[string]string `yaml:"headers"` // values may be "env:NAME"
}

// Allow lists where Hotline may send calls (transfers, callbacks, agent URIs).
type Allow struct {
	Numbers []string `yaml:"numbers"` // patterns: exact, prefix with trailing *, e.g. "+8428*"
	Hosts   []string `yaml:"hosts"`   // SIP hosts (trunks) agents and transfers may be sent to
}

// Agent is one person answering calls.
type Agent struct {
	ID       string         `yaml:"id"`
	Name     string         `yaml:"name"`
	Username string         `yaml:"username"` // SIP digest user
	Password string         `yaml:"password"` // may be "env:NAME"
	URI      string         `yaml:"uri"`      // optional static SIP URI on an allow-listed host
	Skills   map[string]int `yaml:"skills"`   // skill -> level 1..10
	Queues   map[string]int `yaml:"queues"`   // queue -> penalty (lower is offered first)
}

// Queue is one ACD queue.
type Queue struct {
	Strategy         string            `yaml:"strategy"` // longest-idle (default), round-robin, ring-all, fewest-calls, skills
	Skill            string            `yaml:"skill"`
	RingTimeout      time.Duration     `yaml:"ring_timeout"` // default 15s
	MaxMisses        int               `yaml:"max_misses"`   // pause agent with reason no-answer after N; default 3
	WrapUp           time.Duration     `yaml:"wrap_up"`      // default 10s
	MaxWait          time.Duration     `yaml:"max_wait"`     // default 10m
	MaxLength        int               `yaml:"max_length"`   // default 100
	Exit             string            `yaml:"exit"`         // flow node on max wait / full
	JoinEmpty        bool              `yaml:"join_empty"`   // join when no agent logged in; default false
	LeaveWhenEmpty   bool              `yaml:"leave_when_empty"`
	Music            string            `yaml:"music"`          // prompt name looped while waiting
	Announce         string            `yaml:"announce"`       // prompt played every AnnounceEvery
	AnnounceEvery    time.Duration     `yaml:"announce_every"` // default 30s
	AnnouncePosition bool              `yaml:"announce_position"`
	Keys             map[string]string `yaml:"keys"`          // digit -> flow node (e.g. "9": callback)
	ServiceLevel     time.Duration     `yaml:"service_level"` // answered within this counts; default 20s
}

// Calendar is business hours in a time zone with holidays.
type Calendar struct {
	TimeZone string              `yaml:"timezone"` // IANA, e.g. Asia/Ho_Chi_Minh
	Hours    map[string][]string `yaml:"hours"`    // mon..sun -> ["08:00-12:00","13:00-17:30"]
	Holidays []string            `yaml:"holidays"` // YYYY-MM-DD
}

// Default returns the zero-configuration defaults, complete and valid.
func Default() Config {
	c := base()
	c.fill()
	return c
}

// base is the defaults before per-entry defaults (queue timeouts etc.) fill in.
func base() Config {
	return Config{
		SIP: SIP{
			UDP: "127.0.0.1:5060", TCP: "127.0.0.1:5060", Domain: "hotline",
			MaxCalls: 2000, DrainTime: 30 * time.Second, RetryAfter: 60 * time.Second,
			RateLimit: 50, RateBurst: 100,
		},
		Media: Media{PortMin: 20000, PortMax: 30000, InactivityTimeout: 30 * time.Second,
			Prompts: "./prompts", InbandDTMF: "auto"},
		HTTP:     HTTP{Addr: "127.0.0.1:8080", RateLimit: 100},
		Flows:    Flows{Dir: "./flows", Watch: true},
		Database: Database{URL: "sqlite:./var/hotline.db", SpoolDir: "./var/spool"},
		Log:      Log{Level: "info", Format: "text"},
		Phone:    Phone{DefaultCountry: "VN"},
		Lookups: map[string]Lookup{
			// The built-in demo order service (served by `hotline serve` under
			// /demo/) so the shipped flow's self-service works out of the box.
			"order-status": {URL: "http://127.0.0.1:8080/demo/orders/{order}", Method: "GET", Timeout: 3 * time.Second},
		},
		Queues: map[string]Queue{
			"technical": {Music: "hold-music", Announce: "queue-announce", AnnouncePosition: true, Keys: map[string]string{"9": "callback"}},
			"sales":     {Music: "hold-music", Announce: "queue-announce", AnnouncePosition: true, Keys: map[string]string{"9": "callback"}},
			"operator":  {Music: "hold-music", Announce: "queue-announce", AnnouncePosition: true, Keys: map[string]string{"9": "callback"}},
		},
		Calendars: map[string]Calendar{
			"office": {
				TimeZone: "Asia/Ho_Chi_Minh",
				Hours: map[string][]string{
					"mon": {"08:00-17:30"}, "tue": {"08:00-17:30"}, "wed": {"08:00-17:30"},
					"thu": {"08:00-17:30"}, "fri": {"08:00-17:30"}, "sat": {"08:00-12:00"},
				},
				Holidays: []string{"2026-01-01", "2026-04-30", "2026-05-01", "2026-09-02", "2027-01-01"},
			},
		},
	}
}

// Load reads path over the defaults; "" means defaults only. Unknown keys are
// an error naming the line, so a typo is not silently ignored.
func Load(path string) (Config, error) {
	c := Default()
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return c, fmt.Errorf("config: %w", err)
		}
		// The demo queues, lookup and calendar apply only when the file does
		// not define that section: a file's queues replace them, not merge.
		def := c
		c.Lookups, c.Queues, c.Calendars = nil, nil, nil
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
			return c, fmt.Errorf("config %s: %w", path, err)
		}
		if c.Lookups == nil {
			c.Lookups = def.Lookups
		}
		if c.Queues == nil {
			c.Queues = def.Queues
		}
		if c.Calendars == nil {
			c.Calendars = def.Calendars
		}
	}
	if v := os.Getenv("HOTLINE_DATABASE_URL"); v != "" {
		c.Database.URL = v
	}
	c.fill()
	if err := c.Validate(); err != nil {
		if path == "" {
			path = "defaults"
		}
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// fill puts defaults into keys a file left empty inside sections it set.
func (c *Config) fill() {
	d := base()
	if c.SIP.Domain == "" {
		c.SIP.Domain = d.SIP.Domain
	}
	if c.SIP.MaxCalls == 0 {
		c.SIP.MaxCalls = d.SIP.MaxCalls
	}
	if c.SIP.RetryAfter == 0 {
		c.SIP.RetryAfter = d.SIP.RetryAfter
	}
	if c.Media.PortMin == 0 {
		c.Media.PortMin = d.Media.PortMin
	}
	if c.Media.PortMax == 0 {
		c.Media.PortMax = d.Media.PortMax
	}
	if c.Media.InbandDTMF == "" {
		c.Media.InbandDTMF = d.Media.InbandDTMF
	}
	if c.Media.Prompts == "" {
		c.Media.Prompts = d.Media.Prompts
	}
	if c.Flows.Dir == "" {
		c.Flows.Dir = d.Flows.Dir
	}
	if c.Database.URL == "" {
		c.Database.URL = d.Database.URL
	}
	if c.Database.SpoolDir == "" {
		c.Database.SpoolDir = d.Database.SpoolDir
	}
	if c.Log.Level == "" {
		c.Log.Level = d.Log.Level
	}
	if c.Phone.DefaultCountry == "" {
		c.Phone.DefaultCountry = d.Phone.DefaultCountry
	}
	for name, l := range c.Lookups {
		if l.Method == "" {
			l.Method = "GET"
		}
		if l.Timeout == 0 {
			l.Timeout = 3 * time.Second
		}
		c.Lookups[name] = l
	}
	for name, q := range c.Queues {
		c.Queues[name] = q.WithDefaults()
	}
}

// WithDefaults fills a queue's unset (or impossible, below zero) keys with
// their documented defaults: an offer must have a future deadline and misses
// must end in a pause, or a phone that fails at once is re-rung forever.
func (q Queue) WithDefaults() Queue {
	if q.Strategy == "" {
		q.Strategy = "longest-idle"
	}
	if q.RingTimeout <= 0 {
		q.RingTimeout = 15 * time.Second
	}
	if q.MaxMisses <= 0 {
		q.MaxMisses = 3
	}
	if q.MaxWait <= 0 {
		q.MaxWait = 10 * time.Minute
	}
	if q.MaxLength <= 0 {
		q.MaxLength = 100
	}
	if q.AnnounceEvery <= 0 {
		q.AnnounceEvery = 30 * time.Second
	}
	if q.ServiceLevel <= 0 {
		q.ServiceLevel = 20 * time.Second
	}
	return q
}

// Validate reports the first impossible setting, naming its key.
func (c *Config) Validate() error {
	if c.Media.PortMin <= 0 || c.Media.PortMax > 65535 || c.Media.PortMin+2 > c.Media.PortMax {
		return fmt.Errorf("media.port_min/port_max: need 0 < min < max <= 65535 with room for one pair, got %d-%d", c.Media.PortMin, c.Media.PortMax)
	}
	switch c.Media.InbandDTMF {
	case "auto", "always", "never":
	default:
		return fmt.Errorf("media.inband_dtmf: %q is not auto, always or never", c.Media.InbandDTMF)
	}
	if (c.SIP.TLS != "") != (c.SIP.TLSCert != "" && c.SIP.TLSKey != "") {
		return errors.New("sip.tls: needs both sip.tls_cert and sip.tls_key")
	}
	for i, t := range c.HTTP.Tokens {
		if t.Scope != "read" && t.Scope != "write" {
			return fmt.Errorf("http.tokens[%d].scope: %q is not read or write", i, t.Scope)
		}
		if Secret(t.Secret) == "" {
			return fmt.Errorf("http.tokens[%d].secret: empty", i)
		}
	}
	for name, q := range c.Queues {
		switch q.Strategy {
		case "longest-idle", "round-robin", "ring-all", "fewest-calls", "skills":
		default:
			return fmt.Errorf("queues.%s.strategy: %q is not one of longest-idle, round-robin, ring-all, fewest-calls, skills", name, q.Strategy)
		}
	}
	for i, a := range c.Agents {
		if a.ID == "" {
			return fmt.Errorf("agents[%d].id: empty", i)
		}
		for q := range a.Queues {
			if _, ok := c.Queues[q]; !ok {
				return fmt.Errorf("agents[%d].queues: unknown queue %q", i, q)
			}
		}
	}
	for name, cal := range c.Calendars {
		if _, err := time.LoadLocation(cal.TimeZone); err != nil {
			return fmt.Errorf("calendars.%s.timezone: %w", name, err)
		}
	}
	return nil
}

// Secret resolves "env:NAME" to the environment variable NAME, so secrets
// need not live in the file.
func Secret(v string) string {
	if len(v) > 4 && v[:4] == "env:" {
		return os.Getenv(v[4:])
	}
	return v
}
