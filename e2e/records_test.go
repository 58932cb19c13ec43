package e2e

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/internal/baresiptest"
	"github.com/hotline-dev/hotline/media"
	"github.com/hotline-dev/hotline/queue"
	"github.com/hotline-dev/hotline/registrar"
	"github.com/hotline-dev/hotline/sip"
	"github.com/hotline-dev/hotline/store"
)

// Issue 7, "records you can trust": each test places real calls with an
// independent client (baresip or sipp) on one side and asserts the ticket
// history from what the calls did, never from timing.

// baresipAgent starts baresip as agent id's phone: it registers with the
// agent's credentials (digest) and answers every call; the test waits for
// the registration and logs the agent in.
func baresipAgent(t *testing.T, h *harness, id, password string) *baresiptest.Phone {
	t.Helper()
	_, port, _ := net.SplitHostPort(h.sipAddr("udp"))
	p := baresiptest.Start(t, baresiptest.Config{Ports: toolPorts, Accounts: "accounts.agent.template", Tone: 440,
		Vars: map[string]string{"AGENT_USER": id, "AGENT_PASSWORD": password, "HOTLINE_SIP_PORT": port}})
	h.waitEvent(10*time.Second, id+" registered", func(e events.Event) bool {
		return e.Type == registrar.EventBinding && e.Agent == id
	})
	apiPost(t, h, "/api/v1/agents/"+id+"/state", `{"state":"login"}`)
	return p
}

// interactions returns every voice interaction logged for a Call-ID, once
// the call log has drained.
func (h *harness) interactions(callID string) []store.Interaction {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := h.app.CallLog().WaitIdle(ctx); err != nil {
		h.t.Fatalf("call log did not drain: %v", err)
	}
	st, err := h.app.Store(ctx)
	must(h.t, err)
	items, _, err := st.ListInteractions(ctx, store.InteractionFilter{Channel: store.ChannelVoice}, store.Page{Limit: 500})
	must(h.t, err)
	var out []store.Interaction
	for _, it := range items {
		if it.Voice != nil && it.Voice.CallID == callID {
			out = append(out, it)
		}
	}
	return out
}

// bridged waits until the call is bridged to agent.
func (h *harness) bridged(callID, agent string) {
	h.t.Helper()
	h.waitEvent(30*time.Second, "bridge to "+agent, func(e events.Event) bool {
		return e.Type == events.CallBridged && e.CallID == callID && e.Agent == agent
	})
}

// talk plays the caller's 1000 Hz tone for d through the bridge and
// reports whether the caller heard the agent's 440 Hz meanwhile.
func talk(t *testing.T, call *sip.OutboundCall, d time.Duration) bool {
	t.Helper()
	var heard pcmRecorder
	call.Media().SetAudioSink(heard.sink)
	defer call.Media().SetAudioSink(nil)
	ctx, cancel := context.WithTimeout(context.Background(), d+10*time.Second)
	defer cancel()
	must(t, call.Media().Play(ctx, media.NewPromptPCM("caller-tone", media.Tone([]float64{1000}, d))))
	return heard.hears(440, 1000)
}

// wantLeg checks the fields of a leg a test can know; answered legs must
// have talk time, every leg a sane order of times.
func wantLeg(t *testing.T, i int, got, want store.CallLeg, answered bool) {
	t.Helper()
	if got.Queue != want.Queue || got.Agent != want.Agent || got.Number != want.Number || got.End != want.End ||
		got.EndedBy != want.EndedBy || got.TransferTo != want.TransferTo || got.Reason != want.Reason {
		t.Errorf("leg %d = %+v\nwant %+v", i, got, want)
	}
	if got.Answered() != answered || (answered && got.TalkSeconds <= 0) || got.EndedAt.Before(got.JoinedAt) ||
		(answered && (got.AnsweredAt.Before(got.JoinedAt) || got.EndedAt.Before(*got.AnsweredAt))) {
		t.Errorf("leg %d: answered %v (want %v), joined %v answered %v ended %v, talk %.2fs", i, got.Answered(), answered,
			got.JoinedAt, got.AnsweredAt, got.EndedAt, got.TalkSeconds)
	}
}

func oneRecord(t *testing.T, h *harness, callID string) *store.VoiceDetails {
	t.Helper()
	h.waitEvent(30*time.Second, "call.ended", func(e events.Event) bool { return e.CallID == callID && e.Type == events.CallEnded })
	its := h.interactions(callID)
	if len(its) != 1 {
		t.Fatalf("%d records for call %s, want 1", len(its), callID)
	}
	return its[0].Voice
}

// Point 1 and 2: an answered call is completed whoever hangs up first, and
// the record says who: the caller (their BYE) or the agent (agent-bye).
// Each order with baresip on one side: as the agent's phone (digest
// registration) with Hotline's Go caller, and as the caller with a Go agent
// phone.
func TestAnsweredCallRecordedWhoeverHangsUp(t *testing.T) {
	for _, tc := range []struct {
		name  string
		first store.Side
	}{
		{"baresip agent, caller hangs up first", store.SideCaller},
		{"baresip agent hangs up first", store.SideAgent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leakCheck(t)
			h := start(t, func(c *config.Config) {
				c.Agents = []config.Agent{{ID: "lan", Name: "Lan", Username: "lan", Password: "s3cret", Queues: map[string]int{"technical": 0}}}
			})
			agent := baresipAgent(t, h, "lan", "s3cret")
			_, call, _ := dial(t, h, "sip:300@"+h.sipAddr("udp"), sip.DialOptions{From: "0912345678"})
			id := call.ID()
			h.bridged(id, "lan")
			agent.WaitEvent(10*time.Second, "CALL_ESTABLISHED")
			if !talk(t, call, 2*time.Second) {
				t.Error("the caller did not hear baresip's 440 Hz through the bridge")
			}
			wantCause := sip.CauseCallerBye
			if tc.first == store.SideCaller {
				must(t, call.Hangup(context.Background()))
			} else {
				agent.Command("hangup", "")
				select {
				case <-call.Done():
				case <-time.After(10 * time.Second):
					t.Fatal("baresip hung up but Hotline did not hang the caller up")
				}
				if cause, side := call.Ended(); side != sip.SideRemote || cause != sip.CauseAgentBye {
					t.Errorf("caller's BYE from Hotline says %q (%s), want %s (RFC 3326 Reason)", cause, side, sip.CauseAgentBye)
				}
				wantCause = sip.CauseAgentBye
			}
			agent.WaitEvent(10*time.Second, "CALL_CLOSED")
			v := oneRecord(t, h, id)
			if v.Outcome != store.OutcomeCompleted || v.HangupSide != tc.first || v.HangupCause != string(wantCause) {
				t.Errorf("record: outcome %q side %q cause %q, want completed, %s, %s", v.Outcome, v.HangupSide, v.HangupCause, tc.first, wantCause)
			}
			if v.Queue != "technical" || v.Agent != "lan" || v.TalkSeconds < 1.5 || len(v.Legs) != 1 {
				t.Fatalf("record: queue %q agent %q talk %.1fs legs %+v", v.Queue, v.Agent, v.TalkSeconds, v.Legs)
			}
			wantLeg(t, 0, v.Legs[0], store.CallLeg{Queue: "technical", Agent: "lan", End: store.LegHangup, EndedBy: tc.first}, true)
			if v.TalkSeconds != v.Legs[0].TalkSeconds || v.WaitSeconds != v.Legs[0].WaitSeconds {
				t.Errorf("top-level talk %.2f wait %.2f, want the one leg's %.2f and %.2f", v.TalkSeconds, v.WaitSeconds,
					v.Legs[0].TalkSeconds, v.Legs[0].WaitSeconds)
			}
			if st := queueTotals(t, h, "technical"); st.Answered != 1 || st.Abandoned != 0 {
				t.Errorf("queue totals %+v: the statistics and the record must agree (answered)", st)
			}
			h.shutdown()
		})
	}
	t.Run("baresip caller hangs up first", func(t *testing.T) {
		leakCheck(t)
		desk := startAgentPhone(t)
		h := start(t, func(c *config.Config) {
			c.Agents = []config.Agent{{ID: "desk", Name: "Desk", URI: "sip:desk@" + desk.srv.Addr().String(), Queues: map[string]int{"technical": 0}}}
			c.Allow.Hosts = []string{"127.0.0.1"}
		})
		apiPost(t, h, "/api/v1/agents/desk/state", `{"state":"login"}`)
		b := baresiptest.Start(t, baresiptest.Config{Ports: toolPorts, Accounts: "accounts.caller", Tone: 1000})
		b.Command("dial", "sip:300@"+h.sipAddr("udp"))
		b.WaitEvent(10*time.Second, "CALL_ESTABLISHED")
		id := h.waitEvent(10*time.Second, "call", func(e events.Event) bool { return e.Type == events.CallStarted }).CallID
		h.bridged(id, "desk")
		select {
		case <-desk.calls:
		case <-time.After(10 * time.Second):
			t.Fatal("the agent's phone never got the call")
		}
		b.Command("hangup", "")
		b.WaitEvent(10*time.Second, "CALL_CLOSED")
		v := oneRecord(t, h, id)
		if v.Outcome != store.OutcomeCompleted || v.HangupSide != store.SideCaller || v.HangupCause != string(sip.CauseCallerBye) || len(v.Legs) != 1 {
			t.Fatalf("record: outcome %q side %q cause %q legs %+v, want completed by the caller", v.Outcome, v.HangupSide, v.HangupCause, v.Legs)
		}
		wantLeg(t, 0, v.Legs[0], store.CallLeg{Queue: "technical", Agent: "desk", End: store.LegHangup, EndedBy: store.SideCaller}, true)
		h.shutdown()
	})
}

// Point 3: a blind transfer keeps every leg. baresip is the agent who
// transfers (its own REFER, RFC 3515): to queue sales, where a second agent
// answers, and to an allow-listed number, which answers and hangs up. The
// second agent's static URI and the number are on 127.0.0.2, the host in
// allow.hosts (a PBX or trunk); baresip registers from 127.0.0.1 with a
// contact name, which the outbound policy allows only off allow-listed hosts.
func TestBlindTransferRecordsEveryLeg(t *testing.T) {
	t.Run("to another queue", func(t *testing.T) {
		leakCheck(t)
		mai := startPhoneOn(t, "127.0.0.2", 0)
		h := start(t, func(c *config.Config) {
			c.Agents = []config.Agent{
				{ID: "lan", Name: "Lan", Username: "lan", Password: "s3cret", Queues: map[string]int{"technical": 0}},
				{ID: "mai", Name: "Mai", URI: "sip:mai@" + mai.srv.Addr().String(), Queues: map[string]int{"sales": 0}},
			}
			c.Allow.Hosts = []string{"127.0.0.2"}
		})
		apiPost(t, h, "/api/v1/agents/mai/state", `{"state":"login"}`)
		lan := baresipAgent(t, h, "lan", "s3cret")
		_, call, _ := dial(t, h, "sip:300@"+h.sipAddr("udp"), sip.DialOptions{From: "0912345678"})
		id := call.ID()
		h.bridged(id, "lan")
		lan.WaitEvent(10*time.Second, "CALL_ESTABLISHED")
		if !talk(t, call, 2*time.Second) {
			t.Error("the caller did not hear lan")
		}
		lan.Command("transfer", "sip:sales@"+h.sipAddr("udp"))
		tr := h.waitEvent(20*time.Second, "transfer", func(e events.Event) bool { return e.Type == queue.CallTransferred && e.CallID == id })
		if p := payload[queue.Transferred](tr); tr.Agent != "lan" || p.Target != "sales" || p.Result != "ok" {
			t.Fatalf("call.transferred %+v", tr)
		}
		lan.WaitEvent(10*time.Second, "CALL_CLOSED")
		h.bridged(id, "mai")
		if !talk(t, call, 2*time.Second) {
			t.Error("the caller did not hear mai")
		}
		must(t, call.Hangup(context.Background()))
		v := oneRecord(t, h, id)
		if len(v.Legs) != 2 {
			t.Fatalf("legs %+v, want lan's and mai's", v.Legs)
		}
		wantLeg(t, 0, v.Legs[0], store.CallLeg{Queue: "technical", Agent: "lan", End: store.LegTransferred, EndedBy: store.SideAgent, TransferTo: "sales"}, true)
		wantLeg(t, 1, v.Legs[1], store.CallLeg{Queue: "sales", Agent: "mai", End: store.LegHangup, EndedBy: store.SideCaller}, true)
		if v.Outcome != store.OutcomeCompleted || v.Agent != "lan" || v.Queue != "technical" || v.HangupSide != store.SideCaller {
			t.Errorf("record: outcome %q agent %q queue %q side %q", v.Outcome, v.Agent, v.Queue, v.HangupSide)
		}
		if want := v.Legs[0].TalkSeconds + v.Legs[1].TalkSeconds; v.TalkSeconds != want || v.TalkSeconds < 3.5 {
			t.Errorf("talk %.2fs, want the legs' total %.2fs (two 2 s tones at least)", v.TalkSeconds, want)
		}
		if want := v.Legs[0].WaitSeconds + v.Legs[1].WaitSeconds; v.WaitSeconds != want {
			t.Errorf("wait %.2fs, want the legs' total %.2fs", v.WaitSeconds, want)
		}
		h.shutdown()
	})
	t.Run("to an allow-listed number", func(t *testing.T) {
		leakCheck(t)
		number := startPhoneOn(t, "127.0.0.2", 0)
		h := start(t, func(c *config.Config) {
			c.Agents = []config.Agent{{ID: "lan", Name: "Lan", Username: "lan", Password: "s3cret", Queues: map[string]int{"technical": 0}}}
			c.Allow.Numbers = []string{"+842838001234"}
			c.Allow.Hosts = []string{"127.0.0.2"}
		})
		lan := baresipAgent(t, h, "lan", "s3cret")
		_, call, _ := dial(t, h, "sip:300@"+h.sipAddr("udp"), sip.DialOptions{From: "0912345678"})
		id := call.ID()
		h.bridged(id, "lan")
		lan.WaitEvent(10*time.Second, "CALL_ESTABLISHED")
		target := "sip:+842838001234@" + number.srv.Addr().String()
		lan.Command("transfer", target)
		tr := h.waitEvent(20*time.Second, "transfer", func(e events.Event) bool { return e.Type == queue.CallTransferred && e.CallID == id })
		if p := payload[queue.Transferred](tr); p.Kind != "number" || p.Target != target || p.Result != "ok" {
			t.Fatalf("call.transferred %+v", tr)
		}
		select {
		case <-number.calls:
		case <-time.After(10 * time.Second):
			t.Fatal("the number never got the call")
		}
		if !talk(t, call, 2*time.Second) {
			t.Error("the caller did not hear the number")
		}
		close(number.hangup) // the number hangs up
		select {
		case <-call.Done():
		case <-time.After(10 * time.Second):
			t.Fatal("the caller was not hung up after the number hung up")
		}
		v := oneRecord(t, h, id)
		if len(v.Legs) != 2 {
			t.Fatalf("legs %+v, want lan's and the number's", v.Legs)
		}
		wantLeg(t, 0, v.Legs[0], store.CallLeg{Queue: "technical", Agent: "lan", End: store.LegTransferred, EndedBy: store.SideAgent, TransferTo: target}, true)
		wantLeg(t, 1, v.Legs[1], store.CallLeg{Queue: "technical", Number: target, End: store.LegHangup, EndedBy: store.SideAgent}, true)
		if v.Outcome != store.OutcomeCompleted || v.Agent != "lan" || v.HangupSide != store.SideAgent || v.HangupCause != string(sip.CauseAgentBye) {
			t.Errorf("record: outcome %q agent %q side %q cause %q", v.Outcome, v.Agent, v.HangupSide, v.HangupCause)
		}
		h.shutdown()
	})
}

// Point 6 with sipp: a second call that reuses a Call-ID with a new From
// tag is answered and recorded (RFC 3261 §12: a new From tag is a new call),
// also right after the first; while a call is up, an INVITE reusing its
// Call-ID is refused (400) and the live call goes on.
func TestSippCallIDReuse(t *testing.T) {
	leakCheck(t)
	h := start(t, nil)
	const id = "reused-call-id@127.0.0.1"
	long := make(chan error, 1)
	go func() { long <- sippRun(h, "uac_rfc2833.xml", "200", "udp", "-cid_str", id) }() // digits 1 and 3, then Hotline hangs up (flows/e2e.yaml)
	h.waitEvent(20*time.Second, "the first call answered", func(e events.Event) bool {
		return e.Type == events.CallAnswered && e.CallID == id
	})
	sipp(t, h, "uac_callid_in_use.xml", "200", "udp", "-cid_str", id) // sipp asserts the 400
	for _, e := range h.callEvents(id) {
		if e.Type == events.CallEnded {
			t.Fatal("the live call ended before the reusing INVITE was refused: the test proves nothing")
		}
	}
	if err := <-long; err != nil {
		t.Fatal(err)
	}
	// Two more, one right after the other (sipp forgets a call at once, or it
	// would take the second call's responses for the first's).
	sipp(t, h, "uac_short.xml", "200", "udp", "-cid_str", id, "-m", "2", "-l", "1", "-deadcall_wait", "0")
	ended := 0
	h.waitEvent(30*time.Second, "three calls ended", func(e events.Event) bool {
		if e.Type == events.CallEnded && e.CallID == id {
			ended++
		}
		return ended == 3
	})
	its := h.interactions(id)
	tags := map[string]bool{}
	for _, it := range its {
		tags[it.Voice.FromTag] = true
	}
	if len(its) != 3 || len(tags) != 3 || tags[""] {
		t.Fatalf("%d records with From tags %v, want 3 calls with 3 From tags", len(its), tags)
	}
	started := 0
	for _, e := range h.callEvents(id) {
		if e.Type == events.CallStarted {
			started++
		}
	}
	if started != 3 {
		t.Errorf("%d calls started with the Call-ID, want 3 (the refused one never starts)", started)
	}
	h.shutdown()
}

// queueTotals reads a queue's lifetime counters from the API.
func queueTotals(t *testing.T, h *harness, name string) queue.Totals {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+h.app.HTTPAddr().String()+"/api/v1/queues/"+name, nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	res, err := http.DefaultClient.Do(req)
	must(t, err)
	defer res.Body.Close()
	var q queue.QueueStats
	must(t, json.NewDecoder(res.Body).Decode(&q))
	return q.Totals
}
