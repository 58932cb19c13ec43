package app

// The wallboard at load in headless Chromium: 100 agents and 200 waiting
// callers in four queues, fed through the real server (the queue service's
// Join, Leave, Login and Pause, so the events and the views are the ones a
// floor of that size produces; 20 agents' phones ring for real, at a UDP
// socket that never answers), then a steady stream of changes. The page
// runs with ?perf and times its own work (window.boardPerf, board.js
// "measuring"); the test logs those figures (docs/benchmarks.md records
// them) and asserts only generous bounds: a sanity check that the page keeps
// up, not a benchmark gate.

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/queue"
)

const (
	loadAgents  = 100
	loadCallers = 200
	// The steady phase: loadRate changes per second for loadSecs, each a
	// caller leaving and another joining, or an agent changing pause reason.
	loadRate = 20
	loadSecs = 5
)

var loadQueues = []string{"wait", "sales", "billing", "vip"}

// boardPerf is window.boardPerf: ms per event handler, per re-render after
// a read, per second's tick, and the browser's long tasks.
type boardPerf struct {
	Handler  []float64 `json:"handler"`
	Update   []float64 `json:"update"`
	Tick     []float64 `json:"tick"`
	Longtask []float64 `json:"longtask"`
}

func readPerf(t *testing.T, ctx context.Context) boardPerf {
	t.Helper()
	var p boardPerf
	if err := json.Unmarshal([]byte(eval(t, ctx, `JSON.stringify(window.boardPerf)`)), &p); err != nil {
		t.Fatalf("window.boardPerf: %v (is the page in ?perf mode?)", err)
	}
	return p
}

// since is what was recorded after p0.
func (p boardPerf) since(p0 boardPerf) boardPerf {
	return boardPerf{Handler: p.Handler[len(p0.Handler):], Update: p.Update[len(p0.Update):],
		Tick: p.Tick[len(p0.Tick):], Longtask: p.Longtask[len(p0.Longtask):]}
}

type dist struct{ n, p50, p95, max, sum float64 }

func distOf(v []float64) dist {
	if len(v) == 0 {
		return dist{}
	}
	s := slices.Clone(v)
	slices.Sort(s)
	q := func(f float64) float64 { return s[min(len(s)-1, int(math.Ceil(f*float64(len(s))))-1)] }
	sum := 0.0
	for _, x := range s {
		sum += x
	}
	return dist{float64(len(s)), q(0.5), q(0.95), s[len(s)-1], sum}
}

func (d dist) String() string {
	return fmt.Sprintf("n=%d p50=%.2f p95=%.2f max=%.2f ms (total %.0f ms)", int(d.n), d.p50, d.p95, d.max, d.sum)
}

func TestWallboardAtLoadInChromium(t *testing.T) {
	ctx := browser(t)
	// The ringing agents' phones: one UDP socket that never answers, so
	// their offers ring for the whole test (the agent desk test's trick).
	phones, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = phones.Close() })
	cfg := newBoardConfig(t)
	cfg.Allow.Hosts = []string{phones.LocalAddr().String()}
	for _, q := range loadQueues {
		c := config.Queue{JoinEmpty: true, MaxWait: 10 * time.Minute, RingTimeout: time.Minute}
		if q == "wait" {
			c.Alerts = cfg.Queues[q].Alerts
		}
		cfg.Queues[q] = c.WithDefaults()
	}
	cfg.Agents = nil
	for i := range loadAgents {
		// Everyone in one queue, a third also in a second: members per
		// queue 25-42, as a floor that shares people.
		qs := map[string]int{loadQueues[i%4]: 0}
		if i%3 == 0 {
			qs[loadQueues[(i+1)%4]] = 1
		}
		user := strconv.Itoa(3000 + i)
		cfg.Agents = append(cfg.Agents, config.Agent{ID: fmt.Sprintf("a%03d", i), Name: fmt.Sprintf("Agent %03d", i),
			Username: user, URI: "sip:" + user + "@" + phones.LocalAddr().String(), Queues: qs})
	}
	b := &boardApp{t: t, cfg: cfg}
	b.start()
	svc := b.a.acd.svc

	// The floor before the board opens: 60 agents logged in and paused,
	// 20 available (offered a caller each as the callers join: ringing for
	// the rest of the test), 20 logged out; 200 callers, 50 a queue.
	reasons := []string{"lunch", "training", "admin", "coaching"}
	const paused, ringing = loadAgents * 6 / 10, loadAgents * 2 / 10
	for i := range paused + ringing {
		id := fmt.Sprintf("a%03d", i)
		if err := svc.Login(id); err != nil {
			t.Fatal(err)
		}
		if i < paused {
			if err := svc.Pause(id, reasons[i%len(reasons)]); err != nil {
				t.Fatal(err)
			}
		}
	}
	next := 0 // callers joined so far
	join := func() string {
		id := fmt.Sprintf("load-%d", next)
		if _, err := svc.Join(queue.JoinRequest{CallID: id, Queue: loadQueues[next%4], Caller: fmt.Sprintf("+8428%07d", next)}); err != nil {
			t.Fatalf("join %s: %v", id, err)
		}
		next++
		return id
	}
	for range loadCallers {
		join()
	}

	if err := chromedp.Do(ctx,
		chromedp.Navigate("http://"+b.a.HTTPAddr().String()+"/wallboard?perf"),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SetValue(chromedp.ID("token"), boardToken),
		chromedp.Click(chromedp.CSS(`#signin-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.tile[data-queue="vip"]`)),
	); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "the stream opens", statusJS, "live", 10*time.Second)
	waitFor(t, ctx, "callers on the board", waitingJS, strconv.Itoa(loadCallers/4), 5*time.Second)
	waitFor(t, ctx, "agents listed", `document.querySelectorAll('#agent-rows tr').length`, strconv.Itoa(loadAgents), 5*time.Second)
	waitFor(t, ctx, "agents ringing", `document.querySelectorAll('#agent-rows tr[data-state="ringing"]').length`, strconv.Itoa(ringing), 10*time.Second)
	p0 := readPerf(t, ctx)
	t.Logf("first load: %d re-renders: %v", len(p0.Update), distOf(p0.Update))

	// The steady phase: loadRate changes a second, paced by a ticker
	// (the load's clock, not synchronisation). Callers leave oldest first.
	tk := time.NewTicker(time.Second / loadRate)
	defer tk.Stop()
	oldest, published := 0, 0
	for i := range loadRate * loadSecs {
		<-tk.C
		switch i % 3 {
		case 0, 1: // a caller gives up, another joins: 2 events
			if err := svc.Leave(fmt.Sprintf("load-%d", oldest), queue.ReasonAbandoned); err != nil {
				t.Fatal(err)
			}
			oldest++
			join()
			published += 2
		case 2: // an agent changes pause reason: 1 event
			id := fmt.Sprintf("a%03d", i%paused)
			if err := svc.Pause(id, reasons[(i/3)%len(reasons)]+"-"+strconv.Itoa(i)); err != nil {
				t.Fatal(err)
			}
			published++
		}
	}
	// One more caller into "wait": from its event to the tile's figure is
	// the board's latency at this load.
	want := strconv.Itoa(loadCallers/4 + 1)
	for next%4 != 0 { // the next join goes to "wait"
		if err := svc.Leave(fmt.Sprintf("load-%d", oldest), queue.ReasonAbandoned); err != nil {
			t.Fatal(err)
		}
		oldest++
		join()
		published += 2
	}
	domMark(t, ctx, "probe", waitingJS, want)
	probe := join()
	published++
	var joined events.Event
	for joined.CallID != probe {
		joined = nextEvent(t, b.sub, events.QueueJoined, probe)
	}
	within(t, "at load: waiting tile", joined, markTime(t, ctx, "probe", 5*time.Second), time.Second)
	waitFor(t, ctx, "agents still listed", `document.querySelectorAll('#agent-rows tr').length`, strconv.Itoa(loadAgents), 5*time.Second)

	p := readPerf(t, ctx).since(p0)
	h, u, tick, lt := distOf(p.Handler), distOf(p.Update), distOf(p.Tick), distOf(p.Longtask)
	t.Logf("steady phase: %d events from the test's changes (%d changes/s for %d s), %d events handled by the page (with the offers, cancels and alerts they caused)",
		published, loadRate, loadSecs, len(p.Handler))
	t.Logf("  event handler: %v", h)
	t.Logf("  re-render after a read: %v", u)
	t.Logf("  second's tick: %v", tick)
	t.Logf("  long tasks (> 50 ms): %v", lt)
	t.Logf("  main-thread work per event (handlers + re-renders) = %.2f ms", (h.sum+u.sum)/float64(max(1, len(p.Handler))))
	if len(p.Handler) < published {
		t.Errorf("the page handled %d events, %d were published", len(p.Handler), published)
	}
	// Speed is measured (the figures above, docs/benchmarks.md), not
	// asserted: under `go test ./...` on 2 shared cores a render that
	// takes 20 ms idle takes 100 ms, and with neighbours busy (load
	// average 6-7) a tick took 264 ms. These bounds only catch a page that
	// has stopped keeping up (a render or a tick of half a second).
	if u.p95 > 500 || h.max > 100 || tick.max > 500 {
		t.Errorf("the board's work is too slow at %d agents / %d callers: re-render p95 %.1f ms, handler max %.1f ms, tick max %.1f ms",
			loadAgents, loadCallers, u.p95, h.max, tick.max)
	}
	if lt.max > 1000 {
		t.Errorf("a long task of %.0f ms: the page froze", lt.max)
	}
}
