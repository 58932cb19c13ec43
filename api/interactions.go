package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/hotline-dev/hotline/store"
)

// messageInput is one contact without its links: the body of
// POST /tickets/{id}/interactions (the ticket in the path gives them).
// Times are RFC 3339; started_at defaults to the time of the request,
// direction to inbound.
type messageInput struct {
	Channel   string              `json:"channel"`
	Direction string              `json:"direction"`
	StartedAt string              `json:"started_at"`
	EndedAt   string              `json:"ended_at"`
	Summary   string              `json:"summary"`
	Body      string              `json:"body"`
	Details   json.RawMessage     `json:"details"`
	Voice     *store.VoiceDetails `json:"voice"`
}

// interactionInput is the body of POST /interactions: a message plus the
// customer and/or ticket it belongs to (at least one; the ticket implies
// the customer).
type interactionInput struct {
	CustomerID int64 `json:"customer_id"`
	TicketID   int64 `json:"ticket_id"`
	messageInput
}

// DecodeInteraction decodes and checks an interaction creation body.
// StartedAt is left zero when absent (the handler fills in the time).
func DecodeInteraction(b []byte) (store.Interaction, error) {
	var in interactionInput
	if err := decodeJSON(b, &in); err != nil {
		return store.Interaction{}, err
	}
	var p problems
	if in.CustomerID < 0 {
		p.add("customer_id", "must be positive")
	}
	if in.TicketID < 0 {
		p.add("ticket_id", "must be positive")
	}
	if in.CustomerID == 0 && in.TicketID == 0 {
		p.add("customer_id", "give customer_id, ticket_id or both")
	}
	i, err := in.messageInput.interaction()
	i.CustomerID, i.TicketID = in.CustomerID, in.TicketID
	if err := p.addErr(err); err != nil {
		return i, err
	}
	return i, p.err()
}

// DecodeMessage decodes and checks the body of POST /tickets/{id}/interactions.
func DecodeMessage(b []byte) (store.Interaction, error) {
	var in messageInput
	if err := decodeJSON(b, &in); err != nil {
		return store.Interaction{}, err
	}
	return in.interaction()
}

func (m *messageInput) interaction() (store.Interaction, error) {
	i := store.Interaction{Channel: m.Channel, Direction: m.Direction, Summary: m.Summary, Body: m.Body, Voice: m.Voice}
	var p problems
	if !validChannel(m.Channel) {
		p.add("channel", "must be one of voice, email, chat, sms, social, got %q", m.Channel)
	}
	if i.Direction == "" {
		i.Direction = store.DirectionInbound
	}
	if !oneOf(i.Direction, store.DirectionInbound, store.DirectionOutbound) {
		p.add("direction", "must be inbound or outbound, got %q", m.Direction)
	}
	if m.StartedAt != "" {
		t, err := time.Parse(time.RFC3339Nano, m.StartedAt)
		if err != nil {
			p.add("started_at", "must be an RFC 3339 time like 2026-01-02T15:04:05Z, got %q", m.StartedAt)
		}
		i.StartedAt = t
	}
	if m.EndedAt != "" {
		t, err := time.Parse(time.RFC3339Nano, m.EndedAt)
		switch {
		case err != nil:
			p.add("ended_at", "must be an RFC 3339 time like 2026-01-02T15:04:05Z, got %q", m.EndedAt)
		case !i.StartedAt.IsZero() && t.Before(i.StartedAt):
			p.add("ended_at", "is before started_at")
		default:
			i.EndedAt = &t
		}
	}
	if d := bytes.TrimSpace(m.Details); len(d) > 0 && !bytes.Equal(d, []byte("null")) {
		if d[0] != '{' {
			p.add("details", "must be a JSON object")
		} else {
			i.Details = append(json.RawMessage(nil), d...)
		}
	}
	if m.Voice != nil && m.Channel != store.ChannelVoice {
		p.add("voice", "only for channel voice")
	}
	return i, p.err()
}

func (s *Server) interactionRoutes(r chi.Router) {
	r.Get("/", s.listInteractions)
	r.Post("/", s.createInteraction)
	r.Get("/{id}", s.getInteraction)
}

func (s *Server) createInteraction(w http.ResponseWriter, r *http.Request) {
	b, err := readBody(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	i, err := DecodeInteraction(b)
	if err == nil {
		err = s.resolveLinks(r, &i)
	}
	s.saveInteraction(w, r, i, err)
}

// addTicketInteraction adds a message (an email, a chat transcript) to a
// ticket; the customer is the ticket's.
func (s *Server) addTicketInteraction(w http.ResponseWriter, r *http.Request) {
	id, err := idParam(r, "ticket")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	b, err := readBody(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	i, err := DecodeMessage(b)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	t, err := s.cfg.Store.GetTicket(r.Context(), id)
	if err != nil {
		s.writeError(w, r, s.missing(err, "ticket", id))
		return
	}
	i.TicketID, i.CustomerID = t.ID, t.CustomerID
	s.saveInteraction(w, r, i, nil)
}

func (s *Server) saveInteraction(w http.ResponseWriter, r *http.Request, i store.Interaction, err error) {
	if err == nil && i.StartedAt.IsZero() {
		i.StartedAt = s.now().UTC()
		if i.EndedAt != nil && i.EndedAt.Before(i.StartedAt) {
			err = invalid("ended_at", "is before started_at (which defaulted to now)")
		}
	}
	if err == nil {
		err = referenceError(s.cfg.Store.CreateInteraction(r.Context(), &i), "ticket_id")
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeCreated(w, "interactions", i.ID, i)
}

// resolveLinks checks the ticket and customer exist and agree, and fills
// the customer from the ticket when only the ticket was given.
func (s *Server) resolveLinks(r *http.Request, i *store.Interaction) error {
	if i.TicketID == 0 {
		return s.customerExists(r, i.CustomerID)
	}
	t, err := s.cfg.Store.GetTicket(r.Context(), i.TicketID)
	if isNotFound(err) {
		return invalid("ticket_id", "no ticket with id %d", i.TicketID)
	}
	if err != nil {
		return err
	}
	if i.CustomerID == 0 {
		i.CustomerID = t.CustomerID
	} else if i.CustomerID != t.CustomerID {
		return invalid("customer_id", "ticket %d belongs to customer %d", t.ID, t.CustomerID)
	}
	return nil
}

func (s *Server) getInteraction(w http.ResponseWriter, r *http.Request) {
	getOne(s, w, r, "interaction", s.cfg.Store.GetInteraction)
}

func (s *Server) listInteractions(w http.ResponseWriter, r *http.Request) {
	f := store.InteractionFilter{Channel: r.URL.Query().Get("channel")}
	var err error
	if err = checkQuery(r, interactionQuery); err == nil {
		f.Since, err = sinceParams(r)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if f.CustomerID, err = queryInt(r, "customer_id"); err != nil {
		s.writeError(w, r, err)
		return
	}
	if f.TicketID, err = queryInt(r, "ticket_id"); err != nil {
		s.writeError(w, r, err)
		return
	}
	if f.Channel != "" && !validChannel(f.Channel) {
		s.writeError(w, r, invalid("channel", "must be one of voice, email, chat, sms, social"))
		return
	}
	listPage(s, w, r, func(ctx context.Context, p store.Page) ([]store.Interaction, string, error) {
		return s.cfg.Store.ListInteractions(ctx, f, p)
	})
}
