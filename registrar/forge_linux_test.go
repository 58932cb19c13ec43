//go:build linux

package registrar

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"

	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/internal/testenv"
)

// rawUDP sends UDP datagrams with a source address of our choosing (a raw
// IPv4 socket with a header we build, IP_HDRINCL): what an attacker on the
// internet does to make the registrar blame someone else's address. It
// needs CAP_NET_RAW; without it the test skips, unless
// HOTLINE_REQUIRE_TOOLS=1, where that fails it.
type rawUDP struct{ fd int }

func newRawUDP(t *testing.T) *rawUDP {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_RAW, syscall.IPPROTO_RAW)
	if err != nil {
		testenv.Unavailable(t, "raw socket (needs CAP_NET_RAW): %v", err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	return &rawUDP{fd: fd}
}

// send writes one datagram from src to dst (IPv4). The kernel fills in the
// IP checksum; the UDP checksum is 0, "none", which IPv4 allows (RFC 768).
func (r *rawUDP) send(src, dst netip.AddrPort, payload []byte) error {
	pkt := make([]byte, 20+8+len(payload))
	pkt[0] = 0x45 // IPv4, 5-word header
	binary.BigEndian.PutUint16(pkt[2:], uint16(len(pkt)))
	pkt[8] = 64 // TTL
	pkt[9] = syscall.IPPROTO_UDP
	s4, d4 := src.Addr().As4(), dst.Addr().As4()
	copy(pkt[12:16], s4[:])
	copy(pkt[16:20], d4[:])
	binary.BigEndian.PutUint16(pkt[20:], src.Port())
	binary.BigEndian.PutUint16(pkt[22:], dst.Port())
	binary.BigEndian.PutUint16(pkt[24:], uint16(8+len(payload)))
	copy(pkt[28:], payload)
	return syscall.Sendto(r.fd, pkt, 0, &syscall.SockaddrInet4{Addr: d4})
}

// TestForgedSourcesDoNotLockOutAgent is the attack of issue 8 point 7: an
// internet attacker forges REGISTERs "from" the office NAT's address with
// bad credentials (a made-up nonce, or one it obtained at its own address)
// to get that address banned and every agent behind it locked out. Over
// loopback with real packets: the agent's phone (a sipgo user agent on
// 127.0.0.5) registers before, during and after 40 forged REGISTERs; none
// of them counts, nothing is banned. The forged packets' answers go to the
// forged address, where the test reads them (the attacker never would) to
// know the registrar has handled every one.
func TestForgedSourcesDoNotLockOutAgent(t *testing.T) {
	raw := newRawUDP(t)
	bus := events.NewBus()
	sub := bus.Subscribe(256)
	defer sub.Close()
	r := New(Config{Agents: testAgents, Bus: bus, MaxFailures: 3, Algorithms: []string{"MD5"}})
	port := serveRegistrar(t, r)
	registrarAddr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	office := netip.MustParseAddr("127.0.0.5")
	agent := newSipgoPhone(t, office)
	if got := agent.register(ctx, registrarAddr, "1001", "secret1"); got != 200 {
		t.Fatalf("agent REGISTER before the attack: %d", got)
	}

	// The attacker's own address gets it genuine challenges to copy nonces from.
	attacker, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 9)})
	if err != nil {
		t.Fatal(err)
	}
	defer attacker.Close()
	chal := challengeAt(t, attacker, registrarAddr)

	// The address it forges: another device behind the same NAT, whose
	// answers the test reads.
	victim, err := net.ListenUDP("udp4", &net.UDPAddr{IP: office.AsSlice()})
	if err != nil {
		t.Fatal(err)
	}
	defer victim.Close()
	forged := victim.LocalAddr().(*net.UDPAddr).AddrPort()
	const n = 40
	for i := range n {
		user := []string{"1001", "1002", "nobody"}[i%3]
		nonce := chal.Nonce // copied from the attacker's own challenge
		if i%2 == 1 {
			nonce = "1234.deadbeef" // or made up
		}
		c := &digest.Challenge{Realm: chal.Realm, Nonce: nonce, Algorithm: "MD5", QOP: []string{"auth"}}
		cred, err := digest.Digest(c, digest.Options{Method: "REGISTER", URI: "sip:hotline", Username: user, Password: "guess", Count: 1, Cnonce: "c0ffee"})
		if err != nil {
			t.Fatal(err)
		}
		msg := registerMsg(forged, user, fmt.Sprintf("forged-%d", i), i+1, "<sip:"+user+"@203.0.113.66>", cred.String())
		if err := raw.send(forged, registrarAddr, []byte(msg)); err != nil {
			t.Fatalf("forged send: %v", err)
		}
		if i == n/2 { // the agent refreshes in the middle of the attack
			if got := agent.register(ctx, registrarAddr, "1001", "secret1"); got != 200 {
				t.Fatalf("agent REGISTER during the attack: %d", got)
			}
		}
	}
	for i := range n { // every forged request has been answered, at the forged address
		status := readStatus(t, victim)
		if status != 401 {
			t.Fatalf("forged REGISTER %d answered %d, want 401 (a fresh challenge, not a counted failure)", i, status)
		}
	}
	if got := agent.register(ctx, registrarAddr, "1001", "secret1"); got != 200 {
		t.Fatalf("agent REGISTER after the attack: %d", got)
	}
	if r.Banned(office.String()) || r.BannedUser(office.String(), "1001") || r.BannedUser(office.String(), "1002") {
		t.Fatal("a forged source got the office address banned")
	}
	if s := r.Stats(); s.AuthFailures != 0 || s.Bans != 0 {
		t.Fatalf("forged requests counted: %+v", s)
	}
	for {
		select {
		case e := <-sub.C:
			if e.Type == EventBanned {
				t.Fatalf("ban event %+v", e)
			}
			continue
		default:
		}
		break
	}

	// The same guesses from the attacker's own address do count: it is
	// banned for those users, and only from there.
	for i := range 3 {
		msg := registerMsg(attacker.LocalAddr().(*net.UDPAddr).AddrPort(), "1001", "own", i+2, "<sip:1001@203.0.113.66>",
			answer(t, chal, "1001", "guess", i+1))
		if _, err := attacker.WriteToUDPAddrPort([]byte(msg), registrarAddr); err != nil {
			t.Fatal(err)
		}
		if got := readStatus(t, attacker); got != 403 {
			t.Fatalf("guess %d from the attacker's own address: %d, want 403", i, got)
		}
	}
	if !r.BannedUser("127.0.0.9", "1001") || r.BannedUser(office.String(), "1001") {
		t.Fatal("want 1001 banned from the attacker's address only")
	}
	if got := agent.register(ctx, registrarAddr, "1001", "secret1"); got != 200 {
		t.Fatalf("agent REGISTER after the attacker was banned: %d", got)
	}
}

func registerMsg(src netip.AddrPort, user, callID string, cseq int, contact, auth string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "REGISTER sip:hotline SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK-%s-%d\r\n", src, callID, cseq)
	fmt.Fprintf(&b, "From: <sip:%s@hotline>;tag=f%d\r\nTo: <sip:%s@hotline>\r\nCall-ID: %s\r\nCSeq: %d REGISTER\r\n", user, cseq, user, callID, cseq)
	fmt.Fprintf(&b, "Max-Forwards: 70\r\nContact: %s\r\nExpires: 300\r\n", contact)
	if auth != "" {
		fmt.Fprintf(&b, "Authorization: %s\r\n", auth)
	}
	b.WriteString("Content-Length: 0\r\n\r\n")
	return b.String()
}

// challengeAt sends an unauthenticated REGISTER from conn and returns the challenge.
func challengeAt(t *testing.T, conn *net.UDPConn, to netip.AddrPort) *digest.Challenge {
	t.Helper()
	if _, err := conn.WriteToUDPAddrPort([]byte(registerMsg(conn.LocalAddr().(*net.UDPAddr).AddrPort(), "1001", "own", 1,
		"<sip:1001@203.0.113.66>", "")), to); err != nil {
		t.Fatal(err)
	}
	res := readResponse(t, conn)
	if res.StatusCode != 401 {
		t.Fatalf("challenge: %d", res.StatusCode)
	}
	chal, err := digest.ParseChallenge(res.GetHeader("WWW-Authenticate").Value())
	if err != nil {
		t.Fatal(err)
	}
	return chal
}

func answer(t *testing.T, chal *digest.Challenge, user, pw string, nc int) string {
	t.Helper()
	cred, err := digest.Digest(chal, digest.Options{Method: "REGISTER", URI: "sip:hotline", Username: user, Password: pw, Count: nc, Cnonce: "c0ffee"})
	if err != nil {
		t.Fatal(err)
	}
	return cred.String()
}

func readResponse(t *testing.T, conn *net.UDPConn) *sip.Response {
	t.Helper()
	buf := make([]byte, 65535)
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, _, err := conn.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatalf("no response: %v", err)
	}
	m, err := sip.ParseMessage(buf[:n])
	if err != nil {
		t.Fatalf("parse response: %v", err)
	}
	res, ok := m.(*sip.Response)
	if !ok {
		t.Fatalf("not a response: %q", buf[:n])
	}
	return res
}

func readStatus(t *testing.T, conn *net.UDPConn) int {
	t.Helper()
	return readResponse(t, conn).StatusCode
}

// sipgoPhone is an agent phone on a real sipgo user agent sending from
// one IP address (an ephemeral port), registering with digest auth (sipgo
// answers the challenge).
type sipgoPhone struct {
	cli *sipgo.Client
	ip  netip.Addr
}

func newSipgoPhone(t *testing.T, ip netip.Addr) *sipgoPhone {
	t.Helper()
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("agent-phone"))
	if err != nil {
		t.Fatal(err)
	}
	cli, err := sipgo.NewClient(ua, sipgo.WithClientHostname(ip.String()), sipgo.WithClientConnectionAddr(ip.String()+":0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close(); ua.Close() })
	return &sipgoPhone{cli: cli, ip: ip}
}

// register REGISTERs user's contact (this phone's address) and returns
// the final status.
func (p *sipgoPhone) register(ctx context.Context, registrar netip.AddrPort, user, pw string) int {
	req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: registrar.Addr().String(), Port: int(registrar.Port())})
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: user, Host: "hotline"}})
	req.AppendHeader(sip.NewHeader("Contact", fmt.Sprintf("<sip:%s@%s:5062>", user, p.ip)))
	req.AppendHeader(sip.NewHeader("Expires", "300"))
	res, err := p.cli.Do(ctx, req)
	if err != nil {
		return -1
	}
	if res.StatusCode == 401 {
		if res, err = p.cli.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: user, Password: pw}); err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				return -2
			}
			return -1
		}
	}
	return res.StatusCode
}
