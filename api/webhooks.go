package api

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/webhook"
)

// Webhooks is what the webhook routes need; *webhook.Service is it.
type Webhooks interface {
	Subscriptions(ctx context.Context) []webhook.Subscription
	Subscription(ctx context.Context, id string) (webhook.Subscription, bool)
	Create(ctx context.Context, url, secret string, events []string) (webhook.Subscription, string, error)
	Update(ctx context.Context, id, url, secret string, events []string) (webhook.Subscription, error)
	Delete(ctx context.Context, id string) error
	Deliveries(ctx context.Context, f store.WebhookFilter, p store.Page) ([]store.WebhookDelivery, string, error)
	Delivery(ctx context.Context, id int64) (*store.WebhookDelivery, error)
	Replay(ctx context.Context, id int64) (store.WebhookDelivery, error)
}

var _ Webhooks = (*webhook.Service)(nil)

// webhookInput is the body of POST and PUT /webhooks.
type webhookInput struct {
	URL    string   `json:"url"`
	Secret string   `json:"secret"` // POST: "" generates one; PUT: "" keeps it
	Events []string `json:"events"`
}

// webhookCreated is POST's answer: the only time the secret is shown.
type webhookCreated struct {
	webhook.Subscription
	Secret string `json:"secret"`
}

// webhookRoutes are write-scope only, reads too: subscriptions and the
// delivered bodies are the desk integration's business, not a reader's.
func (s *Server) webhookRoutes(r chi.Router) {
	r.Use(s.requireWrite)
	r.Get("/", s.listWebhooks)
	r.Post("/", s.createWebhook)
	r.Get("/deliveries", s.listWebhookDeliveries)
	r.Get("/deliveries/{id}", s.getWebhookDelivery)
	r.Post("/deliveries/{id}/replay", s.replayWebhookDelivery)
	r.Get("/{id}", s.getWebhook)
	r.Put("/{id}", s.updateWebhook)
	r.Delete("/{id}", s.deleteWebhook)
}

func (s *Server) requireWrite(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := principalOf(r.Context()); p == nil || !p.write {
			s.writeError(w, r, &Error{Kind: ErrForbidden, Message: "webhooks need a write token"})
			return
		}
		if s.cfg.Webhooks == nil {
			s.writeError(w, r, &Error{Kind: ErrUnavailable, Message: "webhooks are not available in this process"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func decodeWebhook(r *http.Request) (webhookInput, error) {
	var in webhookInput
	b, err := readBody(r)
	if err != nil {
		return in, err
	}
	if err := decodeJSON(b, &in); err != nil {
		return in, err
	}
	in.URL = strings.TrimSpace(in.URL)
	if in.URL == "" {
		return in, invalid("url", "required: where events are POSTed")
	}
	return in, nil
}

func (s *Server) webhookError(w http.ResponseWriter, r *http.Request, id string, err error) {
	var fe *store.FieldError
	switch {
	case errors.As(err, &fe):
		s.writeError(w, r, invalid(fe.Field, "%s", fe.Message))
	case errors.Is(err, webhook.ErrReadOnly):
		s.writeError(w, r, &Error{Kind: ErrConflict, Message: "webhook " + id + " is in the configuration file; change it there"})
	case isNotFound(err):
		s.writeError(w, r, notFound("no webhook with id %q", id))
	default:
		s.writeError(w, r, err)
	}
}

func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"items": s.cfg.Webhooks.Subscriptions(r.Context())})
}

func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request) {
	in, err := decodeWebhook(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	sub, secret, err := s.cfg.Webhooks.Create(r.Context(), in.URL, in.Secret, in.Events)
	if err != nil {
		s.webhookError(w, r, "", err)
		return
	}
	w.Header().Set("Location", Prefix+"/webhooks/"+sub.ID)
	writeJSON(w, http.StatusCreated, webhookCreated{Subscription: sub, Secret: secret})
}

func (s *Server) getWebhook(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	sub, ok := s.cfg.Webhooks.Subscription(r.Context(), id)
	if !ok {
		s.writeError(w, r, notFound("no webhook with id %q", id))
		return
	}
	writeJSON(w, http.StatusOK, sub)
}

func (s *Server) updateWebhook(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	in, err := decodeWebhook(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	sub, err := s.cfg.Webhooks.Update(r.Context(), id, in.URL, in.Secret, in.Events)
	if err != nil {
		s.webhookError(w, r, id, err)
		return
	}
	writeJSON(w, http.StatusOK, sub)
}

func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	if err := s.cfg.Webhooks.Delete(r.Context(), id); err != nil {
		s.webhookError(w, r, id, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// deliveryView is a delivery with its body as JSON (the exact bytes sent).
type deliveryView struct {
	store.WebhookDelivery
	Event jsonRaw `json:"event"`
}

type jsonRaw []byte

func (j jsonRaw) MarshalJSON() ([]byte, error) {
	if len(j) == 0 {
		return []byte("null"), nil
	}
	return j, nil
}

func viewDelivery(d store.WebhookDelivery) deliveryView {
	return deliveryView{WebhookDelivery: d, Event: jsonRaw(d.Body)}
}

func (s *Server) listWebhookDeliveries(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := store.WebhookFilter{Subscription: q.Get("subscription"), State: store.WebhookState(q.Get("state"))}
	if f.State != "" && !oneOf(f.State, store.WebhookPending, store.WebhookDelivered, store.WebhookDead) {
		s.writeError(w, r, invalid("state", "must be pending, delivered or dead, got %q", f.State))
		return
	}
	listPage(s, w, r, func(ctx context.Context, p store.Page) ([]deliveryView, string, error) {
		ds, next, err := s.cfg.Webhooks.Deliveries(ctx, f, p)
		out := make([]deliveryView, len(ds))
		for i, d := range ds {
			out[i] = viewDelivery(d)
		}
		return out, next, err
	})
}

func (s *Server) getWebhookDelivery(w http.ResponseWriter, r *http.Request) {
	id, err := idParam(r, "delivery")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	d, err := s.cfg.Webhooks.Delivery(r.Context(), id)
	if err != nil {
		s.writeError(w, r, s.missing(err, "webhook delivery", id))
		return
	}
	writeJSON(w, http.StatusOK, viewDelivery(*d))
}

func (s *Server) replayWebhookDelivery(w http.ResponseWriter, r *http.Request) {
	id, err := idParam(r, "delivery")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	d, err := s.cfg.Webhooks.Replay(r.Context(), id)
	if err != nil {
		s.writeError(w, r, s.missing(err, "webhook delivery", id))
		return
	}
	writeJSON(w, http.StatusOK, viewDelivery(d))
}
