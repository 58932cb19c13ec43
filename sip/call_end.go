package sip

// Cause is why a call ended, inbound or outbound: one of the Cause*
// constants, or the text of the far end's RFC 3326 Reason (an outbound
// call's remote BYE), or the cause a handler passed to Hangup. It is
// published in call.ended and kept in the ticket history (store's
// hang-up cause), so the values are stable.
type Cause string

// End causes. The inbound ones are on the wire (call.ended) and in stored
// records: do not rename them.
const (
	CauseCallerBye    Cause = "caller-bye"    // inbound: the caller sent BYE
	CauseCancelled    Cause = "cancelled"     // inbound: CANCEL before answer (487)
	CauseCompleted    Cause = "completed"     // inbound: the handler returned; we sent BYE
	CauseAgentBye     Cause = "agent-bye"     // inbound: the agent (or number) the caller was bridged to hung up; we sent BYE
	CauseMediaTimeout Cause = "media-timeout" // no RTP for the inactivity timeout; we sent BYE
	CauseShutdown     Cause = "shutdown"      // inbound: drain time ran out; we sent BYE
	CauseNoAck        Cause = "no-ack"        // inbound: 200 never ACKed (RFC 3261 §13.3.1.4)
	CauseError        Cause = "error"         // inbound: media or signalling failure
	CauseHangup       Cause = "hangup"        // outbound: we hung up with Hangup
	CauseRemoteBye    Cause = "remote-bye"    // outbound: the far end sent BYE without a Reason
)

// Side is who ended a call, as Hotline's user agent sees it, whichever
// way the call was placed. The ticket history says it in its own words
// (store.Side: caller, agent, hotline); the queue maps one to the other.
type Side string

// Sides.
const (
	SideLocal  Side = "local"  // Hotline ended it: BYE sent, a timeout, an error, a shutdown
	SideRemote Side = "remote" // the far end: the caller of an inbound call, the callee of an outbound one
)

// inboundWord is the side in call.ended's words (CallEnd.Side): the one
// place the user agent's vocabulary meets the one the event stream and
// dashboards have always read.
func (s Side) inboundWord() string {
	if s == SideRemote {
		return EndedByCaller
	}
	return EndedByServer
}

// EndCause reports why and by whom the call ended; ok is false while the
// call is still up. The call logger reads it for the ticket history's
// hang-up cause and side.
func (c *Call) EndCause() (cause Cause, side Side, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cause, c.side, c.ended
}
