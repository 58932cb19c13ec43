package outbound

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
)

// clock is a fake time for the rates and the daily cap.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var hcmc = time.FixedZone("ICT", 7*3600)

// limitPolicy: one default trunk without a limit of its own, and the
// given limits; the day starts 2026-12-01 09:00 in Ho Chi Minh City.
func limitPolicy(t *testing.T, limits config.Outbound) (*Policy, *clock, *events.Subscription) {
	t.Helper()
	c := &clock{t: time.Date(2026, 12, 1, 9, 0, 0, 0, hcmc)}
	bus := events.NewBus()
	sub := bus.Subscribe(1000)
	t.Cleanup(sub.Close)
	p, err := New(Config{
		Allow:          config.Allow{Numbers: []string{"+84*", "+842838001234"}, Hosts: []string{"pbx.example"}},
		Agents:         []config.Agent{{ID: "ext", URI: "sip:+84987000111@pbx.example"}},
		DefaultCountry: "VN",
		Trunks:         []config.Trunk{{Name: "p", Host: "sip.p.example", CallerID: "+842838009999", Default: true, MaxCalls: -1}},
		Limits:         limits, Bus: bus, Now: c.now, Location: hcmc,
	})
	if err != nil {
		t.Fatal(err)
	}
	return p, c, sub
}

// refusedFor asserts a refusal with reason r.
func refusedFor(t *testing.T, g *Grant, err error, r Reason) *RefusedError {
	t.Helper()
	var re *RefusedError
	if !errors.As(err, &re) || re.Reason != r || !errors.Is(err, ErrRefused) {
		t.Fatalf("got %+v, %v; want refused for %s", g, err, r)
	}
	return re
}

func drain(sub *events.Subscription) []events.Event {
	var out []events.Event
	for {
		select {
		case e := <-sub.C:
			out = append(out, e)
		default:
			return out
		}
	}
}

func TestNumberRate(t *testing.T) {
	p, clk, sub := limitPolicy(t, config.Outbound{MaxPerNumberPerHour: 2, MaxPerSourcePerHour: -1})
	for i := range 2 {
		g, err := p.CheckDial(Dial{Number: "0912345678", CallID: fmt.Sprint("c", i)})
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		g.Release()
		clk.add(10 * time.Minute)
	}
	g, err := p.CheckDial(Dial{Number: "+84 912 345 678", CallID: "c2"})
	re := refusedFor(t, g, err, ReasonNumberRate)
	if !re.Temporary() || !errors.Is(err, ErrRateLimited) || !strings.Contains(re.Error(), "outbound.max_per_number_per_hour 2") {
		t.Errorf("refusal %v", re)
	}
	ev := drain(sub)
	if len(ev) != 1 || ev[0].Type != EventDialRefused || ev[0].CallID != "c2" || ev[0].Payload.(DialRefusal).Reason != ReasonNumberRate || ev[0].Payload.(DialRefusal).Dest != "+84912345678" {
		t.Errorf("events %+v", ev)
	}
	// Another number is not limited by this one.
	if g, err := p.CheckDial(Dial{Number: "0912345679"}); err != nil {
		t.Fatal(err)
	} else {
		g.Release()
	}
	// The first dial leaves the window an hour after it was made.
	clk.add(40*time.Minute + time.Second)
	if g, err := p.CheckDial(Dial{Number: "0912345678"}); err != nil {
		t.Fatalf("an hour after the first dial: %v", err)
	} else {
		g.Release()
	}
	// An exact allow.numbers entry and a configured agent uri are the
	// admin's own destinations: not rate limited.
	for i := range 5 {
		for _, d := range []Dial{{Number: "+842838001234"}, {URI: "sip:+84987000111@pbx.example"}} {
			g, err := p.CheckDial(d)
			if err != nil {
				t.Fatalf("%+v #%d: %v", d, i, err)
			}
			g.Release()
		}
	}
	if s := p.Stats(); s.Refused[ReasonNumberRate] != 1 || s.Admitted != 14 {
		t.Errorf("stats %+v", s)
	}
}

func TestSourceRate(t *testing.T) {
	p, clk, _ := limitPolicy(t, config.Outbound{MaxPerNumberPerHour: -1, MaxPerSourcePerHour: 3})
	for i := range 3 {
		g, err := p.CheckDial(Dial{Number: fmt.Sprintf("091234500%d", i), Source: "api:website"})
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		g.Release()
	}
	// A flood of requests for many numbers from one source is refused.
	for i := range 10 {
		g, err := p.CheckDial(Dial{Number: fmt.Sprintf("09123451%02d", i), Source: "api:website"})
		refusedFor(t, g, err, ReasonSourceRate)
	}
	// Other sources, and dials on behalf of nobody, are not.
	for _, src := range []string{"api:chat", ""} {
		if g, err := p.CheckDial(Dial{Number: "0912345999", Source: src}); err != nil {
			t.Fatalf("source %q: %v", src, err)
		} else {
			g.Release()
		}
	}
	clk.add(time.Hour)
	if g, err := p.CheckDial(Dial{Number: "0912345888", Source: "api:website"}); err != nil {
		t.Fatalf("after an hour: %v", err)
	} else {
		g.Release()
	}
}

// TestDailyCap: an alarm at 80 % and one when reached, each once; the
// dials past the cap are refused until the office's midnight.
func TestDailyCap(t *testing.T) {
	p, clk, sub := limitPolicy(t, config.Outbound{MaxPerDay: 10, MaxPerNumberPerHour: -1, MaxPerSourcePerHour: -1})
	type alarmAt struct {
		CapAlarm
		at int // the dial that raised it
	}
	var alarms []alarmAt
	for i := range 10 {
		g, err := p.CheckDial(Dial{Number: fmt.Sprintf("09123450%02d", i)})
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		g.Release()
		for _, e := range drain(sub) {
			if a, ok := e.Payload.(CapAlarm); ok && e.Type == EventCapAlarm {
				alarms = append(alarms, alarmAt{a, i + 1})
			}
		}
	}
	if len(alarms) != 2 || alarms[0].Level != "warning" || alarms[0].at != 8 || alarms[0].Limit != 10 ||
		alarms[1].Level != "reached" || alarms[1].at != 10 || alarms[1].Cap != "daily" {
		t.Fatalf("alarms %+v", alarms)
	}
	g, err := p.CheckDial(Dial{Number: "0912345100"})
	re := refusedFor(t, g, err, ReasonDailyCap)
	if !errors.Is(err, ErrDailyCap) || !strings.Contains(re.Detail, "10 dials counted today") {
		t.Errorf("refusal %v", re)
	}
	// Uncounted dials (a name on a PBX) still go.
	if g, err := p.CheckDial(Dial{URI: "sip:desk@pbx.example"}); err != nil {
		t.Fatalf("a name on the PBX: %v", err)
	} else {
		g.Release()
	}
	if ev := drain(sub); len(ev) != 1 || ev[0].Type != EventDialRefused {
		t.Errorf("no second alarm, one refusal: %+v", ev)
	}
	// 23:59 in Ho Chi Minh City is still the same day; 00:00 is not.
	clk.add(14*time.Hour + 59*time.Minute)
	g, err = p.CheckDial(Dial{Number: "0912345101"})
	refusedFor(t, g, err, ReasonDailyCap)
	clk.add(time.Minute)
	if g, err := p.CheckDial(Dial{Number: "0912345102"}); err != nil {
		t.Fatalf("next day: %v", err)
	} else {
		g.Release()
	}
	if s := p.Stats(); s.Today != 1 {
		t.Errorf("today %d", s.Today)
	}
}

// TestMaxCalls: outbound.max_calls calls up at once; the next is refused
// (not queued: the dialler retries) with a max_calls alarm, until one ends.
func TestMaxCalls(t *testing.T) {
	p, clk, sub := limitPolicy(t, config.Outbound{MaxCalls: 3, MaxPerNumberPerHour: -1, MaxPerSourcePerHour: -1})
	var up []*Grant
	for i := range 3 {
		g, err := p.CheckDial(Dial{Number: fmt.Sprintf("091234500%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		up = append(up, g)
	}
	for range 2 {
		g, err := p.CheckDial(Dial{Number: "0912345009"})
		re := refusedFor(t, g, err, ReasonMaxCalls)
		if !re.Temporary() || !errors.Is(err, ErrBusy) {
			t.Errorf("refusal %v", re)
		}
	}
	var alarms int
	for _, e := range drain(sub) {
		if a, _ := e.Payload.(CapAlarm); e.Type == EventCapAlarm && a.Cap == "max_calls" && a.Level == "reached" {
			alarms++
		}
	}
	if alarms != 1 {
		t.Errorf("%d max_calls alarms, want 1 a minute", alarms)
	}
	up[0].Release()
	g, err := p.CheckDial(Dial{Number: "0912345009"})
	if err != nil {
		t.Fatalf("after a release: %v", err)
	}
	g.Release()
	clk.add(time.Minute)
	for _, g := range up[1:] {
		g.Release()
	}
	if s := p.Stats(); s.Active != 0 || s.Refused[ReasonMaxCalls] != 2 {
		t.Errorf("stats %+v", s)
	}
}

// TestConcurrentDials: dials racing for the last slots get exactly as many
// as there are (run with -race).
func TestConcurrentDials(t *testing.T) {
	p, _, _ := limitPolicy(t, config.Outbound{MaxCalls: 7, MaxPerNumberPerHour: -1, MaxPerSourcePerHour: -1})
	var mu sync.Mutex
	var won []*Grant
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if g, err := p.CheckDial(Dial{Number: fmt.Sprintf("09123450%02d", i)}); err == nil {
				mu.Lock()
				won = append(won, g)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(won) != 7 {
		t.Fatalf("%d dials admitted, want 7", len(won))
	}
	for _, g := range won {
		g.Release()
	}
}

// TestBlockedRanges: premium-rate, shared-cost and personal numbers, and
// the blocked prefixes, are refused wherever they appear, even inside an
// allowed prefix; an exact allow.numbers entry is the admin's choice.
func TestBlockedRanges(t *testing.T) {
	p, err := New(Config{
		Allow:          config.Allow{Numbers: []string{"+84*", "+1*", "+44*", "+8816*", "+19005550100"}, Hosts: []string{"trunk.example"}},
		DefaultCountry: "VN",
		Trunks:         []config.Trunk{{Name: "p", Host: "sip.p.example", CallerID: "+842838009999", Default: true}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		number, why string // why: "" allowed
	}{
		{"1900 1234", "+8419001234 is in the blocked range +841900"}, // Vietnamese information services, national form
		{"+84 1900 6000", "blocked range +841900"},
		{"+1 900 555 0199", "blocked range +1900"},
		{"+1 976 555 0199", "blocked range +1976"},
		{"+44 9012 345678", "blocked range +449"},
		{"+44 70 1234 5678", "blocked range +4470"},
		{"+44 871 234 5678", "blocked range +44871"},
		{"+881 612 345 678", "blocked range +881"},
		{"+19005550100", ""}, // exact entry
		{"1800 1234", ""},    // Vietnamese freephone
		{"0912 345 678", ""},
		{"+44 7912 345678", ""}, // UK mobile
	} {
		_, err := p.CheckNumber(tt.number)
		if tt.why == "" {
			if err != nil {
				t.Errorf("%s: %v", tt.number, err)
			}
			continue
		}
		if !errors.Is(err, ErrBlocked) || !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), tt.why) {
			t.Errorf("CheckNumber(%s) = %v, want blocked: %q", tt.number, err, tt.why)
		}
		g, err := p.CheckDial(Dial{Number: tt.number})
		refusedFor(t, g, err, ReasonBlocked)
		if _, err := p.CheckURI(Transfer, "sip:"+strings.ReplaceAll(tt.number, " ", "")+"@trunk.example"); !errors.Is(err, ErrBlocked) {
			t.Errorf("transfer to %s: %v, want blocked", tt.number, err)
		}
	}
	// The types catch what no prefix lists: a French premium number.
	typed, err := New(Config{Allow: config.Allow{Numbers: []string{"+33*"}}, DefaultCountry: "VN",
		Limits: config.Outbound{BlockPrefixes: []string{}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := typed.CheckNumber("+33 8 91 23 45 67"); !errors.Is(err, ErrBlocked) || !strings.Contains(err.Error(), "premium-rate number (outbound.block_types)") {
		t.Errorf("French premium: %v", err)
	}
	// With both lists empty nothing is blocked.
	open, err := New(Config{Allow: config.Allow{Numbers: []string{"+84*"}}, DefaultCountry: "VN",
		Limits: config.Outbound{BlockPrefixes: []string{}, BlockTypes: []string{}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := open.CheckNumber("1900 1234"); err != nil {
		t.Errorf("no blocks: %v", err)
	}
}

func TestCheckDialRefusals(t *testing.T) {
	p, _, sub := limitPolicy(t, config.Outbound{})
	none, err := New(Config{Allow: config.Allow{Numbers: []string{"+84*"}}, DefaultCountry: "VN"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		p    *Policy
		d    Dial
		want Reason
	}{
		{p, Dial{Number: "+14155550100"}, ReasonNotAllowed},
		{p, Dial{Number: "abc"}, ReasonNotAllowed},
		{p, Dial{Number: "0912345678", URI: "sip:x@pbx.example"}, ReasonNotAllowed},
		{p, Dial{URI: "sip:+14155550100@pbx.example"}, ReasonNotAllowed},
		{p, Dial{URI: "tel:+84912345678"}, ReasonNotAllowed},
		{none, Dial{Number: "0912345678"}, ReasonNoTrunk},
		{nil, Dial{Number: "0912345678"}, ReasonNotAllowed},
	} {
		g, err := tt.p.CheckDial(tt.d)
		re := refusedFor(t, g, err, tt.want)
		if re.Temporary() {
			t.Errorf("%+v: %s is not temporary", tt.d, re.Reason)
		}
		if tt.want == ReasonNoTrunk && !errors.Is(err, ErrNoTrunk) {
			t.Errorf("%v does not wrap ErrNoTrunk", err)
		}
	}
	if n := len(drain(sub)); n != 5 {
		t.Errorf("%d refusal events from p, want 5", n)
	}
	// Without a policy a name is still dialled, uncounted.
	if g, err := (*Policy)(nil).CheckDial(Dial{URI: "sip:lan@10.0.0.5"}); err != nil || g.Trunk != nil {
		t.Fatalf("nil policy, a name: %+v, %v", g, err)
	}
	// A registered contact on a LAN phone is admitted, uncounted.
	g, err := p.CheckDial(Dial{URI: "sip:lan-0x1@10.0.0.5:5062;transport=udp"})
	if err != nil || g.Trunk != nil || g.URI != "sip:lan-0x1@10.0.0.5:5062;transport=udp" {
		t.Fatalf("phone contact: %+v, %v", g, err)
	}
	g.Release()
	if s := p.Stats(); s.Admitted != 0 || s.Active != 0 {
		t.Errorf("an uncounted dial was counted: %+v", s)
	}
}

// A URI naming a trunk's host with no user part has nothing the trunk
// could route: refused, not sent out as "sip:@host" (found by FuzzCheckDial).
func TestTrunkHostWithoutUserIsRefused(t *testing.T) {
	p, _, _ := limitPolicy(t, config.Outbound{MaxPerNumberPerHour: -1, MaxPerSourcePerHour: -1})
	for _, uri := range []string{"sip:sip.p.example", "sip:sip.P.eXAmple", "sip:sip.p.example:5060;transport=udp"} {
		g, err := p.CheckDial(Dial{URI: uri})
		re := refusedFor(t, g, err, ReasonNotAllowed)
		if !strings.Contains(re.Detail, "trunk p") {
			t.Errorf("%s: %v", uri, re)
		}
	}
	if s := p.Stats(); s.Active != 0 || s.Admitted != 0 {
		t.Errorf("stats %+v", s)
	}
}
