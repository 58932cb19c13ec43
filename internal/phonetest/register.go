package phonetest

import (
	"context"
	"fmt"
	"net"
	"strconv"

	"github.com/emiago/sipgo"
	gosip "github.com/emiago/sipgo/sip"
)

// Register registers the phone as user (Contact: URI(user), for expires
// seconds) with registrar (host:port, UDP) from the phone's own socket, as
// a desk phone does, answering the digest challenge with password. It
// returns the final status.
func (p *Phone) Register(ctx context.Context, registrar, user, password string, expires int) (int, error) {
	addr, err := net.ResolveUDPAddr("udp", registrar)
	if err != nil {
		return 0, fmt.Errorf("registrar address %q: %w", registrar, err)
	}
	req := gosip.NewRequest(gosip.REGISTER, gosip.Uri{Scheme: "sip", Host: addr.IP.String(), Port: addr.Port})
	req.AppendHeader(&gosip.ToHeader{Address: gosip.Uri{Scheme: "sip", User: user, Host: "hotline"}})
	req.AppendHeader(gosip.NewHeader("Contact", "<"+p.URI(user)+">"))
	req.AppendHeader(gosip.NewHeader("Expires", strconv.Itoa(expires)))
	res, err := p.cli.Do(ctx, req)
	if err != nil {
		return 0, fmt.Errorf("REGISTER %s: %w", user, err)
	}
	if res.StatusCode == gosip.StatusUnauthorized {
		if res, err = p.cli.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: user, Password: password}); err != nil {
			return 0, fmt.Errorf("REGISTER %s with digest: %w", user, err)
		}
	}
	return res.StatusCode, nil
}
