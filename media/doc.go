// Package media is the RTP side of a call: one Session per call with one
// UDP socket from a PortPool, G.711 (PCMU/PCMA, RFC 3551 §4.5.14) audio,
// prompts loaded from WAV files and encoded once, and DTMF from three
// sources (RFC 4733 telephone-events, SIP INFO bodies, inband tones found by
// a Goertzel detector) de-duplicated into one Digits channel.
//
// Design choices worth knowing:
//
//   - The sender paces frames on start + n*ptime. When nothing is playing
//     it sends no RTP at all: no comfort noise is negotiated, and a silent
//     stream costs bandwidth and CPU for nothing at 1,500 calls. A new
//     talkspurt sets the marker bit and a timestamp that follows the clock
//     (RFC 3551 §4.1), so receivers handle the gap as silence.
//   - Live audio (WriteAudio: a bridge relaying the other leg) is not paced
//     when nothing else is being sent: each frame leaves at once from the
//     writer's goroutine, so a bridge adds no frame of delay. With a prompt
//     or an inband digit playing it is queued and mixed on the pacer's
//     slots. Both paths share one SSRC, sequence and timestamp (txMu).
//   - Strict RTP (strictrtp.go): media is taken only from the SDP address's
//     IP or the IP the SIP came from (Remote.Signal); the first such packet
//     latches the send address (symmetric RTP, NAT); for LearnWindow after
//     Start or SetRemote the latch may move to another port of those IPs
//     after 3 in-sequence packets, then it is locked. Rejected and
//     probation packets give no audio and no digits.
//   - Reflection guard: media goes out before the far end is heard only if
//     the SDP address is on the signalling IP, and then for
//     UnansweredSendLimit at most; otherwise the session waits for the far
//     end's first packet as if on hold.
//   - Digits are reported when the press ends (RFC 4733 end packet, or the
//     tone released), so Digit.Duration is known; At is the press start.
//   - A session has no goroutine of its own. On Linux its socket is read
//     by a poller, one per core for the whole process (poller_linux.go): an
//     epoll set of sockets, edge-triggered, waited on through Go's
//     netpoller; one wake-up reads every ready socket with recvmmsg
//     (recv_linux.go) and runs the sessions' handlers inline, so sinks must
//     not block. Close takes the socket out of the set before closing it
//     and waits for a handler in progress. A conn that is not a
//     *net.UDPConn (a test's pipe, a caller's wrapper), and every socket off
//     Linux, has its own reader goroutine (readLoop). Frames are sent by a
//     pacer shared by the sessions of its PortPool, one per core
//     (pacer.go): one wake-up per 1 ms grid tick sends every due frame. The
//     inactivity watchdog is a timer (time.AfterFunc); the reader only
//     stamps the time of the last accepted packet.
//   - Shared-port mode (shared.go, opt-in: PortPool.SetShared): calls whose
//     far end is in the configured networks and shows no NAT evidence (or
//     is in a network declared not NATed) share
//     one socket, demultiplexed by exact remote ip:port (no latching:
//     unknown sources are dropped). The socket has one reader (recvmmsg,
//     shared_linux.go) instead of a poller entry per call, and its calls
//     are paced by one pacer, which sends each pass's frames in one
//     sendmmsg. A re-INVITE must pass the same rules (PrepareRemote, before
//     the SIP layer answers). Close sends nothing after it returns, as for
//     a per-call port: the pass's batch drops a closed session's frames.
package media
