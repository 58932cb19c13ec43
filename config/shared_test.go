package config

import (
	"strings"
	"testing"
)

// The shared-port keys are validated together, each error naming its key.
func TestSharedPortValidation(t *testing.T) {
	for _, tc := range []struct {
		ports []int
		nets  []string
		want  string // "" = valid
		noNAT []string
	}{
		{nil, nil, "", nil},
		{[]int{40000, 40002}, []string{"10.1.0.0/16", "192.0.2.7"}, "", nil},
		{[]int{40000}, nil, "media.shared_ports: needs media.shared_port_networks", nil},
		{nil, []string{"10.0.0.0/8"}, "media.shared_port_networks: set, but media.shared_ports is empty", nil},
		{[]int{40000}, []string{"10.0.0.0/33"}, `media.shared_port_networks[0]: "10.0.0.0/33" is not an IP or CIDR`, nil},
		{[]int{25000}, []string{"10.0.0.0/8"}, "media.shared_ports[0]: 25000 is inside media.port_min-port_max (20000-30000)", nil},
		{[]int{40000, 70000}, []string{"10.0.0.0/8"}, "media.shared_ports[1]: 70000 is not a UDP port", nil},
		{[]int{40000, 40000}, []string{"10.0.0.0/8"}, "media.shared_ports[1]: 40000 is listed twice", nil},
		{[]int{40000}, []string{"10.0.0.0/8", "192.0.2.0/24"}, "", []string{"10.1.2.0/24", "192.0.2.9"}},
		{[]int{40000}, []string{"10.1.0.0/16"}, "media.shared_port_no_nat_networks[1]: 10.0.0.0/8 is not inside media.shared_port_networks (10.1.0.0/16)", []string{"10.1.2.3", "10.0.0.0/8"}},
		{[]int{40000}, []string{"10.0.0.0/8"}, "media.shared_port_no_nat_networks[0]: 192.0.2.1 is not inside", []string{"192.0.2.1"}},
		{[]int{40000}, []string{"10.0.0.0/8"}, `media.shared_port_no_nat_networks[0]: "10.0.0.300" is not an IP or CIDR`, []string{"10.0.0.300"}},
		{nil, nil, "media.shared_port_no_nat_networks: set, but media.shared_ports is empty", []string{"10.0.0.0/8"}},
	} {
		c, err := Load("")
		if err != nil {
			t.Fatal(err)
		}
		c.Media.SharedPorts, c.Media.SharedPortNetworks, c.Media.SharedPortNoNATNetworks = tc.ports, tc.nets, tc.noNAT
		err = c.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%v %v %v: %v, want valid", tc.ports, tc.nets, tc.noNAT, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%v %v %v: %v, want %q", tc.ports, tc.nets, tc.noNAT, err, tc.want)
		}
	}
}
