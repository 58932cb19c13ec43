// Package sip is Hotline's SIP user agent on sipgo: the inbound Server (UAS)
// that answers calls and hands them to a Handler, the outbound Client (UAC)
// used by the test caller, the load generator and package bridge, and SDP
// offer/answer (RFC 3264) with pion/sdp.
//
// Call lifecycle (docs/architecture.md): INVITE → the edge's screen (UDP:
// in the read path, before sipgo; rate limits, set-up slots, draining,
// MaxCalls: 503, stateless; docs/security.md) → Accept (404), SDP
// (488/400/415) → media session → 100,
// optional 180 for RingTime → 200 with the answer (or our offer, for a late
// offer), retransmitted by us until the ACK (the wait shrinks under load;
// the call counts against MaxCalls from the ACK on) → Handler.ServeCall on
// the INVITE's goroutine. ServeCall's ctx
// ends on caller BYE, media timeout or drain expiry (context.Cause tells
// which). When it returns the server sends BYE (with an RFC 3326 Reason)
// unless the caller already hung up, closes media and publishes call.ended
// with cause and side.
//
// Refusals (errors.go): handlers refuse a request by returning or passing
// on an error; statusOf is the one mapping from an error to the response
// (status, reason phrase, and the headers that go with it: Retry-After,
// Warning, Accept, Allow, Unsupported), as api/errors.go is for HTTP. A
// *StatusError names its own status; the sentinels (ErrNoDialog 481,
// ErrNotFound 404, ErrNoCommonCodec 488, ErrBadHeader 400, ErrDraining
// 503, ...) map by errors.Is; anything else is 500. errorResponse builds
// the response whatever carries it: the transaction, the dialog, or the
// edge's stateless UDP write. testdata/refusals.golden pins them on the wire.
//
// Goroutines and memory: a live call costs exactly 2 goroutines on the
// server side (the parked INVITE handler; the media watchdog is a callback
// on the session's end, media.Session.AfterDone) and 1 on the client side
// (its watch; TestGoroutinesPerCall), and about 40 KiB of heap: RTP is read
// by media's pollers and sent by its pacers, a few goroutines per core
// shared by every call. sipgo
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
//
// Lifecycle (docs/architecture.md, Conventions): NewServer and NewClient
// bind and start nothing; Server.Serve and Client.Run serve until their
// context ends or Shutdown (drain) or Close (at once), and return nil on
// such a clean stop; Dial waits until Run serves the client's socket.
//
// Outbound (Client): Dial takes numbers ([0-9+*#] users only: anything built
// from caller input); DialContact takes a registered Contact URI and dials
// it as registered (RFC 3261 §10), e.g. baresip's
// sip:lan-0x5586d4800230@127.0.0.1:41905;transport=udp, because phones
// answer 404 unless the Request-URI carries their contact user. Both refuse
// CR, LF, NUL, spaces, '<', '>', '"' and URI headers. Cancelling a Dial
// returns ErrCanceled at once but does not abandon the INVITE (the phone
// would ring on): RFC 3261 §9.1 allows a CANCEL only after a provisional, so
// a goroutine the Client owns waits for one (at most Timer B) and cancels
// then, or ACKs and BYEs a 2xx that comes instead (cancel.go); Close stops
// those waits and joins them. A call's RTP socket comes from the client's
// port pool, or is the caller's own (DialOptions.MediaConn: the load
// generator watches every packet on it). Package bridge places Hotline's
// own outbound legs (agents, transfer targets, callbacks) through a Client.
//
// Agent feature codes (feature.go): an INVITE to a '*' number (*11 log in,
// *12 log out, *13[n] pause, *14 ready) from an agent's own phone is a
// request to change that agent's state, so it is digest-authenticated like a
// REGISTER (ServerConfig.Authenticate: 401 challenge, 403 on a wrong password,
// failures counted towards the registrar's ban), and the authenticated user
// names the agent, never the From header. Found while designing it: a SIP
// INVITE has no final response that both says "done" and is shown as success
// by phones (202 Accepted was only defined for SUBSCRIBE and REFER, RFC
// 3265 and 3515, and RFC 6665 deprecates it; 4xx-6xx show as a failed
// call), so, as Asterisk and FreeSWITCH dialplans do, we
// answer, play a confirmation (two 880 Hz beeps) or a reorder tone when the
// code failed, and hang up. Unknown codes are 404 before anything is
// answered. The code is applied only after the SDP offer is found
// acceptable, so a call we could not answer changes nothing. sipgo's client
// answers the 401 itself (AnswerOptions Username/Password), as baresip does.
package sip
