package api

// Schemas of the OpenAPI description. They follow the JSON of the store
// types (store/model.go) and the request bodies in this package.

func props(required []string, p obj) obj {
	o := obj{"type": "object", "additionalProperties": false, "properties": p}
	if len(required) > 0 {
		o["required"] = required
	}
	return o
}

func strs() obj            { return obj{"type": "array", "items": str()} }
func integer() obj         { return obj{"type": "integer", "format": "int64"} }
func number() obj          { return obj{"type": "number"} }
func dateTime() obj        { return obj{"type": "string", "format": "date-time"} }
func enum(v ...string) obj { return obj{"type": "string", "enum": v} }
func strMap() obj          { return obj{"type": "object", "additionalProperties": str()} }
func list(item string) obj {
	return props([]string{"items", "next_cursor"}, obj{
		"items":       obj{"type": "array", "items": ref(item)},
		"next_cursor": obj{"type": "string", "description": "pass as ?cursor= for the next page; empty on the last page"},
	})
}

func components() obj {
	tiers := enum("vip", "standard", "new")
	statuses := enum("open", "pending", "solved", "closed")
	priorities := enum("low", "normal", "high", "urgent")
	channels := enum("voice", "email", "chat", "sms", "social")
	directions := enum("inbound", "outbound")
	customerFields := func() obj {
		return obj{"name": str(), "phones": obj{"type": "array", "items": str(), "description": "E.164 after normalisation"},
			"emails": strs(), "chat_handles": strs(), "tier": tiers, "attributes": strMap()}
	}
	ticketFields := func() obj {
		return obj{"customer_id": integer(), "subject": str(), "category": str(), "tags": strs(),
			"status": statuses, "priority": priorities, "assignee": str()}
	}
	message := func() obj {
		return obj{"channel": channels, "direction": directions, "started_at": dateTime(), "ended_at": dateTime(),
			"summary": str(), "body": str(), "details": obj{"type": "object", "description": "channel-specific, e.g. email headers"},
			"voice": ref("VoiceDetails")}
	}
	customer := customerFields()
	customer["id"], customer["created_at"], customer["updated_at"] = integer(), dateTime(), dateTime()
	ticket := ticketFields()
	ticket["id"], ticket["channel"], ticket["created_at"], ticket["updated_at"] = integer(), channels, dateTime(), dateTime()
	ticketIn := ticketFields()
	ticketIn["channel"] = channels
	interaction := message()
	interaction["id"], interaction["customer_id"], interaction["ticket_id"], interaction["created_at"] = integer(), integer(), integer(), dateTime()
	interactionIn := message()
	interactionIn["customer_id"], interactionIn["ticket_id"] = integer(), integer()

	return obj{
		"securitySchemes": obj{"bearer": obj{"type": "http", "scheme": "bearer",
			"description": "A token from http.tokens in hotline.yaml; scope read (GET) or write (everything)"}},
		"responses": obj{"Error": obj{"description": "error", "content": obj{"application/json": obj{"schema": ref("Error")}}}},
		"schemas": obj{
			"Error": props([]string{"error"}, obj{"error": props([]string{"code", "message"}, obj{
				"code": enum("bad_json", "unknown_field", "invalid", "unauthorized", "forbidden", "not_found",
					"method_not_allowed", "conflict", "too_large", "rate_limited", "unavailable", "internal"),
				"message": str(), "field": obj{"type": "string", "description": "the JSON field or query parameter at fault"}})}),
			"Customer":         props(nil, customer),
			"CustomerInput":    props(nil, customerFields()),
			"CustomerPatch":    props(nil, customerFields()),
			"CustomerList":     list("Customer"),
			"Ticket":           props(nil, ticket),
			"TicketInput":      props([]string{"customer_id", "subject"}, ticketIn),
			"TicketPatch":      props(nil, ticketFields()),
			"TicketList":       list("Ticket"),
			"Interaction":      props(nil, interaction),
			"InteractionInput": props([]string{"channel"}, interactionIn),
			"MessageInput":     props([]string{"channel"}, message()),
			"InteractionList":  list("Interaction"),
			"VoiceDetails": props(nil, obj{
				"call_id": str(), "caller_number": str(), "called_number": str(), "flow_name": str(), "flow_version": str(),
				"path": obj{"type": "array", "items": ref("IVRStep")}, "queue": str(), "wait_seconds": number(),
				"agent": str(), "talk_seconds": number(),
				"outcome":      obj{"type": "string", "description": "completed, abandoned_ivr, abandoned_queue, callback_requested, voicemail, failed"},
				"hangup_cause": str(), "hangup_side": obj{"type": "string", "description": "caller, hotline or agent"}, "callback_attempts": obj{"type": "integer"},
				"packets_lost": integer(), "jitter_ms": number()}),
			"IVRStep": props(nil, obj{"node": str(), "type": str(), "at": dateTime(), "digits": str()}),
			"Event": props([]string{"seq", "time", "type"}, obj{"seq": integer(), "time": dateTime(),
				"type":    obj{"type": "string", "description": "call.started, call.answered, call.ended, ivr.node, queue.joined, agent.state, ..."},
				"call_id": str(), "queue": str(), "agent": str(), "data": obj{"type": "object"}}),
		},
	}
}
