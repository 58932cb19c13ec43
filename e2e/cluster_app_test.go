package e2e

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	neturl "net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hotline-dev/hotline/app"
	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/internal/baresiptest"
	"github.com/hotline-dev/hotline/internal/phonetest"
	"github.com/hotline-dev/hotline/registrar"
	"github.com/hotline-dev/hotline/sip"
	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/store/postgres"
	"github.com/hotline-dev/hotline/store/postgres/pgtest"
	"github.com/hotline-dev/hotline/store/storeopen"
)

// clusterNode is a mutation for one in-process node of a two-node cluster
// (issue 12) on the schema at url: the same agents and queues, its own
// node id and RTP range, its connections named after it in
// pg_stat_activity (so a test can cut that node off).
func clusterNode(url, id string, portMin int) func(*config.Config) {
	return func(c *config.Config) {
		sep := "?"
		if strings.Contains(url, "?") {
			sep = "&"
		}
		c.Database.URL = url + sep + "application_name=hotline-" + id
		c.Cluster = config.Cluster{Enabled: true, Node: id, NodeTimeout: 3 * time.Second, Heartbeat: 500 * time.Millisecond}
		c.SIP.NonceSecret = strings.Repeat("n", config.MinNonceSecret)
		c.Media.PortMin, c.Media.PortMax = portMin, portMin+2998
		c.Agents = []config.Agent{{ID: "x", Name: "Xuan", Username: "x", Password: "pw-x", Queues: map[string]int{"technical": 0}}}
		c.Allow.Hosts = []string{"127.0.0.1"}
		c.SIP.DrainTime = time.Second
		q := c.Queues["technical"]
		q.JoinEmpty = true
		c.Queues["technical"] = q
	}
}

// startPair starts node a with cfgA, waits until it leads (acd_leader in
// the schema at url), then starts node b with cfgB: a leads, b follows.
func startPair(t *testing.T, url string, cfgA, cfgB func(*config.Config)) (a, b *harness) {
	t.Helper()
	a = start(t, cfgA)
	waitLeader(t, url, "a", 10*time.Second, nil)
	return a, start(t, cfgB)
}

// viaCutProxy puts a cutProxy in front of the database at url: the
// proxy, and url through it (a node that uses it can be cut off).
func viaCutProxy(t *testing.T, url string) (*cutProxy, string) {
	t.Helper()
	u, err := neturl.Parse(url)
	must(t, err)
	p := newCutProxy(t, u.Host)
	u.Host = p.ln.Addr().String()
	return p, u.String()
}

// waitLeader polls acd_leader until the node leading is want (bounded).
func waitLeader(t *testing.T, url, want string, d time.Duration, during func()) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	must(t, err)
	defer conn.Close(context.Background())
	deadline := time.Now().Add(d)
	var node string
	for time.Now().Before(deadline) {
		if during != nil {
			during()
		}
		if err := conn.QueryRow(t.Context(), `SELECT node FROM acd_leader WHERE id = 1`).Scan(&node); err == nil && node == want {
			return
		}
		time.Sleep(50 * time.Millisecond) // polling the database, bounded by d
	}
	t.Fatalf("leader %q after %s, want %q", node, d, want)
}

// waitBinding polls the store until username has a live binding to uri
// (any, when uri is "").
func waitBinding(t *testing.T, url, username, uri string, d time.Duration) {
	t.Helper()
	st, err := storeopen.Open(t.Context(), url, store.Options{})
	must(t, err)
	defer st.Close()
	deadline := time.Now().Add(d)
	for {
		bs, err := st.(store.Runtime).Bindings(t.Context(), time.Now())
		must(t, err)
		for _, b := range bs {
			for _, c := range b.Contacts {
				if b.Username == username && (uri == "" || c.URI == uri) {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no binding of %s to %s in the store after %s: %+v", username, uri, d, bs)
		}
		time.Sleep(20 * time.Millisecond) // polling the store, bounded by d
	}
}

// A caller answered by node A reaches an agent whose phone registered on
// node B: B saves the binding, A's ringer reads it through the store, the
// leader (either node) offers, A rings and bridges, audio flows both ways.
func TestClusterCallerOnAAgentOnB(t *testing.T) {
	url := pgtest.Schema(t)
	// The phone first: its socket serves before it registers (as in
	// the restart test, a phone started just before REGISTER may race
	// its own listener).
	phone := phonetest.New(t, 30000, 30498, 440, 1000)
	a := start(t, clusterNode(url, "a", 23000))
	b := start(t, clusterNode(url, "b", 20000))
	ctx := within(t, 40*time.Second)
	status, err := phone.Register(ctx, b.sipAddr("udp"), "x", "pw-x", 3600)
	must(t, err)
	if status != 200 {
		t.Fatalf("REGISTER x at node b: %d", status)
	}
	// Node b's binding reaches the shared store within a second (written
	// at once in cluster mode), where node a's ringer reads it on a miss.
	waitBinding(t, url, "x", phone.URI("x"), time.Second)
	if code, _, body := apiDo(t, b, "POST", "/api/v1/agents/x/state", `{"state":"login"}`); code != 200 {
		t.Fatalf("login x through node b: %d %s", code, body)
	}
	// The login is a command for the leader; technical takes callers
	// while nobody is logged in (join_empty), so the caller waits for it.
	_, c, _ := dial(t, a, "sip:300@"+a.sipAddr("udp"), sip.DialOptions{From: "0911000001"})
	xCall := phone.NextCall(t, within(t, 15*time.Second))
	talkThenHangUp(t, ctx, c, xCall, "the caller on node a and x's phone")
}

// cutProxy forwards TCP connections to a database address until Cut,
// which closes them all and refuses new ones: a node behind it is
// partitioned from the database while the others are not.
type cutProxy struct {
	ln    net.Listener
	to    string
	mu    sync.Mutex
	conns []net.Conn
	cut   bool
	wg    sync.WaitGroup
}

func newCutProxy(t *testing.T, to string) *cutProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	p := &cutProxy{ln: ln, to: to}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			if p.cut {
				p.mu.Unlock()
				c.Close()
				continue
			}
			d, err := net.Dial("tcp", to)
			if err != nil {
				p.mu.Unlock()
				c.Close()
				continue
			}
			p.conns = append(p.conns, c, d)
			p.mu.Unlock()
			p.wg.Add(2)
			go func() { defer p.wg.Done(); _, _ = io.Copy(d, c); d.Close() }()
			go func() { defer p.wg.Done(); _, _ = io.Copy(c, d); c.Close() }()
		}
	}()
	t.Cleanup(func() { p.Cut(); ln.Close(); p.wg.Wait() })
	return p
}

// Cut closes every connection and refuses new ones.
func (p *cutProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// A node cut off from the database (a partition: its connections go
// through a proxy the test cuts) loses the lead to the other within the
// failover time, and exits with the node-lost error once node_timeout has
// passed without a heartbeat; the survivor declares it lost.
func TestClusterNodeCutOff(t *testing.T) {
	url := pgtest.Schema(t)
	proxy, viaProxy := viaCutProxy(t, url)
	a, _ := startPair(t, url, clusterNode(viaProxy, "a", 23000), clusterNode(url, "b", 20000))
	cut := time.Now()
	proxy.Cut()
	waitLeader(t, url, "b", 5*time.Second, nil)
	t.Logf("node b leads %s after node a was cut off", time.Since(cut).Round(time.Millisecond))
	deadline := time.Now().Add(15 * time.Second)
	for !a.app.Lost() {
		if time.Now().After(deadline) {
			t.Fatal("node a, cut off, did not declare itself lost")
		}
		time.Sleep(50 * time.Millisecond) // polling; bounded by deadline
	}
	// Its last heartbeat succeeded up to one interval (0.5 s) before the
	// cut: it gives up node_timeout after that one.
	if d := time.Since(cut); d < 2400*time.Millisecond {
		t.Errorf("node a gave up after %s, before node_timeout (3s) less one heartbeat", d)
	}
	stop := a.stop
	a.stop = nil
	if err := stop(); err == nil || !strings.Contains(err.Error(), "declared lost") {
		t.Fatalf("node a's Run = %v, want the node-lost error", err)
	}
	conn, err := pgx.Connect(t.Context(), url)
	must(t, err)
	defer conn.Close(context.Background())
	deadline = time.Now().Add(10 * time.Second)
	for {
		var lost bool
		must(t, conn.QueryRow(t.Context(), `SELECT lost FROM acd_nodes WHERE id = 'a'`).Scan(&lost))
		if lost {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("node b never declared node a lost")
		}
		time.Sleep(50 * time.Millisecond) // polling the database, bounded by deadline
	}
}

// A node whose agents or queues differ from the leader's does not start.
func TestClusterFingerprintMismatch(t *testing.T) {
	url := pgtest.Schema(t)
	start(t, clusterNode(url, "a", 23000))
	waitLeader(t, url, "a", 10*time.Second, nil)
	cfg := testConfig(t, t.TempDir(), func(c *config.Config) {
		clusterNode(url, "b", 20000)(c)
		c.Agents[0].Queues = map[string]int{"technical": 5}
	})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	h, err := app.New(ctx, cfg, slog.New(slog.DiscardHandler))
	if err == nil {
		_ = h.Close()
		t.Fatal("node b with other agents started")
	}
	if !errors.Is(err, postgres.ErrFingerprint) || !strings.Contains(err.Error(), "cluster.node b") {
		t.Fatalf("app.New = %v, want the fingerprint refusal naming cluster.node b", err)
	}
}

// Shared registrations behind the shipped Kamailio: baresip registers
// through Kamailio, which dispatches the REGISTER to node b (first in its
// list) and adds its Path. A caller answered by node a is offered to that
// agent: node a finds b's binding in the store, with the Path, so its
// INVITE goes through Kamailio to the phone; audio flows both ways.
func TestClusterKamailioSharedRegistration(t *testing.T) {
	leakCheck(t)
	url := pgtest.Schema(t)
	node := func(id string, portMin int) func(*config.Config) {
		return func(c *config.Config) {
			allow := c.Allow // as TestKamailioFront: the default policy takes baresip's contact
			clusterNode(url, id, portMin)(c)
			c.Allow = allow
			c.SIP.Trusted = []string{"127.0.0.1"} // Kamailio: its Path is believed
			c.Agents = []config.Agent{{ID: "lan", Name: "Lan", Username: "lan", Password: "s3cret", Queues: map[string]int{"technical": 0}}}
		}
	}
	a := start(t, node("a", 23000))
	b := start(t, node("b", 20000))
	// Priority order (DS_ALG 8): b first, so the REGISTER reaches b.
	k := startKamailio(t, b.sipAddr("udp"), a.sipAddr("udp"))
	k.poll(5*time.Second, "node b active", func() bool { return strings.HasPrefix(k.nodeFlags(b.sipAddr("udp")), "A") })
	_, kport, _ := net.SplitHostPort(k.addr)
	agent := baresiptest.Start(t, baresiptest.Config{Ports: toolPorts, Accounts: "accounts.agent.template", Tone: 440,
		Vars: map[string]string{"AGENT_USER": "lan", "AGENT_PASSWORD": "s3cret", "HOTLINE_SIP_PORT": kport}})
	b.waitEvent(10*time.Second, "lan registered at node b", func(e events.Event) bool {
		return e.Type == registrar.EventBinding && e.Agent == "lan"
	})
	apiPost(t, a, "/api/v1/agents/lan/state", `{"state":"login"}`)

	// The caller reaches node a directly: the agent's leg is a's to place.
	_, call, _ := dial(t, a, "sip:300@"+a.sipAddr("udp"), sip.DialOptions{From: "0912345678"})
	agent.WaitEvent(15*time.Second, "CALL_ESTABLISHED")
	if !strings.Contains(k.log.String(), "relay INVITE from node 127.0.0.1 to sip:lan-") {
		t.Error("kamailio did not relay node a's INVITE to the agent: the Path of b's binding was not followed")
	}
	if !talk(t, call, 2*time.Second) {
		t.Error("the caller on node a did not hear baresip's 440 Hz through Kamailio and the bridge")
	}
	must(t, call.Hangup(within(t, 5*time.Second)))
	agent.WaitEvent(10*time.Second, "CALL_CLOSED")
	var heard pcmRecorder
	agent.Heard(heard.sink)
	if !heard.hears(1000, 440) {
		t.Error("the agent did not hear the caller's 1000 Hz")
	}
}
