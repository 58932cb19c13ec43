//go:build linux

package media

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The RTP sockets of all sessions are read by a few pollers, one per core
// (issue 15): a poller owns an epoll set in which its sessions' sockets are
// registered edge-triggered, and it waits for that set through Go's own
// netpoller (the epoll fd is an os.File read with RawConn.Read), so no OS
// thread blocks in epoll_wait and an idle poller costs a parked goroutine.
// When the set is ready, epoll_wait with a zero timeout returns the ready
// sockets and the poller drains each with recvmmsg and handles its packets
// inline (handlePacket, the sinks: a bridge's relay sends the frame on
// from here). Compared with a reader goroutine per socket this saves a
// goroutine (stack, scheduling) per call and a goroutine wake-up per
// packet: one wake-up serves every socket that became ready meanwhile.
//
// The sinks must not block (SetAudioSink): a blocked handler holds up the
// other sessions of its poller, whose packets wait in their sockets'
// buffers. A poller runs only while it has sessions: the last one's
// removal stops its goroutine and closes its epoll fd, so an idle server
// or a finished test has none left (goleak).

// pollEvents is how many ready sockets one epoll_wait returns; more are
// fetched by the next call, in the same wake-up.
const pollEvents = 128

// readers is the process's pollers, one per core at first use.
var readers pollerSet

type pollerSet struct {
	once    sync.Once
	pollers []*poller
	next    atomic.Uint32
}

// pick spreads sessions round-robin, as PortPool does over its pacers.
func (ps *pollerSet) pick() *poller {
	ps.once.Do(func() {
		ps.pollers = make([]*poller, max(1, runtime.GOMAXPROCS(0)))
		for i := range ps.pollers {
			ps.pollers[i] = &poller{}
		}
	})
	return ps.pollers[int(ps.next.Add(1))%len(ps.pollers)]
}

// poller is one core's reader. Its loop (epoll fd and goroutine) exists
// while sessions are registered; a session that comes after the last one
// left starts a new loop.
type poller struct {
	mu   sync.Mutex
	loop *pollLoop // guarded by mu; nil while no session is registered
}

// pollLoop is one epoll set and the goroutine that serves it.
type pollLoop struct {
	ep   *os.File // the epoll fd, in Go's netpoller
	epfd int      // ep's fd, for epoll_ctl; valid while the loop is p.loop
	rc   syscall.RawConn

	// Guarded by poller.mu. A socket's epoll data is its slot and the
	// slot's generation, so an event fetched before its session left is
	// recognised as stale even when the slot has been reused since.
	entries []*pollEntry
	free    []int32
	gen     int32
	n       int

	// Owned by the loop's goroutine.
	events [pollEvents]unix.EpollEvent
	batch  []*pollEntry
	bufs   *mmsgBufs
}

// pollEntry is one session's registration.
type pollEntry struct {
	s    *Session
	rc   syscall.RawConn // the socket's; its Control holds the fd open while it is read
	p    *poller
	loop *pollLoop
	slot int32
	gen  int32

	// mu is held while the socket is drained; remove sets dead under it,
	// so once remove returns no handler of the session runs any more and
	// the socket may be closed.
	mu   sync.Mutex
	dead bool
	rs   *recvState // the session's receive state; guarded by mu
	m    *mmsgBufs  // the loop's buffers while drain runs; guarded by mu
	// read is e.readFD, made once: a closure built per drain escapes (it
	// goes to RawConn.Control) and was 32 B of garbage per wakeup, about
	// one per packet, which kept the GC cycling while callers were held.
	read func(fd uintptr)
}

// add registers uc's socket with the poller; s's packets are handled from
// the poller's goroutine until the entry is removed.
func (p *poller) add(s *Session, uc *net.UDPConn, rs *recvState) (*pollEntry, error) {
	rc, err := uc.SyscallConn()
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.loop
	if l == nil {
		if l, err = newPollLoop(); err != nil {
			return nil, err
		}
	}
	e := &pollEntry{s: s, rc: rc, p: p, loop: l, rs: rs}
	e.read = e.readFD
	if k := len(l.free); k > 0 {
		e.slot, l.free = l.free[k-1], l.free[:k-1]
	} else {
		e.slot = int32(len(l.entries))
		l.entries = append(l.entries, nil)
	}
	l.gen++
	e.gen = l.gen
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLET, Fd: e.slot, Pad: e.gen}
	var cerr error
	if err := rc.Control(func(fd uintptr) { cerr = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, int(fd), &ev) }); err != nil {
		cerr = err
	}
	if cerr != nil {
		l.free = append(l.free, e.slot)
		if p.loop == nil { // the loop was made for this session
			l.ep.Close()
		}
		return nil, fmt.Errorf("media: epoll_ctl add RTP socket: %w", cerr)
	}
	l.entries[e.slot] = e
	l.n++
	if p.loop == nil {
		p.loop = l
		go l.run(p)
	}
	return e, nil
}

func newPollLoop() (*pollLoop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("media: epoll_create1: %w", err)
	}
	// Non-blocking, so that os.NewFile puts it in Go's netpoller.
	if err := unix.SetNonblock(epfd, true); err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("media: epoll fd non-blocking: %w", err)
	}
	f := os.NewFile(uintptr(epfd), "rtp-epoll")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("media: epoll fd: %w", err)
	}
	return &pollLoop{ep: f, epfd: epfd, rc: rc, bufs: newMmsgBufs()}, nil
}

// remove deregisters the session and waits for a drain of its socket in
// progress: afterwards nothing reads the socket or runs its handlers, and
// it may be closed. Never call it from the session's own handler.
func (e *pollEntry) remove() {
	p, l := e.p, e.loop
	p.mu.Lock()
	l.entries[e.slot] = nil
	l.free = append(l.free, e.slot)
	// Removed before the socket is closed, so the fd leaves the set
	// while it is still this socket's. A socket closed elsewhere (a
	// caller's own conn) has left the set by itself: Control fails.
	_ = e.rc.Control(func(fd uintptr) { _ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, int(fd), nil) })
	l.n--
	last := l.n == 0
	if last {
		p.loop = nil
	}
	p.mu.Unlock()
	if last {
		// Wakes the loop's goroutine, which sees it is no longer p.loop,
		// closes the epoll fd and exits. Not Close here: it waits for
		// the goroutine's RawConn.Read, which may be mid-batch.
		_ = l.ep.SetReadDeadline(time.Unix(1, 0))
	}
	e.mu.Lock()
	e.dead = true
	e.mu.Unlock()
}

// run is the loop's goroutine: it waits for the epoll set through the
// netpoller and serves it until it is no longer the poller's loop.
func (l *pollLoop) run(p *poller) {
	for {
		err := l.rc.Read(func(epfd uintptr) bool { return l.poll(p, int(epfd)) })
		p.mu.Lock()
		current := p.loop == l
		p.mu.Unlock()
		if !current {
			l.ep.Close()
			return
		}
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			// Not expected of an epoll fd in the netpoller; do not spin.
			slog.Warn("media: RTP poller: read epoll fd", "error", err)
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// poll handles every ready socket; false waits for the set's next edge.
// A socket that became ready after epoll_wait returned signals that edge
// itself (the netpoller registers the epoll fd edge-triggered, and a new
// datagram on an edge-triggered socket in the set wakes it again).
func (l *pollLoop) poll(p *poller, epfd int) bool {
	for {
		n, err := unix.EpollWait(epfd, l.events[:], 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n <= 0 {
			return false
		}
		p.mu.Lock()
		if p.loop != l {
			p.mu.Unlock()
			return true // the last session left: run exits
		}
		for i := range n {
			ev := &l.events[i]
			if ev.Fd >= 0 && int(ev.Fd) < len(l.entries) {
				if e := l.entries[ev.Fd]; e != nil && e.gen == ev.Pad {
					l.batch = append(l.batch, e)
				}
			}
		}
		p.mu.Unlock()
		for i, e := range l.batch {
			e.drain(l.bufs)
			l.batch[i] = nil
		}
		l.batch = l.batch[:0]
		if n < len(l.events) {
			return false
		}
	}
}

// drain reads the socket to empty and handles its packets, unless the
// session has left meanwhile.
func (e *pollEntry) drain(m *mmsgBufs) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.dead {
		return
	}
	// Control holds the socket's fd open while it is read: a caller's
	// own conn closed under us fails here instead of reading a reused fd.
	e.m = m
	if err := e.rc.Control(e.read); err != nil {
		e.s.st.ignored.Add(1)
	}
	e.m = nil
}

func (e *pollEntry) readFD(fd uintptr) { e.s.drain(fd, e.rs, e.m) }
