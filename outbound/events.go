package outbound

// Payloads of the policy's events (events.Event.Payload). Fields are in
// the order of their JSON keys, so the bytes on the event stream are what
// the maps they replace gave (api's golden test pins them).

// DialRefusal is the payload of EventDialRefused.
type DialRefusal struct {
	Dest   string `json:"dest"`   // the number (E.164) or host refused
	Detail string `json:"detail"` // why, for the operator
	Reason Reason `json:"reason"`
	Source string `json:"source"` // who asked: the caller's number, the agent, the API
	Trunk  string `json:"trunk"`  // the trunk chosen or named; "" for none
}

// CapAlarm is the payload of EventCapAlarm.
type CapAlarm struct {
	Cap   string `json:"cap"`   // CapDaily or CapMaxCalls
	Count int    `json:"count"` // dials counted today, or calls up
	Level string `json:"level"` // LevelWarning or LevelReached
	Limit int    `json:"limit"`
}

// Caps and alarm levels.
const (
	CapDaily     = "daily"     // outbound.max_per_day
	CapMaxCalls  = "max_calls" // outbound.max_calls
	LevelWarning = "warning"   // outbound.alarm_percent of the daily cap
	LevelReached = "reached"   // the cap is reached: dials are refused
)
