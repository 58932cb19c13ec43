package api

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/hotline-dev/hotline/phone"
	"github.com/hotline-dev/hotline/store"
)

// customerInput is the body of POST /customers. Server-set fields (id,
// timestamps) are not accepted: sending them is an unknown-field error.
type customerInput struct {
	Name        string             `json:"name"`
	Phones      []string           `json:"phones"`
	Emails      []string           `json:"emails"`
	ChatHandles []string           `json:"chat_handles"`
	Tier        store.Tier         `json:"tier"`
	Attributes  map[string]string  `json:"attributes"`
	ExternalIDs []store.ExternalID `json:"external_ids"`
}

// customerPatch is the body of PATCH /customers/{id}: absent (or null)
// fields keep their value; lists and attributes are replaced as a whole.
type customerPatch struct {
	Name        *string             `json:"name"`
	Phones      *[]string           `json:"phones"`
	Emails      *[]string           `json:"emails"`
	ChatHandles *[]string           `json:"chat_handles"`
	Tier        *store.Tier         `json:"tier"`
	Attributes  *map[string]string  `json:"attributes"`
	ExternalIDs *[]store.ExternalID `json:"external_ids"`
}

// DecodeCustomer decodes and checks a customer creation body (exported for
// the fuzz target and for tools that validate before sending).
func DecodeCustomer(b []byte) (store.Customer, error) {
	var in customerInput
	if err := decodeJSON(b, &in); err != nil {
		return store.Customer{}, err
	}
	c := store.Customer{Name: in.Name, Phones: in.Phones, Emails: in.Emails,
		ChatHandles: in.ChatHandles, Tier: in.Tier, Attributes: in.Attributes, ExternalIDs: in.ExternalIDs}
	return c, checkCustomer(&c)
}

// decodeCustomer is DecodeCustomer with the phones normalised, every
// problem in one answer.
func (s *Server) decodeCustomer(b []byte) (store.Customer, error) {
	var in customerInput
	if err := decodeJSON(b, &in); err != nil {
		return store.Customer{}, err
	}
	c := store.Customer{Name: in.Name, Phones: in.Phones, Emails: in.Emails,
		ChatHandles: in.ChatHandles, Tier: in.Tier, Attributes: in.Attributes, ExternalIDs: in.ExternalIDs}
	return c, s.checkCustomerAll(&c)
}

func (s *Server) customerRoutes(r chi.Router) {
	r.Get("/", s.listCustomers)
	r.Post("/", s.createCustomer)
	r.Get("/lookup", s.lookupCustomer)
	r.Get("/{id}", s.getCustomer)
	r.Patch("/{id}", s.patchCustomer)
	r.Get("/{id}/timeline", s.timeline)
}

func (s *Server) createCustomer(w http.ResponseWriter, r *http.Request) {
	b, err := readBody(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	c, err := s.decodeCustomer(b)
	if err == nil {
		err = s.cfg.Store.CreateCustomer(r.Context(), &c)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeCreated(w, "customers", c.ID, c)
}

func (s *Server) getCustomer(w http.ResponseWriter, r *http.Request) {
	getOne(s, w, r, "customer", s.cfg.Store.GetCustomer)
}

func (s *Server) patchCustomer(w http.ResponseWriter, r *http.Request) {
	id, err := idParam(r, "customer")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var p customerPatch
	if err := decodeRequest(r, &p); err != nil {
		s.writeError(w, r, err)
		return
	}
	c, err := s.cfg.Store.GetCustomer(r.Context(), id)
	if err != nil {
		s.writeError(w, r, s.missing(err, "customer", id))
		return
	}
	if c.IfVersion, err = ifMatchStale(w, r, "customer", id, c.Version); err != nil {
		s.writeError(w, r, err)
		return
	}
	setIf(&c.Name, p.Name)
	setIf(&c.Phones, p.Phones)
	setIf(&c.Emails, p.Emails)
	setIf(&c.ChatHandles, p.ChatHandles)
	setIf(&c.Tier, p.Tier)
	setIf(&c.Attributes, p.Attributes)
	setIf(&c.ExternalIDs, p.ExternalIDs)
	err = s.checkCustomerAll(c)
	if err == nil {
		err = staleWrite(w, s.cfg.Store.UpdateCustomer(r.Context(), c), "customer", id, func() (int64, error) {
			cur, err := s.cfg.Store.GetCustomer(r.Context(), id)
			if err != nil {
				return 0, err
			}
			return cur.Version, nil
		})
	}
	if err != nil {
		s.writeError(w, r, s.missing(err, "customer", id))
		return
	}
	setETag(w, c.Version)
	writeJSON(w, http.StatusOK, c)
}

func (s *Server) listCustomers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := store.CustomerFilter{Email: strings.TrimSpace(q.Get("email")), Tier: store.Tier(q.Get("tier")), Query: q.Get("q")}
	var err error
	if f.Since, f.ExternalID, err = listParams(r, customerQuery); err != nil {
		s.writeError(w, r, err)
		return
	}
	if f.Tier != "" && !oneOf(f.Tier, store.Tiers...) {
		s.writeError(w, r, invalid("tier", "must be %s", tierNames))
		return
	}
	if raw := q.Get("phone"); raw != "" {
		e164, err := phone.Normalize(raw, s.cfg.DefaultCountry)
		if err != nil {
			s.writeError(w, r, invalid("phone", "%v", err))
			return
		}
		f.Phone = e164
	}
	listPage(s, w, r, func(ctx context.Context, p store.Page) ([]store.Customer, string, error) {
		return s.cfg.Store.ListCustomers(ctx, f, p)
	})
}

// lookupCustomer finds one customer by ?phone= (normalised to E.164 with
// the default country) or ?email=.
func (s *Server) lookupCustomer(w http.ResponseWriter, r *http.Request) {
	if err := checkQuery(r, lookupQuery); err != nil {
		s.writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	number, email := strings.TrimSpace(q.Get("phone")), strings.TrimSpace(q.Get("email"))
	var (
		c   *store.Customer
		err error
	)
	switch {
	case number != "" && email != "":
		err = invalid("phone", "give phone or email, not both")
	case number != "":
		var e164 string
		if e164, err = phone.Normalize(number, s.cfg.DefaultCountry); err != nil {
			err = invalid("phone", "%v", err)
			break
		}
		if c, err = s.cfg.Store.FindCustomerByPhone(r.Context(), e164); isNotFound(err) {
			err = notFound("no customer with phone %s", e164)
		}
	case email != "":
		if c, err = s.cfg.Store.FindCustomerByEmail(r.Context(), email); isNotFound(err) {
			err = notFound("no customer with email %s", email)
		}
	default:
		err = invalid("phone", "give ?phone= or ?email=")
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

// timeline lists the customer's interactions on every channel, newest first.
func (s *Server) timeline(w http.ResponseWriter, r *http.Request) {
	id, err := idParam(r, "customer")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := checkQuery(r, pageQuery); err != nil {
		s.writeError(w, r, err)
		return
	}
	if _, err := s.cfg.Store.GetCustomer(r.Context(), id); err != nil {
		s.writeError(w, r, s.missing(err, "customer", id))
		return
	}
	listPage(s, w, r, func(ctx context.Context, p store.Page) ([]store.Interaction, string, error) {
		return s.cfg.Store.Timeline(ctx, id, p)
	})
}

// checkCustomer validates what the API adds to the store's own rules (the
// store normalises and checks phones, emails and chat handles).
// Every problem is reported, not only the first (see problems); emails
// and chat handles get the store's rules here too, so that one answer
// names them beside the rest.
func checkCustomer(c *store.Customer) error {
	var p problems
	if len(c.Name) > maxText {
		p.add("name", "longer than %d bytes", maxText)
	}
	if c.Tier != "" && !oneOf(c.Tier, store.Tiers...) {
		p.add("tier", "must be %s, got %q", tierNames, c.Tier)
	}
	if strings.TrimSpace(c.Name) == "" && len(c.Phones) == 0 && len(c.Emails) == 0 && len(c.ChatHandles) == 0 {
		p.add("name", "a customer needs a name, a phone, an email or a chat handle")
	}
	for i, e := range c.Emails {
		e = strings.TrimSpace(e)
		if at := strings.LastIndexByte(e, '@'); at < 1 || at == len(e)-1 || strings.ContainsAny(e, " \t\r\n<>,;") || len(e) > 254 {
			p.add(fmt.Sprintf("emails[%d]", i), "%q is not an email address", c.Emails[i])
		}
	}
	for i, h := range c.ChatHandles {
		if strings.TrimSpace(h) == "" || len(h) > maxShort {
			p.add(fmt.Sprintf("chat_handles[%d]", i), "must be 1 to %d bytes", maxShort)
		}
	}
	checkExternalIDs(&p, c.ExternalIDs)
	if len(c.Attributes) > maxAttributes {
		p.add("attributes", "at most %d attributes", maxAttributes)
	}
	keys := make([]string, 0, len(c.Attributes))
	for k := range c.Attributes {
		keys = append(keys, k)
	}
	sort.Strings(keys) // the same answer every time
	for _, k := range keys {
		if v := c.Attributes[k]; k == "" || len(k) > maxShort || len(v) > maxText {
			e := invalid("attributes."+k, "keys must be 1 to %d bytes and values at most %d", maxShort, maxText)
			e.Pointer = "/attributes/" + strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
			p = append(p, e)
		}
	}
	return p.err()
}

// normalizePhones rewrites each phone to E.164 in place; the numbers that
// are not phone numbers are all named.
func (s *Server) normalizePhones(phones []string) error {
	var p problems
	for i, n := range phones {
		e164, err := phone.Normalize(n, s.cfg.DefaultCountry)
		if err != nil {
			p.add(fmt.Sprintf("phones[%d]", i), "%v", err)
			continue
		}
		phones[i] = e164
	}
	return p.err()
}

// checkCustomerAll is checkCustomer and normalizePhones in one answer.
func (s *Server) checkCustomerAll(c *store.Customer) error {
	var p problems
	if err := p.addErr(checkCustomer(c)); err != nil {
		return err
	}
	if err := p.addErr(s.normalizePhones(c.Phones)); err != nil {
		return err
	}
	return p.err()
}

// checkExternalIDs records every problem of a list of external ids.
func checkExternalIDs(p *problems, ids []store.ExternalID) {
	seen := map[string]bool{}
	for i, e := range ids {
		src := strings.ToLower(strings.TrimSpace(e.Source))
		if src == "" || len(src) > 50 || strings.ContainsAny(src, ": \t\r\n") {
			p.add(fmt.Sprintf("external_ids[%d].source", i), "required: a name of up to 50 bytes without ':' or spaces")
		} else if seen[src] {
			p.add(fmt.Sprintf("external_ids[%d].source", i), "%q appears twice: one id per source", src)
		}
		seen[src] = true
		if id := strings.TrimSpace(e.ID); id == "" || len(id) > maxShort {
			p.add(fmt.Sprintf("external_ids[%d].id", i), "required, up to %d bytes", maxShort)
		}
	}
}

// listParams checks a list's query for unknown parameters and reads what
// customers and tickets share: the sync bounds and an external id.
func listParams(r *http.Request, allowed []string) (store.Since, store.ExternalID, error) {
	if err := checkQuery(r, allowed); err != nil {
		return store.Since{}, store.ExternalID{}, err
	}
	since, err := sinceParams(r)
	if err != nil {
		return store.Since{}, store.ExternalID{}, err
	}
	ext, err := externalIDParam(r)
	return since, ext, err
}

// externalIDParam reads ?external_id=source:id (the id may hold colons).
func externalIDParam(r *http.Request) (store.ExternalID, error) {
	raw := r.URL.Query().Get("external_id")
	if raw == "" {
		return store.ExternalID{}, nil
	}
	src, id, ok := strings.Cut(raw, ":")
	if !ok || strings.TrimSpace(src) == "" || strings.TrimSpace(id) == "" {
		return store.ExternalID{}, invalid("external_id", "must be source:id, e.g. zendesk:12345, got %q", raw)
	}
	return store.ExternalID{Source: strings.ToLower(strings.TrimSpace(src)), ID: strings.TrimSpace(id)}, nil
}
