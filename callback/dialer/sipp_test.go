package dialer

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/callback"
	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/internal/siptest"
	"github.com/hotline-dev/hotline/internal/testenv"
	"github.com/hotline-dev/hotline/internal/testports"
	"github.com/hotline-dev/hotline/media"
	"github.com/hotline-dev/hotline/outbound"
	"github.com/hotline-dev/hotline/sip"
	"github.com/hotline-dev/hotline/store"
)

// toolPorts are the ports this package's tests name for sipp (-p, and -mp,
// which it binds with -mp+2): this package's range in internal/testports,
// below the kernel's ephemeral range, where a port-0 bind cannot take them
// between the check and sipp's bind.
var toolPorts = testports.New(12800, 13199)

// TestSippCustomerConfirms (a) against an independent phone: sipp as the
// customer behind the trunk (testdata/sipp/uas_callback.xml) checks the
// INVITE's Request-URI, Call-ID, From user and From tag itself, answers,
// and presses 1 in RFC 4733 three seconds later; the fake queue takes the
// call and the talk ends; sipp gets the BYE and exits 0.
func TestSippCustomerConfirms(t *testing.T) {
	loopback(t)
	bin := testenv.Tool(t, "sipp", "Debian: apt-get install sip-tester")
	b := toolPorts.Block(t)
	port := b.SIP()
	provider := "127.0.0.1:" + strconv.Itoa(port)
	pol, err := outbound.New(outbound.Config{Allow: config.Allow{Numbers: []string{"+849*"}}, DefaultCountry: "VN",
		Trunks: []config.Trunk{{Name: "sipp", Host: provider, CallerID: "+842838001234", Numbers: []string{"+84*"}}}, Logger: testLog()})
	if err != nil {
		t.Fatal(err)
	}
	pool, err := media.NewPortPool(hotlinePorts, hotlinePorts+198)
	if err != nil {
		t.Fatal(err)
	}
	client := siptest.Client(t, sip.ClientConfig{Addr: "127.0.0.1:0", Logger: testLog(), RTP: pool})
	took := make(chan *Call, 1)
	d, err := New(Config{Client: client, Policy: pol, Prompts: &tonePrompts{}, Logger: testLog(),
		Connector: connectorFunc(func(ctx context.Context, c *Call) (Connected, error) {
			took <- c
			return Connected{Agent: "alice", AnsweredAt: time.Now(), Talk: time.Second, Answered: true, EndedBy: store.SideAgent}, nil
		})})
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	errFile := t.TempDir() + "/sipp.err"
	cmd := exec.CommandContext(ctx, bin, "-sf", "uas_callback.xml", "-i", "127.0.0.1", "-p", strconv.Itoa(port),
		"-mi", "127.0.0.1", "-mp", strconv.Itoa(b.Media()), "-m", "1", "-timeout", "30s", "-timeout_error",
		"-trace_err", "-error_file", errFile, "-nostdin")
	cmd.Dir = "../../testdata/sipp"
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		if t.Failed() {
			trace, _ := os.ReadFile(errFile)
			t.Logf("sipp output:\n%s\nerrors:\n%s", out.String(), trace)
		}
	}()
	waitListening(t, ctx, port)

	req := request()
	req.ConfirmTimeout = 10 * time.Second
	p := newProgress()
	res := d.Dial(ctx, req, p)
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("sipp: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("sipp did not finish")
	}
	if res.Result != store.AttemptCompleted || res.SIPStatus != 200 || res.Trunk != "sipp" || res.Agent != "alice" || res.ConfirmedAt.IsZero() {
		t.Fatalf("result %+v", res)
	}
	if c := <-took; c.ID() != req.CallID {
		t.Errorf("the queue got call %q", c.ID())
	}
	if len(p.confirmed()) != 1 {
		t.Errorf("confirmed %v", p.confirmed())
	}
}

type connectorFunc func(ctx context.Context, c *Call) (Connected, error)

func (f connectorFunc) Connect(ctx context.Context, c *Call, _ callback.DialRequest) (Connected, error) {
	return f(ctx, c)
}

// waitListening polls until sipp has bound port (the bind fails).
func waitListening(t *testing.T, ctx context.Context, port int) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		c, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			return
		}
		c.Close()
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatal("sipp never listened")
		}
	}
}
