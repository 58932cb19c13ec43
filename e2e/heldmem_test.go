package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/internal/siptest"
	"github.com/hotline-dev/hotline/media"
	"github.com/hotline-dev/hotline/sip"
)

// TestHeldCallMemory measures what one held queue call costs the server
// (issue 15: ≤ 50 KiB RSS per added held call at 1,000): the bench's
// ivr_queue scenario (bench/ivr/flows/anchor.yaml, digit 2, queue support
// with music on hold, no agents) placed by Go callers in this process
// against bench/profserver in another, so the callers' own memory is not
// counted. It reports, per held call, the server's Go heap in use and
// stack bytes after a forced GC (pprof's heap?gc=1), goroutines and RSS,
// and keeps the server's heap profile (go tool pprof -sample_index=inuse_space).
//
// Without HELD_CALLS (make test) it is a guard: 100 calls, and it fails
// when the stacks per held call exceed 12 KiB (a new local in one of the
// frames parked under the queue's wait doubles the stack to 16 KiB).
// As a measurement, run on demand: HELD_CALLS=N (e.g. 200, 1000; at most
// 3,000, the media port range below), HELD_PROFILE=FILE keeps the heap
// profile (4 KiB sampling) and FILE.base the one before the calls (go tool
// pprof -diff_base FILE.base FILE: what the calls hold), HELD_GOGC / HELD_GOMEMLIMIT set the server's GOGC and
// GOMEMLIMIT, HELD_MAX_KIB=K fails when the heap + stacks per call exceed K,
// HELD_SETTLE=D waits D after the last call is up before measuring,
// HELD_MAX_STACK_KIB=K fails when the stacks per call exceed K (10: the
// held caller's goroutine on an 8 KiB stack).
func TestHeldCallMemory(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("HELD_CALLS"))
	maxStack, _ := strconv.ParseFloat(os.Getenv("HELD_MAX_STACK_KIB"), 64)
	if n <= 0 {
		if testing.Short() {
			t.Skip("a server process and 100 calls")
		}
		n, maxStack = 100, 12
	}
	if n > 3000 {
		t.Fatalf("HELD_CALLS=%d: at most 3,000 (media ports 23000-29998, the e2e harness's, one per call)", n)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "profserver")
	if out, err := exec.Command("go", "build", "-o", bin, "../bench/profserver").CombinedOutput(); err != nil {
		t.Fatalf("go build bench/profserver: %v\n%s", err, out)
	}
	prompts := filepath.Join(dir, "prompts")
	if out, err := exec.Command("cp", "-r", "../prompts", prompts).CombinedOutput(); err != nil {
		t.Fatalf("cp prompts: %v\n%s", err, out)
	}
	copyFile(t, "../bench/ivr/welcome.wav", filepath.Join(prompts, "en", "welcome.wav"))
	copyFile(t, "../bench/ivr/option1.wav", filepath.Join(prompts, "en", "option1.wav"))
	sipPort, httpPort := freePort(t, "udp"), freePort(t, "tcp")
	flows, err := filepath.Abs("../bench/ivr/flows")
	must(t, err)
	// The bench's configuration (scripts/bench-ivr.sh) but a max_wait long
	// enough for every call to be placed before the first leaves.
	cfg := fmt.Sprintf(`sip:
  udp: 127.0.0.1:%d
  tcp: ""
  max_calls: 10000
  rate_limit: 0
  rate_limit_total: -1
  max_unconfirmed_per_source: -1
  drain_time: 1s
media:
  port_min: 23000
  port_max: 29998
  prompts: %s
  inactivity_timeout: 5m
http:
  addr: 127.0.0.1:%d
flows:
  dir: %s
  watch: false
queues:
  support:
    max_wait: 30m
    join_empty: true
    exit: bye
    max_length: 10000
    music: hold-music
database:
  url: sqlite:%s
  spool_dir: %s
log:
  level: error
`, sipPort, prompts, httpPort, flows, filepath.Join(dir, "h.db"), filepath.Join(dir, "spool"))
	cfgPath := filepath.Join(dir, "hotline.yaml")
	must(t, os.WriteFile(cfgPath, []byte(cfg), 0o600))

	cmd := exec.Command(bin, "--config", cfgPath, "--pprof", "127.0.0.1:0", "--memprofilerate", "4096")
	cmd.Env = os.Environ()
	if v := os.Getenv("HELD_GOGC"); v != "" {
		cmd.Env = append(cmd.Env, "GOGC="+v)
	}
	if v := os.Getenv("HELD_GOMEMLIMIT"); v != "" {
		cmd.Env = append(cmd.Env, "GOMEMLIMIT="+v)
	}
	stderr, err := cmd.StderrPipe()
	must(t, err)
	must(t, cmd.Start())
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	})
	pprofURL := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "pprof on "); ok {
				pprofURL <- strings.TrimSuffix(u, "/")
				continue
			}
			t.Log("server:", sc.Text())
		}
	}()
	var pp string
	select {
	case pp = <-pprofURL:
	case <-time.After(60 * time.Second):
		t.Fatal("profserver never printed its pprof address")
	}
	metrics := fmt.Sprintf("http://127.0.0.1:%d/metrics", httpPort)
	waitFor(t, 60*time.Second, "the server's /metrics", func() bool { _, err := heldMetric(metrics, "hotline_calls_active"); return err == nil })

	c := siptest.Client(t, sip.ClientConfig{Addr: "127.0.0.1:0", InactivityTimeout: 10 * time.Minute})
	uri := fmt.Sprintf("sip:1000@127.0.0.1:%d", sipPort)
	ctx := context.Background()
	// The callers talk (a 300 Hz tone, 50 packets/s each, as sipp's pcap
	// does in the bench) so that the server's receive path (reader, latch,
	// jitter and digit state) is in the figure; HELD_RTP=0 keeps them silent.
	talk := os.Getenv("HELD_RTP") != "0"
	voice := media.NewPromptPCM("voice", media.Tone([]float64{300}, 10*time.Second))
	talkCtx, stopTalk := context.WithCancel(ctx)
	var talking sync.WaitGroup
	t.Cleanup(func() { stopTalk(); talking.Wait() })
	// talked waits until every caller has sent a second of audio (and has
	// heard the music: the server latched onto it).
	talked := func(calls []*sip.OutboundCall) {
		t.Helper()
		waitFor(t, 2*time.Minute, "a second of RTP each way on every call", func() bool {
			for _, call := range calls {
				if st := call.Media().Stats(); st.PacketsSent < 50 || st.PacketsReceived < 50 {
					return false
				}
			}
			return true
		})
	}
	hold := func() (*sip.OutboundCall, error) {
		dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		call, err := c.Dial(dctx, uri, sip.DialOptions{})
		if err != nil {
			return nil, err
		}
		// The menu takes a digit while its prompt plays (barge-in).
		if err := call.Media().SendDigit(dctx, '2', 100*time.Millisecond, media.SourceRFC4733); err != nil {
			call.Hangup(ctx)
			return nil, err
		}
		if talk {
			talking.Add(1)
			go func() {
				defer talking.Done()
				for talkCtx.Err() == nil && call.Media().Play(talkCtx, voice) == nil {
				}
			}()
		}
		return call, nil
	}
	waiting := func(want int) {
		t.Helper()
		waitFor(t, 2*time.Minute, fmt.Sprintf("%d callers waiting in queue support", want), func() bool {
			v, err := heldMetric(metrics, `hotline_queue_waiting{queue="support"}`)
			return err == nil && int(v) == want
		})
	}

	// Warm-up: one call through the whole path, so that lazily built
	// pieces (prompt and music caches, pools, the pacer) are in the baseline.
	warm, err := hold()
	must(t, err)
	waiting(1)
	must(t, warm.Hangup(ctx))
	waiting(0)
	waitFor(t, time.Minute, "no active call", func() bool { v, err := heldMetric(metrics, "hotline_calls_active"); return err == nil && v == 0 })
	keepBase := ""
	if p := os.Getenv("HELD_PROFILE"); p != "" {
		keepBase = p + ".base"
	}
	before := memAt(t, pp, cmd.Process.Pid, keepBase)

	calls := make([]*sip.OutboundCall, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 16)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			call, err := hold()
			if err != nil {
				errs <- fmt.Errorf("call %d: %w", i, err)
				return
			}
			calls[i] = call
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	waiting(n)
	if talk {
		talked(calls)
	}
	// HELD_SETTLE=35s measures once the INVITE transactions have ended
	// (Timer L, 64*T1 = 32 s after the 200, frees the INVITE as parsed):
	// what a caller held for minutes keeps, not one placed seconds ago.
	if d, err := time.ParseDuration(os.Getenv("HELD_SETTLE")); err == nil && d > 0 {
		time.Sleep(d)
	}
	after := memAt(t, pp, cmd.Process.Pid, os.Getenv("HELD_PROFILE"))
	per := func(a, b int64) float64 { return float64(b-a) / float64(n) / 1024 }
	heap, stack := per(before.heap, after.heap), per(before.stack, after.stack)
	t.Logf("%d held calls (callers sending RTP: %v), per call: Go heap in use %.1f KiB (allocated %.1f), stacks %.1f KiB, goroutines %.2f, RSS %.1f KiB, free but kept %.1f KiB (server heap %d→%d KiB, RSS %d→%d KiB)",
		n, talk, heap, per(before.alloc, after.alloc), stack, float64(after.goroutines-before.goroutines)/float64(n), per(before.rss, after.rss),
		per(before.idle-before.released, after.idle-after.released), before.heap>>10, after.heap>>10, before.rss>>10, after.rss>>10)
	if lim, _ := strconv.ParseFloat(os.Getenv("HELD_MAX_KIB"), 64); lim > 0 && heap+stack > lim {
		t.Errorf("heap + stacks per held call %.1f KiB, want ≤ %.0f", heap+stack, lim)
	}
	if maxStack > 0 && stack > maxStack {
		t.Errorf("stacks per held call %.1f KiB, want ≤ %.0f (the frames parked under queue.Enqueuer.wait, see queue/enqueue.go)", stack, maxStack)
	}
	for _, call := range calls {
		call.Hangup(ctx)
	}
	waiting(0)
}

type memSample struct{ heap, alloc, stack, rss, goroutines, idle, released int64 }

// memAt reads the server's memory after a forced GC: HeapInuse and
// StackInuse from pprof's heap page, the goroutine count, VmRSS; keep, when
// not "", receives the binary heap profile.
func memAt(t *testing.T, pp string, pid int, keep string) memSample {
	t.Helper()
	var s memSample
	body := get(t, pp+"/heap?gc=1&debug=1")
	for line := range strings.SplitSeq(body, "\n") {
		if v, ok := strings.CutPrefix(line, "# HeapInuse = "); ok {
			s.heap, _ = strconv.ParseInt(v, 10, 64)
		}
		if v, ok := strings.CutPrefix(line, "# HeapAlloc = "); ok {
			s.alloc, _ = strconv.ParseInt(v, 10, 64)
		}
		if v, ok := strings.CutPrefix(line, "# HeapIdle = "); ok {
			s.idle, _ = strconv.ParseInt(v, 10, 64)
		}
		if v, ok := strings.CutPrefix(line, "# HeapReleased = "); ok {
			s.released, _ = strconv.ParseInt(v, 10, 64)
		}
		if v, ok := strings.CutPrefix(line, "# Stack = "); ok {
			s.stack, _ = strconv.ParseInt(strings.Fields(v)[0], 10, 64)
		}
	}
	g := get(t, pp+"/goroutine?debug=1")
	if f := strings.Fields(g); len(f) >= 4 {
		s.goroutines, _ = strconv.ParseInt(f[3], 10, 64)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	must(t, err)
	for line := range strings.SplitSeq(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			s.rss = kb << 10
		}
	}
	if s.heap == 0 || s.stack == 0 || s.goroutines == 0 || s.rss == 0 {
		t.Fatalf("could not read the server's memory: %+v", s)
	}
	if keep != "" {
		must(t, os.WriteFile(keep, []byte(get(t, pp+"/heap")), 0o644))
		must(t, os.WriteFile(keep+".goroutines", []byte(g), 0o644))
	}
	return s
}

func get(t *testing.T, url string) string {
	t.Helper()
	res, err := http.Get(url)
	must(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	must(t, err)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, res.Status)
	}
	return string(b)
}

// heldMetric is one sample of the server's /metrics, by its full name with labels.
func heldMetric(url, name string) (float64, error) {
	res, err := http.Get(url)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return strconv.ParseFloat(v, 64)
		}
	}
	return 0, fmt.Errorf("%s: no %s", url, name)
}

func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s (after %v)", what, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func freePort(t *testing.T, network string) int {
	t.Helper()
	if network == "udp" {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		must(t, err)
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
