package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v4"
)

// Trunk is one SIP provider Hotline dials telephone numbers through
// (callbacks, transfers to numbers, external agents). The outbound package
// compiles it into the outbound policy; docs/callbacks.md "Trunks" has
// examples for providers with IP and with digest authentication.
type Trunk struct {
	Name          string `yaml:"name"`            // unique; shown in logs, events and the ticket history
	Host          string `yaml:"host"`            // the provider's host[:port]: the Request-URI's host
	Transport     string `yaml:"transport"`       // udp (default), tcp or tls
	OutboundProxy string `yaml:"outbound_proxy"`  // host[:port] every INVITE is sent to first (RFC 3261 §8.1.2); default none
	Username      string `yaml:"username"`        // digest user for 401/407 challenges; empty: the provider authenticates Hotline's IP
	Password      string `yaml:"password"`        // digest password; may be "env:NAME"
	FromUser      string `yaml:"from_user"`       // From user part; default the caller ID presented
	FromDomain    string `yaml:"from_domain"`     // From (and P-Asserted-Identity) host; default host without the port
	CallerID      string `yaml:"caller_id"`       // the number presented (E.164 or national form)
	CallerName    string `yaml:"caller_name"`     // From display name; default the dialler's (e.g. "Queue technical")
	AssertID      bool   `yaml:"assert_identity"` // send P-Asserted-Identity with the caller ID (RFC 3325 §9.1)
	PassCallerID  bool   `yaml:"pass_caller_id"`  // present the original caller's number (transfers, external agents) where the provider allows it
	NumberFormat  string `yaml:"number_format"`   // e164 (default, "+84912345678"), international ("84912345678") or national ("0912345678")
	Prefix        string `yaml:"prefix"`          // dialled before every number (a provider's technical prefix); [0-9*#]
	MaxCalls      int    `yaml:"max_calls"`       // concurrent calls on this trunk; default 10, negative: no limit
	// Numbers are the E.164 numbers ("+842838001234") or prefixes ("+84*")
	// this trunk serves; the longest matching prefix wins.
	Numbers []string `yaml:"numbers"`
	Default bool     `yaml:"default"` // serves numbers no trunk lists

	file  string         // the file the trunk came from ("" when built in code)
	line  int            // line of the entry
	lines map[string]int // key (or "numbers[i]") → line
}

// trunkKeys are Trunk's YAML keys.
var trunkKeys = []string{"name", "host", "transport", "outbound_proxy", "username", "password", "from_user", "from_domain",
	"caller_id", "caller_name", "assert_identity", "pass_caller_id", "number_format", "prefix", "max_calls", "numbers", "default"}

// UnmarshalYAML decodes one trunks: entry, refusing unknown keys (naming
// the line, like the other sections) and remembering the line of every
// key, so an invalid value is reported where the admin wrote it.
func (t *Trunk) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: trunks: each trunk is a mapping with keys %v", n.Line, trunkKeys)
	}
	lines := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !contains(trunkKeys, k.Value) {
			return fmt.Errorf("line %d: field %s not found in type config.Trunk", k.Line, k.Value)
		}
		lines[k.Value] = k.Line
		if k.Value == "numbers" && v.Kind == yaml.SequenceNode {
			for j, e := range v.Content {
				lines["numbers["+strconv.Itoa(j)+"]"] = e.Line
			}
		}
	}
	type plain Trunk // no UnmarshalYAML: decode the fields as usual
	var p plain
	if err := n.Decode(&p); err != nil {
		return err
	}
	*t = Trunk(p)
	t.line, t.lines = n.Line, lines
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Where names key of trunk i for an error message:
// "trunks[0].caller_id (hotline.yaml:42)"; key "" names the entry.
func (t Trunk) Where(i int, key string) string {
	w := fmt.Sprintf("trunks[%d]", i)
	if key != "" {
		w += "." + key
	}
	line := t.line
	if l, ok := t.lines[key]; ok {
		line = l
	} else if base, _, ok := strings.Cut(key, "["); ok && t.lines[base] > 0 {
		line = t.lines[base]
	}
	switch {
	case line <= 0:
		return w
	case t.file == "":
		return fmt.Sprintf("%s (line %d)", w, line)
	}
	return fmt.Sprintf("%s (%s:%d)", w, t.file, line)
}

// Number formats a trunk may send numbers in.
const (
	FormatE164          = "e164"
	FormatInternational = "international"
	FormatNational      = "national"
)

// WithDefaults fills a trunk's unset keys: transport udp, E.164 numbers,
// 10 concurrent calls.
func (t Trunk) WithDefaults() Trunk {
	t.Transport = strings.ToLower(t.Transport)
	if t.Transport == "" {
		t.Transport = "udp"
	}
	t.NumberFormat = strings.ToLower(t.NumberFormat)
	if t.NumberFormat == "" {
		t.NumberFormat = FormatE164
	}
	if t.MaxCalls == 0 {
		t.MaxCalls = 10
	}
	return t
}

// validateTrunks checks what needs no phone-number rules (those are the
// outbound package's, which names the same keys and lines).
func validateTrunks(trunks []Trunk) error {
	seen := map[string]int{}
	for i, t := range trunks {
		t = t.WithDefaults() // a configuration built in code leaves keys unset too
		where := func(key string) string { return t.Where(i, key) }
		if !validName(t.Name) {
			return fmt.Errorf("%s: %q: a trunk needs a name of letters, digits, '-' and '_'", where("name"), t.Name)
		}
		if j, dup := seen[t.Name]; dup {
			return fmt.Errorf("%s: %q is also the name of trunks[%d]", where("name"), t.Name, j)
		}
		seen[t.Name] = i
		if err := CheckHostPort(t.Host); err != nil {
			return fmt.Errorf("%s: %w", where("host"), err)
		}
		switch t.Transport {
		case "udp", "tcp", "tls":
		default:
			return fmt.Errorf("%s: %q is not udp, tcp or tls", where("transport"), t.Transport)
		}
		if t.OutboundProxy != "" {
			if err := CheckHostPort(t.OutboundProxy); err != nil {
				return fmt.Errorf("%s: %w", where("outbound_proxy"), err)
			}
		}
		if t.Username != "" {
			if name, ok := strings.CutPrefix(t.Password, "env:"); ok && name == "" {
				return fmt.Errorf("%s: \"env:\" names no environment variable", where("password"))
			}
			if t.Password == "" {
				return fmt.Errorf("%s: empty; a trunk with a username needs the provider's password", where("password"))
			}
		} else if t.Password != "" {
			return fmt.Errorf("%s: set without a username", where("password"))
		}
		if !validToken(t.Username) {
			return fmt.Errorf("%s: %q: letters, digits and -_.!~*'()&=+$,;? only", where("username"), t.Username)
		}
		if !validToken(t.FromUser) {
			return fmt.Errorf("%s: %q: letters, digits and -_.!~*'()&=+$,;? only", where("from_user"), t.FromUser)
		}
		if t.FromDomain != "" {
			if _, _, err := net.SplitHostPort(t.FromDomain); err == nil || CheckHostPort(t.FromDomain) != nil {
				return fmt.Errorf("%s: %q is not a host name or address (no port)", where("from_domain"), t.FromDomain)
			}
		}
		if t.CallerID == "" && t.FromUser == "" {
			return fmt.Errorf("%s: empty; say which number Hotline presents (the provider's number for this account)", where("caller_id"))
		}
		if strings.ContainsAny(t.CallerName, "\"\r\n\x00\\") || len(t.CallerName) > 64 {
			return fmt.Errorf("%s: at most 64 characters, no quotes, backslashes or line breaks", where("caller_name"))
		}
		switch t.NumberFormat {
		case FormatE164, FormatInternational, FormatNational:
		default:
			return fmt.Errorf("%s: %q is not e164, international or national", where("number_format"), t.NumberFormat)
		}
		if strings.Trim(t.Prefix, "0123456789*#") != "" || len(t.Prefix) > 16 {
			return fmt.Errorf("%s: %q: up to 16 of 0-9, * and #", where("prefix"), t.Prefix)
		}
		if len(t.Numbers) == 0 && !t.Default {
			return fmt.Errorf("%s: empty and the trunk is not the default: it would serve no number", where("numbers"))
		}
	}
	return nil
}

// validName: a trunk name goes into logs, events and the ticket history.
func validName(s string) bool {
	return s != "" && len(s) <= 64 && strings.Trim(strings.ToLower(s), "abcdefghijklmnopqrstuvwxyz0123456789-_") == ""
}

// validToken: RFC 3261 §25.1 user characters (unreserved and
// user-unreserved), nothing that needs escaping.
func validToken(s string) bool {
	return len(s) <= 64 && strings.Trim(strings.ToLower(s), "abcdefghijklmnopqrstuvwxyz0123456789-_.!~*'()&=+$,;?") == ""
}

// CheckHostPort checks a SIP host[:port]: a name, an IPv4 address or a
// bracketed IPv6 address, with an optional port 1-65535.
func CheckHostPort(s string) error {
	if s == "" {
		return errors.New("empty; want host or host:port")
	}
	if strings.ContainsAny(s, "@;?<> \t/") || strings.HasPrefix(strings.ToLower(s), "sip:") || strings.HasPrefix(strings.ToLower(s), "sips:") {
		return fmt.Errorf("%q: want host or host:port, not a URI", s)
	}
	host, port := s, ""
	if h, p, err := net.SplitHostPort(s); err == nil {
		host, port = h, p
		if strings.HasPrefix(s, "[") {
			host = "[" + h + "]"
		}
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("%q: port %q is not 1-65535", s, port)
		}
	}
	if inner, ok := strings.CutPrefix(host, "["); ok {
		ip, err := netip.ParseAddr(strings.TrimSuffix(inner, "]"))
		if err != nil || !strings.HasSuffix(inner, "]") || !ip.Is6() || ip.Zone() != "" {
			return fmt.Errorf("%q: bad IPv6 address", s)
		}
		return nil
	}
	if _, err := netip.ParseAddr(host); err == nil {
		if strings.Contains(host, ":") {
			return fmt.Errorf("%q: write an IPv6 address in brackets, [2001:db8::1]:5060", s)
		}
		return nil
	}
	name := strings.TrimSuffix(strings.ToLower(host), ".")
	if name == "" || strings.Trim(name, "0123456789.") == "" {
		return fmt.Errorf("%q is neither an IP address nor a host name", s)
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' ||
			strings.Trim(label, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
			return fmt.Errorf("%q is not a valid host name", s)
		}
	}
	return nil
}
