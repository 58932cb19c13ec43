package sip

import (
	"time"

	"github.com/emiago/sipgo/sip"
)

// One Call-ID, one call at a time.
//
// RFC 3261 §8.1.1.4 makes the Call-ID of a new call globally unique, and
// §12 makes a dialog its Call-ID plus both tags: a later call that reuses a
// Call-ID with a new From tag is a new call (the ticket history records it
// apart, on Call-ID and From tag). Inside Hotline the queue, the live-call
// list and the event stream name a call by its Call-ID, so while a call is
// up an INVITE that reuses its Call-ID outside the dialog is refused rather
// than given a second identity:
//
//   - the same From tag and CSeq on another branch is a merged request
//     (§8.2.2.2: it reached us twice, e.g. forked by a proxy): 482 Loop
//     Detected;
//   - anything else (a new From tag, a new CSeq) is a UA breaking the
//     uniqueness rule: 400 Bad Request, logged with the call_id.
//
// Two cases wait instead, at most callIDWait, for the Call-ID to be freed:
// a call that has ended but is still being torn down (its BYE answered or
// its INVITE cancelled, its handler returning, its record being handed on),
// so a UA that reuses the Call-ID of a call it has just hung up gets a new
// call; and an INVITE with the same From tag and a higher CSeq than one
// that never became a call, which is a UA retrying after our final
// response (a 401 challenge, RFC 3261 §8.1.3.5 and §22.2) that may arrive
// before that INVITE's handler has let go of the Call-ID.

// callIDWait bounds how long an INVITE waits for an ended call with its
// Call-ID to be freed before it is answered 503 (retry after 1 s).
const callIDWait = 2 * time.Second

// callIDClaim is an INVITE's hold on its Call-ID, from the moment it is
// checked until the call it became (if any) is freed.
type callIDClaim struct {
	fromTag string
	cseq    uint32
	call    *Call         // nil while the INVITE is being checked
	freed   chan struct{} // closed when released
}

// claimCallID takes the INVITE's Call-ID, waiting for an ended call that
// still holds it; a live call (or another INVITE being checked) holding it
// gets the refusal to send.
func (s *Server) claimCallID(req *sip.Request, callID string) (*callIDClaim, *StatusError) {
	cl := &callIDClaim{freed: make(chan struct{})}
	cl.fromTag = fromTag(req)
	if cs := req.CSeq(); cs != nil {
		cl.cseq = cs.SeqNo
	}
	var deadline <-chan time.Time
	for {
		s.mu.Lock()
		prev, held := s.callIDs[callID]
		if !held {
			s.callIDs[callID] = cl
			s.mu.Unlock()
			return cl, nil
		}
		pc := prev.call
		s.mu.Unlock()
		switch {
		case prev.fromTag == cl.fromTag && prev.cseq == cl.cseq:
			return nil, statusErr(sip.StatusLoopDetected, "Loop Detected", ErrCallIDInUse)
		case pc == nil && prev.fromTag == cl.fromTag && cl.cseq > prev.cseq: // a retry: wait
		case pc != nil && pc.isEnding(): // being torn down: wait
		default:
			return nil, statusErr(sip.StatusBadRequest, "Bad Request (Call-ID already in use)", ErrCallIDInUse)
		}
		if deadline == nil {
			t := time.NewTimer(s.callIDWait)
			defer t.Stop()
			deadline = t.C
			if s.onCallIDWait != nil {
				s.onCallIDWait(callID)
			}
		}
		select {
		case <-prev.freed:
		case <-deadline:
			return nil, statusErr(sip.StatusServiceUnavailable, "Service Unavailable", ErrCallIDInUse, sip.NewHeader("Retry-After", "1"))
		case <-s.closeCh:
			return nil, statusErr(sip.StatusServiceUnavailable, "Service Unavailable", ErrDraining, sip.NewHeader("Retry-After", "1"))
		}
	}
}

// releaseCallIDLocked frees the Call-ID if cl still holds it. s.mu is held.
func (s *Server) releaseCallIDLocked(callID string, cl *callIDClaim) {
	if s.callIDs[callID] == cl {
		delete(s.callIDs, callID)
		close(cl.freed)
	}
}

func (s *Server) releaseCallID(callID string, cl *callIDClaim) {
	s.mu.Lock()
	s.releaseCallIDLocked(callID, cl)
	s.mu.Unlock()
}

// isEnding reports whether the call has ended, its caller's BYE is being
// answered, or its INVITE was cancelled (the library has answered 487).
func (c *Call) isEnding() bool {
	c.mu.Lock()
	ended := c.ended || c.byeIn
	c.mu.Unlock()
	return ended || c.dialog.Context().Err() != nil
}

func (c *Call) setByeReceived(v bool) {
	c.mu.Lock()
	c.byeIn = v
	c.mu.Unlock()
}
