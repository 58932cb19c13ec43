package media

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// PacketConn is the socket a Session uses; *net.UDPConn implements it. Tests
// substitute an in-memory pipe so that pacing and timeouts run under
// testing/synctest.
type PacketConn interface {
	ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error)
	WriteToUDPAddrPort(b []byte, addr netip.AddrPort) (int, error)
	LocalAddr() net.Addr
	Close() error
}

// SessionConfig configures NewSession.
type SessionConfig struct {
	IP     netip.Addr // local address to bind (e.g. 127.0.0.1)
	Pool   *PortPool  // nil: an ephemeral port (tests)
	Logger *slog.Logger
	// InactivityTimeout ends the session with ErrMediaTimeout when no RTP
	// arrives for this long (not counted while on hold). 0 disables it.
	InactivityTimeout time.Duration
	// InbandDTMF runs the Goertzel detector on received audio.
	InbandDTMF bool
	// DedupWindow overrides DefaultDedupWindow.
	DedupWindow time.Duration
	// Conn, when set, is used instead of binding a socket: a test's
	// in-memory pipe, or a caller's own socket (sip.DialOptions.MediaConn).
	// Close closes it.
	Conn PacketConn
	// Peer and PeerSignal are the far end's SDP RTP address and the IP its
	// SIP came from, when known before the session is made (an inbound
	// offer): with them a Pool in shared-port mode may put the call on a
	// shared socket (shared.go). Zero: a per-call port.
	Peer       netip.AddrPort
	PeerSignal netip.Addr
}

// Remote is the negotiated far end (RFC 3264 answer) and where its
// description came from.
type Remote struct {
	Addr            netip.AddrPort
	Codec           Codec
	PayloadType     uint8         // usually the static 0 or 8
	DTMFPayloadType uint8         // telephone-event payload type; 0 = none
	Ptime           time.Duration // 0 = 20 ms (RFC 3551 §4.5 default for G.711)
	// Signal is the IP address the description came from: the source of
	// the SIP request or response that carried the SDP (behind NAT, the
	// caller's public address, where its RTP comes from too). RTP is
	// accepted only from Addr's IP and from Signal, and media is sent
	// before the far end has been heard only when Addr's IP is Signal
	// (strict RTP, docs/security.md "RTP"). Zero means unknown: only
	// Addr's IP is accepted and nothing is sent until RTP from it arrives.
	Signal netip.Addr
}

const (
	defaultPtime = 20 * time.Millisecond
	maxPtime     = 120 * time.Millisecond
	maxFrame     = int(maxPtime * SampleRate / time.Second)
)

func (r Remote) frameSamples() int { return int(r.Ptime * SampleRate / time.Second) }

func (r *Remote) normalise() error {
	if r.Ptime == 0 {
		r.Ptime = defaultPtime
	}
	// Sources are compared unmapped (see latch).
	r.Addr = netip.AddrPortFrom(r.Addr.Addr().Unmap(), r.Addr.Port())
	r.Signal = r.Signal.Unmap()
	switch {
	case !r.Addr.IsValid() || r.Addr.Port() == 0:
		return fmt.Errorf("%w: address %q", ErrBadRemote, r.Addr)
	case !validCodec(r.Codec):
		return fmt.Errorf("%w: codec %d", ErrBadRemote, r.Codec)
	case r.PayloadType > 127 || r.DTMFPayloadType > 127:
		return fmt.Errorf("%w: payload type %d/%d over 127", ErrBadRemote, r.PayloadType, r.DTMFPayloadType)
	case r.DTMFPayloadType != 0 && r.DTMFPayloadType == r.PayloadType:
		return fmt.Errorf("%w: telephone-event payload type %d equals audio", ErrBadRemote, r.PayloadType)
	case r.Ptime < 10*time.Millisecond || r.Ptime > maxPtime || r.Ptime%time.Millisecond != 0:
		return fmt.Errorf("%w: ptime %v, need 10-120 ms", ErrBadRemote, r.Ptime)
	}
	return nil
}

// Session is the RTP media of one call: one UDP socket, read by a poller
// shared with other sessions (poller_linux.go; a goroutine of its own for a
// conn that is not a *net.UDPConn, or off Linux); its frames are paced by a
// pacer shared with the other sessions of its PortPool (pacer.go). All
// methods are safe for concurrent use.
type Session struct {
	log   *slog.Logger
	cfg   SessionConfig
	conn  PacketConn
	local netip.AddrPort
	port  int // pool port to release, 0 if not from the pool
	epoch time.Time

	digits  *digitQueue
	sink    atomic.Pointer[func([]int16)]
	rawSink atomic.Pointer[func(Codec, []byte)]
	tap     atomic.Pointer[func(Frame)]

	remote atomic.Pointer[negotiation] // current negotiation, read per packet

	// txMu guards tx, the outgoing stream's state (sequence number,
	// timestamp, talkspurt, pacer slot), shared by the pacer's goroutine and
	// WriteAudio's immediate path. Lock order: txMu before mu; the pacer's
	// own lock is taken last (pacer.wake, from nudge).
	txMu sync.Mutex
	tx   *sendState

	mu      sync.Mutex // guards the fields below and the jobs
	started bool
	closed  bool
	hold    bool
	play    *playJob
	dig     *digitJob
	live    []int16 // WriteAudio samples waiting for the pacer (at most 2 frames)

	pacer      *pacer
	paced      atomic.Bool // Start has run: nudges go to the pacer
	paceQueued bool        // in pacer.woken; guarded by pacer.mu
	inact      *time.Timer // the inactivity timeout (inactivityCheck); nil if off
	poll       *pollEntry  // the socket's poller registration (poller_linux.go); nil: readLoop
	stop       chan struct{}
	// ended is done when the session ends (fail): done is its channel, and
	// AfterDone registers on it so that a watcher needs no goroutine.
	ended     context.Context
	end       context.CancelFunc
	done      <-chan struct{}
	digitSem  chan struct{} // one SendDigit at a time
	errOnce   sync.Once
	err       error
	wg        sync.WaitGroup
	closeOnce sync.Once

	// lastRecv is the time since epoch of the last accepted RTP packet, or
	// of Start or the end of a hold: the inactivity timeout runs from it.
	lastRecv atomic.Int64
	st       counters

	sh     sharedSlot  // shared-port mode (shared.go); zero: a per-call port
	shGone atomic.Bool // left its shared socket: its queued frames are not sent
}

// NewSession binds a socket (from the pool if set) and returns an idle
// session; call Start once the remote is known.
func NewSession(cfg SessionConfig) (*Session, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Session{
		cfg: cfg, epoch: time.Now(),
		digits:   newDigitQueue(cfg.DedupWindow),
		stop:     make(chan struct{}),
		digitSem: make(chan struct{}, 1),
		tx:       newSendState(),
	}
	s.ended, s.end = context.WithCancel(context.Background())
	s.done = s.ended.Done()
	switch {
	case cfg.Conn != nil:
		s.conn = cfg.Conn
	case !cfg.IP.IsValid():
		// Binding "all interfaces" by accident is a security surprise;
		// pass netip.IPv4Unspecified() to mean it.
		return nil, errors.New("media: SessionConfig.IP is not set")
	case cfg.Pool != nil && s.joinShared():
		// One socket for many calls; its reader serves them all.
	case cfg.Pool != nil:
		c, port, err := cfg.Pool.listen(cfg.IP)
		if err != nil {
			return nil, err
		}
		s.conn, s.port = c, port
		s.pacer = cfg.Pool.pacers.pick()
	default:
		c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(cfg.IP, 0)))
		if err != nil {
			return nil, fmt.Errorf("media: bind RTP socket: %w", err)
		}
		s.conn = c
	}
	if s.pacer == nil {
		// Without a pool the session paces itself (tests, a caller's own
		// socket): the same pacer, for one session.
		s.pacer = newPacer()
	}
	if ua, ok := s.conn.LocalAddr().(*net.UDPAddr); ok {
		ap := ua.AddrPort()
		s.local = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	s.log = cfg.Logger.With("rtp_local", s.local.String())
	return s, nil
}

// LocalAddr is the bound RTP address, for the SDP offer/answer.
func (s *Session) LocalAddr() netip.AddrPort { return s.local }

// Start begins media with r: the socket's reader (startReading), and the
// sender's slots on the pacer.
func (s *Session) Start(r Remote) error {
	if err := r.normalise(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return s.closedErr()
	case s.started:
		return ErrAlreadyStarted
	}
	if sp := s.sh.port; sp != nil {
		if err := sp.move(s, r); err != nil {
			return err
		}
	}
	s.started = true
	s.remote.Store(s.negotiate(r))
	s.lastRecv.Store(int64(time.Since(s.epoch)))
	if s.cfg.InactivityTimeout > 0 {
		s.inact = time.AfterFunc(s.cfg.InactivityTimeout, s.inactivityCheck)
	}
	if s.sh.port == nil { // a shared socket's reader serves shared sessions
		s.startReading() // recv_linux.go: a poller; else a reader goroutine
	}
	// Work handed over before Start (a nudge) starts now.
	s.paced.Store(true)
	s.pacer.wake(s)
	return nil
}

// SetRemote applies a re-INVITE: new address, codec, payload types, ptime
// or signalling source. It starts a new negotiation: media goes to the new
// SDP address until RTP arrives, the latch learns again (LearnWindow), and
// if the address is not on the signalling IP nothing is sent until the far
// end has been heard. The description already in force (a session-timer
// refresh, RFC 4028) changes nothing.
func (s *Session) SetRemote(r Remote) error {
	if err := r.normalise(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started {
		return ErrNotStarted
	}
	if s.remote.Load().Remote == r {
		return nil
	}
	if sp := s.sh.port; sp != nil {
		if err := sp.move(s, r); err != nil {
			return err // a collision, or an address that could not share
		}
	}
	s.remote.Store(s.negotiate(r))
	s.nudge()
	return nil
}

// PrepareRemote checks, before a re-INVITE is answered, that SetRemote(r)
// will be accepted: r is valid and, on a shared port, its address may
// share and is not another call's (ErrSharedIneligible, ErrSharedAddrInUse).
// A shared session's demux entry moves to r's address at once, so that no
// other call can take it before SetRemote; RTP from the old address then
// reaches no call, as after SetRemote. For a per-call port it only
// validates r.
func (s *Session) PrepareRemote(r Remote) error {
	if err := r.normalise(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return s.closedErr()
	case !s.started:
		return ErrNotStarted
	}
	if sp := s.sh.port; sp != nil {
		return sp.move(s, r)
	}
	return nil
}

// SetHold stops (true) or resumes (false) sending. A Play in progress pauses
// and resumes where it was. The inactivity timeout does not run while held,
// because a held far end may stop sending (RFC 3264 §8.4).
func (s *Session) SetHold(hold bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hold = hold
	if !hold {
		s.lastRecv.Store(int64(time.Since(s.epoch)))
	}
	s.nudge()
}

// nudge wakes the sender; never blocks. Before Start it does nothing:
// Start wakes the pacer itself.
func (s *Session) nudge() {
	if s.paced.Load() {
		s.pacer.wake(s)
	}
}

// Digits delivers every key press once, whatever its source. It is never
// closed: select on Done as well.
func (s *Session) Digits() <-chan Digit { return s.digits.ch }

// InjectDigit delivers a digit that came by SIP INFO (or another
// signalling path). A zero At is stamped now; an empty Source means INFO.
func (s *Session) InjectDigit(d Digit) {
	if _, err := eventCode(d.Key); err != nil {
		s.log.Warn("ignoring injected digit", "error", err)
		return
	}
	if d.Source == "" {
		d.Source = SourceINFO
	}
	if d.At.IsZero() {
		d.At = time.Now()
	}
	s.digits.push(d)
}

// SetAudioSink installs f to receive every received audio frame as linear
// PCM, from the session's RTP reader: a poller that serves other sessions
// too (poller_linux.go), so f must not block; it must copy pcm if it keeps
// it (the buffer is reused). nil removes the sink. A bridge installs
// the other leg's WriteAudio here, which may send the frame at once from
// this reader (see WriteAudio).
func (s *Session) SetAudioSink(f func(pcm []int16)) {
	if f == nil {
		s.sink.Store(nil)
		return
	}
	s.sink.Store(&f)
}

// SetPayloadSink installs f to receive every received audio payload as it
// came off the wire, G.711 in codec c, from the session's RTP reader, instead
// of the audio sink (it wins over SetAudioSink's while set). f must not
// block and must copy payload if it keeps it. A bridge installs the other
// leg's WriteEncoded here: two legs with the same codec then forward each
// frame's bytes with no decode and re-encode (issue 15, relay delay). The
// receive tap and the inband detector still get their PCM. nil removes it.
func (s *Session) SetPayloadSink(f func(c Codec, payload []byte)) {
	if f == nil {
		s.rawSink.Store(nil)
		return
	}
	s.rawSink.Store(&f)
}

// Frame is one received audio packet as linear PCM with its RTP timing,
// for a recorder that must place audio by timestamp (RFC 3550 §5.1) and
// fill lost packets with silence.
type Frame struct {
	SSRC      uint32
	Sequence  uint16
	Timestamp uint32  // RTP timestamp of the first sample (8 kHz units for G.711)
	PCM       []int16 // aliases the reader's buffer: copy to keep
}

// SetReceiveTap installs f to receive every received audio packet with its
// RTP timestamp, from the session's RTP reader, beside the audio sink (a
// bridge's) without replacing it. f must not block and must copy
// Frame.PCM if it keeps it. nil removes the tap.
func (s *Session) SetReceiveTap(f func(Frame)) {
	if f == nil {
		s.tap.Store(nil)
		return
	}
	s.tap.Store(&f)
}

// Done is closed when the session ended: Close, or a media timeout.
func (s *Session) Done() <-chan struct{} { return s.done }

// AfterDone arranges for f to run in its own goroutine once the session has
// ended (Close, or a media timeout; Err tells which), like context.AfterFunc:
// nothing waits meanwhile, so a call's media watchdog costs no goroutine
// (issue 15: a parked goroutine is ~8 KiB of stack per held call). stop
// unregisters f; it reports false when f has already been started.
func (s *Session) AfterDone(f func()) (stop func() bool) {
	return context.AfterFunc(s.ended, f)
}

// Err is nil while the session runs, then ErrMediaTimeout or
// ErrSessionClosed.
func (s *Session) Err() error {
	select {
	case <-s.done:
		return s.err
	default:
		return nil
	}
}

// closedErr is the error for work refused by an ended session: the reason
// it ended (ErrMediaTimeout) if known, else ErrSessionClosed.
func (s *Session) closedErr() error {
	if err := s.Err(); err != nil {
		return err
	}
	return ErrSessionClosed
}

// fail ends the session with err (the first error wins).
func (s *Session) fail(err error) {
	s.errOnce.Do(func() {
		s.err = err
		s.end()
	})
}

// Close stops the reader and waits for it, ends the sender's slots (nothing
// is sent once it returns), closes the socket and returns the port to the
// pool. It is safe to call more than once.
func (s *Session) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		if s.inact != nil {
			s.inact.Stop()
		}
		s.mu.Unlock()
		close(s.stop)
		s.stopSending()
		s.stopReading() // out of the poller before the fd is closed
		err = s.conn.Close()
		s.wg.Wait()
		if s.port != 0 {
			s.cfg.Pool.release(s.port)
		}
		s.fail(ErrSessionClosed)
		if errors.Is(err, net.ErrClosed) {
			err = nil
		}
	})
	return err
}
