package app

import (
	"context"
	"fmt"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/webhook"
)

// newWebhooks builds the webhook service (docs/api.md "Webhooks"): it
// observes the bus from now on, and is the store's Outbox (the store
// writes the events of its ticket, interaction and call writes in their
// transactions). a.store is set after it, before anything uses it. Run starts its loops on logCtx, so the call records the
// call log writes during the drain still make their call.ended events.
func (a *App) newWebhooks() error {
	file := map[string]config.Webhook{}
	for name, w := range a.cfg.Webhooks {
		w.Secret = config.Secret(w.Secret)
		file[name] = w
	}
	s, err := webhook.New(webhook.Config{
		Store: func(ctx context.Context) (store.Webhooks, error) {
			return with(ctx, a.store, func(s store.Store) (store.Webhooks, error) {
				w, ok := s.(store.Webhooks)
				if !ok {
					return nil, fmt.Errorf("webhooks: %T has no outbox", s)
				}
				return w, nil
			})
		},
		Bus: a.bus, File: file, Delivery: a.cfg.WebhookDelivery, Logger: a.log,
	})
	if err != nil {
		return err // names the key
	}
	a.webhooks = s
	a.undo = append(a.undo, s.Close)
	return nil
}
