package bridge

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/internal/referphone"
	"github.com/hotline-dev/hotline/internal/siptest"
	"github.com/hotline-dev/hotline/media"
	"github.com/hotline-dev/hotline/sip"
)

// phones is the callback-shaped rig over UDP on 127.0.0.1: Hotline's
// sip.Client places two legs with SIPDialer, one to a customer's phone
// (600 Hz) and one to an agent's (1400 Hz), both plain-sipgo phones that
// can REFER.
type phones struct {
	customer, agent *referphone.ReferPhone
	dialer          SIPDialer
}

func startPhones(t *testing.T) *phones {
	t.Helper()
	client := siptest.Client(t, sip.ClientConfig{Addr: "127.0.0.1:0", Logger: testLog()})
	return &phones{customer: referphone.NewReferPhone(t, 44000, 600, 1400), agent: referphone.NewReferPhone(t, 44500, 1400, 600),
		dialer: SIPDialer{Client: client}}
}

// dial places a leg to p and returns Hotline's side and the phone's.
func (ps *phones) dial(t *testing.T, ctx context.Context, p *referphone.ReferPhone, user string) (Call, *referphone.PhoneCall) {
	t.Helper()
	c, err := ps.dialer.Dial(ctx, p.URI(user), sip.DialOptions{From: "+842838001234", DisplayName: "Hotline", Codecs: []media.Codec{media.PCMU}})
	if err != nil {
		t.Fatalf("dial %s: %v", user, err)
	}
	select {
	case pc := <-p.Calls:
		return c, pc
	case <-ctx.Done():
		t.Fatalf("%s's phone never answered", user)
	}
	return nil, nil
}

func waitFor(t *testing.T, ctx context.Context, c <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-c:
	case <-ctx.Done():
		t.Fatal(what)
	}
}

// TestLoopbackConnectTwoPlacedCalls: two legs Hotline placed hear each
// other (the callback's customer and agent); when the agent hangs up,
// Connect says so and the customer is still up for the owner to end.
func TestLoopbackConnectTwoPlacedCalls(t *testing.T) {
	if testing.Short() {
		t.Skip("loopback SIP")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ps := startPhones(t)
	cust, custPhone := ps.dial(t, ctx, ps.customer, "0901234567")
	agent, agentPhone := ps.dial(t, ctx, ps.agent, "1001")
	ended := make(chan End, 1)
	go func() { e, _ := Connect(ctx, cust, agent, Options{}); ended <- e }()
	waitFor(t, ctx, custPhone.Hears.C, "the customer never heard the agent")
	waitFor(t, ctx, agentPhone.Hears.C, "the agent never heard the customer")
	if err := agentPhone.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-ended:
		if e != EndedByB {
			t.Fatalf("ended by %v, want b", e)
		}
	case <-ctx.Done():
		t.Fatal("Connect did not return after the agent's BYE")
	}
	if cause, side := agent.Ended(); cause != sip.CauseRemoteBye || side != sip.SideRemote {
		t.Fatalf("agent leg ended %q/%q", cause, side)
	}
	select {
	case <-custPhone.Ended:
		t.Fatal("Connect hung the customer up")
	default:
	}
	if err := Hangup(ctx, cust); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, custPhone.Ended, "the customer never got BYE")
}

// TestLoopbackConnectTransfer: the agent's REFER over SIP (RFC 3515): a
// refusal is answered with the decision's status and the call goes on; an
// acceptance is answered 202 with NOTIFY 100 Trying and ends Connect with
// the transfer; FinishTransfer sends the final NOTIFY and BYE. After
// Connect has returned, a REFER is refused (403).
func TestLoopbackConnectTransfer(t *testing.T) {
	if testing.Short() {
		t.Skip("loopback SIP")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ps := startPhones(t)
	cust, custPhone := ps.dial(t, ctx, ps.customer, "0901234567")
	agent, agentPhone := ps.dial(t, ctx, ps.agent, "1001")
	type result struct {
		end End
		t   *sip.Transfer
	}
	out := make(chan result, 1)
	go func() {
		e, tr := Connect(ctx, cust, agent, Options{Refer: func(t *sip.Transfer) error {
			if t.User != "sales" {
				return &sip.StatusError{Code: 480, Reason: "Temporarily Unavailable", Err: errors.New("not registered")}
			}
			return nil
		}})
		out <- result{e, tr}
	}()
	waitFor(t, ctx, agentPhone.Hears.C, "the agent never heard the customer")
	if code := ps.agent.Refer(ctx, agentPhone, "<sip:2002@hotline>"); code != 480 {
		t.Fatalf("refused REFER answered %d, want 480", code)
	}
	if code := ps.agent.Refer(ctx, agentPhone, "<sip:sales@hotline>"); code != 202 {
		t.Fatalf("REFER answered %d, want 202", code)
	}
	ps.agent.WantFrags(ctx, "SIP/2.0 100 Trying\r\n")
	var r result
	select {
	case r = <-out:
	case <-ctx.Done():
		t.Fatal("Connect did not end for the transfer")
	}
	if r.end != EndedByTransfer || r.t == nil || r.t.URI() != "sip:sales@hotline" || r.t.ReferredBy != "<sip:1001@127.0.0.1>" {
		t.Fatalf("Connect = %v, %+v", r.end, r.t)
	}
	select {
	case <-agentPhone.Ended:
		t.Fatal("the agent was hung up before the transfer was finished")
	case <-custPhone.Ended:
		t.Fatal("the customer was hung up by the transfer")
	default:
	}
	FinishTransfer(ctx, agent, r.t, 200, "OK")
	ps.agent.WantFrags(ctx, "SIP/2.0 200 OK\r\n")
	waitFor(t, ctx, agentPhone.Ended, "the agent got no BYE after the transfer")

	// A second agent, connected and then let go (the owner's context): its
	// REFER is no longer anyone's to accept.
	agent2, agent2Phone := ps.dial(t, ctx, ps.agent, "1002")
	cctx, stop := context.WithCancel(ctx)
	go func() {
		e, _ := Connect(cctx, cust, agent2, Options{Refer: func(*sip.Transfer) error { return nil }})
		out <- result{end: e}
	}()
	waitFor(t, ctx, agent2Phone.Hears.C, "the second agent never heard the customer")
	stop()
	if r := <-out; r.end != EndedByContext {
		t.Fatalf("ended by %v, want context", r.end)
	}
	if code := ps.agent.Refer(ctx, agent2Phone, "<sip:sales@hotline>"); code != 403 {
		t.Fatalf("REFER after Connect answered %d, want 403", code)
	}
	for _, c := range []Call{agent2, cust} {
		if err := Hangup(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, ctx, custPhone.Ended, "the customer never got BYE")
}

// TestLoopbackConnectTap: Options.Tap hears both legs while connected,
// each frame with its side and RTP timing (the customer's 600 Hz on a,
// the agent's 1400 Hz on b), and nothing once Connect has returned.
func TestLoopbackConnectTap(t *testing.T) {
	if testing.Short() {
		t.Skip("loopback SIP")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ps := startPhones(t)
	cust, _ := ps.dial(t, ctx, ps.customer, "0901234567")
	agent, agentPhone := ps.dial(t, ctx, ps.agent, "1001")
	var mu sync.Mutex
	heard := map[Side][]int16{}
	after := 0
	connected := true
	both := make(chan struct{})
	tap := func(from Side, f media.Frame) {
		mu.Lock()
		defer mu.Unlock()
		if !connected {
			after++
			return
		}
		heard[from] = append(heard[from], f.PCM...)
		if len(heard[SideA]) >= 8000 && len(heard[SideB]) >= 8000 && both != nil {
			close(both)
			both = nil
		}
	}
	mu.Lock()
	wait := both
	mu.Unlock()
	cctx, stop := context.WithCancel(ctx)
	ended := make(chan End, 1)
	go func() { e, _ := Connect(cctx, cust, agent, Options{Tap: tap}); ended <- e }()
	waitFor(t, ctx, wait, "the tap never heard a second of both legs")
	stop()
	if e := <-ended; e != EndedByContext {
		t.Fatalf("ended by %v", e)
	}
	mu.Lock()
	connected = false
	a, b := heard[SideA], heard[SideB]
	mu.Unlock()
	if s := media.ToneShare(a[len(a)-4000:], 600); s < 0.8 {
		t.Errorf("side a: 600 Hz share %.2f", s)
	}
	if s := media.ToneShare(b[len(b)-4000:], 1400); s < 0.8 {
		t.Errorf("side b: 1400 Hz share %.2f", s)
	}
	// The phones keep sending half a second more; the tap is gone.
	more := make(chan struct{})
	var n atomic.Int32
	cust.Leg().SetAudioSink(func([]int16) {
		if n.Add(1) == 25 {
			close(more)
		}
	})
	waitFor(t, ctx, more, "the customer's phone stopped sending")
	cust.Leg().SetAudioSink(nil)
	for _, c := range []Call{agent, cust} {
		if err := Hangup(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, ctx, agentPhone.Ended, "the agent never got BYE")
	mu.Lock()
	defer mu.Unlock()
	if after > 2 { // a reader may have loaded the tap just before it was removed
		t.Errorf("%d frames tapped after Connect returned", after)
	}
}
