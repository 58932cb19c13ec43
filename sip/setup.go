package sip

import (
	"net/netip"
	"time"
)

// Call admission (issue 8.5). A call is "unconfirmed" from its INVITE until
// its ACK: it holds an RTP port and a set-up slot but not a MaxCalls slot,
// so INVITEs that are never ACKed cannot take the capacity of real calls.
// Unconfirmed calls are capped per source and in total, and their ACK wait
// shrinks while there are many (Limits).
//
// For UDP the slot is reserved by the UDP guard, before sipgo sees the
// datagram, so a refusal costs no transaction and no port; onInvite then
// claims it. A reservation that is never claimed (sipgo dropped or absorbed
// the INVITE as a retransmission) lapses after pendingTTL.

const pendingTTL = 5 * time.Second

// setupSlot is one unconfirmed call's reservation, keyed by Call-ID.
type setupSlot struct {
	callID    string
	src       netip.Addr
	trusted   bool
	at        time.Time
	claimed   bool // onInvite owns it
	confirmed bool // ACKed: counted in confirmed, not unconfirmed
	done      bool // released or confirmed
}

// admission is the call counts; guarded by Server.mu.
type admission struct {
	confirmed   int                   // ACKed calls (MaxCalls)
	unconfirmed int                   // reserved, not yet ACKed
	perSource   map[netip.Addr]int    // unconfirmed by source
	byCallID    map[string]*setupSlot // unconfirmed by Call-ID (retransmissions, CANCEL)
	pendingQ    []*setupSlot          // unclaimed reservations, oldest first
}

// reserve takes a set-up slot for a new INVITE from src. A second INVITE
// with the Call-ID of an unconfirmed call (a retransmission) takes none.
func (s *Server) reserve(callID string, src netip.Addr) error {
	now := time.Now()
	trusted := s.limits.trusted(src)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expirePendingLocked(now)
	a := &s.adm
	switch {
	case s.draining || s.closed:
		return s.errDraining
	case a.byCallID[callID] != nil:
		return nil
	case s.cfg.MaxCalls > 0 && a.confirmed >= s.cfg.MaxCalls:
		return ErrBusy
	case s.limits.MaxUnconfirmed > 0 && a.unconfirmed >= s.limits.MaxUnconfirmed:
		return ErrSetupBusy
	case !trusted && s.limits.MaxUnconfirmedPerSource > 0 && a.perSource[src] >= s.limits.MaxUnconfirmedPerSource:
		return errSetupBusySource
	}
	slot := &setupSlot{callID: callID, src: src, trusted: trusted, at: now}
	a.unconfirmed++
	a.perSource[src]++
	a.byCallID[callID] = slot
	a.pendingQ = append(a.pendingQ, slot)
	return nil
}

// errSetupBusySource is ErrSetupBusy for one source (counted apart).
var errSetupBusySource = &sourceError{ErrSetupBusy}

type sourceError struct{ error }

func (e *sourceError) Unwrap() error { return e.error }

// claim hands the reservation for callID to the INVITE being served (and
// joins the call to callWG); false when there is none.
func (s *Server) claim(callID string) (*setupSlot, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	slot := s.adm.byCallID[callID]
	if slot == nil || slot.claimed || s.closed {
		return nil, false
	}
	slot.claimed = true
	s.callWG.Add(1)
	return slot, true
}

// admit reserves and claims in one step (an INVITE that no guard saw, or
// whose reservation lapsed).
func (s *Server) admit(callID string, src netip.Addr) (*setupSlot, error) {
	if slot, ok := s.claim(callID); ok {
		return slot, nil
	}
	if err := s.reserve(callID, src); err != nil {
		return nil, err
	}
	if slot, ok := s.claim(callID); ok {
		return slot, nil
	}
	return nil, s.errDraining // closed in between
}

// confirm moves an ACKed call from unconfirmed to confirmed.
func (s *Server) confirm(slot *setupSlot) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if slot.done {
		return
	}
	s.dropSlotLocked(slot)
	slot.confirmed = true
	s.adm.confirmed++
}

// release frees a claimed slot whose INVITE never became a call.
func (s *Server) release(slot *setupSlot) {
	if s.unreserve(slot) {
		s.callWG.Done()
	}
}

// unreserve gives a slot's counts back; it reports whether the slot was
// claimed, i.e. whether the caller owes callWG a Done.
func (s *Server) unreserve(slot *setupSlot) bool {
	s.mu.Lock()
	if slot.confirmed {
		slot.confirmed = false
		s.adm.confirmed--
	} else if !slot.done {
		s.dropSlotLocked(slot)
	}
	slot.done = true
	claimed := slot.claimed
	slot.claimed = false
	s.mu.Unlock()
	return claimed
}

func (s *Server) dropSlotLocked(slot *setupSlot) {
	a := &s.adm
	slot.done = true
	a.unconfirmed--
	if a.perSource[slot.src]--; a.perSource[slot.src] <= 0 {
		delete(a.perSource, slot.src)
	}
	if a.byCallID[slot.callID] == slot {
		delete(a.byCallID, slot.callID)
	}
}

// expirePendingLocked lets reservations nobody claimed lapse.
func (s *Server) expirePendingLocked(now time.Time) {
	q := s.adm.pendingQ
	i := 0
	for ; i < len(q); i++ {
		slot := q[i]
		if slot.claimed || slot.done {
			continue
		}
		if now.Sub(slot.at) < pendingTTL {
			break
		}
		s.dropSlotLocked(slot)
	}
	// Claimed slots left behind the first live one are skipped next time.
	s.adm.pendingQ = q[i:]
	if len(s.adm.pendingQ) == 0 {
		s.adm.pendingQ = nil
	}
}

// settingUp reports an unconfirmed call with this Call-ID.
func (s *Server) settingUp(callID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.adm.byCallID[callID] != nil
}

// ackTimeout is how long the 200 of a call from src may wait for its ACK now.
func (s *Server) ackTimeout(slot *setupSlot) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expirePendingLocked(time.Now())
	l := s.limits
	busyTotal := l.MaxUnconfirmed > 0 && s.adm.unconfirmed > l.MaxUnconfirmed/4
	busySource := !slot.trusted && l.MaxUnconfirmedPerSource > 0 && s.adm.perSource[slot.src] > l.MaxUnconfirmedPerSource/4
	if busyTotal || busySource {
		return l.AckTimeoutUnderLoad
	}
	return l.AckTimeout
}
