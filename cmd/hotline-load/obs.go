package main

import (
	"net"
	"net/netip"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// obsConn wraps a call's RTP socket and watches every packet without
// keeping any: the media.Session still does all the RTP work.
//
// Received: the gap between consecutive packets of one talkspurt (a packet
// with the marker bit, or the first one, starts a talkspurt; RFC 3550 §5.1,
// RFC 3551 §4.1) goes into a histogram, and the first marker packet after
// our digit's end packet gives the digit-to-next-prompt latency.
// Sent: the first RFC 4733 end packet (E bit) of a digit is timestamped.
type obsConn struct {
	*net.UDPConn
	st       *stats
	dtmfPT   atomic.Uint32 // telephone-event payload type, set once answered (before our first digit)
	kernelTS bool          // received packets carry kernel timestamps

	last atomic.Int64 // wall ns of the previous packet, 0 = none yet (written by the reader)

	digitEnd atomic.Int64 // wall ns of our first end packet, 0 = none pending
	sentEnd  atomic.Bool
}

// wall is the realtime clock in ns, the clock of SO_TIMESTAMPNS.
func wall() int64 { return time.Now().UnixNano() }

// kernelStamp finds the SCM_TIMESTAMPNS control message.
func kernelStamp(oob []byte) (int64, bool) {
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return 0, false
	}
	for _, m := range msgs {
		if m.Header.Level == syscall.SOL_SOCKET && m.Header.Type == syscall.SCM_TIMESTAMPNS && len(m.Data) >= int(unsafe.Sizeof(syscall.Timespec{})) {
			ts := (*syscall.Timespec)(unsafe.Pointer(&m.Data[0]))
			return ts.Nano(), true
		}
	}
	return 0, false
}

// newObsConn asks the kernel to timestamp every received datagram
// (SO_TIMESTAMPNS), so the gaps are those of the packets' arrival on the
// socket, not of when this process got around to reading them: the load
// generator's own scheduling delays do not count against the server.
func newObsConn(c *net.UDPConn, st *stats) *obsConn {
	o := &obsConn{UDPConn: c, st: st}
	if rc, err := c.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) {
			if syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1) == nil {
				o.kernelTS = true
			}
		})
	}
	if o.kernelTS {
		st.kernelTS.Store(true)
	}
	return o
}

func (o *obsConn) ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error) {
	var oob [64]byte
	n, oobn, _, src, err := o.UDPConn.ReadMsgUDPAddrPort(b, oob[:])
	if err != nil || n < 12 || b[0]>>6 != 2 {
		return n, src, err
	}
	now := wall()
	if o.kernelTS {
		if t, ok := kernelStamp(oob[:oobn]); ok {
			now = t
		}
	}
	marker := b[1]&0x80 != 0
	last := o.last.Load()
	if marker || last == 0 {
		if marker {
			o.st.talkspurts.Add(1)
			if d := o.digitEnd.Load(); d != 0 {
				o.digitEnd.Store(0)
				o.st.digit.add(time.Duration(now - d))
			}
		}
	} else {
		o.st.gaps.add(time.Duration(now - last))
	}
	o.last.Store(now)
	return n, src, err
}

func (o *obsConn) WriteToUDPAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	// RFC 4733 §2.3: byte 1 of the payload carries the E (end) bit.
	if pt := o.dtmfPT.Load(); len(b) >= 16 && pt != 0 && uint32(b[1]&0x7f) == pt && b[13]&0x80 != 0 && !o.sentEnd.Load() {
		o.sentEnd.Store(true)
		now := wall()
		if now-o.last.Load() < int64(midPrompt) {
			// The server is still talking (its prompt ran late): barge-in
			// may switch prompts without a silence, so no marker bit will
			// say where the next prompt starts. Counted, not timed.
			o.st.digitMid.Add(1)
		} else {
			o.digitEnd.Store(now)
		}
	}
	return o.UDPConn.WriteToUDPAddrPort(b, addr)
}

// midPrompt: a packet this recent when our digit ends means the server was
// still playing (packets are 20 ms apart within a talkspurt).
const midPrompt = 60 * time.Millisecond

// hist is a fixed-bucket latency histogram (50 µs buckets up to 2 s).
type hist struct {
	b   [40001]atomic.Uint64
	n   atomic.Uint64
	max atomic.Int64
}

const bucket = 50 * time.Microsecond

func (h *hist) add(d time.Duration) {
	if d < 0 {
		d = 0
	}
	i := int(d / bucket)
	if i >= len(h.b) {
		i = len(h.b) - 1
	}
	h.b[i].Add(1)
	h.n.Add(1)
	for {
		m := h.max.Load()
		if int64(d) <= m || h.max.CompareAndSwap(m, int64(d)) {
			break
		}
	}
}

// quantile returns the upper edge of the bucket holding quantile q.
func (h *hist) quantile(q float64) time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	want := uint64(q*float64(n-1)) + 1
	var seen uint64
	for i := range h.b {
		seen += h.b[i].Load()
		if seen >= want {
			return time.Duration(i+1) * bucket
		}
	}
	return time.Duration(h.max.Load())
}

// over counts samples at or above d (bucket resolution).
func (h *hist) over(d time.Duration) uint64 {
	var c uint64
	for i := int(d / bucket); i < len(h.b); i++ {
		c += h.b[i].Load()
	}
	return c
}

// samples keeps every value (digit latencies: one per call).
type samples struct {
	mu sync.Mutex
	v  []time.Duration
}

func (s *samples) add(d time.Duration) {
	s.mu.Lock()
	s.v = append(s.v, d)
	s.mu.Unlock()
}

func (s *samples) quantiles(qs ...float64) (n int, out []time.Duration) {
	s.mu.Lock()
	v := append([]time.Duration(nil), s.v...)
	s.mu.Unlock()
	sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
	for _, q := range qs {
		if len(v) == 0 {
			out = append(out, 0)
			continue
		}
		out = append(out, v[int(q*float64(len(v)-1)+0.5)])
	}
	return len(v), out
}
