package api

import (
	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/store"
)

// webhookPaths describe the webhook routes (webhooks.go): write scope
// for every one, reads too.
func webhookPaths() obj {
	const bad, unproc, forb, notF, conf, big, unav = 400, 422, 403, 404, 409, 413, 503
	subID := []obj{{"name": "id", "in": "path", "required": true, "description": "subscription id (wh_… for the API's, the name for the file's)", "schema": str()}}
	delID := []obj{idPath("delivery")}
	return obj{
		Prefix + "/webhooks": obj{
			"get": op("listWebhooks", "Webhook subscriptions, the configuration file's and the API's (secrets never shown)", nil, "", "200", "WebhookList", forb, unav),
			"post": op("createWebhook", "Subscribe a receiver: events are POSTed to url, signed with the secret (Hotline-Signature); an empty secret is generated. The answer is the only time the secret is shown",
				nil, "WebhookInput", "201", "WebhookCreated", bad, unproc, forb, big, unav),
		},
		Prefix + "/webhooks/{id}": obj{
			"get": op("getWebhook", "One subscription", subID, "", "200", "Webhook", forb, notF, unav),
			"put": op("updateWebhook", "Replace an API subscription's url and events, and its secret when one is given (409 for one of the configuration file)",
				subID, "WebhookInput", "200", "Webhook", bad, unproc, forb, notF, conf, big, unav),
			"delete": obj{"operationId": "deleteWebhook", "summary": "Remove an API subscription and its pending deliveries (409 for one of the configuration file)",
				"parameters": subID, "responses": merge(errs(forb, notF, conf, unav), obj{"204": obj{"description": "removed"}})},
		},
		Prefix + "/webhooks/deliveries": obj{
			"get": op("listWebhookDeliveries", "The outbox, newest first: pending, delivered and dead (the dead letter) deliveries with their last error",
				withPage(query("subscription", "subscription id", str()), query("state", "pending, delivered or dead", str())), "", "200", "WebhookDeliveryList", unproc, forb, unav),
		},
		Prefix + "/webhooks/deliveries/{id}": obj{
			"get": op("getWebhookDelivery", "One delivery with the event as sent", delID, "", "200", "WebhookDelivery", forb, notF, unav),
		},
		Prefix + "/webhooks/deliveries/{id}/replay": obj{
			"post": op("replayWebhookDelivery", "Send a dead (or delivered) delivery again: back in its subscription's line, due now, with a fresh retry horizon",
				delID, "", "200", "WebhookDelivery", forb, notF, unav),
		},
	}
}

func webhookSchemas() obj {
	evs := make([]string, 0, len(config.WebhookEvents)+1)
	evs = append(evs, "*")
	evs = append(evs, config.WebhookEvents...)
	sub := obj{
		"id":         str(),
		"url":        obj{"type": "string", "format": "uri"},
		"events":     obj{"type": "array", "items": enum(evs...), "description": "event types received; empty or * for all"},
		"source":     enum("config", "api"),
		"created_at": dateTime(),
		"updated_at": dateTime(),
	}
	return obj{
		"WebhookInput": props([]string{"url"}, obj{
			"url": obj{"type": "string", "format": "uri", "description": "http or https; a host that is, or resolves to, a loopback, private, link-local, unspecified or " +
				"multicast address is refused (422 on url) unless webhook_delivery.allow_networks lists it, and so is every connection to one"},
			"secret": obj{"type": "string", "minLength": config.MinWebhookSecret, "description": "HMAC-SHA256 key, at least 32 bytes; POST: empty generates one; PUT: empty keeps it"},
			"events": obj{"type": "array", "items": enum(evs...)},
		}),
		"Webhook":        props([]string{"id", "url", "events", "source"}, sub),
		"WebhookCreated": props([]string{"id", "url", "events", "source", "secret"}, merge(obj{"secret": obj{"type": "string", "description": "shown this once"}}, sub)),
		"WebhookList":    props([]string{"items"}, obj{"items": obj{"type": "array", "items": ref("Webhook")}}),
		"WebhookDelivery": props([]string{"id", "subscription", "event_id", "event_type", "state", "attempts", "created_at", "next_at"}, obj{
			"id":           obj{"type": "integer", "format": "int64"},
			"subscription": str(),
			"event_id":     obj{"type": "string", "description": "the event's stable id (Hotline-Event-Id)"},
			"event_type":   str(),
			"state":        enum(store.WebhookPending, store.WebhookDelivered, store.WebhookDead),
			"attempts":     obj{"type": "integer"},
			"created_at":   dateTime(),
			"first_at":     obj{"type": "string", "format": "date-time", "description": "the retry horizon starts here (created, or replayed)"},
			"next_at":      dateTime(),
			"last_status":  obj{"type": "integer", "description": "the receiver's last HTTP status (absent: no answer)"},
			"last_error":   str(),
			"done_at":      dateTime(),
			"event":        obj{"type": "object", "description": "the JSON body sent (WebhookEvent)"},
		}),
		"WebhookDeliveryList": list("WebhookDelivery"),
	}
}
