package queue

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Login makes an agent available (idempotent).
func (s *Service) Login(agentID string) error {
	s.mu.Lock()
	defer s.unlock()
	a, ok := s.agents[agentID]
	if !ok {
		return fmt.Errorf("login %q: %w", agentID, ErrUnknownAgent)
	}
	if a.presence != LoggedOut {
		return nil
	}
	a.presence, a.reason, a.misses = Available, "", 0
	s.agentFreed(a)
	if a.activity == Idle {
		a.idleSince = s.cfg.Now()
	}
	s.emitAgent(a, "", AgentChange{})
	s.dispatch()
	return nil
}

// Logout logs an agent out (idempotent). A ringing offer is cancelled (not
// a miss); a call in progress continues. Queues with LeaveWhenEmpty that now
// have nobody logged in send their callers to the exit node.
func (s *Service) Logout(agentID string) error {
	s.mu.Lock()
	defer s.unlock()
	a, ok := s.agents[agentID]
	if !ok {
		return fmt.Errorf("logout %q: %w", agentID, ErrUnknownAgent)
	}
	if a.presence == LoggedOut {
		return nil
	}
	a.presence, a.reason = LoggedOut, ""
	if a.offer != nil {
		s.endOffer(a.offer, ResultCancelled, "agent-unavailable")
	}
	s.dropReservation(a)
	s.emitAgent(a, "", AgentChange{})
	for _, q := range s.queueOrder() {
		if _, member := a.queues[q.name]; member {
			s.leaveIfEmpty(q)
		}
	}
	s.dispatch()
	return nil
}

// leaveIfEmpty sends q's callers to its exit node when q has
// LeaveWhenEmpty and nobody logged in is left in it; callbacks keep their
// place (the scheduler withdraws them when they must go).
func (s *Service) leaveIfEmpty(q *queueState) {
	if !q.cfg.LeaveWhenEmpty || q.anyLoggedIn() {
		return
	}
	for _, e := range q.waiting.head(q.waiting.len()) {
		if e.cb == nil {
			s.finish(e, Outcome{Reason: ReasonEmpty, Exit: q.cfg.Exit}, "agent-unavailable")
		}
	}
}

// Pause stops offers to a logged-in agent; a ringing offer is cancelled.
func (s *Service) Pause(agentID, reason string) error {
	s.mu.Lock()
	defer s.unlock()
	a, ok := s.agents[agentID]
	if !ok {
		return fmt.Errorf("pause %q: %w", agentID, ErrUnknownAgent)
	}
	if a.presence == LoggedOut {
		return fmt.Errorf("pause %q: %w", agentID, ErrLoggedOut)
	}
	if reason == "" {
		reason = "paused"
	}
	a.presence, a.reason = Paused, reason
	if a.offer != nil {
		s.endOffer(a.offer, ResultCancelled, "agent-unavailable")
	}
	s.dropReservation(a)
	s.emitAgent(a, "", AgentChange{})
	s.dispatch()
	return nil
}

// Ready makes a paused agent available again and clears its misses.
func (s *Service) Ready(agentID string) error {
	s.mu.Lock()
	defer s.unlock()
	a, ok := s.agents[agentID]
	if !ok {
		return fmt.Errorf("ready %q: %w", agentID, ErrUnknownAgent)
	}
	if a.presence == LoggedOut {
		return fmt.Errorf("ready %q: %w", agentID, ErrLoggedOut)
	}
	if a.presence == Available {
		return nil
	}
	a.presence, a.reason, a.misses = Available, "", 0
	s.agentFreed(a)
	s.emitAgent(a, "", AgentChange{})
	s.dispatch()
	return nil
}

// SetState applies a named presence change: login, logout, pause, ready.
func (s *Service) SetState(agentID, state, reason string) error {
	switch state {
	case "login":
		return s.Login(agentID)
	case "logout":
		return s.Logout(agentID)
	case "pause":
		return s.Pause(agentID, reason)
	case "ready":
		return s.Ready(agentID)
	}
	return fmt.Errorf("state %q: %w", state, ErrBadState)
}

// Feature codes an agent dials from a registered phone.
const (
	CodeLogin  = "*11"
	CodeLogout = "*12"
	CodePause  = "*13" // "*13" pauses with reason "phone"; "*13<digits>" with reason "code-<digits>"
	CodeReady  = "*14"
)

// FeatureCode applies a feature code dialled by an agent's phone. The SIP
// side identifies the agent (its authenticated username) and calls this.
func (s *Service) FeatureCode(agentID, code string) error {
	state, reason, err := ParseFeatureCode(code)
	if err != nil {
		return err
	}
	return s.SetState(agentID, state, reason)
}

// ParseFeatureCode is the presence change (SetState's state and reason) a
// feature code asks for; ErrUnknownFeatureCode for any other code. A
// cluster's nodes send the change to the leader.
func ParseFeatureCode(code string) (state, reason string, err error) {
	switch {
	case code == CodeLogin:
		return "login", "", nil
	case code == CodeLogout:
		return "logout", "", nil
	case code == CodeReady:
		return "ready", "", nil
	case code == CodePause:
		return "pause", "phone", nil
	case strings.HasPrefix(code, CodePause) && len(code) <= len(CodePause)+4 && allDigits(code[len(CodePause):]):
		return "pause", "code-" + code[len(CodePause):], nil
	}
	return "", "", fmt.Errorf("feature code %q: %w", code, ErrUnknownFeatureCode)
}

func allDigits(v string) bool {
	for _, c := range v {
		if c < '0' || c > '9' {
			return false
		}
	}
	return v != ""
}

// AgentInfo is an agent's live state.
type AgentInfo struct {
	ID       string         `json:"id"`
	Name     string         `json:"name"`
	Presence Presence       `json:"presence"`
	Reason   string         `json:"reason,omitempty"`
	Activity Activity       `json:"activity"`
	CallID   string         `json:"call_id,omitempty"`
	Caller   string         `json:"caller,omitempty"` // the number of CallID's caller (ringing, on a call, wrap-up)
	Offer    *Offer         `json:"offer,omitempty"`
	Queues   map[string]int `json:"queues"`
	Skills   map[string]int `json:"skills,omitempty"`
	Misses   int            `json:"misses"`
	Answered int            `json:"answered"` // offers answered since the server started
	// CallsToday is the offers the agent answered since local midnight
	// (Config.Location), callbacks included; kept across a restart.
	CallsToday int       `json:"calls_today"`
	IdleSince  time.Time `json:"idle_since"`
	// StateSince is when the agent entered its current state: logged
	// out; else its activity when not idle; else paused (a new reason is
	// a new state) or available (docs/metrics.md "agent state").
	StateSince time.Time `json:"state_since"`
}

// agentState names a's one state, as StateSince dates it.
func (a *agent) agentState() string {
	switch {
	case a.presence == LoggedOut:
		return string(LoggedOut)
	case a.activity != Idle:
		return string(a.activity)
	case a.presence == Paused:
		return string(Paused) + ":" + a.reason
	}
	return string(Available)
}

func (s *Service) agentInfo(a *agent, calls map[string]int) AgentInfo {
	i := AgentInfo{ID: a.cfg.ID, Name: a.cfg.Name, Presence: a.presence, Reason: a.reason,
		Activity: a.activity, CallID: a.call, Queues: a.queues, Skills: a.cfg.Skills,
		Misses: a.misses, Answered: a.answered, CallsToday: calls[a.cfg.ID], IdleSince: a.idleSince, StateSince: a.stateSince}
	if a.activity == OnCall || a.activity == WrapUp {
		i.Caller = a.caller
	}
	if a.offer != nil {
		o := a.offer.Offer
		i.Offer, i.CallID, i.Caller = &o, o.CallID, o.Caller
	}
	return i
}

// Agents lists every agent, by ID.
func (s *Service) Agents() []AgentInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	calls := s.stats.CallsToday(s.cfg.Now())
	var out []AgentInfo
	for _, a := range s.sortedAgents() {
		out = append(out, s.agentInfo(a, calls))
	}
	return out
}

// Agent returns one agent.
func (s *Service) Agent(id string) (AgentInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.agents[id]
	if !ok {
		return AgentInfo{}, fmt.Errorf("agent %q: %w", id, ErrUnknownAgent)
	}
	return s.agentInfo(a, s.stats.CallsToday(s.cfg.Now())), nil
}

func (s *Service) sortedAgents() []*agent {
	out := make([]*agent, 0, len(s.agents))
	for _, a := range s.agents {
		out = append(out, a)
	}
	slices.SortFunc(out, byID)
	return out
}

func byID(a, b *agent) int { return strings.Compare(a.cfg.ID, b.cfg.ID) }

func (s *Service) sortedOfferIDs() []string {
	out := make([]string, 0, len(s.offers))
	for id := range s.offers {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}
