package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/go-chi/chi/v5"
)

// openapi serves the OpenAPI 3 description. It needs no token, so clients
// and tools can discover the API before they have one.
func (s *Server) openapi(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(s.spec)
}

// OpenAPI returns the OpenAPI 3 description served at /api/v1/openapi.json.
func (s *Server) OpenAPI() []byte { return append([]byte(nil), s.spec...) }

// CheckSpec compares the route tree with the OpenAPI paths and reports, as
// "METHOD /path", every route the description lacks and every described
// operation no route serves. Both empty means they match.
func (s *Server) CheckSpec() (missing, extra []string, err error) {
	return checkSpec(s.spec, s.router)
}

func checkSpec(spec []byte, routes chi.Routes) (missing, extra []string, err error) {
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(spec, &doc); err != nil {
		return nil, nil, fmt.Errorf("api: parsing own OpenAPI description: %w", err)
	}
	described := map[string]bool{}
	for path, item := range doc.Paths {
		for method := range item {
			switch method {
			case "get", "put", "post", "patch", "delete", "head", "options":
				described[strings.ToUpper(method)+" "+path] = true
			}
		}
	}
	routed := map[string]bool{}
	err = chi.Walk(routes, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		routed[method+" "+cleanRoute(route)] = true
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("api: walking routes: %w", err)
	}
	for k := range routed {
		if !described[k] {
			missing = append(missing, k)
		}
	}
	for k := range described {
		if !routed[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	return missing, extra, nil
}

// buildSpec renders the description once at start-up.
func buildSpec() ([]byte, error) {
	paths := merge(corePaths(), sessionPaths(), webhookPaths())
	addIdempotency(paths)
	doc := obj{
		"openapi": "3.0.3",
		"info": obj{
			"title":       "Hotline API",
			"version":     "1",
			"description": "Ticket history (customers, tickets, interactions) shared by the phone, email and chat channels; live calls and events. Errors are {\"error\": {\"code\", \"message\", \"field\"}}. See docs/api.md.",
		},
		"servers":    []obj{{"url": "/"}},
		"security":   []obj{{"bearer": []string{}}, {"session": []string{}}},
		"paths":      paths,
		"components": components(),
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil { // a path item that JSON cannot encode
		return nil, fmt.Errorf("api: encoding the OpenAPI description: %w", err)
	}
	return b, nil
}

type obj = map[string]any

func ref(name string) obj { return obj{"$ref": "#/components/schemas/" + name} }

func jsonBody(schema string) obj {
	return obj{"required": true, "content": obj{"application/json": obj{"schema": ref(schema)}}}
}

func reply(desc, schema string) obj {
	return obj{"description": desc, "content": obj{"application/json": obj{"schema": ref(schema)}}}
}

// errs lists the error responses of an operation by status.
func errs(statuses ...int) obj {
	out := obj{
		"401": obj{"$ref": "#/components/responses/Error"},
		"429": obj{"$ref": "#/components/responses/Error"},
	}
	for _, s := range statuses {
		out[fmt.Sprint(s)] = obj{"$ref": "#/components/responses/Error"}
	}
	return out
}

func op(id, summary string, params []obj, body string, ok string, okSchema string, errStatuses ...int) obj {
	responses := errs(errStatuses...)
	responses[ok] = reply(summary, okSchema)
	o := obj{"operationId": id, "summary": summary, "responses": responses}
	if len(params) > 0 {
		o["parameters"] = params
	}
	if body != "" {
		o["requestBody"] = jsonBody(body)
	}
	return o
}

func query(name, desc string, schema obj) obj {
	return obj{"name": name, "in": "query", "description": desc, "schema": schema}
}

func idPath(what string) obj {
	return obj{"name": "id", "in": "path", "required": true, "description": what + " id", "schema": obj{"type": "integer", "format": "int64"}}
}

func agentID() []obj {
	return []obj{{"name": "id", "in": "path", "required": true, "description": "agent id (config agents:)", "schema": str()}}
}

// queueMemberPaths is the path item of one queue membership: PUT (201
// added, 200 changed; the body is optional) and DELETE (204).
func queueMemberPaths() obj {
	const bad, unproc, notF, big, forb, unav = 400, 422, 404, 413, 403, 503
	params := []obj{{"name": "name", "in": "path", "required": true, "description": "queue name (config queues:)", "schema": str()},
		{"name": "agent", "in": "path", "required": true, "description": "agent id (config agents:)", "schema": str()}}
	put := op("setQueueMember", "Add an agent to a queue or change its penalty there (write scope); kept across restarts. A new member who is free is offered the queue's callers at once",
		params, "QueueMemberInput", "200", "QueueMember", bad, unproc, notF, big, forb, unav)
	put["requestBody"].(obj)["required"] = false
	responses := put["responses"].(obj)
	responses["200"] = reply("the penalty changed, or was that already", "QueueMember")
	responses["201"] = reply("the agent was added to the queue", "QueueMember")
	del := op("removeQueueMember", "Take an agent out of a queue (write scope); kept across restarts. An offer ringing for the queue's caller is cancelled; a call in progress continues",
		params, "", "204", "", notF, forb, unav)
	del["responses"].(obj)["204"] = obj{"description": "removed"}
	return obj{"put": put, "delete": del}
}

func pageParamsSpec() []obj {
	return []obj{
		query("limit", fmt.Sprintf("page size, 1..%d (default %d)", MaxPageLimit, DefaultPageLimit), obj{"type": "integer"}),
		query("cursor", "next_cursor from the previous page", obj{"type": "string"}),
	}
}

func withPage(ps ...obj) []obj { return append(ps, pageParamsSpec()...) }

// withSync is withPage for the lists a desk syncs: updated_since and
// created_since too (docs/api.md, "Sync").
func withSync(ps ...obj) []obj {
	return append(withPage(ps...),
		query("updated_since", "RFC 3339: only what was created or changed at or after it, in commit order (oldest first), with next_cursor on every page, the last included; poll again with that cursor alone", obj{"type": "string", "format": "date-time"}),
		query("created_since", "RFC 3339: only what was created at or after it (in commit order, like updated_since)", obj{"type": "string", "format": "date-time"}))
}

// addIdempotency gives every POST behind a token the Idempotency-Key
// header and its answers (409 while the first request runs, 422 when the
// key was used for another request). Sign-in has none: it creates nothing
// a retry could duplicate.
func addIdempotency(paths obj) {
	for path, item := range paths {
		post, ok := item.(obj)["post"].(obj)
		if !ok || path == Prefix+"/session" || post["security"] != nil {
			continue
		}
		params, _ := post["parameters"].([]obj)
		post["parameters"] = append(params, obj{"name": IdempotencyHeader, "in": "header",
			"description": "a key (1 to 255 visible ASCII characters, a UUID is usual) to retry this POST safely: for 24 h the same key and request get the first answer again (with Idempotent-Replayed: true); another request under the key is 422; while the first runs, 409 with Retry-After",
			"schema":      obj{"type": "string", "maxLength": 255}})
		responses := post["responses"].(obj)
		for _, code := range []string{"409", "422"} {
			if responses[code] == nil {
				responses[code] = obj{"$ref": "#/components/responses/Error"}
			}
		}
	}
}

func str() obj { return obj{"type": "string"} }

func ifMatchParam() obj {
	return obj{"name": "If-Match", "in": "header", "description": "the ETag of a GET: the change applies only to that version (RFC 9110 §13.1.1)",
		"schema": obj{"type": "string"}}
}

// withETag says the operation's success answer carries the resource's ETag.
func withETag(o obj) obj {
	for code, r := range o["responses"].(obj) {
		if ro, ok := r.(obj); ok && (code == "200" || code == "201") {
			ro["headers"] = obj{"ETag": obj{"description": "the resource's version, for If-Match", "schema": obj{"type": "string"}}}
		}
	}
	return o
}

func corePaths() obj {
	const bad, unproc, notF, conf, big, forb, unav = 400, 422, 404, 409, 413, 403, 503
	id := func(w string) []obj { return []obj{idPath(w)} }
	return obj{
		"/livez": obj{"get": obj{"operationId": "livez", "summary": "Liveness: the process serves (no token; checks no dependency)", "security": []obj{},
			"responses": obj{"200": reply("alive", "Live")}}},
		"/readyz": obj{"get": obj{"operationId": "readyz", "summary": "Readiness: database reachable within the deadline, flows loaded (no token)", "security": []obj{},
			"responses": obj{"200": reply("ready; body names each check", "Health"),
				"503": reply("not ready; body names the failed checks, Retry-After set", "Health")}}},
		"/healthz": obj{"get": obj{"operationId": "health", "summary": "Alias of /readyz (no token)", "security": []obj{},
			"responses": obj{"200": reply("ready", "Health"), "503": reply("not ready", "Health")}}},
		Prefix + "/openapi.json": obj{"get": obj{"operationId": "openapi", "summary": "This description (no token)", "security": []obj{},
			"responses": obj{"200": reply("OpenAPI 3 document", "OpenAPIDocument")}}},
		Prefix + "/customers": obj{
			"get": op("listCustomers", "List customers by id, or (updated_since, created_since) in commit order", withSync(query("phone", "phone, any format the normaliser accepts", str()),
				query("email", "email", str()), query("tier", "vip, standard or new", str()),
				query("external_id", "source:id, e.g. zendesk:12345: the customer with that external id (an empty list when none)", str()),
				query("q", "search: a phone (any format), an email, source:id or a bare external id, or words each starting a word of the name (case and accents ignored)", str())),
				"", "200", "CustomerList", bad, unproc),
			"post": withETag(op("createCustomer", "Create a customer", nil, "CustomerInput", "201", "Customer", bad, unproc, conf, big, forb)),
		},
		Prefix + "/customers/lookup": obj{
			"get": op("lookupCustomer", "Find one customer by phone or email", []obj{query("phone", "phone number (national numbers use the default country)", str()),
				query("email", "email address", str())}, "", "200", "Customer", bad, unproc, notF),
		},
		Prefix + "/customers/{id}": obj{
			"get": withETag(op("getCustomer", "Get a customer", id("customer"), "", "200", "Customer", notF)),
			"patch": withETag(op("updateCustomer", "Change some fields of a customer; If-Match: the ETag of a GET (412 when it changed)",
				append(id("customer"), ifMatchParam()), "CustomerPatch", "200", "Customer", bad, unproc, notF, conf, 412, big, forb)),
		},
		Prefix + "/customers/{id}/timeline": obj{
			"get": op("customerTimeline", "Every interaction of a customer on every channel, newest first", withPage(idPath("customer")), "", "200", "InteractionList", bad, unproc, notF),
		},
		Prefix + "/tickets": obj{
			"get": op("listTickets", "List tickets, newest first, or (updated_since, created_since) in commit order", withSync(query("customer_id", "customer id", obj{"type": "integer"}),
				query("status", "open, pending, solved or closed", str()), query("category", "category", str()),
				query("external_id", "source:id, e.g. freshdesk:4411: the ticket with that external id (an empty list when none)", str()),
				query("q", "search: source:id or a bare external id, or words each starting a word of the subject (case and accents ignored)", str())),
				"", "200", "TicketList", bad, unproc),
			"post": withETag(op("createTicket", "Open a ticket", nil, "TicketInput", "201", "Ticket", bad, unproc, conf, big, forb)),
		},
		Prefix + "/tickets/{id}": obj{
			"get": withETag(op("getTicket", "Get a ticket", id("ticket"), "", "200", "Ticket", notF)),
			"patch": withETag(op("updateTicket", "Change some fields of a ticket; If-Match: the ETag of a GET (412 when it changed)",
				append(id("ticket"), ifMatchParam()), "TicketPatch", "200", "Ticket", bad, unproc, notF, conf, 412, big, forb)),
		},
		Prefix + "/tickets/{id}/interactions": obj{
			"post": withETag(op("addTicketMessage", "Add an interaction (an email, a chat) to a ticket", id("ticket"), "MessageInput", "201", "Interaction", bad, unproc, notF, big, forb)),
		},
		Prefix + "/tickets/{id}/notes": obj{
			"post": op("addTicketNote", "Wrap-up: add an agent's note to a ticket and/or set its category (an agent session or agent-bound token: only a ticket of the customer whose call it is offered, on, wrapping up or answered within the last hour, or of a logged call it handled)", id("ticket"), "NoteInput", "201", "NoteResult", bad, unproc, notF, big, forb),
		},
		Prefix + "/interactions": obj{
			"get": op("listInteractions", "List interactions, newest first, or (updated_since, created_since) in commit order", withSync(query("customer_id", "customer id", obj{"type": "integer"}),
				query("ticket_id", "ticket id", obj{"type": "integer"}), query("channel", "voice, email, chat, sms or social", str())), "", "200", "InteractionList", bad, unproc),
			"post": withETag(op("createInteraction", "Record an interaction", nil, "InteractionInput", "201", "Interaction", bad, unproc, big, forb)),
		},
		Prefix + "/interactions/{id}": obj{
			"get": withETag(op("getInteraction", "Get an interaction", id("interaction"), "", "200", "Interaction", notF)),
		},
		Prefix + "/callbacks": obj{
			"get": op("listCallbacks", "List callbacks, newest first", withPage(query("queue", "queue name", str()),
				query("state", "open (waiting, dialling or connected), waiting, dialling, connected, completed, failed, expired or cancelled", str()),
				query("customer_id", "customer id", obj{"type": "integer"}), query("ticket_id", "ticket id", obj{"type": "integer"}),
				query("number", "the number called back, any format the normaliser accepts", str())), "", "200", "CallbackList", bad, unproc, 503),
			"post": withETag(op("requestCallback", "Ask for a callback: the queue's agents call the number back inside its business hours (409 with the existing request when the number already has one open in the queue; 429 past the request bounds)",
				nil, "CallbackInput", "201", "Callback", bad, unproc, conf, big, forb, 503)),
		},
		Prefix + "/callbacks/{id}": obj{
			"get": withETag(op("getCallback", "Get a callback with its calls", id("callback"), "", "200", "Callback", notF, 503)),
			"patch": withETag(op("rescheduleCallback", "Move a waiting callback to another time inside its queue's hours, keeping its place; If-Match: the ETag of a GET (412 when it changed)",
				append(id("callback"), ifMatchParam()), "CallbackPatch", "200", "Callback", bad, unproc, notF, conf, 412, big, forb, 503)),
		},
		Prefix + "/callbacks/{id}/cancel": obj{
			"post": withETag(op("cancelCallback", "Cancel a waiting callback (409 while it is being dialled or in a call); If-Match: the ETag of a GET (412 when it changed)",
				append(id("callback"), ifMatchParam()), "", "200", "Callback", bad, notF, conf, 412, forb, 503)),
		},
		Prefix + "/calls": obj{
			"get": op("listCalls", "Calls in progress", nil, "", "200", "LiveCallList", unav),
		},
		Prefix + "/recordings/{id}": obj{
			"get": recordingOp(),
		},
		Prefix + "/queues": obj{
			"get": op("listQueues", "Queues: live state and stats (last 30m, today)", nil, "", "200", "QueueList", unav),
		},
		Prefix + "/queues/{name}": obj{
			"get": op("getQueue", "One queue: the first callers in service order, live state and stats",
				[]obj{{"name": "name", "in": "path", "required": true, "description": "queue name (config queues:)", "schema": str()}},
				"", "200", "Queue", notF, unav),
		},
		Prefix + "/queues/{name}/members/{agent}": queueMemberPaths(),
		Prefix + "/agents": obj{
			"get": op("listAgents", "Agents: presence and activity", nil, "", "200", "AgentList", unav),
		},
		Prefix + "/agents/{id}": obj{
			"get": op("getAgent", "One agent", agentID(), "", "200", "Agent", notF, unav),
		},
		Prefix + "/agents/{id}/state": obj{
			"post": op("setAgentState", "Change presence: login, logout, pause (with reason), ready; answers the agent after the change",
				agentID(), "AgentStateInput", "200", "Agent", bad, unproc, notF, conf, big, forb, unav),
		},
		Prefix + "/events": obj{
			"get": obj{"operationId": "streamEvents", "summary": "Server-Sent Events: every call, IVR, queue and agent event",
				"parameters": []obj{query("types", "comma-separated type prefixes, e.g. call.,queue.", str())},
				"responses": obj{"200": obj{"description": "text/event-stream; each message has id (seq) and data (Event JSON)",
					"content": obj{"text/event-stream": obj{"schema": ref("Event")}}},
					"401": obj{"$ref": "#/components/responses/Error"}, "503": obj{"$ref": "#/components/responses/Error"}}},
		},
	}
}

// recordingOp is GET /recordings/{id}: audio, not JSON, with range requests.
func recordingOp() obj {
	responses := errs(403, 404, 503)
	audio := obj{"audio/wav": obj{"schema": obj{"type": "string", "format": "binary"}}}
	responses["200"] = obj{"description": "the whole recording (Accept-Ranges: bytes)", "content": audio}
	responses["206"] = obj{"description": "the byte range asked for with Range (Content-Range says which)", "content": audio}
	responses["304"] = obj{"description": "not modified (If-None-Match with the ETag)"}
	responses["416"] = obj{"description": "the range asked for is not in the file (Content-Range: bytes */size)",
		"content": obj{"text/plain": obj{"schema": str()}}}
	return obj{"operationId": "getRecording",
		"summary": "A recording's audio (a voicemail message): read and write tokens; an agent's session or token only for a call it answered (else 403)",
		"parameters": []obj{
			{"name": "id", "in": "path", "required": true, "description": "recording id (VoiceDetails.recordings[].id)", "schema": str()},
			{"name": "Range", "in": "header", "description": "bytes=first-last, to seek (RFC 9110 §14.2)", "schema": str()},
			{"name": "If-Range", "in": "header", "description": "the ETag: the range only if the recording is the same", "schema": str()},
		},
		"responses": responses}
}
