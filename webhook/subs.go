package webhook

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/store"
)

func sortedSubs(m map[string]*sub) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ErrReadOnly is an API change to a subscription of the configuration
// file (edit the file instead).
var ErrReadOnly = errors.New("webhook: a subscription of the configuration file; change it there")

// Subscriptions lists every subscription, the file's and the API's, by id,
// as the database has them now (another node's API may have changed
// them); while it cannot be read, as this process last loaded them.
func (s *Service) Subscriptions(ctx context.Context) []Subscription {
	s.refreshForRead(ctx)
	m := *s.subs.Load()
	out := make([]Subscription, 0, len(m))
	for _, id := range sortedSubs(m) {
		out = append(out, m[id].Subscription)
	}
	return out
}

// Subscription returns one (ok false: none), read as Subscriptions reads.
func (s *Service) Subscription(ctx context.Context, id string) (Subscription, bool) {
	s.refreshForRead(ctx)
	return s.loadedSub(id)
}

// refreshForRead reloads for the API's reads; a database that does not
// answer leaves the subscriptions last loaded, which are the ones this
// process delivers with.
func (s *Service) refreshForRead(ctx context.Context) {
	if err := s.reload(ctx); err != nil {
		s.log.Warn("webhook: cannot reload subscriptions; listing those loaded last", "err", err)
	}
}

// loadedSub is one of the subscriptions as loaded last.
func (s *Service) loadedSub(id string) (Subscription, bool) {
	sb, ok := (*s.subs.Load())[id]
	if !ok {
		return Subscription{}, false
	}
	return sb.Subscription, true
}

// Create makes an API subscription. An empty secret is generated (32
// random bytes, hex); the secret is returned this once.
func (s *Service) Create(ctx context.Context, url, secret string, evs []string) (Subscription, string, error) {
	if err := s.checkSub(url, evs); err != nil {
		return Subscription{}, "", err
	}
	if secret == "" {
		var b [32]byte
		_, _ = rand.Read(b[:])
		secret = "whsec_" + hex.EncodeToString(b[:])
	} else if err := config.CheckWebhookSecret("", secret); err != nil {
		return Subscription{}, "", &store.FieldError{Field: "secret", Message: fmt.Sprintf("%d bytes, need at least %d", len(secret), config.MinWebhookSecret)}
	}
	if strings.HasPrefix(secret, sealPrefix) {
		return Subscription{}, "", &store.FieldError{Field: "secret", Message: "may not start " + sealPrefix + " (how encrypted secrets are stored)"}
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	id := "wh_" + hex.EncodeToString(b[:])
	stored, err := s.seal.seal(id, secret)
	if err != nil {
		return Subscription{}, "", err
	}
	w := &store.WebhookSubscription{ID: id, URL: url, Secret: stored, Events: normEvents(evs)}
	db, err := s.db(ctx)
	if err != nil {
		return Subscription{}, "", err
	}
	if err := db.CreateWebhook(ctx, w); err != nil {
		return Subscription{}, "", err
	}
	if err := s.reload(ctx); err != nil {
		return Subscription{}, "", err
	}
	return newSub(w.ID, w.URL, "", "api", w.Events, w.CreatedAt, w.UpdatedAt).Subscription, secret, nil
}

// Update replaces an API subscription's URL and events, and its secret
// when one is given.
func (s *Service) Update(ctx context.Context, id, url, secret string, evs []string) (Subscription, error) {
	if sb, ok := s.loadedSub(id); ok && sb.Source == "config" {
		return Subscription{}, ErrReadOnly
	}
	if err := s.checkSub(url, evs); err != nil {
		return Subscription{}, err
	}
	if secret != "" && len(secret) < config.MinWebhookSecret {
		return Subscription{}, &store.FieldError{Field: "secret", Message: fmt.Sprintf("%d bytes, need at least %d", len(secret), config.MinWebhookSecret)}
	}
	if strings.HasPrefix(secret, sealPrefix) {
		return Subscription{}, &store.FieldError{Field: "secret", Message: "may not start " + sealPrefix + " (how encrypted secrets are stored)"}
	}
	if secret != "" {
		var err error
		if secret, err = s.seal.seal(id, secret); err != nil {
			return Subscription{}, err
		}
	}
	db, err := s.db(ctx)
	if err != nil {
		return Subscription{}, err
	}
	w := &store.WebhookSubscription{ID: id, URL: url, Secret: secret, Events: normEvents(evs)}
	if err := db.UpdateWebhook(ctx, w); err != nil {
		return Subscription{}, err
	}
	if err := s.reload(ctx); err != nil {
		return Subscription{}, err
	}
	return newSub(w.ID, w.URL, "", "api", w.Events, w.CreatedAt, w.UpdatedAt).Subscription, nil
}

// Delete removes an API subscription and its pending deliveries.
func (s *Service) Delete(ctx context.Context, id string) error {
	if sb, ok := s.loadedSub(id); ok && sb.Source == "config" {
		return ErrReadOnly
	}
	db, err := s.db(ctx)
	if err != nil {
		return err
	}
	if err := db.DeleteWebhook(ctx, id); err != nil {
		return err
	}
	return s.reload(ctx)
}

// Deliveries lists the outbox, newest first.
func (s *Service) Deliveries(ctx context.Context, f store.WebhookFilter, p store.Page) ([]store.WebhookDelivery, string, error) {
	db, err := s.db(ctx)
	if err != nil {
		return nil, "", err
	}
	return db.ListWebhookDeliveries(ctx, f, p)
}

// Delivery reads one.
func (s *Service) Delivery(ctx context.Context, id int64) (*store.WebhookDelivery, error) {
	db, err := s.db(ctx)
	if err != nil {
		return nil, err
	}
	return db.GetWebhookDelivery(ctx, id)
}

// Replay puts a dead (or delivered) delivery back in its line, due now,
// with a fresh 24 h of retries.
func (s *Service) Replay(ctx context.Context, id int64) (store.WebhookDelivery, error) {
	db, err := s.db(ctx)
	if err != nil {
		return store.WebhookDelivery{}, err
	}
	d, err := db.ReplayWebhook(ctx, id, s.cfg.Now())
	if err == nil {
		s.kickDeliver()
	}
	return d, err
}

func (s *Service) checkSub(url string, evs []string) error {
	if err := config.ValidateWebhook("webhook", url, evs); err != nil {
		field := "url"
		if url != "" && config.ValidateWebhook("webhook", url, nil) == nil {
			field = "events"
		}
		return &store.FieldError{Field: field, Message: err.Error()}
	}
	if err := s.checkDestination(url); err != nil {
		return &store.FieldError{Field: "url", Message: err.Error()}
	}
	return nil
}

func normEvents(evs []string) []string {
	out := slices.Clone(evs)
	slices.Sort(out)
	return slices.Compact(out)
}
