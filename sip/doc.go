// Package sip is Hotline's SIP user agent on sipgo: the inbound Server (UAS)
// that answers calls and hands them to a Handler, the outbound Client (UAC)
// used by the test caller and the queue, and SDP offer/answer (RFC 3264) with
// pion/sdp.
//
// Call lifecycle (docs/architecture.md): INVITE → rate limit, draining,
// MaxCalls (503), Accept (404), SDP (488/400/415) → media session → 100,
// optional 180 for RingTime → 200 with the answer (or our offer, for a late
// offer) → ACK → Handler.ServeCall on the INVITE's goroutine. ServeCall's ctx
// ends on caller BYE, media timeout or drain expiry (context.Cause tells
// which). When it returns the server sends BYE (with an RFC 3326 Reason)
// unless the caller already hung up, closes media and publishes call.ended
// with cause and side.
//
// Goroutines and memory: a live call costs about 7 goroutines counting both
// the server and client side in one process (media reader, sender and
// watchdogs plus the parked INVITE handler), and about 40 KiB of heap. sipgo
// runs every transaction timer (Timer A-M) on time.AfterFunc, so finished
// transactions that linger for Timer J/H (64*T1 = 32 s on UDP) hold memory
// but no goroutine; sipgo's timers are package globals (sip.SetTimers) and
// cannot be set per user agent, so tests do not shorten them. What does leave
// goroutines behind is a request sent before sipgo has registered the UDP
// listener in its connection pool: sipgo then opens a fresh ephemeral socket
// with its own reader. The Server and Client therefore wait for the listener
// to be registered (waitUDPReady) and pin outgoing requests to it
// (WithClientConnectionAddr); with that, goroutine counts return to the
// baseline as soon as calls end (TestGoroutinesPerCall, goleak in TestMain).
// One sipgo limitation remains: each datagram is handled on its own
// goroutine, so a message read just before UserAgent.Close (an ACK overtaken
// by the BYE behind it) may be handled after Close cleared the pool, and sipgo
// then opens a socket whose reader nothing closes. It only matters at process
// exit; tests that close right after a call ignore that one reader.
package sip
