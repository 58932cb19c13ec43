// Package phonetest is a telephone on plain sipgo (not Hotline's SIP
// stack) on 127.0.0.1 for tests that make Hotline dial out: it stands for
// a trunk and the customer's phone behind it, or an agent's phone. Per
// INVITE it answers (playing a tone and listening for the tones the test
// asks about), rings until it is cancelled, or refuses with a status; it
// reports every INVITE as it arrived, every answered call and every cancel.
package phonetest

import (
	"net"
	"sync"
	"testing"

	"github.com/emiago/sipgo"
	gosip "github.com/emiago/sipgo/sip"

	"github.com/hotline-dev/hotline/media"
)

// Action is how the phone takes one INVITE: Answer, Ring (until
// cancelled), or any other final status it refuses with (Reject).
type Action int

const (
	Answer Action = 200
	Ring   Action = 180
)

// Reject refuses an INVITE with status (486, 603...).
func Reject(status int) Action { return Action(status) }

// Invite is what the phone read off an INVITE.
type Invite struct {
	CallID, FromTag, FromUser, User string // User: the Request-URI's
}

// Phone is the test's telephone; New starts it.
type Phone struct {
	addr   string
	pool   *media.PortPool
	voice  float64
	listen []float64
	cache  *sipgo.DialogServerCache
	cli    *sipgo.Client // sends from the phone's own socket (Register)

	mu     sync.Mutex
	decide func(Invite) Action
	live   map[*sipgo.DialogServerSession]*Call
	closed bool
	stop   chan struct{}
	wg     sync.WaitGroup // onInvite handlers

	invites chan Invite
	calls   chan *Call
	cancels chan string
}

// New starts a phone with RTP ports minPort..maxPort, playing voice Hz on
// every call it answers and listening for the listen tones (Call.Heard).
// It answers every INVITE until Behave or Plan says otherwise. When the
// test ends it hangs up, stops, and fails the test if an RTP port is
// still in use.
func New(t testing.TB, minPort, maxPort int, voice float64, listen ...float64) *Phone {
	t.Helper()
	pool, err := media.NewPortPool(minPort, maxPort)
	if err != nil {
		t.Fatalf("phone RTP ports: %v", err)
	}
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("phone SIP socket: %v", err)
	}
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("test-phone"))
	if err != nil {
		t.Fatalf("phone user agent: %v", err)
	}
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		t.Fatalf("phone server: %v", err)
	}
	addr := conn.LocalAddr().String()
	cli, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"),
		sipgo.WithClientAddr(addr), sipgo.WithClientConnectionAddr(addr))
	if err != nil {
		t.Fatalf("phone client: %v", err)
	}
	port := conn.LocalAddr().(*net.UDPAddr).Port
	p := &Phone{addr: addr, pool: pool, voice: voice, listen: listen, cli: cli,
		cache:  sipgo.NewDialogServerCache(cli, gosip.ContactHeader{Address: gosip.Uri{Scheme: "sip", User: "phone", Host: "127.0.0.1", Port: port}}),
		decide: func(Invite) Action { return Answer }, live: map[*sipgo.DialogServerSession]*Call{}, stop: make(chan struct{}),
		invites: make(chan Invite, 16), calls: make(chan *Call, 16), cancels: make(chan string, 16)}
	srv.OnInvite(p.onInvite)
	srv.OnAck(func(req *gosip.Request, tx gosip.ServerTransaction) { _ = p.cache.ReadAck(req, tx) })
	srv.OnBye(p.onBye)
	served := make(chan struct{})
	go func() { defer close(served); _ = srv.ServeUDP(conn) }()
	t.Cleanup(func() {
		p.mu.Lock()
		p.closed = true
		close(p.stop)
		for _, c := range p.live {
			c.end()
		}
		p.mu.Unlock()
		p.wg.Wait()
		srv.Close()
		conn.Close()
		<-served
		cli.Close()
		ua.Close()
		if n := pool.InUse(); n != 0 {
			t.Errorf("phone RTP ports in use after close: %d", n)
		}
	})
	return p
}

// Addr is the phone's SIP address (host:port), a trunk's host.
func (p *Phone) Addr() string { return p.addr }

// URI is the phone's address for a static URI (an agent's phone).
func (p *Phone) URI(user string) string { return "sip:" + user + "@" + p.addr }

// Behave sets how the phone takes the next INVITEs.
func (p *Phone) Behave(f func(Invite) Action) {
	p.mu.Lock()
	p.decide = f
	p.mu.Unlock()
}

// Plan makes the phone take the next INVITEs as plan says, one action per
// INVITE in order; the last repeats.
func (p *Phone) Plan(plan ...Action) {
	if len(plan) == 0 {
		plan = []Action{Answer}
	}
	n := 0 // under p.mu: decide runs there
	p.Behave(func(Invite) Action {
		a := plan[min(n, len(plan)-1)]
		n++
		return a
	})
}

// Invites reports every INVITE as it arrived.
func (p *Phone) Invites() <-chan Invite { return p.invites }

// Cancels reports the Call-ID of every INVITE cancelled while ringing.
func (p *Phone) Cancels() <-chan string { return p.cancels }
