package app

// The event stream's fan-out to open wallboards: one server (the real App,
// HTTP, auth and GET /api/v1/events) and 50 SSE clients reading it as the
// board does (?types=queue.,agent.,callback., bearer token), in a child
// process so the server's CPU is this process's alone. Events go onto the
// bus at a fixed rate, as the queue service would publish them; each client
// takes the delivery latency of every event as its receive time minus the
// event's time (both this machine's wall clock). docs/benchmarks.md
// ("Event stream fan-out") records the figures.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/queue"
)

// sseEnd is the type of the event that ends a phase (it passes the
// board's "queue." filter like the rest).
const sseEnd = "queue.bench_end"

// sseResult is what the clients' process reports (one JSON line).
type sseResult struct {
	Clients, Connected int
	Received           int     // events received, all clients
	P50ms, P99ms       float64 // publish -> parsed by the client
	MaxMs              float64
	Secs               float64 // first to last event received
	ClientCPU          float64 // the clients' process, % of one core
	Ended              int     // clients that saw the end event
}

// BenchmarkEventStreamFanout publishes SSE_RATES events/s (each for
// SSE_SECS) to SSE_CLIENTS open streams and reports the delivery latency,
// events/s delivered (all clients) and the server's CPU. Defaults: 50
// clients, 200 and 2,000 events/s, 4 s each: about 10 s in all. Only with
// HOTLINE_BENCH_SSE=1 (scripts/bench.sh: make bench); HOTLINE_SSE_CLIENT_CPU
// pins the clients' process to that CPU (taskset).
func BenchmarkEventStreamFanout(b *testing.B) {
	if os.Getenv("HOTLINE_BENCH_SSE") != "1" {
		b.Skip("set HOTLINE_BENCH_SSE=1 (scripts/bench.sh does, server and clients pinned to a core each)")
	}
	clients := envIntOr("SSE_CLIENTS", 50)
	secs := envIntOr("SSE_SECS", 4)
	rates := []int{200, 2000}
	if s := os.Getenv("SSE_RATES"); s != "" {
		rates = nil
		for _, f := range strings.Fields(s) {
			if n, err := strconv.Atoi(f); err == nil && n > 0 {
				rates = append(rates, n)
			}
		}
	}
	cfg := testConfig(b)
	cfg.Flows.Dir = b.TempDir()
	if err := os.WriteFile(filepath.Join(cfg.Flows.Dir, "wait.yaml"), []byte(queueFlow), 0o644); err != nil {
		b.Fatal(err)
	}
	cfg.Flows.Watch = false
	cfg.HTTP.Tokens = []config.Token{{Name: "board", Secret: boardToken, Scope: "read"}}
	cfg.Queues = map[string]config.Queue{"wait": config.Queue{JoinEmpty: true}.WithDefaults()}
	a, err := New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	run := make(chan error, 1)
	go func() { run <- a.Run(context.Background()) }()
	defer func() {
		if err := a.Close(); err != nil {
			b.Errorf("Close: %v", err)
		}
		if err := <-run; err != nil {
			b.Errorf("Run: %v", err)
		}
	}()
	url := "http://" + a.HTTPAddr().String() + "/api/v1/events?types=queue.,agent.,callback."
	for b.Loop() {
		for _, rate := range rates {
			res, cpu, dropped, sent := fanoutPhase(b, a.Bus(), url, clients, rate, secs)
			delivered := float64(res.Received) / max(res.Secs, 1e-9)
			fmt.Printf("event stream fan-out: %d clients (%d connected), %d events/s for %d s (%d events): "+
				"delivery p50 %.2f ms, p99 %.2f ms, max %.2f ms; delivered %.0f events/s (%d of %d, %d dropped by the bus); "+
				"server CPU %.0f%% of one core, clients' process %.0f%%\n",
				clients, res.Connected, rate, secs, sent, res.P50ms, res.P99ms, res.MaxMs, delivered,
				res.Received, sent*clients, dropped, cpu, res.ClientCPU)
			suffix := "@" + strconv.Itoa(rate)
			b.ReportMetric(res.P50ms, "p50-ms"+suffix)
			b.ReportMetric(res.P99ms, "p99-ms"+suffix)
			b.ReportMetric(delivered, "delivered/s"+suffix)
			b.ReportMetric(cpu, "server-cpu-%"+suffix)
			if res.Connected != clients || res.Ended != clients {
				b.Errorf("%d/s: %d of %d clients connected, %d saw the end", rate, res.Connected, clients, res.Ended)
			}
		}
	}
}

// fanoutPhase runs one rate: the clients' process connects, the events go
// out at rate for secs, then the end event. It returns the clients'
// figures, the server's CPU (% of one core) over the phase, the bus's
// drops and the events sent.
func fanoutPhase(b *testing.B, bus *events.Bus, url string, clients, rate, secs int) (sseResult, float64, uint64, int) {
	b.Helper()
	args := []string{os.Args[0], "-test.run=^TestEventStreamClients$", "-test.count=1"}
	if cpu := os.Getenv("HOTLINE_SSE_CLIENT_CPU"); cpu != "" { // the clients on a core of their own
		args = append([]string{"taskset", "-c", cpu}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), "HOTLINE_SSE_CLIENTS=1", "SSE_URL="+url, "SSE_TOKEN="+boardToken,
		"SSE_CLIENTS="+strconv.Itoa(clients), "SSE_EXPECT="+strconv.Itoa(rate*secs), "SSE_SECS="+strconv.Itoa(secs))
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = cmd.Wait() }()
	out := bufio.NewScanner(stdout)
	line := func(prefix string) string {
		for out.Scan() {
			if s, ok := strings.CutPrefix(out.Text(), prefix); ok {
				return s
			}
		}
		_ = cmd.Process.Kill() // our own child, by its handle
		b.Fatalf("clients: no %q line (%v)", prefix, out.Err())
		return ""
	}
	line("READY")

	// The board's events are about this size: a queue.joined with its
	// payload (about 190 bytes on the wire).
	d0 := bus.Dropped()
	cpu0, t0 := processCPU(), time.Now()
	tk := time.NewTicker(time.Millisecond)
	sent := 0
	for total := rate * secs; sent < total; {
		<-tk.C // the pace: catch up to rate × elapsed each millisecond
		due := min(total, int(float64(rate)*time.Since(t0).Seconds()))
		for ; sent < due; sent++ {
			bus.Publish(events.Event{Type: events.QueueJoined, Queue: "wait", CallID: fmt.Sprintf("bench-%d@127.0.0.1", sent),
				Payload: queue.Joined{Caller: "+842812345" + strconv.Itoa(sent%100), Tier: "standard"}})
		}
	}
	tk.Stop()
	cpu1, t1 := processCPU(), time.Now()
	bus.Publish(events.Event{Type: sseEnd})
	var res sseResult
	if err := json.Unmarshal([]byte(line("RESULT ")), &res); err != nil {
		b.Fatal(err)
	}
	return res, 100 * (cpu1 - cpu0).Seconds() / t1.Sub(t0).Seconds(), bus.Dropped() - d0, sent
}

// TestEventStreamClients is the child process of
// BenchmarkEventStreamFanout: the open boards. It does nothing in a normal
// test run.
func TestEventStreamClients(t *testing.T) {
	if os.Getenv("HOTLINE_SSE_CLIENTS") != "1" {
		t.Skip("child process of BenchmarkEventStreamFanout")
	}
	clients, expect, secs := envIntOr("SSE_CLIENTS", 50), envIntOr("SSE_EXPECT", 1000), envIntOr("SSE_SECS", 4)
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(secs+30)*time.Second)
	defer cancel()
	var (
		mu          sync.Mutex
		lat         = make([]float64, 0, clients*expect)
		first, last time.Time
		connected   sync.WaitGroup
		done        sync.WaitGroup
		res         = sseResult{Clients: clients}
	)
	connected.Add(clients)
	for range clients {
		done.Add(1)
		go func() {
			defer done.Done()
			ok, ended, mine, f, l := readStream(ctx, os.Getenv("SSE_URL"), os.Getenv("SSE_TOKEN"), expect, connected.Done)
			mu.Lock()
			defer mu.Unlock()
			if ok {
				res.Connected++
			}
			if ended {
				res.Ended++
			}
			lat = append(lat, mine...)
			if !f.IsZero() && (first.IsZero() || f.Before(first)) {
				first = f
			}
			if l.After(last) {
				last = l
			}
		}()
	}
	connected.Wait()
	cpu0, t0 := processCPU(), time.Now()
	fmt.Println("READY")
	done.Wait()
	res.ClientCPU = 100 * (processCPU() - cpu0).Seconds() / time.Since(t0).Seconds()
	slices.Sort(lat)
	res.Received = len(lat)
	if n := len(lat); n > 0 {
		res.P50ms, res.P99ms, res.MaxMs = lat[n/2], lat[min(n-1, n*99/100)], lat[n-1]
		res.Secs = last.Sub(first).Seconds()
	}
	j, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println("RESULT " + string(j))
}

// readStream reads one event stream until the end event (or ctx): whether
// it connected and saw the end, each event's latency in ms, and when the
// first and last events arrived. ready runs once, when connected or not.
func readStream(ctx context.Context, url, token string, expect int, ready func()) (ok, ended bool, lat []float64, first, last time.Time) {
	var once sync.Once
	defer once.Do(ready)
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "text/event-stream")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return
	}
	ok = true
	lat = make([]float64, 0, expect)
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		data, isData := strings.CutPrefix(sc.Text(), "data: ")
		if !isData {
			if strings.HasPrefix(sc.Text(), ": hotline") { // the stream's greeting: subscribed
				once.Do(ready)
			}
			continue
		}
		now := time.Now()
		var e struct {
			Type string    `json:"type"`
			Time time.Time `json:"time"`
		}
		if json.Unmarshal([]byte(data), &e) != nil {
			continue
		}
		if e.Type == sseEnd {
			ended = true
			return
		}
		if first.IsZero() {
			first = now
		}
		last = now
		lat = append(lat, float64(now.Sub(e.Time).Microseconds())/1000)
	}
	return
}

// processCPU is this process's user + system CPU time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func envIntOr(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
