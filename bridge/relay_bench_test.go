//go:build linux

package bridge

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/media"
	"github.com/zaf/g711"
)

// BenchmarkBridgeRelay measures what a bridged call adds to the audio's
// path: RELAY_CALLS (default 500) calls, each two media.Sessions joined by
// the real Connect (caller endpoint <-> caller leg <=> agent leg <-> agent
// endpoint, as the B2BUA runs it), with both endpoints sending a 20 ms
// PCMU frame every 20 ms: 2 x RELAY_CALLS RTP streams into the relay and as
// many out, for RELAY_SECS seconds (default 20).
//
// The endpoints run in a child process (this test binary re-executed,
// pinned with taskset to HOTLINE_RELAY_ENDPOINT_CPU if set), so the
// process being measured does nothing but relay. What is measured per
// packet: added delay = kernel receive time (SO_TIMESTAMPNS) of the packet
// at the far endpoint's socket minus kernel receive time of the same frame
// at the relay leg's socket. The relay legs' sockets are wrapped so that,
// right after the kernel hands a packet over, its receive time is written
// into the payload (16 bytes, as µ-law codes that survive PCMU->PCM->PCMU);
// the far endpoint reads it back. The figure therefore includes the wait
// in the relay's socket buffer, the reader goroutine's wake-up, parsing,
// G.711 decode and encode, the send and loopback delivery; it excludes the
// endpoints' own scheduling.
//
// It runs only with HOTLINE_BENCH_RELAY=1 (scripts/bench.sh sets it and
// pins the process to one core), because it is long and wants its own CPU.
func BenchmarkBridgeRelay(b *testing.B) {
	if os.Getenv("HOTLINE_BENCH_RELAY") != "1" {
		b.Skip("set HOTLINE_BENCH_RELAY=1 (scripts/bench.sh does, pinned to one core)")
	}
	calls := envInt("RELAY_CALLS", 500)
	secs := envInt("RELAY_SECS", 20)
	for b.Loop() {
		res := runRelay(b, calls, secs)
		b.ReportMetric(res.P50us, "p50-µs")
		b.ReportMetric(res.P99us, "p99-µs")
		b.ReportMetric(res.MaxUs, "max-µs")
		b.ReportMetric(float64(res.Lost), "lost-pkts")
		b.ReportMetric(res.CPU, "relay-cpu-%")
		b.ReportMetric(float64(2*calls), "streams")
	}
}

// TestRelayEndpoints is the child process of BenchmarkBridgeRelay: the
// callers' and agents' phones. It does nothing in a normal test run.
func TestRelayEndpoints(t *testing.T) {
	if os.Getenv("HOTLINE_RELAY_ENDPOINTS") != "1" {
		t.Skip("child process of BenchmarkBridgeRelay")
	}
	if err := relayEndpoints(os.Stdin, os.Stdout, envInt("RELAY_CALLS", 500), envInt("RELAY_SECS", 20)); err != nil {
		t.Fatal(err)
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// relayResult is what the endpoints report (one JSON line), plus the
// relay's CPU added by the parent.
type relayResult struct {
	Sent, Received [2]uint64 // per direction: caller->agent, agent->caller
	P50us, P99us   float64
	P999us, MaxUs  float64
	Lost           int64
	Late10ms       uint64 // packets delayed over 10 ms
	// The endpoints' sender: 1 ms sub-slots sent over 1 ms after they were
	// due (a burst into the relay follows), and the latest.
	SendLate1ms, SendLateMaxUs uint64
	Secs                       float64
	CPU                        float64 // relay process, % of one core
	NoKernelTimestamp          uint64
}

const stampLen = 16 // payload bytes carrying the relay's receive time

// stampCodes are 16 µ-law codes that decode and re-encode to themselves,
// one per nibble of the stamp.
var stampCodes = func() (c [16]byte) {
	k := 0
	for b := 0x90; k < 16; b++ {
		if g711.EncodeUlawFrame(g711.DecodeUlawFrame(byte(b))) == byte(b) {
			c[k] = byte(b)
			k++
		}
	}
	return c
}()

func putStamp(dst []byte, ns int64) {
	for i := range stampLen {
		dst[i] = stampCodes[(uint64(ns)>>(4*i))&0xf]
	}
}

func getStamp(src []byte) (int64, bool) {
	var v uint64
	for i := range stampLen {
		k := slices.Index(stampCodes[:], src[i])
		if k < 0 {
			return 0, false
		}
		v |= uint64(k) << (4 * i)
	}
	return int64(v), true
}

// tsConn is a UDP socket with kernel receive timestamps: ReadMsgUDP with
// SO_TIMESTAMPNS. stamp, when set, writes the receive time into an RTP
// packet's payload (the relay side's hook).
type tsConn struct {
	*net.UDPConn
	oob    []byte
	stamp  bool
	noKern *atomic.Uint64
}

func listenTS(stamp bool, noKern *atomic.Uint64) (*tsConn, error) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	rc, err := c.SyscallConn()
	if err == nil {
		var serr error
		err = rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1)
		})
		if err == nil {
			err = serr
		}
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("SO_TIMESTAMPNS: %w", err)
	}
	return &tsConn{UDPConn: c, oob: make([]byte, 128), stamp: stamp, noKern: noKern}, nil
}

// read returns the datagram and its kernel receive time (ns since the
// Unix epoch); time.Now if the kernel gave none.
func (c *tsConn) read(b []byte) (int, netip.AddrPort, int64, error) {
	n, oobn, _, from, err := c.ReadMsgUDPAddrPort(b, c.oob)
	if err != nil {
		return 0, from, 0, err
	}
	msgs, _ := syscall.ParseSocketControlMessage(c.oob[:oobn])
	for _, m := range msgs {
		if m.Header.Level == syscall.SOL_SOCKET && m.Header.Type == syscall.SCM_TIMESTAMPNS && len(m.Data) >= 16 {
			sec := int64(binary.NativeEndian.Uint64(m.Data[0:]))
			nsec := int64(binary.NativeEndian.Uint64(m.Data[8:]))
			return n, from, sec*1e9 + nsec, nil
		}
	}
	c.noKern.Add(1)
	return n, from, time.Now().UnixNano(), nil
}

// ReadFromUDPAddrPort implements media.PacketConn for the relay legs.
func (c *tsConn) ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error) {
	n, from, ns, err := c.read(b)
	// Endpoint packets: 12-byte header (no CSRC, no extension), then at
	// least stampLen payload bytes.
	if err == nil && c.stamp && n >= 12+stampLen && b[0] == 0x80 {
		putStamp(b[12:], ns)
	}
	return n, netip.AddrPortFrom(from.Addr().Unmap(), from.Port()), err
}

// wrappedLegs is RELAY_LEGS=wrapped: the relay legs read through tsConn,
// which stamps the kernel receive time at the relay's socket into the
// payload. A wrapped conn is read by its own goroutine with
// ReadFromUDPAddrPort, not by media's pollers, so by default
// (RELAY_LEGS=socket) the legs are plain sessions on their own sockets, as
// in production, and the endpoints stamp the time just before their
// sendto instead (on loopback the kernel queues the datagram to the
// relay's socket inside that sendto).
func wrappedLegs() bool { return os.Getenv("RELAY_LEGS") == "wrapped" }

// sessionAgent is the agent's answered call as Connect sees it.
type sessionAgent struct{ s *media.Session }

func (a sessionAgent) Leg() Leg              { return a.s }
func (a sessionAgent) Done() <-chan struct{} { return a.s.Done() }

func cpuNanos() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// runqNanos is the time this process's threads spent runnable but waiting
// for a CPU (the second field of /proc/self/task/*/schedstat): other
// processes on the relay's core.
func runqNanos() int64 {
	var sum int64
	tasks, _ := os.ReadDir("/proc/self/task")
	for _, t := range tasks {
		b, err := os.ReadFile("/proc/self/task/" + t.Name() + "/schedstat")
		if err != nil {
			continue
		}
		if f := strings.Fields(string(b)); len(f) >= 2 {
			v, _ := strconv.ParseInt(f[1], 10, 64)
			sum += v
		}
	}
	return sum
}

// runRelay is the relay side: it starts the endpoints' process, builds the
// bridged calls, and collects the figures.
func runRelay(b *testing.B, calls, secs int) relayResult {
	var noKern atomic.Uint64
	args := []string{os.Args[0], "-test.run=^TestRelayEndpoints$", "-test.count=1"}
	if cpu := os.Getenv("HOTLINE_RELAY_ENDPOINT_CPU"); cpu != "" {
		args = append([]string{"taskset", "-c", cpu}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), "HOTLINE_RELAY_ENDPOINTS=1", "GOMAXPROCS=1",
		"RELAY_CALLS="+strconv.Itoa(calls), "RELAY_SECS="+strconv.Itoa(secs))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer cmd.Wait()
	defer stdin.Close()
	out := bufio.NewScanner(stdout)
	line := func(prefix string) string {
		for out.Scan() {
			if s, ok := strings.CutPrefix(out.Text(), prefix); ok {
				return s
			}
		}
		b.Fatalf("endpoints: no %q line (%v)", prefix, out.Err())
		return ""
	}

	ctx, cancel := context.WithCancel(context.Background())
	var bridges sync.WaitGroup
	var sessions []*media.Session
	defer func() {
		cancel()
		bridges.Wait()
		for _, s := range sessions {
			s.Close()
		}
	}()
	newLeg := func(ep string) *media.Session {
		cfg := media.SessionConfig{IP: netip.MustParseAddr("127.0.0.1")}
		if wrappedLegs() {
			c, err := listenTS(true, &noKern)
			if err != nil {
				b.Fatal(err)
			}
			cfg = media.SessionConfig{Conn: c}
		}
		s, err := media.NewSession(cfg)
		if err != nil {
			b.Fatal(err)
		}
		sessions = append(sessions, s)
		ap := netip.MustParseAddrPort(ep)
		if err := s.Start(media.Remote{Addr: ap, Codec: media.PCMU, Signal: ap.Addr()}); err != nil {
			b.Fatal(err)
		}
		return s
	}
	var legs strings.Builder
	for range calls {
		eps := strings.Fields(line("EP "))
		if len(eps) != 2 {
			b.Fatalf("endpoints: bad EP line %q", eps)
		}
		callerLeg, agentLeg := newLeg(eps[0]), newLeg(eps[1])
		bridges.Add(1)
		go func() {
			defer bridges.Done()
			Connect(ctx, Media(callerLeg), sessionAgent{agentLeg}, Options{})
		}()
		fmt.Fprintf(&legs, "LEG %s %s\n", callerLeg.LocalAddr(), agentLeg.LocalAddr())
	}
	legs.WriteString("GO\n")
	cpu0, rq0, t0 := cpuNanos(), runqNanos(), time.Now()
	if _, err := io.WriteString(stdin, legs.String()); err != nil {
		b.Fatal(err)
	}
	var res relayResult
	if err := json.Unmarshal([]byte(line("RESULT ")), &res); err != nil {
		b.Fatal(err)
	}
	cpu1, rq1, t1 := cpuNanos(), runqNanos(), time.Now()
	res.CPU = 100 * float64(cpu1-cpu0) / float64(t1.Sub(t0))
	res.NoKernelTimestamp += noKern.Load()
	var st media.Stats
	for _, s := range sessions {
		x := s.Stats()
		st.PacketsReceived += x.PacketsReceived
		st.PacketsSent += x.PacketsSent
		st.Lost += x.Lost
		st.LiveDirect += x.LiveDirect
		st.LiveDrops += x.LiveDrops
	}
	fmt.Printf("bridge relay: %d calls (%d RTP streams in, %d out), 20 ms PCMU both ways, %.0f s; GOMAXPROCS %d\n",
		calls, 2*calls, 2*calls, res.Secs, runtime.GOMAXPROCS(0))
	fmt.Printf("  caller->agent: sent %d received %d lost %d\n", res.Sent[0], res.Received[0], int64(res.Sent[0])-int64(res.Received[0]))
	fmt.Printf("  agent->caller: sent %d received %d lost %d\n", res.Sent[1], res.Received[1], int64(res.Sent[1])-int64(res.Received[1]))
	fmt.Printf("  added relay delay (kernel rx at far endpoint - kernel rx at relay leg): p50 %.0f µs, p99 %.0f µs, p99.9 %.0f µs, max %.0f µs; over 10 ms: %d\n",
		res.P50us, res.P99us, res.P999us, res.MaxUs, res.Late10ms)
	fmt.Printf("  relay process CPU: %.1f%% of one core (%.2f µs per packet relayed); its threads waited for a CPU %.1f ms/s\n",
		res.CPU, float64(cpu1-cpu0)/1e3/float64(res.Received[0]+res.Received[1]), float64(rq1-rq0)/1e6/t1.Sub(t0).Seconds())
	fmt.Printf("  endpoints' sender: %d of %d 1-ms sub-slots sent over 1 ms late (a burst into the relay), latest %.1f ms\n",
		res.SendLate1ms, int(res.Secs*1000), float64(res.SendLateMaxUs)/1e3)
	fmt.Printf("  relay sessions: received %d sent %d (sent at once %d), seq-gap lost %d, live samples dropped %d; packets without a kernel timestamp %d\n",
		st.PacketsReceived, st.PacketsSent, st.LiveDirect, st.Lost, st.LiveDrops, res.NoKernelTimestamp)
	return res
}

// relayEndpoints is the endpoints' process: 2 x calls sockets sending a
// 20 ms PCMU frame every 20 ms each (phases spread over the frame) to the
// relay legs and measuring what comes back through the bridge.
func relayEndpoints(in io.Reader, out io.Writer, calls, secs int) error {
	var noKern atomic.Uint64
	eps := make([]*tsConn, 2*calls) // 2i: caller of call i, 2i+1: its agent
	for i := range eps {
		c, err := listenTS(false, &noKern)
		if err != nil {
			return err
		}
		defer c.Close()
		eps[i] = c
	}
	for i := 0; i < len(eps); i += 2 {
		fmt.Fprintf(out, "EP %s %s\n", eps[i].LocalAddr(), eps[i+1].LocalAddr())
	}
	dst := make([]netip.AddrPort, len(eps))
	sc := bufio.NewScanner(in)
	for i := 0; i < len(eps); {
		if !sc.Scan() {
			return fmt.Errorf("relay: %v", sc.Err())
		}
		f := strings.Fields(sc.Text())
		if len(f) != 3 || f[0] != "LEG" {
			return fmt.Errorf("relay: bad line %q", sc.Text())
		}
		dst[i], dst[i+1] = netip.MustParseAddrPort(f[1]), netip.MustParseAddrPort(f[2])
		i += 2
	}
	if !sc.Scan() || sc.Text() != "GO" {
		return fmt.Errorf("relay: no GO")
	}

	// Receivers: one goroutine per socket, delays kept per socket.
	delays := make([][]int32, len(eps)) // µs
	var recv [2]atomic.Uint64
	var wg sync.WaitGroup
	for i, c := range eps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 1500)
			dir := 1 - i%2 // the caller (even) hears agent->caller (1)
			for {
				n, _, ns, err := c.read(buf)
				if err != nil {
					return
				}
				if n < 12+stampLen {
					continue
				}
				stamp, ok := getStamp(buf[12:])
				if !ok {
					continue
				}
				recv[dir].Add(1)
				delays[i] = append(delays[i], int32((ns-stamp)/1e3))
			}
		}()
	}

	// One sender paces every stream: 20 sub-slots of 1 ms per frame.
	var sent [2]uint64
	var sendLate uint64
	var sendLateMax time.Duration
	pkt := make([]byte, 12+160)
	seq := make([]uint16, len(eps))
	start := time.Now()
	frames := secs * 50
	const sub = 20
	for f := 0; f < frames; f++ {
		for k := 0; k < sub; k++ {
			due := start.Add(time.Duration(f)*20*time.Millisecond + time.Duration(k)*time.Millisecond)
			if d := time.Until(due); d > 0 {
				time.Sleep(d)
			}
			if late := time.Since(due); late > time.Millisecond {
				sendLate++
				sendLateMax = max(sendLateMax, late)
			}
			for i := k; i < len(eps); i += sub {
				pkt[0], pkt[1] = 0x80, 0 // V=2, PT 0 (PCMU)
				binary.BigEndian.PutUint16(pkt[2:], seq[i])
				binary.BigEndian.PutUint32(pkt[4:], uint32(f*160))
				binary.BigEndian.PutUint32(pkt[8:], uint32(0x5000+i))
				for j := 12; j < len(pkt); j++ {
					pkt[j] = 0xff // µ-law zero; the relay overwrites the stamp
				}
				if !wrappedLegs() {
					// The kernel queues the datagram to the relay's
					// socket inside this sendto (loopback).
					putStamp(pkt[12:], time.Now().UnixNano())
				}
				seq[i]++
				if _, err := eps[i].WriteToUDPAddrPort(pkt, dst[i]); err == nil {
					sent[i%2]++
				}
			}
		}
	}
	elapsed := time.Since(start)
	time.Sleep(time.Second) // the last packets in flight
	for _, c := range eps {
		c.Close()
	}
	wg.Wait()

	var all []int32
	for _, d := range delays {
		all = append(all, d...)
	}
	slices.Sort(all)
	q := func(p float64) float64 {
		if len(all) == 0 {
			return 0
		}
		return float64(all[min(len(all)-1, int(p*float64(len(all))))])
	}
	res := relayResult{Sent: sent, Received: [2]uint64{recv[0].Load(), recv[1].Load()},
		P50us: q(0.5), P99us: q(0.99), P999us: q(0.999), Secs: elapsed.Seconds(), NoKernelTimestamp: noKern.Load(),
		SendLate1ms: sendLate, SendLateMaxUs: uint64(sendLateMax.Microseconds())}
	if len(all) > 0 {
		res.MaxUs = float64(all[len(all)-1])
	}
	for _, d := range all {
		if d > 10000 {
			res.Late10ms++
		}
	}
	res.Lost = int64(sent[0]+sent[1]) - int64(res.Received[0]+res.Received[1])
	j, _ := json.Marshal(res)
	fmt.Fprintf(out, "RESULT %s\n", j)
	return nil
}
