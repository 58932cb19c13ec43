package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/hotline-dev/hotline/phone"
	"github.com/hotline-dev/hotline/store"
)

// Wrap-up: POST /api/v1/tickets/{id}/notes {"note", "category"} adds the
// agent's note to a ticket (an interaction on it) and/or sets the ticket's
// category, in one request. A write token may do it on any ticket; an
// agent (its session or its agent-bound token) only on a ticket it may
// wrap up (mayWrapUp), which is the one change to tickets an agent can make.

// noteInput is the body of POST /tickets/{id}/notes: at least one field.
type noteInput struct {
	Note     string  `json:"note"`
	Category *string `json:"category"`
}

// noteOut is the answer: the ticket after the change and the note's
// interaction (absent when only the category changed).
type noteOut struct {
	Ticket      *store.Ticket      `json:"ticket"`
	Interaction *store.Interaction `json:"interaction,omitempty"`
}

// maxNote bounds a wrap-up note (the store accepts longer bodies; an agent
// types these).
const maxNote = 8000

// noteSummaryLen is how much of a note the timeline's one-line summary shows.
const noteSummaryLen = 120

func (s *Server) addTicketNote(w http.ResponseWriter, r *http.Request) {
	id, err := idParam(r, "ticket")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var in noteInput
	if err := decodeRequest(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	in.Note = strings.TrimSpace(in.Note)
	switch {
	case in.Note == "" && in.Category == nil:
		s.writeError(w, r, invalid("note", "give a note, a category or both"))
		return
	case len(in.Note) > maxNote:
		s.writeError(w, r, invalid("note", "longer than %d bytes", maxNote))
		return
	}
	t, err := s.cfg.Store.GetTicket(r.Context(), id)
	if err != nil {
		s.writeError(w, r, s.missing(err, "ticket", id))
		return
	}
	p := principalOf(r.Context())
	if p != nil && p.agent != "" {
		ok, err := s.mayWrapUp(r.Context(), p.agent, t)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if !ok {
			s.writeError(w, r, &Error{Kind: ErrForbidden, Message: "agent " + p.agent + " is not handling and has not handled a call of ticket " + strconv.FormatInt(id, 10)})
			return
		}
	}
	out := noteOut{Ticket: t}
	if in.Category != nil && *in.Category != t.Category {
		t.Category = strings.TrimSpace(*in.Category)
		if err := checkTicket(t); err != nil {
			s.writeError(w, r, err)
			return
		}
		if err := s.cfg.Store.UpdateTicket(r.Context(), t); err != nil {
			s.writeError(w, r, s.missing(err, "ticket", id))
			return
		}
	}
	if in.Note != "" {
		author := "api"
		if p != nil {
			author = p.name
		}
		details, _ := json.Marshal(map[string]string{"kind": "note", "author": author})
		// A note is about the call it wraps up: channel voice, the
		// call's direction. Details.kind tells it from the call itself.
		i := store.Interaction{CustomerID: t.CustomerID, TicketID: t.ID, Channel: store.ChannelVoice,
			Direction: store.DirectionInbound, StartedAt: s.now().UTC(), Summary: "Note (" + author + "): " + firstLine(in.Note, noteSummaryLen),
			Body: in.Note, Details: details}
		if err := s.cfg.Store.CreateInteraction(r.Context(), &i); err != nil {
			s.writeError(w, r, referenceError(err, "ticket_id"))
			return
		}
		out.Interaction = &i
	}
	writeJSON(w, http.StatusCreated, out)
}

// mayWrapUp is the agent rule for notes (an agent session or an
// agent-bound token): the agent is being offered, is on or is wrapping up
// a call of the ticket's customer (the ACD's caller), or answered one
// within wrapUpGrace (the call events: wrapup.go), whose number is one of
// the customer's: the call may not be logged yet, so no ticket names it;
// or the agent handled a call logged on this ticket (a voice interaction
// whose agent, or one of whose legs' agent, is this agent).
func (s *Server) mayWrapUp(ctx context.Context, agent string, t *store.Ticket) (bool, error) {
	seen := map[string]bool{}
	for _, caller := range append(s.currentCallers(ctx, agent), s.wrapUps.handled(agent)...) {
		e164, err := phone.Normalize(caller, s.cfg.DefaultCountry)
		if err != nil || seen[e164] {
			continue
		}
		seen[e164] = true
		c, err := s.cfg.Store.FindCustomerByPhone(ctx, e164)
		if err == nil && c.ID == t.CustomerID {
			return true, nil
		}
		if err != nil && !isNotFound(err) {
			return false, err
		}
	}
	f := store.InteractionFilter{TicketID: t.ID, Channel: store.ChannelVoice}
	page := store.Page{Limit: 100}
	for range 20 { // a ticket with more than 2000 calls: ask a supervisor
		items, next, err := s.cfg.Store.ListInteractions(ctx, f, page)
		if err != nil {
			return false, err
		}
		for _, i := range items {
			if handledBy(i.Voice, agent) {
				return true, nil
			}
		}
		if next == "" {
			break
		}
		page.Cursor = next
	}
	return false, nil
}

func handledBy(v *store.VoiceDetails, agent string) bool {
	if v == nil {
		return false
	}
	if v.Agent == agent {
		return true
	}
	for _, l := range v.Legs {
		if l.Agent == agent {
			return true
		}
	}
	return false
}

// currentCallers are the numbers of the callers the ACD says the agent
// is being offered, is talking to or is wrapping up (AgentInfo.Caller
// stays until the wrap-up time ends), and, should the ACD not say, the
// caller of the agent's live call.
func (s *Server) currentCallers(ctx context.Context, agent string) []string {
	if s.cfg.ACD == nil {
		return nil
	}
	a, err := s.cfg.ACD.Agent(agent)
	if err != nil {
		return nil
	}
	var out []string
	if a.Offer != nil && a.Offer.Caller != "" { // a callback's offer too: the customer's number
		out = append(out, a.Offer.Caller)
	}
	if a.Caller != "" {
		out = append(out, a.Caller)
	}
	if len(out) == 0 && a.CallID != "" && s.cfg.Calls != nil {
		if c := s.callerOf(ctx, a.CallID); c != "" {
			out = append(out, c)
		}
	}
	return out
}

// callerOf is a live call's caller, "" when it is not up.
func (s *Server) callerOf(ctx context.Context, callID string) string {
	calls, err := s.cfg.Calls.ListCalls(ctx)
	if err != nil {
		return ""
	}
	for _, c := range calls {
		if c.CallID == callID {
			return c.Caller
		}
	}
	return ""
}

// firstLine is s's first line, cut to max bytes on a rune boundary.
func firstLine(s string, max int) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
