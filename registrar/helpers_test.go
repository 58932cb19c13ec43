package registrar

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
)

// fakeClock is the injected time source.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// recTx records responses: a sip.ServerTransaction with no timers.
type recTx struct {
	res  []*sip.Response
	done chan struct{}
}

func newRecTx() *recTx                              { return &recTx{done: make(chan struct{})} }
func (t *recTx) Respond(r *sip.Response) error      { t.res = append(t.res, r); return nil }
func (t *recTx) Acks() <-chan *sip.Request          { return nil }
func (t *recTx) OnCancel(sip.FnTxCancel) bool       { return false }
func (t *recTx) Terminate()                         {}
func (t *recTx) OnTerminate(sip.FnTxTerminate) bool { return false }
func (t *recTx) Done() <-chan struct{}              { return t.done }
func (t *recTx) Err() error                         { return nil }

var _ sip.ServerTransaction = (*recTx)(nil)

var testAgents = []config.Agent{
	{ID: "a1", Username: "1001", Password: "secret1"},
	{ID: "a2", Username: "1002", Password: "secret2"},
}

type rig struct {
	t   *testing.T
	clk *fakeClock
	r   *Registrar
	bus *events.Bus
	sub *events.Subscription
	seq int
}

func newRig(t *testing.T, mod func(*Config)) *rig {
	t.Helper()
	clk := &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	bus := events.NewBus()
	cfg := Config{Realm: "hotline", Agents: testAgents, Now: clk.Now, Bus: bus, Algorithms: []string{"SHA-256", "MD5"}}
	if mod != nil {
		mod(&cfg)
	}
	sub := bus.Subscribe(1000)
	t.Cleanup(sub.Close)
	return &rig{t: t, clk: clk, r: New(cfg), bus: bus, sub: sub}
}

// reg describes one REGISTER.
type reg struct {
	ip       string // source (Via host); default 10.0.0.1
	port     int    // source port (Via port); default 5060
	user     string // AOR user (To); default 1001
	authUser string // digest username; default user
	password string
	alg      string // challenge to answer: SHA-256 or MD5; "" = first offered
	contacts []string
	expires  string // Expires header value, "" = none
	callID   string
	noAuth   bool
	uri      string   // digest uri; default the Request-URI sip:hotline
	headers  []string // extra header lines ("Path: <sip:p;lr>")
}

func (g *rig) raw(rq reg, auth string) *sip.Request {
	g.t.Helper()
	g.seq++
	if rq.ip == "" {
		rq.ip = "10.0.0.1"
	}
	if rq.user == "" {
		rq.user = "1001"
	}
	if rq.callID == "" {
		rq.callID = "call-1"
	}
	if rq.port == 0 {
		rq.port = 5060
	}
	var b strings.Builder
	fmt.Fprintf(&b, "REGISTER sip:hotline SIP/2.0\r\nVia: SIP/2.0/UDP %s:%d;branch=z9hG4bK-%d\r\n", rq.ip, rq.port, g.seq)
	fmt.Fprintf(&b, "From: <sip:%s@hotline>;tag=f%d\r\nTo: <sip:%s@hotline>\r\n", rq.user, g.seq, rq.user)
	fmt.Fprintf(&b, "Call-ID: %s\r\nCSeq: %d REGISTER\r\nMax-Forwards: 70\r\n", rq.callID, g.seq)
	for _, c := range rq.contacts {
		fmt.Fprintf(&b, "Contact: %s\r\n", c)
	}
	if rq.expires != "" {
		fmt.Fprintf(&b, "Expires: %s\r\n", rq.expires)
	}
	for _, h := range rq.headers {
		b.WriteString(h + "\r\n")
	}
	if auth != "" {
		fmt.Fprintf(&b, "Authorization: %s\r\n", auth)
	}
	b.WriteString("Content-Length: 0\r\n\r\n")
	m, err := sip.ParseMessage([]byte(b.String()))
	if err != nil {
		g.t.Fatalf("parse: %v\n%s", err, b.String())
	}
	return m.(*sip.Request)
}

func (g *rig) send(req *sip.Request) *sip.Response {
	g.t.Helper()
	tx := newRecTx()
	g.r.HandleRegister(req, tx)
	if len(tx.res) != 1 {
		g.t.Fatalf("got %d responses, want 1", len(tx.res))
	}
	return tx.res[0]
}

// do sends rq, answers the challenge (unless noAuth) and returns the final response.
func (g *rig) do(rq reg) *sip.Response {
	g.t.Helper()
	res := g.send(g.raw(rq, ""))
	if rq.noAuth || res.StatusCode != 401 {
		return res
	}
	return g.send(g.raw(rq, g.answer(res, rq, 1)))
}

func (g *rig) answer(res *sip.Response, rq reg, nc int) string {
	g.t.Helper()
	var chal *digest.Challenge
	for _, h := range res.GetHeaders("WWW-Authenticate") {
		c, err := digest.ParseChallenge(h.Value())
		if err != nil {
			g.t.Fatal(err)
		}
		if rq.alg == "" || c.Algorithm == rq.alg {
			chal = c
			break
		}
	}
	if chal == nil {
		g.t.Fatalf("no %q challenge in %v", rq.alg, res)
	}
	u := rq.authUser
	if u == "" {
		u = rq.user
	}
	if u == "" {
		u = "1001"
	}
	pw := rq.password
	if pw == "" {
		pw = "secret" + u[len(u)-1:]
	}
	uri := rq.uri
	if uri == "" {
		uri = "sip:hotline"
	}
	cred, err := digest.Digest(chal, digest.Options{Method: "REGISTER", URI: uri, Username: u, Password: pw, Count: nc})
	if err != nil {
		g.t.Fatal(err)
	}
	return cred.String()
}

// drain returns the binding events published so far.
func (g *rig) drain() []events.Event {
	var out []events.Event
	for {
		select {
		case e := <-g.sub.C:
			out = append(out, e)
		default:
			return out
		}
	}
}

// action is a binding event's action ("" for any other event).
func action(e events.Event) Action {
	b, _ := e.Payload.(BindingChange)
	return b.Action
}
