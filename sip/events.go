package sip

// Payloads of the events the SIP server publishes (events.Event.Payload).
// Fields are in the order of their JSON keys, so the bytes on the event
// stream are what the maps they replace gave (api's golden test pins them).

// CallStart is the payload of events.CallStarted.
type CallStart struct {
	Agent  string `json:"agent,omitempty"` // a feature-code call: the agent's SIP user
	Called string `json:"called"`
	Caller string `json:"caller"`
	// FeatureCode is set for a feature-code call (an agent dialling '*'):
	// not a customer call, the app may leave it out of the ticket history.
	FeatureCode string `json:"feature_code,omitempty"`
}

// CallAnswer is the payload of events.CallAnswered.
type CallAnswer struct {
	Codec string `json:"codec"`
}

// CallReject is the payload of events.CallRejected.
type CallReject struct {
	Reason string `json:"reason"` // the edge counter (busy, draining) or the response's reason
	Status int    `json:"status"` // the SIP status sent (or that would have been, for a silent refusal)
}

// CallEnd is the payload of events.CallEnded.
type CallEnd struct {
	Cause      Cause `json:"cause"`
	DurationMS int64 `json:"duration_ms"` // 0 for a call never answered
	// Side is who ended it in the words call.ended has always used (for
	// an inbound call): EndedByCaller or EndedByServer. The stream's
	// clients and the hotline_calls_ended_total label read them.
	Side string `json:"side"`
}

// call.ended's side words.
const (
	EndedByCaller = "caller" // SideRemote of an inbound call
	EndedByServer = "server" // SideLocal
)
