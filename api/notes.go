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
// agent session only on a ticket it may wrap up (mayWrapUp), which is the
// one change to tickets an agent session can make.

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

// mayWrapUp is the agent-session rule for notes: the agent is handling a
// call of the ticket's customer now (its current offer or call comes from
// one of the customer's numbers: the call is not logged yet, so no ticket
// names it), or has handled a call logged on this ticket (a voice
// interaction whose agent, or one of whose legs' agent, is this agent).
func (s *Server) mayWrapUp(ctx context.Context, agent string, t *store.Ticket) (bool, error) {
	if caller := s.currentCaller(ctx, agent); caller != "" {
		if e164, err := phone.Normalize(caller, s.cfg.DefaultCountry); err == nil {
			c, err := s.cfg.Store.FindCustomerByPhone(ctx, e164)
			if err == nil && c.ID == t.CustomerID {
				return true, nil
			}
			if err != nil && !isNotFound(err) {
				return false, err
			}
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

// currentCaller is the number of the caller the agent is being offered or
// is talking to, or "".
func (s *Server) currentCaller(ctx context.Context, agent string) string {
	if s.cfg.ACD == nil {
		return ""
	}
	a, err := s.cfg.ACD.Agent(agent)
	if err != nil {
		return ""
	}
	if a.Offer != nil && a.Offer.Caller != "" { // a callback's offer too: the customer's number
		return a.Offer.Caller
	}
	if a.CallID == "" || s.cfg.Calls == nil {
		return ""
	}
	return s.callerOf(ctx, a.CallID)
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
