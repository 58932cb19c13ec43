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
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(s.spec, &doc); err != nil {
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
	err = chi.Walk(s.router, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
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

// buildSpec renders the description once at start-up, with the mounted
// routes' path items merged in.
func buildSpec(mounts []Mount) ([]byte, error) {
	paths := corePaths()
	for _, m := range mounts {
		for p, item := range m.Paths {
			paths[p] = item
		}
	}
	doc := obj{
		"openapi": "3.0.3",
		"info": obj{
			"title":       "Hotline API",
			"version":     "1",
			"description": "Ticket history (customers, tickets, interactions) shared by the phone, email and chat channels; live calls and events. Errors are {\"error\": {\"code\", \"message\", \"field\"}}. See docs/api.md.",
		},
		"servers":    []obj{{"url": "/"}},
		"security":   []obj{{"bearer": []string{}}},
		"paths":      paths,
		"components": components(),
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil { // a Mount's path item that JSON cannot encode
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

func pageParamsSpec() []obj {
	return []obj{
		query("limit", fmt.Sprintf("page size, 1..%d (default %d)", MaxPageLimit, DefaultPageLimit), obj{"type": "integer"}),
		query("cursor", "next_cursor from the previous page", obj{"type": "string"}),
	}
}

func withPage(ps ...obj) []obj { return append(ps, pageParamsSpec()...) }

func str() obj { return obj{"type": "string"} }

func corePaths() obj {
	const bad, unproc, notF, conf, big, forb = 400, 422, 404, 409, 413, 403
	id := func(w string) []obj { return []obj{idPath(w)} }
	return obj{
		"/healthz": obj{"get": obj{"operationId": "health", "summary": "Liveness and database check (no token)", "security": []obj{},
			"responses": obj{"200": obj{"description": "healthy"}, "503": obj{"$ref": "#/components/responses/Error"}}}},
		Prefix + "/openapi.json": obj{"get": obj{"operationId": "openapi", "summary": "This description (no token)", "security": []obj{},
			"responses": obj{"200": obj{"description": "OpenAPI 3 document", "content": obj{"application/json": obj{}}}}}},
		Prefix + "/customers": obj{
			"get": op("listCustomers", "List customers", withPage(query("phone", "phone, any format the normaliser accepts", str()),
				query("email", "email", str()), query("tier", "vip, standard or new", str())), "", "200", "CustomerList", unproc),
			"post": op("createCustomer", "Create a customer", nil, "CustomerInput", "201", "Customer", bad, unproc, conf, big, forb),
		},
		Prefix + "/customers/lookup": obj{
			"get": op("lookupCustomer", "Find one customer by phone or email", []obj{query("phone", "phone number (national numbers use the default country)", str()),
				query("email", "email address", str())}, "", "200", "Customer", unproc, notF),
		},
		Prefix + "/customers/{id}": obj{
			"get":   op("getCustomer", "Get a customer", id("customer"), "", "200", "Customer", notF),
			"patch": op("updateCustomer", "Change some fields of a customer", id("customer"), "CustomerPatch", "200", "Customer", bad, unproc, notF, conf, big, forb),
		},
		Prefix + "/customers/{id}/timeline": obj{
			"get": op("customerTimeline", "Every interaction of a customer on every channel, newest first", withPage(idPath("customer")), "", "200", "InteractionList", unproc, notF),
		},
		Prefix + "/tickets": obj{
			"get": op("listTickets", "List tickets", withPage(query("customer_id", "customer id", obj{"type": "integer"}),
				query("status", "open, pending, solved or closed", str()), query("category", "category", str())), "", "200", "TicketList", unproc),
			"post": op("createTicket", "Open a ticket", nil, "TicketInput", "201", "Ticket", bad, unproc, big, forb),
		},
		Prefix + "/tickets/{id}": obj{
			"get":   op("getTicket", "Get a ticket", id("ticket"), "", "200", "Ticket", notF),
			"patch": op("updateTicket", "Change some fields of a ticket", id("ticket"), "TicketPatch", "200", "Ticket", bad, unproc, notF, big, forb),
		},
		Prefix + "/tickets/{id}/interactions": obj{
			"post": op("addTicketMessage", "Add an interaction (an email, a chat) to a ticket", id("ticket"), "MessageInput", "201", "Interaction", bad, unproc, notF, big, forb),
		},
		Prefix + "/interactions": obj{
			"get": op("listInteractions", "List interactions, newest first", withPage(query("customer_id", "customer id", obj{"type": "integer"}),
				query("ticket_id", "ticket id", obj{"type": "integer"}), query("channel", "voice, email, chat, sms or social", str())), "", "200", "InteractionList", unproc),
			"post": op("createInteraction", "Record an interaction", nil, "InteractionInput", "201", "Interaction", bad, unproc, big, forb),
		},
		Prefix + "/interactions/{id}": obj{
			"get": op("getInteraction", "Get an interaction", id("interaction"), "", "200", "Interaction", notF),
		},
		Prefix + "/calls": obj{
			"get": obj{"operationId": "listCalls", "summary": "Calls in progress", "responses": obj{
				"200": obj{"description": "calls in progress", "content": obj{"application/json": obj{"schema": obj{"type": "object",
					"properties": obj{"items": obj{"type": "array", "items": obj{"type": "object"}}}}}}},
				"401": obj{"$ref": "#/components/responses/Error"}, "503": obj{"$ref": "#/components/responses/Error"}}},
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
