package registrar

import "github.com/hotline-dev/hotline/events"

// Payloads of the registrar's events (events.Event.Payload). Fields are in
// the order of their JSON keys, so the bytes on the event stream are what
// the maps they replace gave (api's golden test pins them).

// Action is what happened to a binding (BindingChange.Action).
type Action string

// Binding actions.
const (
	ActionAdded     Action = "added"     // a new contact
	ActionRefreshed Action = "refreshed" // a contact registered again before it expired
	ActionRemoved   Action = "removed"   // unregistered (Expires: 0, or Contact: * for all)
	ActionExpired   Action = "expired"   // not refreshed in time (Sweep)
)

// BindingChange is the payload of EventBinding.
type BindingChange struct {
	Action   Action `json:"action"`
	Contact  string `json:"contact"`  // the contact URI
	Contacts int    `json:"contacts"` // the bindings the user has afterwards
	ExpiresS int    `json:"expires_s"`
	Source   string `json:"source"` // where the REGISTER came from (host:port)
	User     string `json:"user"`   // the SIP username
}

// Ban is the payload of EventBanned.
type Ban struct {
	BanS     int    `json:"ban_s"` // 0 when withheld
	Failures int    `json:"failures"`
	Source   string `json:"source"` // the IP
	User     string `json:"user"`   // the username, "?" for unknown usernames, "*" for the whole source
	Withheld bool   `json:"withheld"`
}

// Refusal is the payload of EventContactRefused.
type Refusal struct {
	Contact string `json:"contact"` // the REGISTER's Contact headers, comma-separated
	Reason  string `json:"reason"`  // the outbound policy's error
	Source  string `json:"source"`
	User    string `json:"user"`
}

// setContacts records in each binding event how many bindings the user
// has once the request (or the sweep) is done.
func setContacts(evs []events.Event, n int) {
	for i := range evs {
		if b, ok := evs[i].Payload.(BindingChange); ok {
			b.Contacts = n
			evs[i].Payload = b
		}
	}
}
