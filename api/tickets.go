package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/hotline-dev/hotline/store"
)

// ticketInput is the body of POST /tickets.
type ticketInput struct {
	CustomerID  int64              `json:"customer_id"`
	Subject     string             `json:"subject"`
	Category    string             `json:"category"`
	Tags        []string           `json:"tags"`
	Status      string             `json:"status"`   // default open
	Priority    string             `json:"priority"` // default normal
	Assignee    string             `json:"assignee"`
	Channel     string             `json:"channel"`
	ExternalIDs []store.ExternalID `json:"external_ids"`
}

// ticketPatch is the body of PATCH /tickets/{id}; absent or null fields keep
// their value. customer_id is accepted only to say it cannot change.
type ticketPatch struct {
	CustomerID  *int64              `json:"customer_id"`
	Subject     *string             `json:"subject"`
	Category    *string             `json:"category"`
	Tags        *[]string           `json:"tags"`
	Status      *string             `json:"status"`
	Priority    *string             `json:"priority"`
	Assignee    *string             `json:"assignee"`
	ExternalIDs *[]store.ExternalID `json:"external_ids"`
}

// DecodeTicket decodes and checks a ticket creation body, filling the
// defaults (status open, priority normal).
func DecodeTicket(b []byte) (store.Ticket, error) {
	var in ticketInput
	if err := decodeJSON(b, &in); err != nil {
		return store.Ticket{}, err
	}
	t := store.Ticket{CustomerID: in.CustomerID, Subject: in.Subject, Category: in.Category, Tags: in.Tags,
		Status: in.Status, Priority: in.Priority, Assignee: in.Assignee, Channel: in.Channel,
		ExternalIDs: in.ExternalIDs}
	if t.Status == "" {
		t.Status = store.StatusOpen
	}
	if t.Priority == "" {
		t.Priority = "normal"
	}
	var p problems
	if t.CustomerID <= 0 {
		p.add("customer_id", "required: the id of an existing customer")
	}
	if strings.TrimSpace(t.Subject) == "" {
		p.add("subject", "required")
	}
	if t.Channel != "" && !validChannel(t.Channel) {
		p.add("channel", "must be one of voice, email, chat, sms, social, got %q", t.Channel)
	}
	if err := p.addErr(checkTicket(&t)); err != nil {
		return t, err
	}
	return t, p.err()
}

func (s *Server) ticketRoutes(r chi.Router) {
	r.Get("/", s.listTickets)
	r.Post("/", s.createTicket)
	r.Get("/{id}", s.getTicket)
	r.Patch("/{id}", s.patchTicket)
	r.Post("/{id}/interactions", s.addTicketInteraction)
	r.Post("/{id}/notes", s.addTicketNote)
}

func (s *Server) createTicket(w http.ResponseWriter, r *http.Request) {
	b, err := readBody(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	t, err := DecodeTicket(b)
	if err == nil {
		err = s.customerExists(r, t.CustomerID)
	}
	if err == nil {
		err = referenceError(s.cfg.Store.CreateTicket(r.Context(), &t), "customer_id")
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeCreated(w, "tickets", t.ID, t)
}

func (s *Server) getTicket(w http.ResponseWriter, r *http.Request) {
	getOne(s, w, r, "ticket", s.cfg.Store.GetTicket)
}

func (s *Server) patchTicket(w http.ResponseWriter, r *http.Request) {
	id, err := idParam(r, "ticket")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var p ticketPatch
	if err := decodeRequest(r, &p); err != nil {
		s.writeError(w, r, err)
		return
	}
	t, err := s.cfg.Store.GetTicket(r.Context(), id)
	if err != nil {
		s.writeError(w, r, s.missing(err, "ticket", id))
		return
	}
	if t.IfVersion, err = ifMatchStale(w, r, "ticket", id, t.Version); err != nil {
		s.writeError(w, r, err)
		return
	}
	if p.CustomerID != nil && *p.CustomerID != t.CustomerID {
		s.writeError(w, r, invalid("customer_id", "a ticket cannot move to another customer"))
		return
	}
	setIf(&t.Subject, p.Subject)
	setIf(&t.Category, p.Category)
	setIf(&t.Tags, p.Tags)
	setIf(&t.Status, p.Status)
	setIf(&t.Priority, p.Priority)
	setIf(&t.Assignee, p.Assignee)
	setIf(&t.ExternalIDs, p.ExternalIDs)
	err = checkTicket(t)
	if err == nil {
		err = staleWrite(w, s.cfg.Store.UpdateTicket(r.Context(), t), "ticket", id, func() (int64, error) {
			cur, err := s.cfg.Store.GetTicket(r.Context(), id)
			if err != nil {
				return 0, err
			}
			return cur.Version, nil
		})
	}
	if err != nil {
		s.writeError(w, r, s.missing(err, "ticket", id))
		return
	}
	setETag(w, t.Version)
	writeJSON(w, http.StatusOK, t)
}

func (s *Server) listTickets(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := store.TicketFilter{Status: q.Get("status"), Category: q.Get("category"), Query: q.Get("q")}
	var err error
	if f.Since, f.ExternalID, err = listParams(r, ticketQuery); err != nil {
		s.writeError(w, r, err)
		return
	}
	if f.CustomerID, err = queryInt(r, "customer_id"); err != nil {
		s.writeError(w, r, err)
		return
	}
	if f.Status != "" && !validStatus(f.Status) {
		s.writeError(w, r, invalid("status", "must be open, pending, solved or closed"))
		return
	}
	listPage(s, w, r, func(ctx context.Context, p store.Page) ([]store.Ticket, string, error) {
		return s.cfg.Store.ListTickets(ctx, f, p)
	})
}

// checkTicket validates values shared by create and update.
func checkTicket(t *store.Ticket) error {
	var p problems
	if !validStatus(t.Status) {
		p.add("status", "must be open, pending, solved or closed, got %q", t.Status)
	}
	if !oneOf(t.Priority, "low", "normal", "high", "urgent") {
		p.add("priority", "must be low, normal, high or urgent, got %q", t.Priority)
	}
	checkExternalIDs(&p, t.ExternalIDs)
	if len(t.Subject) > maxText {
		p.add("subject", "longer than %d bytes", maxText)
	}
	if len(t.Category) > maxShort {
		p.add("category", "longer than %d bytes", maxShort)
	}
	if len(t.Assignee) > maxShort {
		p.add("assignee", "longer than %d bytes", maxShort)
	}
	if len(t.Tags) > maxTags {
		p.add("tags", "at most %d tags", maxTags)
	}
	for i, tag := range t.Tags {
		if strings.TrimSpace(tag) == "" || len(tag) > maxShort {
			p.add(fmt.Sprintf("tags[%d]", i), "must be 1 to %d bytes", maxShort)
		}
	}
	return p.err()
}

func validStatus(s string) bool {
	return oneOf(s, store.StatusOpen, store.StatusPending, store.StatusSolved, store.StatusClosed)
}

func validChannel(c string) bool {
	return oneOf(c, store.ChannelVoice, store.ChannelEmail, store.ChannelChat, store.ChannelSMS, store.ChannelSocial)
}

// customerExists turns a missing customer into a 422 on customer_id: the
// request is well-formed, it refers to nothing.
func (s *Server) customerExists(r *http.Request, id int64) error {
	_, err := s.cfg.Store.GetCustomer(r.Context(), id)
	if isNotFound(err) {
		return invalid("customer_id", "no customer with id %d", id)
	}
	return err
}

// referenceError reports a store not-found during a create as a bad
// reference in field (the row it points at vanished meanwhile).
func referenceError(err error, field string) error {
	if isNotFound(err) {
		return invalid(field, "refers to a record that does not exist")
	}
	return err
}
