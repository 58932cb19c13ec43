package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/internal/sipprovider"
	"github.com/hotline-dev/hotline/internal/testenv"
	"github.com/hotline-dev/hotline/outbound"
	"github.com/hotline-dev/hotline/queue"
	"github.com/hotline-dev/hotline/sip"
	"github.com/hotline-dev/hotline/store"
)

// Issue 10, "dialling out safely": an agent (baresip, its own REFER) sends
// the caller to a number on Hotline's own host; the call goes out through
// the trunk to the provider (a sipgo UAS that challenges with 401 and checks
// the digest itself), with the configured caller ID in From and
// P-Asserted-Identity and the number in the trunk's national format. Caller
// and provider hear each other. The day's cap is one dial: an alarm says so,
// and a second caller's transfer is refused by the outbound policy, which the
// agent's NOTIFY, the event stream and the ticket history all say; that
// caller goes back to the queue and the agent.
func TestTransferToNumberThroughTrunk(t *testing.T) {
	leakCheck(t)
	prov := sipprovider.StartProvider(t, sipprovider.ProviderConfig{Challenge: 401, Username: "842838001234", Password: "pr0vider", Tone: 440})
	t.Setenv("HOTLINE_E2E_TRUNK_PASSWORD", "pr0vider")
	h := start(t, func(c *config.Config) {
		c.Agents = []config.Agent{{ID: "lan", Name: "Lan", Username: "lan", Password: "s3cret", Queues: map[string]int{"technical": 0}}}
		c.Allow.Numbers = []string{"+8428*"}
		c.Outbound.MaxPerDay = 1
		c.Trunks = []config.Trunk{{Name: "provider", Host: prov.Addr(), Username: "842838001234", Password: "env:HOTLINE_E2E_TRUNK_PASSWORD",
			CallerID: "028 3800 1234", CallerName: "Hotline", AssertID: true, NumberFormat: config.FormatNational, Numbers: []string{"+84*"}}}
	})
	lan := baresipAgent(t, h, "lan", "s3cret")

	_, call, _ := dial(t, h, "sip:300@"+h.sipAddr("udp"), sip.DialOptions{From: "0912345678"})
	id := call.ID()
	h.bridged(id, "lan")
	lan.WaitEvent(10*time.Second, "CALL_ESTABLISHED")
	// Audio through the bridge: it takes the agent's REFER from now on.
	if !talk(t, call, 2*time.Second) {
		t.Fatal("the caller did not hear lan")
	}
	target := "sip:02838005555@" + h.sipAddr("udp")
	lan.Command("transfer", target)
	tr := h.waitEvent(20*time.Second, "transfer", func(e events.Event) bool { return e.Type == queue.CallTransferred && e.CallID == id })
	if p := payload[queue.Transferred](tr); p.Kind != "number" || p.Result != "ok" {
		t.Fatalf("call.transferred %+v", tr)
	}
	var inv sipprovider.Invite
	select {
	case inv = <-prov.Invites():
	case <-time.After(10 * time.Second):
		t.Fatal("the provider never answered")
	}
	want := sipprovider.Invite{RequestURI: "sip:02838005555@" + prov.Addr(), User: "02838005555", FromUser: "02838001234",
		FromHost: "127.0.0.1", FromName: "Hotline", Asserted: `"Hotline" <sip:02838001234@127.0.0.1>`, Transport: "UDP", Username: "842838001234"}
	if fmt.Sprint(inv) != fmt.Sprint(want) {
		t.Errorf("the provider got\n %+v\nwant %+v", inv, want)
	}
	h.waitEvent(5*time.Second, "the daily cap's alarm", func(e events.Event) bool {
		a := payload[outbound.CapAlarm](e)
		return e.Type == outbound.EventCapAlarm && a.Cap == outbound.CapDaily && a.Level == outbound.LevelReached
	})
	if !talk(t, call, 2*time.Second) {
		t.Error("the caller did not hear the provider's phone")
	}
	if !prov.Heard(1000, 440) {
		t.Error("the provider's phone did not hear the caller")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	must(t, prov.HangupAll(ctx))
	select {
	case <-call.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the caller was not hung up after the provider hung up")
	}
	v := oneRecord(t, h, id)
	if len(v.Legs) != 2 {
		t.Fatalf("legs %+v", v.Legs)
	}
	wantLeg(t, 1, v.Legs[1], store.CallLeg{Queue: "technical", Number: target, End: store.LegHangup, EndedBy: store.SideAgent}, true)

	// The second dial of the day is over the cap.
	_, call2, _ := dial(t, h, "sip:300@"+h.sipAddr("udp"), sip.DialOptions{From: "0912345679"})
	id2 := call2.ID()
	h.bridged(id2, "lan")
	lan.WaitEvent(10*time.Second, "CALL_ESTABLISHED")
	if !talk(t, call2, 2*time.Second) {
		t.Fatal("the second caller did not hear lan")
	}
	lan.Command("transfer", "sip:02838005556@"+h.sipAddr("udp"))
	refused := h.waitEvent(20*time.Second, "refused dial", func(e events.Event) bool {
		return e.Type == outbound.EventDialRefused && e.CallID == id2
	})
	if r := payload[outbound.DialRefusal](refused); r.Reason != outbound.ReasonDailyCap || r.Dest != "+842838005556" || r.Trunk != "provider" {
		t.Errorf("dial_refused %+v", refused.Payload)
	}
	tr = h.waitEvent(20*time.Second, "failed transfer", func(e events.Event) bool { return e.Type == queue.CallTransferred && e.CallID == id2 })
	if p := payload[queue.Transferred](tr); p.Result != "503 Outbound Limit (daily-cap)" {
		t.Errorf("call.transferred %+v", tr.Payload)
	}
	h.waitEvent(30*time.Second, "back to lan", func(e events.Event) bool {
		return e.Type == events.CallBridged && e.CallID == id2 && e.Agent == "lan" && e.Seq > tr.Seq
	})
	must(t, call2.Hangup(ctx))
	v = oneRecord(t, h, id2)
	if len(v.Legs) < 2 || v.Legs[1].Reason != "503 Outbound Limit (daily-cap)" || v.Legs[1].Answered() {
		t.Errorf("the refused leg is not in the record: %+v", v.Legs)
	}
	select {
	case inv := <-prov.Invites():
		t.Errorf("the refused dial reached the provider: %+v", inv)
	default:
	}
	for series, want := range map[string]float64{
		`hotline_outbound_dials_total`: 1, `hotline_outbound_dials_today`: 1, `hotline_outbound_calls_active{trunk=""}`: 0,
		`hotline_outbound_dials_refused_total{reason="daily-cap"}`: 1, `hotline_outbound_calls_active{trunk="provider"}`: 0,
	} {
		if got := metric(t, h, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	h.shutdown()
}

// An independent provider: sipp as the trunk's far end
// (testdata/sipp/uas_trunk_auth.xml) challenges with 401 and checks the
// digest itself (verifyauth), the Request-URI's number in national format,
// the From user and the P-Asserted-Identity. The trunk carries an external
// agent (agents[].uri on the trunk's host): a caller joins the queue, the
// agent leg goes out through the trunk and is bridged; the caller hangs up
// and sipp gets the BYE.
func TestSippProviderExternalAgent(t *testing.T) {
	bin := testenv.Tool(t, "sipp", "Debian: apt-get install sip-tester")
	leakCheck(t)
	sippPorts := ports(t)
	port, mp := sippPorts.sip(), sippPorts.media()
	provider := fmt.Sprintf("127.0.0.1:%d", port)
	h := start(t, func(c *config.Config) {
		c.Agents = []config.Agent{{ID: "ext", Name: "External", URI: "sip:0912000111@" + provider, Queues: map[string]int{"technical": 0}}}
		c.Allow.Numbers = []string{"+849*"}
		c.Trunks = []config.Trunk{{Name: "sipp", Host: provider, Username: "842838001234", Password: "pr0vider",
			CallerID: "+842838001234", AssertID: true, NumberFormat: config.FormatNational, Numbers: []string{"+84*"}}}
	})
	apiPost(t, h, "/api/v1/agents/ext/state", `{"state":"login"}`)
	errFile := filepath.Join(t.TempDir(), "sipp.err")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-sf", "uas_trunk_auth.xml", "-i", "127.0.0.1", "-p", fmt.Sprint(port),
		"-mi", "127.0.0.1", "-mp", fmt.Sprint(mp), "-m", "1", "-timeout", "60s", "-timeout_error",
		"-trace_err", "-error_file", errFile, "-trace_msg", "-message_file", errFile+".msg", "-nostdin")
	cmd.Dir = "../testdata/sipp"
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	must(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	_, call, _ := dial(t, h, "sip:300@"+h.sipAddr("udp"), sip.DialOptions{From: "0987654321"})
	id := call.ID()
	t.Cleanup(func() {
		if t.Failed() {
			trace, _ := os.ReadFile(errFile)
			msgs, _ := os.ReadFile(errFile + ".msg")
			t.Logf("sipp output:\n%s\nerrors:\n%s\nmessages:\n%s", tail([]byte(out.String()), 3000), trace, tail(msgs, 6000))
		}
	})
	h.bridged(id, "ext")
	must(t, call.Hangup(ctx))
	select {
	case err := <-exited:
		if err != nil {
			trace, _ := os.ReadFile(errFile)
			t.Fatalf("sipp: %v\n%s\nerrors:\n%s\nserver events:\n%s", err, tail([]byte(out.String()), 3000), trace, h.dump())
		}
	case <-ctx.Done():
		t.Fatal("sipp did not finish")
	}
	v := oneRecord(t, h, id)
	if len(v.Legs) != 1 || v.Legs[0].Agent != "ext" || !v.Legs[0].Answered() {
		t.Errorf("legs %+v", v.Legs)
	}
	h.shutdown()
}
