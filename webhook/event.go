package webhook

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/store"
)

// Event is the JSON body of every delivery.
type Event struct {
	// ID is stable: every attempt of this event, to every subscription,
	// carries it (and the Hotline-Event-Id header). Store it and ignore
	// an event whose id you have seen: delivery is at-least-once.
	ID      string          `json:"id"`
	Type    string          `json:"type"`
	Created time.Time       `json:"created_at"`
	CallID  string          `json:"call_id,omitempty"`
	Queue   string          `json:"queue,omitempty"`
	Agent   string          `json:"agent,omitempty"`
	Data    json.RawMessage `json:"data"`
}

// busTypes maps the bus's event types to webhook types: the queued kind
// (service.go). call.ended is not here: the store writes it with the
// call's record (store.ChangeCallLogged, in the record's transaction), so
// it carries the whole record and its ids.
var busTypes = map[string]string{
	events.CallStarted:   "call.started",
	events.CallAnswered:  "call.answered",
	events.AgentState:    "agent.state",
	"callback.requested": "callback.requested",
	"callback.dialling":  "callback.attempted", // an attempt is claimed and placed
	"callback.completed": "callback.completed",
	"callback.expired":   "callback.expired",
	"callback.failed":    "callback.failed",
	"callback.cancelled": "callback.cancelled",
}

// fromBus makes the webhook event for a bus event (ok false: not one
// webhooks carry). boot names this process: the bus's sequence restarts
// with it.
func fromBus(boot string, e events.Event) (Event, bool, error) {
	typ, ok := busTypes[e.Type]
	if !ok {
		return Event{}, false, nil
	}
	data, err := json.Marshal(e.Payload)
	if err != nil {
		return Event{}, false, fmt.Errorf("webhook: event %s (call %s): payload: %w", e.Type, e.CallID, err)
	}
	if string(data) == "null" {
		data = []byte("{}")
	}
	return Event{ID: fmt.Sprintf("evt_%s_%d", boot, e.Seq), Type: typ, Created: e.Time.UTC(), CallID: e.CallID, Queue: e.Queue,
		Agent: e.Agent, Data: data}, true, nil
}

// CallEnded is call.ended's data: the call's record as the ticket history
// has it, and where it was filed.
type CallEnded struct {
	Record        store.CallRecord `json:"record"`
	InteractionID int64            `json:"interaction_id"`
	CustomerID    int64            `json:"customer_id"`
	TicketID      int64            `json:"ticket_id"`
	NewCustomer   bool             `json:"new_customer"`
	NewTicket     bool             `json:"new_ticket"`
}

func storeEvent(id, typ string, at time.Time, callID string, v any) (Event, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return Event{}, fmt.Errorf("webhook: %s %s: %w", typ, id, err)
	}
	return Event{ID: id, Type: typ, Created: at.UTC(), CallID: callID, Data: data}, nil
}
