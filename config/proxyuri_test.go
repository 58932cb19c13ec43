package config

import (
	"strings"
	"testing"
)

func TestParseProxyURI(t *testing.T) {
	for _, tc := range []struct {
		in, want, err string
	}{
		{in: "sip:10.0.0.5", want: "sip:10.0.0.5;lr"},
		{in: "sip:10.0.0.5:5070;lr", want: "sip:10.0.0.5:5070;lr"},
		{in: "SIP:proxy.example.com;transport=TCP", want: "sip:proxy.example.com;transport=tcp;lr"},
		{in: "sips:[2001:db8::1]:5061;transport=tls;lr", want: "sips:[2001:db8::1]:5061;transport=tls;lr"},
		{in: "sip:[::1]", want: "sip:[::1];lr"},
		{in: "", err: "scheme"},
		{in: "http://x", err: "scheme"},
		{in: "sip:", err: "no host"},
		{in: "sip:user@10.0.0.5", err: "no user part"},
		{in: "sip:10.0.0.5?X=1", err: "no user part"},
		{in: "<sip:10.0.0.5>", err: "bare URI"},
		{in: "sip:10.0.0.5:0", err: "port"},
		{in: "sip:10.0.0.5:70000", err: "port"},
		{in: "sip:10.0.0.5:", err: "port"},
		{in: "sip:10.0.0.5:x", err: "port"},
		{in: "sip:::1", err: "host"},
		{in: "sip:[10.0.0.5]", err: "IPv6"},
		{in: "sip:[::1", err: "unclosed"},
		{in: "sip:[::1]x", err: "junk"},
		{in: "sip:-bad.example", err: "host"},
		{in: "sip:a_b.example", err: "host"},
		{in: "sip:10.0.0.5;transport=sctp", err: "transport"},
		{in: "sip:10.0.0.5;lr=1", err: "lr takes no value"},
		{in: "sip:10.0.0.5;maddr=1.2.3.4", err: "not allowed"},
		{in: "sips:10.0.0.5;transport=udp", err: "sips needs"},
	} {
		p, err := ParseProxyURI(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseProxyURI(%q) = %v, %v; want error containing %q", tc.in, p, err, tc.err)
			}
			continue
		}
		if err != nil || p.String() != tc.want {
			t.Errorf("ParseProxyURI(%q) = %q, %v; want %q", tc.in, p.String(), err, tc.want)
		}
	}
}

// FuzzParseProxyURI: never panics, and what it accepts prints as a URI
// that parses back to the same value.
func FuzzParseProxyURI(f *testing.F) {
	for _, s := range []string{"sip:10.0.0.5", "sips:[::1]:5061;transport=tls;lr", "sip:a.b:1;lr;transport=udp", "sip:[", "sip:x:", "sip:;;", "sip:@"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseProxyURI(s)
		if err != nil {
			return
		}
		q, err := ParseProxyURI(p.String())
		if err != nil || q != p {
			t.Fatalf("%q → %q → %v, %v", s, p.String(), q, err)
		}
	})
}

func TestNonceSecretAndOutboundProxyValidation(t *testing.T) {
	long := strings.Repeat("k", MinNonceSecret)
	for _, tc := range []struct {
		name, secret, proxy, env, err, secretsErr string
	}{
		{name: "none"},
		{name: "literal 32", secret: long},
		{name: "literal short", secret: "short", err: "sip.nonce_secret: 5 bytes"},
		{name: "env set", secret: "env:HOTLINE_TEST_NONCE", env: long},
		{name: "env unset", secret: "env:HOTLINE_TEST_NONCE", secretsErr: "is not set"},
		{name: "env short", secret: "env:HOTLINE_TEST_NONCE", env: "abc", secretsErr: "holds 3 bytes"},
		{name: "env empty name", secret: "env:", err: "names no variable"},
		{name: "proxy ok", proxy: "sip:127.0.0.1:5070;lr"},
		{name: "proxy bad", proxy: "127.0.0.1:5070", err: "sip.outbound_proxy"},
		{name: "proxy over tcp", proxy: "sip:127.0.0.1:5070;transport=tcp", err: "only sip: over UDP"},
		{name: "proxy sips", proxy: "sips:127.0.0.1:5071", err: "only sip: over UDP"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("HOTLINE_TEST_NONCE", tc.env)
			c := Default()
			c.SIP.NonceSecret, c.SIP.OutboundProxy = tc.secret, tc.proxy
			err := c.Validate()
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Validate = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Validate = %v", err)
			}
			err = c.CheckSecrets()
			if tc.secretsErr == "" && err != nil || tc.secretsErr != "" && (err == nil || !strings.Contains(err.Error(), tc.secretsErr)) {
				t.Fatalf("CheckSecrets = %v, want %q", err, tc.secretsErr)
			}
		})
	}
}
