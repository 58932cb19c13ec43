// Command hotline-load places many concurrent real SIP calls (the
// project's sip.Client, on sipgo) with RTP media (media.Session, each on a
// socket of the generator's own that watches every packet: obs.go) against
// a SIP server and prints
// what it measured: calls answered and failed, calls/s, concurrency, the
// received RTP inter-packet gaps within talkspurts, sequence gaps, and the
// digit-to-next-prompt latency. It exits 1 when any call failed.
//
//	hotline-load --target sip:200@127.0.0.1:5060 --rate 100 --calls 1000 --hold 5s
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/hotline-dev/hotline/media"
	hsip "github.com/hotline-dev/hotline/sip"
)

type options struct {
	target     string
	rate       float64
	calls      int
	concurrent int
	hold       time.Duration
	digit      rune
	digitAt    time.Duration
	duration   time.Duration
	clients    int
	answerTO   time.Duration
	minPackets uint64
}

// stats are shared by every call.
type stats struct {
	attempted, answered, failed, byServer atomic.Uint64
	active, peak                          atomic.Int64
	talkspurts                            atomic.Uint64
	pktRecv, pktSent, lost, noAudio       atomic.Uint64
	fewPackets, digitErr                  atomic.Uint64
	kernelTS                              atomic.Bool
	digitMid, digitNoPrompt               atomic.Uint64
	minPkts                               atomic.Uint64
	gaps                                  hist
	digit                                 samples
	setup                                 samples

	mu       sync.Mutex
	failures map[string]int
}

func (s *stats) fail(reason string) {
	s.failed.Add(1)
	s.mu.Lock()
	s.failures[reason]++
	s.mu.Unlock()
}

func main() {
	os.Exit(run())
}

func run() int {
	var o options
	var digit string
	fs := flag.NewFlagSet("hotline-load", flag.ExitOnError)
	fs.StringVar(&o.target, "target", "sip:200@127.0.0.1:5060", "SIP URI to call")
	fs.Float64Var(&o.rate, "rate", 10, "new calls per second")
	fs.IntVar(&o.calls, "calls", 100, "total calls to place")
	fs.IntVar(&o.concurrent, "concurrent", 0, "at most this many calls up at once (0 = no limit)")
	fs.DurationVar(&o.hold, "hold", 5*time.Second, "hang up this long after the answer (unless the server hangs up first)")
	fs.StringVar(&digit, "digit", "", "KEY@OFFSET: send an RFC 4733 digit OFFSET after the answer and time the next prompt")
	fs.DurationVar(&o.duration, "duration", 60*time.Second, "cap on the whole run; calls still up are hung up")
	fs.IntVar(&o.clients, "clients", 4, "SIP clients (UDP sockets) the calls are spread over")
	fs.DurationVar(&o.answerTO, "answer-timeout", 10*time.Second, "INVITE to 200 limit")
	fs.Uint64Var(&o.minPackets, "min-packets", 1, "a call that received fewer RTP packets failed")
	fs.Parse(os.Args[1:])
	if digit != "" {
		k, at, ok := strings.Cut(digit, "@")
		d, err := time.ParseDuration(at)
		if !ok || len(k) != 1 || err != nil || !strings.ContainsAny(k, "0123456789*#ABCD") {
			fmt.Fprintf(os.Stderr, "hotline-load: --digit %q: want KEY@OFFSET, e.g. 1@8s\n", digit)
			return 2
		}
		o.digit, o.digitAt = rune(k[0]), d
	}
	var target sip.Uri
	if err := sip.ParseUri(o.target, &target); err != nil || o.rate <= 0 || o.calls <= 0 || o.clients <= 0 {
		fmt.Fprintf(os.Stderr, "hotline-load: bad --target, --rate, --calls or --clients\n")
		return 2
	}
	ip, err := netip.ParseAddr(target.Host)
	if err != nil || !ip.IsLoopback() {
		fmt.Fprintf(os.Stderr, "hotline-load: target host must be a loopback IP (got %q)\n", target.Host)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()

	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	// sipgo logs some things (retransmitted 200s it no longer has a
	// transaction for) through the default logger.
	slog.SetDefault(log)
	st := &stats{failures: map[string]int{}}
	st.minPkts.Store(^uint64(0))
	clients := make([]*hsip.Client, o.clients)
	for i := range clients {
		clients[i], err = hsip.NewClient(hsip.ClientConfig{Addr: netip.AddrPortFrom(ip, 0).String(), UserAgent: "hotline-load", Logger: log})
		if err != nil {
			fmt.Fprintf(os.Stderr, "hotline-load: %v\n", err)
			return 2
		}
		served := make(chan error, 1)
		go func(c *hsip.Client) { served <- c.Run(context.Background()) }(clients[i])
		defer func(c *hsip.Client) {
			c.Close()
			if err := <-served; err != nil {
				fmt.Fprintf(os.Stderr, "hotline-load: client: %v\n", err)
			}
		}(clients[i])
	}
	fmt.Printf("hotline-load: target=%s rate=%g/s calls=%d concurrent=%d hold=%v digit=%q duration=%v clients=%d\n",
		o.target, o.rate, o.calls, o.concurrent, o.hold, digit, o.duration, o.clients)

	ru0 := rusage()
	t0 := time.Now()
	talk := newTalker()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); talk.run(ctx) }()
	var sem chan struct{}
	if o.concurrent > 0 {
		sem = make(chan struct{}, o.concurrent)
	}
	interval := time.Duration(float64(time.Second) / o.rate)
	var lastStart time.Time
	var callsWG sync.WaitGroup
launch:
	for i := 0; i < o.calls; i++ {
		if d := time.Until(t0.Add(time.Duration(i) * interval)); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
				break launch
			}
		}
		if sem != nil {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				break launch
			}
		}
		if ctx.Err() != nil {
			break
		}
		lastStart = time.Now()
		st.attempted.Add(1)
		callsWG.Add(1)
		go func(cl *hsip.Client) {
			defer callsWG.Done()
			if sem != nil {
				defer func() { <-sem }()
			}
			oneCall(ctx, cl, ip, o, st, talk)
		}(clients[i%len(clients)])
	}
	launchTime := lastStart.Sub(t0)
	callsWG.Wait()
	cancel()
	wg.Wait()
	wall := time.Since(t0)
	ru1 := rusage()
	report(os.Stdout, o, st, launchTime, wall, ru1-ru0)
	if st.failed.Load() > 0 || st.answered.Load() < uint64(o.calls) {
		return 1
	}
	return 0
}

// oneCall places, holds and ends one call.
func oneCall(ctx context.Context, cl *hsip.Client, ip netip.Addr, o options, st *stats, talk *talker) {
	udp, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, 0)))
	if err != nil {
		st.fail("error: rtp socket: " + err.Error())
		return
	}
	obs := newObsConn(udp, st)
	dctx, cancel := context.WithTimeout(ctx, o.answerTO)
	t := time.Now()
	// The target is the operator's: dialled as given, any user part. The
	// call owns obs from here on (closed with its media).
	c, err := cl.DialContact(dctx, o.target, hsip.DialOptions{From: "1000", Codecs: []media.Codec{media.PCMU}, MediaConn: obs})
	cancel()
	if err != nil {
		var se *hsip.StatusError
		switch {
		case errors.As(err, &se):
			st.fail(fmt.Sprintf("status %d", se.Code))
		case dctx.Err() != nil && ctx.Err() == nil:
			st.fail("answer timeout")
		case ctx.Err() != nil:
			st.fail("run cap reached before answer")
		default:
			st.fail("error: " + err.Error())
		}
		return
	}
	sess := c.Media()
	obs.dtmfPT.Store(uint32(c.Negotiated().DTMFPT)) // before our first digit
	st.setup.add(time.Since(t))
	st.answered.Add(1)
	if n := st.active.Add(1); n > st.peak.Load() {
		for p := st.peak.Load(); n > p && !st.peak.CompareAndSwap(p, n); p = st.peak.Load() {
		}
	}
	talk.add(sess)
	answered := time.Now()
	hold := time.NewTimer(o.hold)
	defer hold.Stop()
	var digitC <-chan time.Time
	if o.digit != 0 {
		dt := time.NewTimer(o.digitAt)
		defer dt.Stop()
		digitC = dt.C
	}
	var reason string
	byServer := false
wait:
	for {
		select {
		case <-digitC:
			digitC = nil
			if err := sess.SendDigit(ctx, o.digit, 100*time.Millisecond, media.SourceRFC4733); err != nil {
				st.digitErr.Add(1)
				reason = "digit: " + err.Error()
				break wait
			}
		case <-hold.C:
			break wait
		case <-c.Done(): // the server's BYE, or our media failed (the client then sent BYE)
			if _, side := c.Ended(); side == hsip.SideRemote {
				byServer = true
			} else {
				reason = "media ended: " + fmt.Sprint(sess.Err())
			}
			break wait
		case <-ctx.Done():
			break wait
		}
	}
	if o.digit != 0 && digitC != nil && reason == "" && time.Since(answered) < o.digitAt {
		// Server hung up (or the cap came) before we could send the digit.
		reason = "call ended before the digit"
	}
	talk.remove(sess)
	if obs.digitEnd.Load() != 0 {
		st.digitNoPrompt.Add(1)
		if reason == "" {
			reason = "no prompt after the digit"
		}
	}
	ms := sess.Stats()
	if !byServer {
		hctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := c.Hangup(hctx); errors.Is(err, hsip.ErrCallEnded) {
			byServer = true // the server's BYE crossed ours
		}
		cancel()
	}
	if byServer {
		st.byServer.Add(1)
	}
	st.active.Add(-1)
	st.pktRecv.Add(ms.PacketsReceived)
	st.pktSent.Add(ms.PacketsSent)
	st.lost.Add(ms.Lost)
	for p := st.minPkts.Load(); ms.PacketsReceived < p && !st.minPkts.CompareAndSwap(p, ms.PacketsReceived); p = st.minPkts.Load() {
	}
	switch {
	case reason != "":
		st.fail(reason)
	case ms.PacketsReceived == 0:
		st.noAudio.Add(1)
		st.fail("no RTP received")
	case ms.PacketsReceived < o.minPackets:
		st.fewPackets.Add(1)
		st.fail(fmt.Sprintf("fewer than %d RTP packets", o.minPackets))
	}
}

// talker sends a low-noise PCMU frame every 20 ms on every live call, as a
// phone does, so the server's RTP inactivity timeout never fires. One
// goroutine serves every call. A bridged-style WriteAudio leaves at once, so
// calls are spread over talkerSlots sub-ticks of the 20 ms frame: the server
// sees phones' independent phases, not one burst of every call's packet.
type talker struct {
	mu    sync.Mutex
	calls map[*media.Session]int // session → slot
	next  int
	frame []int16
}

const talkerSlots = 10 // 2 ms apart

func newTalker() *talker {
	f := make([]int16, 160)
	for i := range f {
		f[i] = int16(rand.IntN(64) - 32)
	}
	return &talker{calls: map[*media.Session]int{}, frame: f}
}

func (t *talker) add(s *media.Session) {
	t.mu.Lock()
	t.calls[s] = t.next % talkerSlots
	t.next++
	t.mu.Unlock()
}

func (t *talker) remove(s *media.Session) {
	t.mu.Lock()
	delete(t.calls, s)
	t.mu.Unlock()
}

func (t *talker) run(ctx context.Context) {
	tick := time.NewTicker(20 * time.Millisecond / talkerSlots)
	defer tick.Stop()
	var batch []*media.Session
	for slot := 0; ; slot = (slot + 1) % talkerSlots {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		t.mu.Lock()
		batch = batch[:0]
		for s, sl := range t.calls {
			if sl == slot {
				batch = append(batch, s)
			}
		}
		t.mu.Unlock()
		for _, s := range batch {
			s.WriteAudio(t.frame)
		}
	}
}

// rusage is this process's user+system CPU time.
func rusage() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func report(w io.Writer, o options, st *stats, launch, wall, cpu time.Duration) {
	att, ans := st.attempted.Load(), st.answered.Load()
	fmt.Fprintf(w, "calls: attempted=%d answered=%d failed=%d (ended by server %d)\n", att, ans, st.failed.Load(), st.byServer.Load())
	st.mu.Lock()
	keys := make([]string, 0, len(st.failures))
	for k := range st.failures {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "  failed: %-40s %d\n", k, st.failures[k])
	}
	st.mu.Unlock()
	rate := 0.0
	if launch > 0 && att > 1 {
		rate = float64(att-1) / launch.Seconds()
	}
	n, q := st.setup.quantiles(0.5, 0.99, 1)
	fmt.Fprintf(w, "rate: offered=%.1f/s achieved=%.1f/s (attempts over %v)  setup INVITE→200 (n=%d) p50=%v p99=%v max=%v\n",
		o.rate, rate, launch.Round(time.Millisecond), n, q[0].Round(10*time.Microsecond), q[1].Round(10*time.Microsecond), q[2].Round(10*time.Microsecond))
	fmt.Fprintf(w, "concurrent: peak=%d\n", st.peak.Load())
	minP := st.minPkts.Load()
	if minP == ^uint64(0) {
		minP = 0
	}
	g := &st.gaps
	fmt.Fprintf(w, "rtp received: packets=%d talkspurts=%d seq_gaps(lost)=%d min_per_call=%d sent=%d\n",
		st.pktRecv.Load(), st.talkspurts.Load(), st.lost.Load(), minP, st.pktSent.Load())
	clock := "read time (no kernel timestamps)"
	if st.kernelTS.Load() {
		clock = "kernel receive timestamps"
	}
	fmt.Fprintf(w, "rtp gap within talkspurts (%s): n=%d p50=%v p99=%v p99.9=%v max=%v  >25ms=%d >40ms=%d\n",
		clock, g.n.Load(), g.quantile(0.5), g.quantile(0.99), g.quantile(0.999), time.Duration(g.max.Load()).Round(10*time.Microsecond),
		g.over(25*time.Millisecond), g.over(40*time.Millisecond))
	if o.digit != 0 {
		n, q := st.digit.quantiles(0.5, 0.99, 1)
		fmt.Fprintf(w, "digit-to-next-prompt: n=%d p50=%v p99=%v max=%v (not timed: sent while the server was still playing %d; send errors %d; no prompt after it %d)\n",
			n, q[0].Round(10*time.Microsecond), q[1].Round(10*time.Microsecond), q[2].Round(10*time.Microsecond),
			st.digitMid.Load(), st.digitErr.Load(), st.digitNoPrompt.Load())
	}
	fmt.Fprintf(w, "load generator cpu: %v over %v wall = %.0f%% of one core\n",
		cpu.Round(time.Millisecond), wall.Round(time.Millisecond), 100*cpu.Seconds()/wall.Seconds())
}
