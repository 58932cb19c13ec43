package api

// Schemas of the OpenAPI description. They follow the JSON of the store
// types (store/model.go), of the queue's live view (queue.QueueView,
// queue.AgentInfo) and the request bodies in this package.

import "github.com/hotline-dev/hotline/store"

func props(required []string, p obj) obj {
	o := obj{"type": "object", "additionalProperties": false, "properties": p}
	if len(required) > 0 {
		o["required"] = required
	}
	return o
}

func strs() obj     { return obj{"type": "array", "items": str()} }
func integer() obj  { return obj{"type": "integer", "format": "int64"} }
func number() obj   { return obj{"type": "number"} }
func dateTime() obj { return obj{"type": "string", "format": "date-time"} }
func strMap() obj   { return obj{"type": "object", "additionalProperties": str()} }

// enum is a string schema of the given values; typed ones (store.Tiers)
// are listed as plain strings.
func enum[T ~string](v ...T) obj {
	names := make([]string, len(v))
	for i, s := range v {
		names[i] = string(s)
	}
	return obj{"type": "string", "enum": names}
}
func list(item string) obj {
	return props([]string{"items", "next_cursor"}, obj{
		"items":       obj{"type": "array", "items": ref(item)},
		"next_cursor": obj{"type": "string", "description": "pass as ?cursor= for the next page; empty on the last page"},
	})
}

// items is a list without pages.
func items(item string) obj {
	return props([]string{"items"}, obj{"items": obj{"type": "array", "items": ref(item)}})
}

func intMap() obj { return obj{"type": "object", "additionalProperties": obj{"type": "integer"}} }

// acdSchemas are the queue and agent resources.
func acdSchemas() obj {
	count := func() obj { return obj{"type": "integer"} }
	// Only in a cluster, whose reads are the leader's view (docs/cluster.md);
	// the X-Hotline-View-Age-Ms header says the same.
	viewAge := func() obj {
		return obj{"type": "integer", "description": "cluster mode only: how old the leader's view served here is, in ms"}
	}
	viewMaxAge := func() obj {
		return obj{"type": "integer", "description": "cluster mode only, with view_age_ms: cluster.view_max_age in ms; a view older is stale (the node is not ready, the wallboard says so)"}
	}
	queueList := items("Queue")
	queueList["properties"].(obj)["view_age_ms"] = viewAge()
	queueList["properties"].(obj)["view_max_age_ms"] = viewMaxAge()
	return obj{
		"Queue": props(nil, obj{"name": str(), "strategy": str(), "view_age_ms": viewAge(), "view_max_age_ms": viewMaxAge(),
			"callers": obj{"type": "array", "items": ref("Waiter"), "description": "the first 100 callers, in service order"},
			"members": obj{"type": "array", "items": props(nil, obj{"agent": str(), "penalty": count()}),
				"description": "the queue's agents now (configured, or changed at run time), by id"},
			"queue": str(), "waiting": count(), "longest_wait_s": number(),
			"agents_by_presence": intMap(), "agents_by_activity": intMap(), "service_level_threshold_s": number(),
			"windows": obj{"type": "array", "items": ref("QueueWindow")},
			"totals":  props(nil, obj{"joined": count(), "answered": count(), "abandoned": count(), "exited": count(), "waiting": count()}),
			"callbacks": props(nil, obj{"queue": str(),
				"scheduled": count(), "waiting": count(), "dialling": count(), "connected": count(),
				"completed": obj{"type": "integer", "description": "today"}, "failed": obj{"type": "integer", "description": "today"},
				"expired": obj{"type": "integer", "description": "today"}, "cancelled": obj{"type": "integer", "description": "today"},
				"oldest_waiting": props(nil, obj{"id": count(), "joined_at": dateTime(), "wait_seconds": number()})}),
			"ewt_s":  obj{"type": "number", "nullable": true, "description": "estimated wait of a caller joining now; null when unknown (docs/metrics.md)"},
			"alerts": obj{"type": "array", "items": ref("QueueAlert"), "description": "thresholds the queue is past (docs/wallboard.md)"},
			"alert_thresholds": props(nil, obj{"longest_wait_s": number(),
				"service_level": obj{"type": "number", "description": "0..1"}, "no_agents_while_waiting": obj{"type": "boolean"}})}),
		"QueueAlert": props(nil, obj{"kind": enum("longest_wait", "service_level", "no_agents_while_waiting"),
			"level": enum("amber", "red"), "since": dateTime(), "detail": str()}),
		"QueueList": queueList,
		"Waiter": props(nil, obj{"call_id": str(), "tier": str(), "waited_s": number(), "ringing": obj{"type": "boolean"},
			"callback": str(), "dialling": obj{"type": "boolean"}}),
		"QueueWindow": props(nil, obj{"name": obj{"type": "string", "description": "30m (sliding) or today"},
			"from": dateTime(), "to": dateTime(), "joined": count(), "answered": count(), "abandoned": count(), "exited": count(),
			"answered_within_sl": count(), "abandoned_after_sl": count(),
			"service_level": obj{"type": "number", "nullable": true, "description": "0..1; null when nothing counted"},
			"asa_s":         number(), "handled": count(), "aht_s": number()}),
		"Agent": props(nil, obj{"id": str(), "name": str(), "presence": enum("logged_out", "available", "paused"),
			"reason": str(), "activity": enum("idle", "ringing", "on_call", "wrap_up", "reserved"), "call_id": str(),
			"caller": obj{"type": "string", "description": "the number of call_id's caller: ringing, on the call, wrap-up"},
			"offer":  ref("Offer"), "queues": intMap(), "skills": intMap(), "misses": count(),
			"answered":    obj{"type": "integer", "description": "offers answered since the server started"},
			"calls_today": obj{"type": "integer", "description": "offers answered since local midnight, callbacks included; kept across restarts"},
			"idle_since":  dateTime(),
			"state_since": obj{"type": "string", "format": "date-time", "description": "when the agent entered its state (docs/metrics.md \"agent state\"; a new pause reason is a new state)"}}),
		"AgentList": items("Agent"),
		"Offer": props(nil, obj{"id": str(), "call_id": str(), "queue": str(), "agent": str(), "username": str(),
			"uri": str(), "caller": str(), "deadline": dateTime(), "callback": str()}),
		"QueueMember": props(nil, obj{"queue": str(), "agent": str(), "penalty": count()}),
		"QueueMemberInput": props(nil, obj{"penalty": obj{"type": "integer", "minimum": 0, "maximum": maxPenalty,
			"description": "lower is offered first; default 0"}}),
		"AgentStateInput": props([]string{"state"}, obj{"state": enum("login", "logout", "pause", "ready"),
			"reason": obj{"type": "string", "maxLength": maxReason, "description": "pause reason, one line"}}),
	}
}

func components() obj {
	tiers := enum(store.Tiers...)
	statuses := enum("open", "pending", "solved", "closed")
	priorities := enum("low", "normal", "high", "urgent")
	channels := enum("voice", "email", "chat", "sms", "social")
	directions := enum("inbound", "outbound")
	customerFields := func() obj {
		return obj{"name": str(), "phones": obj{"type": "array", "items": str(), "description": "E.164 after normalisation"},
			"emails": strs(), "chat_handles": strs(), "tier": tiers, "attributes": strMap(), "external_ids": externalIDs()}
	}
	ticketFields := func() obj {
		return obj{"customer_id": integer(), "subject": str(), "category": str(), "tags": strs(),
			"status": statuses, "priority": priorities, "assignee": str(), "external_ids": externalIDs()}
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
			"description": "A token from http.tokens in hotline.yaml; scope read (GET) or write (everything)"},
			"session": obj{"type": "apiKey", "in": "cookie", "name": sessionCookie,
				"description": "A browser session from POST /api/v1/session (__Host-" + sessionCookie + " over TLS); the scope of its token, or agent (read, and its own state). Changes need X-CSRF-Token"}},
		"responses": obj{"Error": obj{"description": "error", "content": obj{"application/json": obj{"schema": ref("Error")}}}},
		"schemas": merge(acdSchemas(), sessionSchemas(), webhookSchemas(), obj{
			"Error": props([]string{"error"}, obj{"error": props([]string{"code", "message"}, obj{
				"code": enum("bad_json", "unknown_field", "unknown_parameter", "invalid", "unauthorized", "forbidden", "not_found",
					"method_not_allowed", "conflict", "precondition_failed", "too_large", "rate_limited", "unavailable", "internal"),
				"message": str(), "field": obj{"type": "string", "description": "the JSON field, query parameter or header at fault"},
				"errors": obj{"type": "array", "description": "422: every invalid value of the request, the one above first",
					"items": props([]string{"message"}, obj{"field": str(), "message": str(),
						"pointer": obj{"type": "string", "description": "RFC 6901 JSON pointer into the request body (/phones/1); absent for a query parameter or header"}})}}),
				"existing": obj{"description": "a conflict's existing resource (a duplicate callback request: the open callback)",
					"allOf": []obj{ref("Callback")}}}),
			"Callback":        props(nil, callbackSchema()),
			"CallbackAttempt": props(nil, callbackAttemptSchema()),
			"CallbackList":    list("Callback"),
			"CallbackInput": props([]string{"number", "queue"}, obj{
				"number":      obj{"type": "string", "description": "the number to call back; it must be one the outbound policy allows (allow.numbers)"},
				"queue":       obj{"type": "string", "description": "the queue whose agents call back; its callbacks must be enabled"},
				"at":          obj{"type": "string", "format": "date-time", "description": "a chosen time inside the queue's hours; absent: as soon as they allow"},
				"customer_id": integer(), "ticket_id": obj{"type": "integer", "format": "int64", "description": "the ticket the callback's story goes on; default the customer's open ticket in category"},
				"category": str(), "language": str(), "note": obj{"type": "string", "description": "added to the request's interaction on the ticket"}}),
			"CallbackPatch": props([]string{"at"}, obj{"at": obj{"type": "string", "format": "date-time", "description": "the new time, inside the queue's hours"}}),
			"ExternalID": props([]string{"source", "id"}, obj{
				"source": obj{"type": "string", "description": "the system the id belongs to (zendesk, freshdesk); lower-cased, no ':' or spaces, at most 50 bytes"},
				"id":     obj{"type": "string", "description": "the id in that system, kept as sent (trimmed)"}}),
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
			"NoteInput": props(nil, obj{
				"note":     obj{"type": "string", "description": "the agent's wrap-up note (at most 8000 bytes); stored as a voice interaction on the ticket, details.kind \"note\""},
				"category": obj{"type": "string", "description": "the ticket's new category"},
			}),
			"NoteResult":      props([]string{"ticket"}, obj{"ticket": ref("Ticket"), "interaction": ref("Interaction")}),
			"InteractionList": list("Interaction"),
			"VoiceDetails": props(nil, obj{
				"call_id":       obj{"type": "string", "description": "SIP Call-ID; with from_tag it names the call (a later call reusing the Call-ID has another From tag)"},
				"from_tag":      obj{"type": "string", "description": "the caller's SIP From tag; empty for calls logged before it was kept"},
				"caller_number": str(), "called_number": str(), "flow_name": str(), "flow_version": str(),
				"path":              obj{"type": "array", "items": ref("IVRStep")},
				"queue":             obj{"type": "string", "description": "the first queue the caller waited in (with no legs: where the IVR handed them, e.g. a callback's queue)"},
				"wait_seconds":      obj{"type": "number", "description": "total time waiting over all legs (in queues, and for transfer targets to answer)"},
				"agent":             obj{"type": "string", "description": "the first agent who answered"},
				"talk_seconds":      obj{"type": "number", "description": "total time bridged over all legs"},
				"legs":              obj{"type": "array", "items": ref("CallLeg"), "description": "every stay after the IVR, in order"},
				"outcome":           obj{"type": "string", "description": "completed (an agent answered, whoever hung up), abandoned_ivr, abandoned_queue, callback_requested, voicemail, failed"},
				"hangup_cause":      obj{"type": "string", "description": "caller-bye, agent-bye, completed (Hotline's flow hung up), media-timeout, shutdown, cancelled, no-ack, error"},
				"hangup_side":       obj{"type": "string", "enum": []string{"caller", "agent", "hotline", ""}, "description": "who ended the call: the caller, the agent (or number) they were bridged to, or Hotline"},
				"callback_attempts": obj{"type": "integer"},
				"packets_lost":      integer(), "jitter_ms": number(),
				"recordings": obj{"type": "array", "items": ref("Recording"), "description": "the call's recordings (a voicemail message, a recorded queue call), not those deleted; the audio is GET /api/v1/recordings/{id}"}}),
			"Recording": props(nil, obj{
				"id":             obj{"type": "string", "description": "the recording's id: GET /api/v1/recordings/{id} serves its audio"},
				"call_id":        str(),
				"from_tag":       str(),
				"interaction_id": obj{"type": "integer", "format": "int64", "description": "the call's interaction; absent until the call is logged"},
				"kind":           obj{"type": "string", "enum": []string{"voicemail", "call"}, "description": "voicemail: a message left in a voicemail node; call: a bridged call recorded in a queue with recording on"},
				"queue":          obj{"type": "string", "description": "a call recording: the queue it was made in (its retention applies); absent for voicemail"},
				"format":         obj{"type": "string", "description": "wav: 16-bit PCM, 8 kHz, mono; a call recorded with channels: split is stereo, the caller left and the agent right"},
				"duration_ms":    integer(),
				"size":           obj{"type": "integer", "format": "int64", "description": "bytes"},
				"created_at":     dateTime(),
				"deleted_at":     obj{"type": "string", "format": "date-time", "description": "set once deleted (a deleted recording is not listed and its audio is 404)"}}),
			"CallLeg": props(nil, obj{
				"queue":        obj{"type": "string", "description": "the queue waited in; for a number, the queue of the agent who transferred"},
				"agent":        obj{"type": "string", "description": "who answered from the queue"},
				"number":       obj{"type": "string", "description": "a transfer to a number: its SIP URI"},
				"joined_at":    obj{"type": "string", "format": "date-time", "description": "joined the queue, or started dialling the number"},
				"offered_at":   obj{"type": "string", "format": "date-time", "description": "the answering agent's phone started ringing"},
				"answered_at":  dateTime(),
				"ended_at":     dateTime(),
				"wait_seconds": number(), "talk_seconds": number(),
				"end":         obj{"type": "string", "enum": []string{"hangup", "transferred", "unanswered"}},
				"ended_by":    obj{"type": "string", "enum": []string{"caller", "agent", "hotline", ""}, "description": "hangup: who hung up"},
				"transfer_to": obj{"type": "string", "description": "transferred: the queue or the number's URI"},
				"reason":      obj{"type": "string", "description": "unanswered: the queue's leave reason (abandoned, timeout, full, empty, exit-key, dropped) or the number's SIP failure (486 Busy Here)"}}),
			"LiveCall":     props(nil, obj{"call_id": str(), "caller": str(), "called": str(), "flow": str(), "started_at": dateTime()}),
			"LiveCallList": items("LiveCall"),
			"Live":         props([]string{"status"}, obj{"status": enum("ok")}),
			"Health": props([]string{"status", "checks"}, obj{"status": enum("ok", "unavailable"),
				"failed": obj{"type": "array", "items": str(), "description": "the failed checks, in configuration order"},
				"checks": obj{"type": "object", "additionalProperties": ref("HealthCheck"), "description": "by check name (database, flows, ...)"}}),
			"HealthCheck": props([]string{"status", "duration_ms"}, obj{"status": enum("ok", "failed"),
				"error":       obj{"type": "string", "description": "for people; names no host or address (the log has the cause)"},
				"duration_ms": obj{"type": "integer"}}),
			"OpenAPIDocument": obj{"type": "object", "description": "an OpenAPI 3.0 document (https://spec.openapis.org/oas/v3.0.3)",
				"required":   []string{"openapi", "info", "paths"},
				"properties": obj{"openapi": str(), "info": obj{"type": "object"}, "paths": obj{"type": "object"}}},
			"IVRStep": props(nil, obj{"node": str(), "type": str(), "at": dateTime(), "digits": str()}),
			"Event": props([]string{"seq", "time", "type"}, obj{"seq": integer(), "time": dateTime(),
				"type":    obj{"type": "string", "description": "call.started, call.answered, call.ended, ivr.node, queue.joined, agent.state, ..."},
				"call_id": str(), "queue": str(), "agent": str(), "data": obj{"type": "object"}}),
		}),
	}
}

// merge copies the entries of every b into a.
func merge(a obj, bs ...obj) obj {
	for _, b := range bs {
		for k, v := range b {
			a[k] = v
		}
	}
	return a
}

func callbackSchema() obj {
	ts := func(desc string) obj { return obj{"type": "string", "format": "date-time", "description": desc} }
	return obj{
		"id": integer(), "customer_id": integer(), "ticket_id": integer(),
		"queue": str(), "number": obj{"type": "string", "description": "E.164"},
		"mode":   enum("customer_first", "agent_first"),
		"source": enum("virtual_hold", "ivr", "api"),
		"state":  obj{"type": "string", "enum": []string{"waiting", "dialling", "connected", "completed", "failed", "expired", "cancelled"}, "description": "the stored state"},
		"status": obj{"type": "string", "enum": []string{"scheduled", "waiting", "dialling", "connected", "completed", "failed", "expired", "cancelled"},
			"description": "as the wallboard counts it: a waiting callback is scheduled until its time comes, then waiting in line"},
		"tier":         obj{"type": "string", "description": "the tier the caller was ranked with (their place)"},
		"joined_at":    ts("the original join time: the place in the queue"),
		"not_before":   ts("the earliest next call"),
		"expires_at":   ts("not completed by then: expired"),
		"due_at":       ts("when it may next be dialled, the calendar applied (waiting only)"),
		"attempts":     obj{"type": "integer", "description": "calls placed"},
		"max_attempts": obj{"type": "integer", "description": "calls it may get (one more for each cut short by a restart)"},
		"interrupted":  obj{"type": "integer", "description": "calls cut short by a restart"},
		"claimed_by":   obj{"type": "string", "description": "the process placing its call (dialling, connected)"},
		"version":      obj{"type": "integer", "description": "changes with every write; the ETag"},
		"outcome":      obj{"type": "string", "description": "why it ended, or how the last call went"},
		"call_id":      obj{"type": "string", "description": "the call it was asked from (SIP Call-ID)"},
		"from_tag":     str(), "language": str(),
		"position":   obj{"type": "integer", "description": "waiting: its place in the queue, 1 = next"},
		"created_at": dateTime(), "updated_at": dateTime(),
		"calls": obj{"type": "array", "items": ref("CallbackAttempt"), "description": "every call, oldest first (GET one callback)"},
	}
}

func callbackAttemptSchema() obj {
	return obj{
		"attempt": obj{"type": "integer"}, "claimed_by": str(), "started_at": dateTime(), "ended_at": dateTime(),
		"result": obj{"type": "string", "enum": []string{"completed", "no_answer", "busy", "rejected", "no_confirmation", "abandoned",
			"trunk_failed", "refused", "agent_missed", "not_placed", "interrupted"}, "description": "absent while the call is up"},
		"trunk": str(), "agent": str(),
		"call_id":     obj{"type": "string", "description": "the outbound call's SIP Call-ID (its voice interaction is keyed on it)"},
		"from_tag":    str(),
		"sip_status":  obj{"type": "integer", "description": "the INVITE's final status"},
		"reason":      str(),
		"answered_at": dateTime(), "confirmed_at": dateTime(),
		"talk_seconds":   number(),
		"interaction_id": obj{"type": "integer", "format": "int64", "description": "the call's interaction on the ticket"},
	}
}

// externalIDs is the schema of an external_ids list: unique per source in
// a resource, and a (source, id) names one customer and one ticket (409).
func externalIDs() obj {
	return obj{"type": "array", "items": ref("ExternalID"),
		"description": "ids of this resource in other systems, one per source; a list replaces the old one (PATCH); a (source, id) of another resource is a 409 naming it"}
}
