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
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v4"

	"github.com/hotline-dev/hotline/calendar"
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
	Outbound  Outbound            `yaml:"outbound"`  // blocked ranges, rates and caps on calls to numbers (trunks.go, outbound.go)
	Trunks    []Trunk             `yaml:"trunks"`    // SIP providers numbers are dialled through
	Agents    []Agent             `yaml:"agents"`    // issue: agent queues
	Queues    map[string]Queue    `yaml:"queues"`    // by name
	Calendars map[string]Calendar `yaml:"calendars"` // business hours by name
	Customers Customers           `yaml:"customers"` // bounds on customers unauthenticated callers create
	Callbacks Callbacks           `yaml:"callbacks"` // bounds on callback requests (queues' callback blocks say how to call back)
	// Webhooks are signed event deliveries to helpdesks, by name
	// (webhooks.go; more can be made through the API).
	Webhooks        map[string]Webhook `yaml:"webhooks"`
	WebhookDelivery WebhookDelivery    `yaml:"webhook_delivery"`
	Cluster         Cluster            `yaml:"cluster"`    // several nodes, one ACD (cluster.go, docs/cluster.md)
	TTS             TTS                `yaml:"tts"`        // text-to-speech for {tts: var} (tts.go)
	Recordings      Recordings         `yaml:"recordings"` // voicemail messages and call recordings (recordings.go)

	// Version is the binary's (set by cmd/hotline, never by the file):
	// the User-Agent default and the build-info metric report it.
	Version string `yaml:"-"`
}

// Customers bounds the customers that callers nobody authenticated create in
// the ticket history (a caller ID is whatever the caller says). Over a bound
// the call is still answered and recorded, on the shared "unverified"
// caller. A day is the office calendar's day. Negative: no bound.
type Customers struct {
	NewPerSource int `yaml:"new_per_source"` // new customers per day from one SIP source address; default 500
	NewPerDay    int `yaml:"new_per_day"`    // new customers per day from all sources; default 5000
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

	// Edge limits (docs/security.md). 0 takes the default given (the
	// defaults live in sip.DefaultLimits); a negative value turns it off.
	RateLimitTotal          float64       `yaml:"rate_limit_total"`           // out-of-dialog requests/s, all sources; default 2000
	RateBurstTotal          int           `yaml:"rate_burst_total"`           // default 4000
	MaxUnconfirmed          int           `yaml:"max_unconfirmed"`            // calls between INVITE and ACK, all sources; default 500
	MaxUnconfirmedPerSource int           `yaml:"max_unconfirmed_per_source"` // per source IP; default 20
	AckTimeout              time.Duration `yaml:"ack_timeout"`                // a 200 waits this long for its ACK; default 32s (64*T1)
	AckTimeoutUnderLoad     time.Duration `yaml:"ack_timeout_under_load"`     // while many calls wait for theirs; default 4s
	TCPMaxConns             int           `yaml:"tcp_max_conns"`              // TCP+TLS connections per listener; default 1024
	TCPMaxConnsPerSource    int           `yaml:"tcp_max_conns_per_source"`   // per source IP; default 64
	TCPIdleTimeout          time.Duration `yaml:"tcp_idle_timeout"`           // no message this long: close (unless a call uses it); default 2m
	TCPReadTimeout          time.Duration `yaml:"tcp_read_timeout"`           // one message, first byte to last; default 10s
	Trusted                 []string      `yaml:"trusted"`                    // IPs/CIDRs exempt from per-source limits, and the only sources whose Path (RFC 3327) a REGISTER may carry (a proxy in front)

	// NonceSecret signs digest nonces (≥ 32 bytes, or "env:NAME"): every
	// node with the same secret verifies the others' nonces (several nodes
	// behind one proxy). Empty: a random key per process.
	NonceSecret string `yaml:"nonce_secret"`
	// OutboundProxy is the next hop of out-of-dialog requests (INVITEs to
	// agents without a Path and to trunks): sip:host[:port][;transport=..][;lr].
	// Empty: requests go straight to their Request-URI.
	OutboundProxy string `yaml:"outbound_proxy"`
}

// MinNonceSecret is the shortest sip.nonce_secret accepted: the nonce HMAC
// key must carry at least 256 bits.
const MinNonceSecret = 32

// Media is RTP.
type Media struct {
	PortMin           int           `yaml:"port_min"`           // default 20000 (even)
	PortMax           int           `yaml:"port_max"`           // default 30000
	InactivityTimeout time.Duration `yaml:"inactivity_timeout"` // no RTP received this long: hang up. default 30s
	Prompts           string        `yaml:"prompts"`            // prompt dir: <dir>/<lang>/<name>.wav. default ./prompts
	InbandDTMF        string        `yaml:"inband_dtmf"`        // auto (when no telephone-event), always, never. default auto
	// Shared-port mode (docs/configuration.md "Shared RTP port"): calls
	// from SharedPortNetworks whose SDP address is their SIP source share
	// these local ports, told apart by remote ip:port. Off when empty.
	SharedPorts        []int    `yaml:"shared_ports"`
	SharedPortNetworks []string `yaml:"shared_port_networks"` // CIDRs or IPs
	// SharedPortNoNATNetworks are SDP addresses (within
	// SharedPortNetworks) taken as not NATed although their SIP comes from
	// another IP: an SBC that signals from one address and sends media
	// from the one in its SDP.
	SharedPortNoNATNetworks []string `yaml:"shared_port_no_nat_networks"` // CIDRs or IPs
}

// SharedNetworks parses media.shared_port_networks: CIDRs or single IPs.
func (m Media) SharedNetworks() ([]netip.Prefix, error) {
	return parsePrefixes("media.shared_port_networks", m.SharedPortNetworks)
}

// SharedNoNATNetworks parses media.shared_port_no_nat_networks.
func (m Media) SharedNoNATNetworks() ([]netip.Prefix, error) {
	return parsePrefixes("media.shared_port_no_nat_networks", m.SharedPortNoNATNetworks)
}

func parsePrefixes(key string, vs []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for i, v := range vs {
		if p, err := netip.ParsePrefix(v); err == nil {
			out = append(out, p.Masked())
			continue
		}
		ip, err := netip.ParseAddr(v)
		if err != nil {
			return nil, fmt.Errorf("%s[%d]: %q is not an IP or CIDR", key, i, v)
		}
		out = append(out, netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen()))
	}
	return out, nil
}

// validateShared checks the shared-port keys, naming the one at fault.
func (m Media) validateShared() error {
	nets, err := m.SharedNetworks()
	if err != nil {
		return err
	}
	switch {
	case len(m.SharedPorts) == 0 && len(nets) > 0:
		return errors.New("media.shared_port_networks: set, but media.shared_ports is empty (the mode is off)")
	case len(m.SharedPorts) > 0 && len(nets) == 0:
		return errors.New("media.shared_ports: needs media.shared_port_networks, the trunks' networks that may share")
	}
	noNAT, err := m.SharedNoNATNetworks()
	if err != nil {
		return err
	}
	// A no-NAT network only relaxes the NAT check of calls that may share:
	// outside shared_port_networks it would do nothing, which is a mistake.
	if len(noNAT) > 0 && len(m.SharedPorts) == 0 {
		return errors.New("media.shared_port_no_nat_networks: set, but media.shared_ports is empty (the mode is off)")
	}
	for i, p := range noNAT {
		if !slices.ContainsFunc(nets, func(n netip.Prefix) bool { return n.Bits() <= p.Bits() && n.Contains(p.Addr()) }) {
			return fmt.Errorf("media.shared_port_no_nat_networks[%d]: %s is not inside media.shared_port_networks (%s)", i, m.SharedPortNoNATNetworks[i], strings.Join(m.SharedPortNetworks, ", "))
		}
	}
	seen := map[int]bool{}
	for i, p := range m.SharedPorts {
		switch {
		case p < 1 || p > 65535:
			return fmt.Errorf("media.shared_ports[%d]: %d is not a UDP port", i, p)
		case p >= m.PortMin && p <= m.PortMax:
			return fmt.Errorf("media.shared_ports[%d]: %d is inside media.port_min-port_max (%d-%d)", i, p, m.PortMin, m.PortMax)
		case seen[p]:
			return fmt.Errorf("media.shared_ports[%d]: %d is listed twice", i, p)
		}
		seen[p] = true
	}
	return nil
}

// HTTP is the API, wallboard and metrics listener.
type HTTP struct {
	Addr      string  `yaml:"addr"`       // default 127.0.0.1:8080
	Tokens    []Token `yaml:"tokens"`     // bearer tokens; none configured: API answers 401 to all
	RateLimit float64 `yaml:"rate_limit"` // requests/s per token; default 100

	// Connection limits (docs/security.md); 0 takes the default, negative is off.
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`  // default 10s
	ReadTimeout       time.Duration `yaml:"read_timeout"`         // a request body must arrive within this; default 30s
	IdleTimeout       time.Duration `yaml:"idle_timeout"`         // keep-alive connection with no request; default 60s
	MaxHeaderBytes    int           `yaml:"max_header_bytes"`     // default 65536
	MaxConns          int           `yaml:"max_conns"`            // default 1024
	MaxConnsPerSource int           `yaml:"max_conns_per_source"` // default 64

	// AuthFailures is how many unknown tokens one client address may present
	// per minute before it gets 429 with Retry-After; default 10, negative
	// disables the throttle.
	AuthFailures int `yaml:"auth_failures"`

	// Browser sessions (POST /api/v1/session; docs/security.md).
	SessionIdle  time.Duration `yaml:"session_idle"`  // a session unused this long ends; default 12h
	MaxSessions  int           `yaml:"max_sessions"`  // live sessions in all; default 1000
	SecureCookie bool          `yaml:"secure_cookie"` // mark the cookie Secure also without TLS here (a TLS proxy in front)
	// TokenFile holds the admin token Hotline creates on a first run
	// without tokens; default: admin-token next to database.spool_dir.
	TokenFile string `yaml:"token_file"`
}

// AdminTokenFile is where the first-run admin token lives: http.token_file,
// or admin-token in the directory that holds database.spool_dir (./var
// by default, beside the SQLite database), the server's data directory.
func (c *Config) AdminTokenFile() string {
	if c.HTTP.TokenFile != "" {
		return c.HTTP.TokenFile
	}
	spool := c.Database.SpoolDir
	if spool == "" {
		spool = base().Database.SpoolDir
	}
	return filepath.Join(filepath.Dir(filepath.Clean(spool)), "admin-token")
}

// Token is one API bearer token. Secret may be "env:NAME" to read $NAME.
type Token struct {
	Name   string `yaml:"name"`
	Secret string `yaml:"secret"`
	Scope  string `yaml:"scope"` // read or write (write implies read); agent with Agent
	// Agent binds the token to one agent (an id of agents:): it acts only
	// as that agent, as the agent's desk session does (its own state, the
	// wrap-up of its calls, what an agent may read), and signs in to the
	// agent desk. Its scope is agent (or left out).
	Agent string `yaml:"agent"`
}

// ScopeAgent is the scope of a token bound to an agent (Token.Agent).
const ScopeAgent = "agent"

// TokenScope is t's scope with the default filled in: agent for a token
// bound to an agent whose scope is left out.
func (t Token) TokenScope() string {
	if t.Scope == "" && t.Agent != "" {
		return ScopeAgent
	}
	return t.Scope
}

// Flows locates the flow files.
type Flows struct {
	Dir     string `yaml:"dir"`     // default ./etc/flows
	Watch   bool   `yaml:"watch"`   // reload on file change; default true
	Default string `yaml:"default"` // flow used for a dialled number no flow claims; default "" (404)
}

// Database selects the ticket-history store.
type Database struct {
	URL      string `yaml:"url"`       // postgres://... or sqlite:path. default sqlite:./var/hotline.db; env HOTLINE_DATABASE_URL
	SpoolDir string `yaml:"spool_dir"` // call-log spool while the DB is down. default ./var/spool
	// Timeout bounds every wait on the database: an API request's queries
	// (then 503), /readyz's check, connecting. default 3s
	Timeout time.Duration `yaml:"timeout"`
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
	URL     string            `yaml:"url"`     // may contain {var} placeholders, URL-escaped on use; "/path" is on Hotline's own HTTP listener
	Method  string            `yaml:"method"`  // GET or POST; default GET
	Timeout time.Duration     `yaml:"timeout"` // default 3s
	Headers map[string]string `yaml:"headers"` // values may be "env:NAME"
}

// Allow lists where Hotline may send calls (transfers, callbacks, agent URIs,
// registered contacts). The outbound package compiles and enforces it; an
// invalid entry is reported there with the file and line Load recorded.
type Allow struct {
	Numbers    []string `yaml:"numbers"`    // E.164 numbers ("+842838001234", national forms accepted) or E.164 prefixes ("+8428*")
	Extensions []string `yaml:"extensions"` // Hotline's internal extensions: exact ("2001") or ranges of equal length ("100-199")
	Hosts      []string `yaml:"hosts"`      // SIP hosts (trunks, PBXs), optionally with a port, agents and transfers may be sent to

	file  string           // the file the entries came from ("" when built in code)
	lines map[string][]int // key → line of each entry in file
}

// allowKeys are Allow's YAML keys, in the order of the struct.
var allowKeys = []string{"numbers", "extensions", "hosts"}

// UnmarshalYAML decodes allow: like the other sections (unknown keys are an
// error naming the line) and remembers the line of every entry, so a bad
// pattern is reported where the admin wrote it.
func (a *Allow) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: allow: want a mapping with keys %v", n.Line, allowKeys)
	}
	lines := map[string][]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		var dst *[]string
		switch k.Value {
		case "numbers":
			dst = &a.Numbers
		case "extensions":
			dst = &a.Extensions
		case "hosts":
			dst = &a.Hosts
		default:
			return fmt.Errorf("line %d: field %s not found in type config.Allow", k.Line, k.Value)
		}
		if err := v.Decode(dst); err != nil {
			return err
		}
		lines[k.Value] = nil
		if v.Kind == yaml.SequenceNode {
			for _, e := range v.Content {
				lines[k.Value] = append(lines[k.Value], e.Line)
			}
		}
	}
	a.lines = lines
	return nil
}

// Where names entry i of key (numbers, extensions, hosts) for an error
// message: "allow.numbers[2] (hotline.yaml:104)", or "allow.numbers[2]" when
// the entry did not come from a file.
func (a Allow) Where(key string, i int) string {
	w := fmt.Sprintf("allow.%s[%d]", key, i)
	ls := a.lines[key]
	switch {
	case i < 0 || i >= len(ls) || ls[i] <= 0:
		return w
	case a.file == "":
		return fmt.Sprintf("%s (line %d)", w, ls[i])
	}
	return fmt.Sprintf("%s (%s:%d)", w, a.file, ls[i])
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
	Strategy         Strategy          `yaml:"strategy"` // longest-idle (default), round-robin, ring-all, fewest-calls, skills
	Skill            string            `yaml:"skill"`
	RingTimeout      time.Duration     `yaml:"ring_timeout"` // default 15s
	MaxMisses        int               `yaml:"max_misses"`   // pause agent with reason no-answer after N; default 3
	WrapUp           time.Duration     `yaml:"wrap_up"`      // after each call; default 0 (ready at once)
	MaxWait          time.Duration     `yaml:"max_wait"`     // default 10m
	MaxLength        int               `yaml:"max_length"`   // default 100
	Exit             string            `yaml:"exit"`         // flow node on max wait / full
	JoinEmpty        bool              `yaml:"join_empty"`   // join when no agent logged in; default false
	LeaveWhenEmpty   bool              `yaml:"leave_when_empty"`
	Music            string            `yaml:"music"`          // prompt name looped while waiting
	Announce         string            `yaml:"announce"`       // prompt played every AnnounceEvery
	AnnounceEvery    time.Duration     `yaml:"announce_every"` // default 30s
	AnnouncePosition bool              `yaml:"announce_position"`
	AnnounceWait     bool              `yaml:"announce_wait"` // say the estimated wait ("about six minutes") when known
	Keys             map[string]string `yaml:"keys"`          // digit -> flow node (e.g. "9": callback)
	ServiceLevel     time.Duration     `yaml:"service_level"` // answered within this counts; default 20s
	Callback         QueueCallback     `yaml:"callback"`      // callbacks from this queue (docs/callbacks.md)
	Alerts           QueueAlerts       `yaml:"alerts"`        // wallboard thresholds (docs/wallboard.md); off by default
	Recording        QueueRecording    `yaml:"recording"`     // call recording (queuerecording.go); off by default
}

// Calendar is business hours in a time zone with holidays; package
// calendar parses and validates it (one meaning for every reader).
type Calendar = calendar.Spec

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
		HTTP: HTTP{Addr: "127.0.0.1:8080", RateLimit: 100, AuthFailures: 10, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
			IdleTimeout: 60 * time.Second, MaxHeaderBytes: 64 << 10, MaxConns: 1024, MaxConnsPerSource: 64},
		Flows:     Flows{Dir: "./etc/flows", Watch: true},
		Database:  Database{URL: "sqlite:./var/hotline.db", SpoolDir: "./var/spool", Timeout: 3 * time.Second},
		Log:       Log{Level: "info", Format: "text"},
		Phone:     Phone{DefaultCountry: "VN"},
		Customers: Customers{NewPerSource: 500, NewPerDay: 5000},
		Lookups: map[string]Lookup{
			// The built-in demo order service (served by `hotline serve` under
			// /demo/) so the shipped flow's self-service works out of the box.
			// A path, not a URL: it follows http.addr wherever that moves.
			"order-status": {URL: DemoOrdersURL, Method: "GET", Timeout: 3 * time.Second},
		},
		Queues: map[string]Queue{
			"technical": {Music: "hold-music", Announce: "queue-announce", AnnouncePosition: true, AnnounceWait: true, Keys: map[string]string{"9": "callback"}, Callback: demoCallback},
			"sales":     {Music: "hold-music", Announce: "queue-announce", AnnouncePosition: true, AnnounceWait: true, Keys: map[string]string{"9": "callback"}, Callback: demoCallback},
			"operator":  {Music: "hold-music", Announce: "queue-announce", AnnouncePosition: true, AnnounceWait: true, Keys: map[string]string{"9": "callback"}, Callback: demoCallback},
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

// demoCallback is the demo queues' callback service: on, in office hours.
var demoCallback = QueueCallback{Enabled: true, Calendar: "office"}

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
			return c, yamlError(path, err)
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
		c.Allow.file, c.Outbound.file = path, path
		for i := range c.Trunks {
			c.Trunks[i].file = path
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

// yamlError names the file, line and column of each YAML problem
// ("config hotline.yaml:3:3: field max_cals not found in type config.SIP").
func yamlError(path string, err error) error {
	var list []*yaml.LoadError
	var les *yaml.LoadErrors
	var le *yaml.LoadError
	switch {
	case errors.As(err, &les):
		list = les.Errors
	case errors.As(err, &le):
		list = []*yaml.LoadError{le}
	default:
		return fmt.Errorf("config %s: %w", path, err)
	}
	msgs := make([]string, 0, len(list))
	for _, e := range list {
		pos := path
		if e.Mark.Line > 0 {
			pos = fmt.Sprintf("%s:%d:%d", path, e.Mark.Line, e.Mark.Column)
		}
		msg := pos + ": " + e.Message
		if e.ContextMsg != "" && e.ContextMark.Line > 0 && e.ContextMark.Line != e.Mark.Line {
			msg += fmt.Sprintf(" (%s at line %d)", e.ContextMsg, e.ContextMark.Line)
		}
		msgs = append(msgs, msg)
	}
	return errors.New("config " + strings.Join(msgs, "; "))
}

// fill puts defaults into keys a file left empty inside sections it set.
func (c *Config) fill() {
	d := base()
	c.Cluster.fill()
	if c.SIP.Domain == "" {
		c.SIP.Domain = d.SIP.Domain
	}
	if c.SIP.MaxCalls == 0 {
		c.SIP.MaxCalls = d.SIP.MaxCalls
	}
	if c.SIP.RetryAfter == 0 {
		c.SIP.RetryAfter = d.SIP.RetryAfter
	}
	fillDur(&c.HTTP.ReadHeaderTimeout, d.HTTP.ReadHeaderTimeout)
	fillDur(&c.HTTP.ReadTimeout, d.HTTP.ReadTimeout)
	fillDur(&c.HTTP.IdleTimeout, d.HTTP.IdleTimeout)
	fillInt(&c.HTTP.MaxHeaderBytes, d.HTTP.MaxHeaderBytes)
	fillInt(&c.HTTP.MaxConns, d.HTTP.MaxConns)
	fillInt(&c.HTTP.MaxConnsPerSource, d.HTTP.MaxConnsPerSource)
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
	if c.Database.Timeout == 0 {
		c.Database.Timeout = d.Database.Timeout
	}
	if c.Log.Level == "" {
		c.Log.Level = d.Log.Level
	}
	if c.Phone.DefaultCountry == "" {
		c.Phone.DefaultCountry = d.Phone.DefaultCountry
	}
	if c.Customers.NewPerSource == 0 {
		c.Customers.NewPerSource = d.Customers.NewPerSource
	}
	if c.Customers.NewPerDay == 0 {
		c.Customers.NewPerDay = d.Customers.NewPerDay
	}
	for name, l := range c.Lookups {
		l.Method = strings.ToUpper(l.Method)
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
	c.Outbound = c.Outbound.WithDefaults()
	for i, t := range c.Trunks {
		c.Trunks[i] = t.WithDefaults()
	}
	c.Callbacks = c.Callbacks.withDefaults()
}

// fillDur and fillInt: 0 takes the default, negative means off (kept negative;
// the user of the key treats it as off).
func fillDur(v *time.Duration, d time.Duration) {
	if *v == 0 {
		*v = d
	}
}

func fillInt(v *int, d int) {
	if *v == 0 {
		*v = d
	}
}

// TrustedPrefixes parses sip.trusted: CIDRs or single IPs.
func (s SIP) TrustedPrefixes() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for i, v := range s.Trusted {
		if p, err := netip.ParsePrefix(v); err == nil {
			out = append(out, p.Masked())
			continue
		}
		ip, err := netip.ParseAddr(v)
		if err != nil {
			return nil, fmt.Errorf("sip.trusted[%d]: %q is not an IP or CIDR", i, v)
		}
		out = append(out, netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen()))
	}
	return out, nil
}

// WithDefaults fills a queue's unset (or impossible, below zero) keys with
// their documented defaults: an offer must have a future deadline and misses
// must end in a pause, or a phone that fails at once is re-rung forever.
func (q Queue) WithDefaults() Queue {
	if q.Strategy == "" {
		q.Strategy = StrategyLongestIdle
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
	q.Callback = q.Callback.WithDefaults()
	q.Recording = q.Recording.WithDefaults()
	return q
}

// Validate reports the first impossible setting, naming its key. It needs
// no secret from the environment (see CheckSecrets), so `hotline migrate`
// and `hotline flows check` run where the server's secrets are not exported.
func (c *Config) Validate() error {
	if c.Media.PortMin <= 0 || c.Media.PortMax > 65535 || c.Media.PortMin+2 > c.Media.PortMax {
		return fmt.Errorf("media.port_min/port_max: need 0 < min < max <= 65535 with room for one pair, got %d-%d", c.Media.PortMin, c.Media.PortMax)
	}
	switch c.Media.InbandDTMF {
	case "auto", "always", "never":
	default:
		return fmt.Errorf("media.inband_dtmf: %q is not auto, always or never", c.Media.InbandDTMF)
	}
	if err := c.Media.validateShared(); err != nil {
		return err
	}
	if _, err := c.SIP.TrustedPrefixes(); err != nil {
		return err
	}
	c.TTS = c.TTS.withDefaults()
	c.Recordings = c.Recordings.withDefaults(c.Cluster.Enabled)
	if err := c.TTS.validate(); err != nil {
		return err
	}
	if err := c.Recordings.validate(); err != nil {
		return err
	}
	if err := c.validateCluster(); err != nil {
		return err
	}
	if v := c.SIP.NonceSecret; v != "" && !strings.HasPrefix(v, "env:") && len(v) < MinNonceSecret {
		return fmt.Errorf("sip.nonce_secret: %d bytes, need at least %d (or env:NAME)", len(v), MinNonceSecret)
	}
	if c.SIP.NonceSecret == "env:" {
		return errors.New("sip.nonce_secret: env: names no variable")
	}
	if c.SIP.OutboundProxy != "" {
		p, err := ParseProxyURI(c.SIP.OutboundProxy)
		if err != nil {
			return fmt.Errorf("sip.outbound_proxy: %w", err)
		}
		if p.Scheme != "sip" || p.Transport != "" && p.Transport != "udp" {
			return fmt.Errorf("sip.outbound_proxy: %q: only sip: over UDP is supported for now", c.SIP.OutboundProxy)
		}
	}
	if c.Database.Timeout < 0 {
		return fmt.Errorf("database.timeout: must be positive, got %v", c.Database.Timeout)
	}
	if (c.SIP.TLS != "") != (c.SIP.TLSCert != "" && c.SIP.TLSKey != "") {
		return errors.New("sip.tls: needs both sip.tls_cert and sip.tls_key")
	}
	if c.HTTP.SessionIdle < 0 {
		return fmt.Errorf("http.session_idle: must be positive, got %v", c.HTTP.SessionIdle)
	}
	if c.HTTP.MaxSessions < 0 {
		return fmt.Errorf("http.max_sessions: must be positive, got %d", c.HTTP.MaxSessions)
	}
	if err := c.validateWebhooks(); err != nil {
		return err
	}
	for i, t := range c.HTTP.Tokens {
		if err := c.validateToken(t); err != nil {
			return fmt.Errorf("http.tokens[%d].%w", i, err)
		}
		if t.Secret == "" || t.Secret == "env:" {
			return fmt.Errorf("http.tokens[%d].secret: empty", i)
		}
	}
	for _, name := range sortedKeys(c.Lookups) {
		if err := c.Lookups[name].validate(); err != nil {
			return fmt.Errorf("lookups.%s.%w", name, err)
		}
	}
	for _, name := range sortedKeys(c.Calendars) {
		if _, err := calendar.Parse(c.Calendars[name]); err != nil {
			return fmt.Errorf("calendars.%s.%w", name, err)
		}
	}
	for _, name := range sortedKeys(c.Queues) {
		if q := c.Queues[name]; !validStrategy(q.Strategy) {
			return fmt.Errorf("queues.%s.strategy: %q is not one of %s", name, q.Strategy, strategyNames())
		}
		if err := c.Queues[name].Callback.validate(c.Calendars); err != nil {
			return fmt.Errorf("queues.%s.callback.%w", name, err)
		}
	}
	for i, a := range c.Agents {
		if a.ID == "" {
			return fmt.Errorf("agents[%d].id: empty", i)
		}
		if err := a.checkPassword(); err != nil {
			return fmt.Errorf("agents[%d].password: %w", i, err)
		}
		for q := range a.Queues {
			if _, ok := c.Queues[q]; !ok {
				return fmt.Errorf("agents[%d].queues: unknown queue %q", i, q)
			}
		}
	}
	for _, name := range sortedKeys(c.Calendars) {
		if _, err := calendar.Parse(c.Calendars[name]); err != nil {
			return fmt.Errorf("calendars.%s.%w", name, err)
		}
	}
	if err := c.Outbound.validate(); err != nil {
		return err
	}
	return validateTrunks(c.Trunks)
}

// DemoOrdersURL is the lookup URL of the built-in demo order service, a
// path on Hotline's own HTTP listener.
const DemoOrdersURL = "/demo/orders/{order}"

// validate checks what the IVR's http node can send: an absolute http(s)
// URL (or a path on Hotline's own listener) and a method it knows how to
// build a request for.
func (l Lookup) validate() error {
	switch strings.ToUpper(l.Method) {
	case "", "GET", "POST":
	default:
		return fmt.Errorf("method: %q is not GET or POST", l.Method)
	}
	u, err := url.Parse(l.URL)
	own := err == nil && u.Scheme == "" && u.Host == "" && strings.HasPrefix(l.URL, "/") && !strings.HasPrefix(l.URL, "//")
	if !own && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "") {
		return fmt.Errorf("url: %q is not an http:// or https:// URL, nor a /path on Hotline's own HTTP listener", l.URL)
	}
	if l.Timeout < 0 {
		return fmt.Errorf("timeout: %v is negative", l.Timeout)
	}
	return nil
}

// checkPassword refuses an agent whose phone could register with an empty
// password: a username without a password, or "env:" naming no variable.
// Whether $NAME is set is CheckSecrets' business (only serve needs it).
func (a Agent) checkPassword() error {
	if a.Username == "" {
		return nil // no SIP account: the password is never used
	}
	if name, ok := strings.CutPrefix(a.Password, "env:"); ok {
		if name == "" {
			return fmt.Errorf("agent %s (username %q): \"env:\" names no environment variable", a.ID, a.Username)
		}
		return nil
	}
	if a.Password == "" {
		return fmt.Errorf("agent %s (username %q): empty; an agent with a username needs a password", a.ID, a.Username)
	}
	return nil
}

// SelfURL is the base URL at which Hotline reaches its own HTTP listener
// bound at addr (http.addr, or the address a port 0 bound to): an
// unspecified host (0.0.0.0, ::, "") is reached on loopback.
func SelfURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		host, port = addr, "80"
	}
	switch ip := net.ParseIP(host); {
	case host == "":
		host = "127.0.0.1"
	case ip != nil && ip.IsUnspecified() && ip.To4() != nil:
		host = "127.0.0.1"
	case ip != nil && ip.IsUnspecified():
		host = "::1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// ResolveLookups returns the lookups with every "/path" URL put on self
// (SelfURL of the HTTP listener); absolute URLs are kept as written.
func ResolveLookups(lookups map[string]Lookup, self string) map[string]Lookup {
	out := make(map[string]Lookup, len(lookups))
	for name, l := range lookups {
		if strings.HasPrefix(l.URL, "/") && !strings.HasPrefix(l.URL, "//") {
			l.URL = strings.TrimSuffix(self, "/") + l.URL
		}
		out[name] = l
	}
	return out
}

// validateToken checks a token's scope and, for one bound to an agent,
// that the agent exists and the scope is agent's: a read or write token
// naming an agent would be either a write token in disguise or a read
// token that cannot act as its agent, so neither is accepted.
func (c *Config) validateToken(t Token) error {
	scope := t.TokenScope()
	if t.Agent == "" {
		if scope == ScopeAgent {
			return errors.New("agent: required with scope agent (the agents: id the token acts as)")
		}
		if scope != "read" && scope != "write" {
			return fmt.Errorf("scope: %q is not read, write or agent", t.Scope)
		}
		return nil
	}
	found := false
	for _, a := range c.Agents {
		found = found || a.ID == t.Agent
	}
	if !found {
		return fmt.Errorf("agent: %q is not an agent of agents:", t.Agent)
	}
	if scope != ScopeAgent {
		return fmt.Errorf("agent: a token bound to agent %q has scope agent (or none), not %q", t.Agent, t.Scope)
	}
	return nil
}

// CheckSecrets reports the first "env:NAME" secret the server needs whose
// variable is unset or empty: an API token that resolved empty would leave
// the API without it, an agent password that resolved empty would let
// anyone register as that agent, a trunk password that resolved empty would
// fail every call out. Only `hotline serve` needs them.
func (c *Config) CheckSecrets() error {
	if v := c.SIP.NonceSecret; strings.HasPrefix(v, "env:") {
		switch n := len(Secret(v)); {
		case n == 0:
			return fmt.Errorf("sip.nonce_secret: %s is not set in the environment", v)
		case n < MinNonceSecret:
			return fmt.Errorf("sip.nonce_secret: %s holds %d bytes, need at least %d", v, n, MinNonceSecret)
		}
	}
	for i, t := range c.HTTP.Tokens {
		if Secret(t.Secret) == "" {
			return fmt.Errorf("http.tokens[%d].secret: %s is not set in the environment", i, t.Secret)
		}
	}
	for i, a := range c.Agents {
		if a.Username != "" && strings.HasPrefix(a.Password, "env:") && Secret(a.Password) == "" {
			return fmt.Errorf("agents[%d].password: %s is not set in the environment (agent %s, username %q: an empty password must not register)",
				i, a.Password, a.ID, a.Username)
		}
	}
	if err := c.checkWebhookSecrets(); err != nil {
		return err
	}
	for i, t := range c.Trunks {
		if t.Username != "" && Secret(t.Password) == "" {
			return fmt.Errorf("%s: %s is not set in the environment (trunk %s: the provider would refuse every call)", t.Where(i, "password"), t.Password, t.Name)
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Secret resolves "env:NAME" to the environment variable NAME, so secrets
// need not live in the file.
func Secret(v string) string {
	if len(v) > 4 && v[:4] == "env:" {
		return os.Getenv(v[4:])
	}
	return v
}
