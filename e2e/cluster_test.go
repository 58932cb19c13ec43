package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hotline-dev/hotline/app"
	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/internal/baresiptest"
	"github.com/hotline-dev/hotline/internal/phonetest"
	"github.com/hotline-dev/hotline/internal/testenv"
	"github.com/hotline-dev/hotline/sip"
	"github.com/hotline-dev/hotline/store/postgres/pgtest"
)

const (
	clusterChildDB   = "HOTLINE_E2E_CLUSTER_DB"
	clusterChildNode = "HOTLINE_E2E_CLUSTER_NODE"
	clusterChildPort = "HOTLINE_E2E_CLUSTER_PORT_MIN"
	// clusterChildTrunk, when set, is the customer's line (a trunk's
	// host): technical's callbacks are on (one attempt, ringing 30 s).
	clusterChildTrunk = "HOTLINE_E2E_CLUSTER_TRUNK"
)

// clusterChildConfig is a cluster node behind Kamailio: the e2e flows,
// one agent (lan), Kamailio trusted, node_timeout 3 s.
func clusterChildConfig(t *testing.T, dir, db, node string, portMin int, trunk string) config.Config {
	return testConfig(t, dir, func(c *config.Config) {
		allow := c.Allow
		clusterNode(db, node, portMin)(c)
		c.Allow = allow
		c.SIP.Trusted = []string{"127.0.0.1"}
		c.Agents = []config.Agent{{ID: "lan", Name: "Lan", Username: "lan", Password: "s3cret", Queues: map[string]int{"technical": 0}}}
		if trunk != "" {
			c.Allow.Numbers = []string{"+849*"}
			c.Trunks = []config.Trunk{{Name: "carrier", Host: trunk, CallerID: "+842838001234", Numbers: []string{"+84*"}, Default: true}}
			fastCallbacks(c, 1)
			q := c.Queues["technical"]
			q.Callback.RingTimeout = 30 * time.Second
			c.Queues["technical"] = q
		}
	})
}

// TestClusterChild is one node of TestClusterProcesses, run as a separate
// process (the test binary re-executed, as the crash tests do): it serves
// as `hotline serve` does and prints "READY <sip> <http>" and "ANSWERED
// <call id>" for each call it answers. SIGTERM stops it.
func TestClusterChild(t *testing.T) {
	db := os.Getenv(clusterChildDB)
	if db == "" {
		t.Skip("a node of TestClusterProcesses; runs only when it re-executes the test binary")
	}
	port, _ := strconv.Atoi(os.Getenv(clusterChildPort))
	cfg := clusterChildConfig(t, t.TempDir(), db, os.Getenv(clusterChildNode), port, os.Getenv(clusterChildTrunk))
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	a, err := app.New(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	sub := a.Bus().Subscribe(100000)
	var wg sync.WaitGroup
	wg.Go(func() {
		for e := range sub.C {
			switch e.Type {
			case events.CallAnswered:
				fmt.Printf("ANSWERED %s\n", e.CallID)
			case events.QueueJoined: // on the leader's bus, for every node's callers
				fmt.Printf("JOINED %s\n", e.CallID)
			}
		}
	})
	fmt.Printf("READY %s %s\n", a.SIPAddrs()["udp"], a.HTTPAddr())
	if err := a.Run(ctx); err != nil {
		t.Error(err)
	}
	sub.Close()
	wg.Wait()
}

// clusterProc is one running node process.
type clusterProc struct {
	cmd       *exec.Cmd
	sip, http string
	mu        sync.Mutex
	answered  map[string]bool
	joined    map[string]bool
	ready     chan struct{}
	log       string
}

func startClusterProc(t *testing.T, db, node string, portMin int, env ...string) *clusterProc {
	t.Helper()
	p := &clusterProc{answered: map[string]bool{}, joined: map[string]bool{}, ready: make(chan struct{}), log: filepath.Join(t.TempDir(), node+".log")}
	logf, err := os.Create(p.log)
	must(t, err)
	defer logf.Close()
	p.cmd = exec.Command(os.Args[0], "-test.run=^TestClusterChild$", "-test.count=1", "-test.timeout=2m")
	p.cmd.Env = append(os.Environ(), clusterChildDB+"="+db, clusterChildNode+"="+node, clusterChildPort+"="+strconv.Itoa(portMin))
	p.cmd.Env = append(p.cmd.Env, env...)
	p.cmd.Stderr = logf
	out, err := p.cmd.StdoutPipe()
	must(t, err)
	must(t, p.cmd.Start())
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			switch {
			case len(f) == 3 && f[0] == "READY":
				p.sip, p.http = f[1], f[2]
				close(p.ready)
			case len(f) == 2 && f[0] == "ANSWERED":
				p.mu.Lock()
				p.answered[f[1]] = true
				p.mu.Unlock()
			case len(f) == 2 && f[0] == "JOINED":
				p.mu.Lock()
				p.joined[f[1]] = true
				p.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Signal(syscall.SIGTERM) // by PID: the process we started
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				_ = p.cmd.Process.Kill()
			}
			_ = p.cmd.Wait()
		}
		if t.Failed() {
			b, _ := os.ReadFile(p.log)
			if len(b) > 8000 {
				b = b[len(b)-8000:]
			}
			t.Logf("node %s log:\n%s", node, b)
		}
	})
	select {
	case <-p.ready:
	case <-done:
		b, _ := os.ReadFile(p.log)
		t.Fatalf("node %s exited before READY:\n%s", node, b)
	case <-time.After(30 * time.Second):
		t.Fatalf("node %s not ready within 30s", node)
	}
	return p
}

// inQueue reports whether callID joined a queue, as the leader (either
// node) reported it.
func inQueue(callID string, ps ...*clusterProc) bool {
	for _, p := range ps {
		p.mu.Lock()
		ok := p.joined[callID]
		p.mu.Unlock()
		if ok {
			return true
		}
	}
	return false
}

func (p *clusterProc) took(callID string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.answered[callID]
}

// TestClusterProcesses: issue 12's check with two `hotline serve`
// processes (the test binary re-executed as a node) on one PostgreSQL,
// behind the shipped Kamailio spreading calls round robin (DS_ALG 4).
// sipp's callers through Kamailio land one on each node. A baresip agent
// registers through Kamailio; callers through Kamailio land on both
// nodes, and each reaches that agent with audio both ways; a VIP caller
// on node b overtakes a standard caller waiting longer on node a. Then one node
// is killed (kill -9) with the agent bridged on it and a caller waiting
// on each node: the survivor records the dead node's two calls as failed,
// node-lost, sets the agent free (its phone's BYE went to the dead node),
// the caller waiting on the survivor reaches the agent, and new calls
// through Kamailio go to the survivor and reach the agent.
func TestClusterProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end with kamailio and two processes")
	}
	db := pgtest.Schema(t)
	a := startClusterProc(t, db, "a", 23000)
	b := startClusterProc(t, db, "b", 20000)
	k := startKamailioAlg(t, "4", a.sip, b.sip)
	for _, n := range []string{a.sip, b.sip} {
		k.poll(5*time.Second, "node "+n+" active", func() bool { return strings.HasPrefix(k.nodeFlags(n), "A") })
	}
	// sipp callers through Kamailio, an independent UA: two at once, one
	// on each node (the shipped IVR's number 200, short calls).
	testenv.Tool(t, "sipp", "Debian: apt-get install sip-tester")
	must(t, sippAt(t, k.addr, "../testdata/sipp", toolPorts.Block(t), "uac_short.xml", "200", "udp", "-m", "2", "-l", "2", "-cid_str", "sipp-%u@cluster"))
	for _, id := range []string{"sipp-1@cluster", "sipp-2@cluster"} {
		if a.took(id) == b.took(id) {
			t.Errorf("sipp's call %s: answered by a %v, by b %v; want exactly one", id, a.took(id), b.took(id))
		}
	}
	if a.took("sipp-1@cluster") == a.took("sipp-2@cluster") {
		t.Error("sipp's two calls through kamailio landed on the same node; want one each (round robin)")
	}

	_, kport, _ := net.SplitHostPort(k.addr)
	agent := baresiptest.Start(t, baresiptest.Config{Ports: toolPorts, Accounts: "accounts.agent.template", Tone: 440,
		Vars: map[string]string{"AGENT_USER": "lan", "AGENT_PASSWORD": "s3cret", "HOTLINE_SIP_PORT": kport}})
	waitBinding(t, db, "lan", "", 10*time.Second) // whichever node took the REGISTER saved it
	httpPost(t, a.http, "/api/v1/agents/lan/state", `{"state":"login"}`)

	// Round robin: two calls, one on each node, both bridged to lan.
	onA, onB := 0, 0
	for i := range 2 {
		_, call, _ := dial(t, nil, "sip:300@"+k.addr, sip.DialOptions{From: fmt.Sprintf("091234567%d", i)})
		agent.WaitEvent(15*time.Second, "CALL_ESTABLISHED")
		if !talk(t, call, 2*time.Second) {
			t.Errorf("caller %d did not hear the agent's 440 Hz", i)
		}
		if a.took(call.ID()) {
			onA++
		}
		if b.took(call.ID()) {
			onB++
		}
		must(t, call.Hangup(within(t, 5*time.Second)))
		agent.WaitEvent(10*time.Second, "CALL_CLOSED")
	}
	if onA != 1 || onB != 1 {
		t.Errorf("calls on node a %d, on node b %d: want one each (round robin)", onA, onB)
	}

	// A VIP caller on node b overtakes a standard caller who waits longer
	// on node a: lan, free again, gets the VIP.
	httpPost(t, a.http, "/api/v1/agents/lan/state", `{"state":"pause","reason":"test"}`)
	httpPost(t, b.http, "/api/v1/customers", `{"name":"Chị Mai","phones":["0912000001"],"tier":"vip"}`)
	survivorWaiting := waitingOn(t, k, a, b, "0922100001")
	bridged := waitingOn(t, k, b, a, "0912000001")
	httpPost(t, a.http, "/api/v1/agents/lan/state", `{"state":"ready"}`)
	agent.WaitEvent(15*time.Second, "CALL_ESTABLISHED")
	if !talk(t, bridged, 2*time.Second) {
		t.Error("the VIP caller on node b did not reach lan first (the standard caller on node a joined earlier)")
	}

	// kill -9 node b with lan bridged on it and a caller waiting on each
	// node: the survivor records b's two calls failed, node-lost, sets lan
	// free, and lan gets the caller waiting on a.
	lostWaiting := waitingOn(t, k, b, a, "0922200001")
	// Issue 12, "the wallboard API totals agree on both nodes": both
	// processes serve the leader's view (within a second of each other).
	for deadline := time.Now().Add(2 * time.Second); ; {
		qa, qb := httpQueues(t, a.http)["technical"], httpQueues(t, b.http)["technical"]
		if qa.Waiting == 2 && qa.Waiting == qb.Waiting && mapsEqual(qa.Totals, qb.Totals) {
			t.Logf("technical on both nodes: waiting %d, totals %v", qa.Waiting, qa.Totals)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("technical on node a %+v, on node b %+v: want the same figures, 2 waiting", qa, qb)
		}
		time.Sleep(20 * time.Millisecond) // polling the APIs; bounded
	}
	must(t, b.cmd.Process.Kill()) // by PID: kill -9 of the process we started
	_ = b.cmd.Wait()
	killed := time.Now()
	// Lan hears silence and hangs up; the BYE goes to the dead node, so
	// only the survivor's node-lost handling can free lan in the ACD.
	agent.Command("hangup", "")
	agent.WaitEvent(10*time.Second, "CALL_CLOSED")
	k.poll(10*time.Second, "node b inactive after kill -9", func() bool { return strings.HasPrefix(k.nodeFlags(b.sip), "I") })
	t.Logf("kamailio took node b out %s after kill -9", time.Since(killed).Round(time.Millisecond))

	// The survivor records b's calls, the bridged one and the waiting one:
	// failed, node-lost.
	conn, err := pgx.Connect(t.Context(), db)
	must(t, err)
	defer conn.Close(context.Background())
	for _, c := range []struct {
		what string
		call *sip.OutboundCall
	}{{"bridged", bridged}, {"waiting", lostWaiting}} {
		deadline := time.Now().Add(15 * time.Second)
		for {
			var cause, state string
			err := conn.QueryRow(t.Context(), `SELECT hangup_cause, outcome FROM voice_calls WHERE call_id = $1`, c.call.ID()).Scan(&cause, &state)
			if err == nil && cause == "node-lost" && state == "failed" {
				t.Logf("the %s call on node b was recorded failed, node-lost %s after kill -9", c.what, time.Since(killed).Round(time.Millisecond))
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the %s call on node b has no failed node-lost record 15s after kill -9 (%v, %q, %q)", c.what, err, state, cause)
			}
			time.Sleep(100 * time.Millisecond) // polling the database; bounded
		}
	}

	// Lan is free again without anybody telling the ACD: the caller who
	// waited on the survivor reaches lan.
	agent.WaitEvent(15*time.Second, "CALL_ESTABLISHED")
	if !talk(t, survivorWaiting, 2*time.Second) {
		t.Error("the caller waiting on the survivor did not hear lan after the kill")
	}
	must(t, survivorWaiting.Hangup(within(t, 5*time.Second)))
	agent.WaitEvent(10*time.Second, "CALL_CLOSED")

	// New calls go to the survivor and reach the agent.
	_, call, _ := dial(t, nil, "sip:300@"+k.addr, sip.DialOptions{From: "0933000001"})
	agent.WaitEvent(15*time.Second, "CALL_ESTABLISHED")
	if !a.took(call.ID()) {
		t.Error("the call after the kill was not answered by the survivor")
	}
	if !talk(t, call, 2*time.Second) {
		t.Error("the caller after the kill did not hear the agent")
	}
	must(t, call.Hangup(within(t, 5*time.Second)))
	agent.WaitEvent(10*time.Second, "CALL_CLOSED")
}

// waitingOn dials technical through Kamailio until a call lands on want
// from the number from (one landing on other is hung up, and dialled
// again), and returns it once the leader has
// it in the queue (killed before it joined, the call would have no entry
// to lose).
func waitingOn(t *testing.T, k *kamailio, want, other *clusterProc, from string) *sip.OutboundCall {
	t.Helper()
	for range 4 {
		_, c, _ := dial(t, nil, "sip:300@"+k.addr, sip.DialOptions{From: from})
		deadline := time.Now().Add(3 * time.Second)
		for !want.took(c.ID()) && !other.took(c.ID()) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond) // the node's stdout; bounded
		}
		if !want.took(c.ID()) {
			must(t, c.Hangup(within(t, 5*time.Second)))
			continue
		}
		for deadline := time.Now().Add(5 * time.Second); !inQueue(c.ID(), want, other); {
			if time.Now().After(deadline) {
				t.Fatal("the call did not join the queue within 5s")
			}
			time.Sleep(20 * time.Millisecond) // the nodes' stdout; bounded
		}
		return c
	}
	t.Fatalf("no call through kamailio landed on node %s in 4", want.sip)
	return nil
}

// httpQueues is GET /api/v1/queues of a node process, by queue name.
func httpQueues(t *testing.T, addr string) map[string]queueFigures {
	t.Helper()
	req, err := http.NewRequest("GET", "http://"+addr+"/api/v1/queues", nil)
	must(t, err)
	req.Header.Set("Authorization", "Bearer "+testToken)
	res, err := http.DefaultClient.Do(req)
	must(t, err)
	defer res.Body.Close()
	var out struct {
		Items []struct {
			Name string `json:"name"`
			queueFigures
		} `json:"items"`
	}
	if res.StatusCode != 200 {
		t.Fatalf("GET %s/api/v1/queues: %s", addr, res.Status)
	}
	must(t, json.NewDecoder(res.Body).Decode(&out))
	m := map[string]queueFigures{}
	for _, q := range out.Items {
		m[q.Name] = q.queueFigures
	}
	return m
}

// httpPost is apiPost to a node process's HTTP address.
func httpPost(t *testing.T, addr, path, body string) {
	t.Helper()
	req, err := http.NewRequest("POST", "http://"+addr+path, strings.NewReader(body))
	must(t, err)
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	must(t, err)
	res.Body.Close()
	if res.StatusCode/100 != 2 {
		t.Fatalf("POST %s%s: %s", addr, path, res.Status)
	}
}

// TestClusterProcessesCallbackDiallerKilled: issue 12's "kill -9 one node:
// a pending callback is dialled once", with two `hotline serve` processes
// on one PostgreSQL and the customer's line as their trunk. A callback is
// asked through the follower (b); the leader (a) dials it, and is killed
// with kill -9 while the customer's phone rings. b takes the lead, declares
// a lost after node_timeout, and dials the callback once more: two
// attempts in all, the first interrupted (node-lost) under a's claim, the
// second b's.
func TestClusterProcessesCallbackDiallerKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end with two processes")
	}
	db := pgtest.Schema(t)
	line := phonetest.New(t, 26000, 26498, 660)
	line.Plan(phonetest.Ring, phonetest.Reject(486))
	a := startClusterProc(t, db, "a", 20000, clusterChildTrunk+"="+line.Addr())
	waitLeader(t, db, "a", 10*time.Second, nil)
	b := startClusterProc(t, db, "b", 23000, clusterChildTrunk+"="+line.Addr())
	httpPost(t, b.http, "/api/v1/agents/lan/state", `{"state":"login"}`) // free: the callback is dialled at once
	httpPost(t, b.http, "/api/v1/callbacks", `{"number":"0912 345 678","queue":"technical"}`)
	first := line.NextInvite(t, within(t, 30*time.Second)) // the leader dials; the phone rings
	must(t, a.cmd.Process.Kill())                          // by PID: kill -9 of the process we started
	_ = a.cmd.Wait()
	killed := time.Now()
	second := line.NextInvite(t, within(t, 30*time.Second))
	t.Logf("dialled again %s after kill -9 (node_timeout 3s)", time.Since(killed).Round(time.Millisecond))

	conn, err := pgx.Connect(t.Context(), db)
	must(t, err)
	defer conn.Close(context.Background())
	type attempt struct{ claimedBy, result, reason, callID string }
	var got []attempt
	for deadline := time.Now().Add(30 * time.Second); ; {
		got = got[:0]
		rows, err := conn.Query(t.Context(), `SELECT claimed_by, coalesce(result, ''), reason, call_id FROM callback_attempts ORDER BY callback_id, attempt`)
		must(t, err)
		for rows.Next() {
			var at attempt
			must(t, rows.Scan(&at.claimedBy, &at.result, &at.reason, &at.callID))
			got = append(got, at)
		}
		must(t, rows.Err())
		if len(got) == 2 && got[1].result != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("attempts %+v 30s after the second INVITE; want two, both ended", got)
		}
		time.Sleep(50 * time.Millisecond) // polling the database; bounded
	}
	if g := got[0]; g.callID != first.CallID || g.result != "interrupted" || g.reason != "node-lost" || !strings.HasPrefix(g.claimedBy, "a/") {
		t.Errorf("first attempt %+v; want node a's call %s, interrupted, node-lost", g, first.CallID)
	}
	if g := got[1]; g.callID != second.CallID || g.result != "busy" || !strings.HasPrefix(g.claimedBy, "b/") {
		t.Errorf("second attempt %+v; want node b's call %s, busy", g, second.CallID)
	}
	var state string
	must(t, conn.QueryRow(t.Context(), `SELECT state FROM callbacks`).Scan(&state))
	if state != "failed" {
		t.Errorf("callback %s; want failed (one attempt, busy)", state)
	}
	select {
	case inv := <-line.Invites():
		t.Errorf("a third INVITE (Call-ID %s): dialled more than once after the kill", inv.CallID)
	default:
	}
}
