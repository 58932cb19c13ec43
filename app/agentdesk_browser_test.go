package app

// The agent desk in a real browser (headless Chromium over chromedp)
// against the real server in-process: a wrong password is refused, the
// agent signs in and goes ready, a real SIP caller whose number belongs to
// a customer with an email in the history calls the queue, the desk shows
// who calls and that email, and the wrap-up note lands on the ticket; then
// the agent signs in again with an API token bound to them, and once more
// after a restart, which signs the desk out.

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/internal/siptest"
	"github.com/hotline-dev/hotline/sip"
	"github.com/hotline-dev/hotline/store"
)

const (
	deskPassword = "desk-pass-0123456789"
	deskToken    = "desk-token-0123456789" // http.tokens[] bound to agent lan
)

func TestAgentDeskInChromium(t *testing.T) {
	ctx := browser(t)
	// The agent's phone: a UDP socket that never answers, so the offer
	// rings until the test is done with it.
	phone, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = phone.Close() })
	cfg := newBoardConfig(t)
	q := cfg.Queues["wait"]
	q.RingTimeout = time.Minute
	cfg.Queues["wait"] = q
	cfg.Allow.Hosts = []string{phone.LocalAddr().String()}
	cfg.Agents = []config.Agent{{ID: "lan", Name: "Lan", Username: "2001", Password: deskPassword,
		URI: "sip:2001@" + phone.LocalAddr().String(), Queues: map[string]int{"wait": 0}}}
	cfg.HTTP.Tokens = append(cfg.HTTP.Tokens, config.Token{Name: "lan-desk", Secret: deskToken, Agent: "lan"})
	b := &boardApp{t: t, cfg: cfg}
	b.start()
	base := "http://" + b.a.HTTPAddr().String()

	// The caller's history: a customer with an open ticket and an email.
	st, err := b.a.Store(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	cust := &store.Customer{Name: "Nguyễn Thị Hoa", Phones: []string{"+84281234567"}, Tier: store.TierVIP}
	if err := st.CreateCustomer(context.Background(), cust); err != nil {
		t.Fatal(err)
	}
	ticket := &store.Ticket{CustomerID: cust.ID, Subject: "Wine case arrived broken", Status: store.StatusOpen, Priority: "high", Channel: store.ChannelEmail}
	if err := st.CreateTicket(context.Background(), ticket); err != nil {
		t.Fatal(err)
	}
	mail := &store.Interaction{CustomerID: cust.ID, TicketID: ticket.ID, Channel: store.ChannelEmail, Direction: store.DirectionInbound,
		StartedAt: time.Now().Add(-time.Hour), Summary: "Broken bottles in my delivery", Body: "Two of the six bottles were smashed."}
	if err := st.CreateInteraction(context.Background(), mail); err != nil {
		t.Fatal(err)
	}

	// A wrong password is refused; the right one opens the desk.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/agent"),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), "2001"),
		chromedp.SendKeys(chromedp.ID("password"), "wrong-password"),
		chromedp.Click(chromedp.CSS(`#signin-form button[type="submit"]`)),
	); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "wrong password", `document.getElementById('signin-error').textContent`, "Wrong username or password.", 10*time.Second)
	if err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.ID("password"), deskPassword),
		chromedp.Click(chromedp.CSS(`#signin-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("desk")),
	); err != nil {
		t.Fatal(err)
	}
	presence := `document.getElementById('presence').textContent`
	waitFor(t, ctx, "state shown", presence, "logged_out", 5*time.Second)
	waitFor(t, ctx, "the stream opens", statusJS, "live", 10*time.Second)

	// Log in, then ready: the server's state follows the buttons.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("btn-login"))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "logged in", `document.getElementById('btn-login').disabled`, "true", 5*time.Second)
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.ID("pause-reason"), "coffee"), chromedp.Click(chromedp.ID("btn-pause"))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "paused", presence, "paused", 5*time.Second)
	waitFor(t, ctx, "pause reason", `document.getElementById('reason').textContent`, "(coffee)", 5*time.Second)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("btn-ready"))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "ready", presence, "available", 5*time.Second)
	if a, err := b.a.acd.svc.Agent("lan"); err != nil || a.Presence != "available" {
		t.Fatalf("server's agent after Ready: %+v (%v)", a, err)
	}

	// The customer calls: the desk shows who and their email within seconds.
	cli := siptest.Client(t, sip.ClientConfig{Addr: "127.0.0.1:0"})
	cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	call, err := cli.Dial(cctx, "sip:300@"+b.a.SIPAddrs()["udp"].String(), sip.DialOptions{From: "0281234567"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = call.Hangup(cctx) }()
	nextEvent(t, b.sub, events.AgentOffered, call.ID())
	waitFor(t, ctx, "caller's name", `document.getElementById('caller-name').textContent`, cust.Name, 5*time.Second)
	waitFor(t, ctx, "caller's tier", `document.getElementById('caller-tier').textContent`, "vip", 2*time.Second)
	waitFor(t, ctx, "the email in the history",
		`document.querySelector('#history li[data-channel="email"] .summary')?.textContent`, mail.Summary, 5*time.Second)
	waitFor(t, ctx, "open ticket", `document.querySelector('#tickets li[data-ticket="`+strconv.FormatInt(ticket.ID, 10)+`"]') !== null`, "true", 5*time.Second)

	// Wrap-up: a note and a category on the call's ticket.
	if err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.ID("wrapup-category"), "breakage"),
		chromedp.SendKeys(chromedp.ID("wrapup-note"), "Resend two bottles, courier to collect the broken ones."),
		chromedp.Click(chromedp.CSS(`#wrapup-form button[type="submit"]`)),
	); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "wrap-up saved", `document.getElementById('wrapup-result').textContent`, "Saved.", 5*time.Second)
	got, err := st.GetTicket(context.Background(), ticket.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Category != "breakage" {
		t.Errorf("ticket category %q, want breakage", got.Category)
	}
	// The note through the API, as any client reads it.
	req, err := http.NewRequest("GET", base+"/api/v1/interactions?ticket_id="+strconv.FormatInt(ticket.ID, 10), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+boardToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var page struct {
		Items []store.Interaction `json:"items"`
	}
	if err := json.NewDecoder(res.Body).Decode(&page); err != nil || res.StatusCode != 200 {
		t.Fatalf("GET interactions: %d %v", res.StatusCode, err)
	}
	found := false
	for _, i := range page.Items {
		found = found || strings.HasPrefix(i.Body, "Resend two bottles")
	}
	if !found {
		t.Errorf("the note is not on ticket %d: %+v", ticket.ID, page.Items)
	}
	waitFor(t, ctx, "note in the history", `document.querySelector('#history li .pill')?.textContent`, "note", 5*time.Second)
	if dir := os.Getenv("HOTLINE_SCREENSHOT_DIR"); dir != "" {
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "agent-desk.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// Sign out, then in again with the agent's API token: a wrong token
	// and a token not bound to an agent are refused, the agent's opens
	// the same desk (the agent is still paused/ready as before).
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("signout")),
		chromedp.WaitVisible(chromedp.ID("signin")),
		chromedp.Click(chromedp.ID("how-token")),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), "desk-token-wrong"),
		chromedp.Click(chromedp.CSS(`#signin-form button[type="submit"]`)),
	); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "wrong token", `document.getElementById('signin-error').textContent`, "Unknown token.", 10*time.Second)
	if err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.ID("token"), boardToken),
		chromedp.Click(chromedp.CSS(`#signin-form button[type="submit"]`)),
	); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "a read token is not an agent's", `document.getElementById('signin-error').textContent.startsWith('This token is not bound to an agent')`, "true", 10*time.Second)
	if err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.ID("token"), deskToken),
		chromedp.Click(chromedp.CSS(`#signin-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("desk")),
	); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "signed in as lan by token", `document.getElementById('me').textContent`, "lan", 5*time.Second)
	waitFor(t, ctx, "the stream opens again", statusJS, "live", 10*time.Second)
	// The token's session changes lan's state like the SIP sign-in's.
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.ID("pause-reason"), "lunch"), chromedp.Click(chromedp.ID("btn-pause"))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "paused by the token's session", `document.getElementById('reason').textContent`, "(lunch)", 5*time.Second)
	if a, err := b.a.acd.svc.Agent("lan"); err != nil || a.Presence != "paused" || a.Reason != "lunch" {
		t.Fatalf("server's agent after Pause by token: %+v (%v)", a, err)
	}

	// A restart: sessions live in memory, so the desk is signed out and
	// says so; the agent signs in again and finds their state kept.
	if err := call.Hangup(cctx); err != nil {
		t.Fatal(err)
	}
	b.stop()
	b.start()
	waitFor(t, ctx, "signed out by the restart", `document.getElementById('signin').hidden ? '' : document.getElementById('signin-error').textContent`,
		"Signed out: sign in again.", 20*time.Second)
	if err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.ID("token"), deskToken),
		chromedp.Click(chromedp.CSS(`#signin-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("desk")),
	); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "paused across the restart", `document.getElementById('presence').textContent + ' ' + document.getElementById('reason').textContent`,
		"paused (lunch)", 5*time.Second)
}
