package sip

import (
	"net/netip"
	"testing"
)

// Behind NAT the public address is not local: RTP must bind the listen IP.
func TestMediaIPIsTheListenAddressNotThePublicOne(t *testing.T) {
	public := netip.MustParseAddr("203.0.113.5")
	for _, tc := range []struct {
		cfg  ServerConfig
		want string
	}{
		{ServerConfig{UDP: "10.0.0.7:5060", PublicAddr: "203.0.113.5"}, "10.0.0.7"},
		{ServerConfig{UDP: "0.0.0.0:5060", PublicAddr: "203.0.113.5"}, "0.0.0.0"},
		{ServerConfig{TCP: "[::1]:5060"}, "::1"},
		{ServerConfig{UDP: "localhost:5060"}, "203.0.113.5"}, // a name: fall back to the public IP
	} {
		if got := mediaIP(tc.cfg, public); got.String() != tc.want {
			t.Errorf("mediaIP(%+v) = %s, want %s", tc.cfg, got, tc.want)
		}
	}
	// The outbound client (agent legs) binds the same way.
	if got := bindIP(public, "10.0.0.7:0"); got.String() != "10.0.0.7" {
		t.Errorf("client bindIP = %s, want the listen IP 10.0.0.7", got)
	}
}
