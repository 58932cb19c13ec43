package api

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/hotline-dev/hotline/callback"
	"github.com/hotline-dev/hotline/queue"
	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/webhook"
)

// schemaTypes pairs each component schema with the Go type the handlers
// encode (responses) or decode (request bodies) for it. The schemas are
// written by hand (they carry descriptions, enums and limits; docs/api.md
// "OpenAPI" says why no generator), so this is what keeps them one source
// with the code: a JSON field added to one of these types fails
// TestOpenAPISchemasMatchGoTypes until the schema has it.
var schemaTypes = map[string]reflect.Type{
	// responses
	"Customer":        reflect.TypeFor[store.Customer](),
	"Ticket":          reflect.TypeFor[store.Ticket](),
	"Interaction":     reflect.TypeFor[store.Interaction](),
	"VoiceDetails":    reflect.TypeFor[store.VoiceDetails](),
	"CallLeg":         reflect.TypeFor[store.CallLeg](),
	"IVRStep":         reflect.TypeFor[store.IVRStep](),
	"Recording":       reflect.TypeFor[store.Recording](),
	"Callback":        reflect.TypeFor[callback.Callback](),
	"CallbackAttempt": reflect.TypeFor[store.CallbackAttempt](),
	"Agent":           reflect.TypeFor[queue.AgentInfo](),
	"QueueAlert":      reflect.TypeFor[queue.Alert](),
	"QueueMember":     reflect.TypeFor[memberOut](),
	"NoteResult":      reflect.TypeFor[noteOut](),
	"Session":         reflect.TypeFor[sessionOut](),
	"Webhook":         reflect.TypeFor[webhook.Subscription](),
	"WebhookCreated":  reflect.TypeFor[webhookCreated](),
	"WebhookDelivery": reflect.TypeFor[deliveryView](),
	"Error":           reflect.TypeFor[errorBody](),
	"Health":          reflect.TypeFor[readyBody](),
	"HealthCheck":     reflect.TypeFor[checkResult](),
	"LiveCall":        reflect.TypeFor[LiveCall](),
	// request bodies
	"CustomerInput":    reflect.TypeFor[customerInput](),
	"CustomerPatch":    reflect.TypeFor[customerPatch](),
	"TicketInput":      reflect.TypeFor[ticketInput](),
	"TicketPatch":      reflect.TypeFor[ticketPatch](),
	"InteractionInput": reflect.TypeFor[interactionInput](),
	"MessageInput":     reflect.TypeFor[messageInput](),
	"NoteInput":        reflect.TypeFor[noteInput](),
	"CallbackInput":    reflect.TypeFor[callbackInput](),
	"CallbackPatch":    reflect.TypeFor[callbackPatch](),
	"AgentStateInput":  reflect.TypeFor[agentStateInput](),
	"QueueMemberInput": reflect.TypeFor[memberInput](),
	"SessionInput":     reflect.TypeFor[signInInput](),
	"WebhookInput":     reflect.TypeFor[webhookInput](),
}

// jsonFields are the JSON object keys encoding/json gives typ: tagged or
// exported fields, embedded structs without a tag flattened.
func jsonFields(typ reflect.Type) map[string]string {
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	out := map[string]string{}
	for f := range typ.Fields() {
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" {
			t := f.Type
			for t.Kind() == reflect.Pointer {
				t = t.Elem()
			}
			if t.Kind() == reflect.Struct {
				for k, v := range jsonFields(t) {
					if _, ok := out[k]; !ok { // the outer field wins, as in encoding/json
						out[k] = v
					}
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Name
	}
	return out
}

// TestOpenAPISchemasMatchGoTypes: every JSON field of the types the
// handlers encode and decode is described, and nothing else (the schemas
// forbid additional properties, so a generated client would reject or drop
// an undescribed field).
func TestOpenAPISchemasMatchGoTypes(t *testing.T) {
	spec, err := buildSpec()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(spec, &doc); err != nil {
		t.Fatal(err)
	}
	for name, typ := range schemaTypes {
		schema, ok := doc.Components.Schemas[name]
		if !ok {
			t.Errorf("no schema %s (for %s)", name, typ)
			continue
		}
		fields := jsonFields(typ)
		if len(fields) == 0 {
			t.Errorf("%s has no JSON fields: the comparison would pass vacuously", typ)
		}
		for tag, f := range fields {
			if _, ok := schema.Properties[tag]; !ok {
				t.Errorf("%s.%s (%s) is not in the OpenAPI schema", name, tag, f)
			}
		}
		for p := range schema.Properties {
			if _, ok := fields[p]; !ok {
				t.Errorf("schema %s describes %q, which %s does not have", name, p, typ)
			}
		}
	}
}

func TestJSONFieldsFlattensEmbedded(t *testing.T) {
	type inner struct {
		A string `json:"a"`
		B string `json:"b"`
	}
	type outer struct {
		inner
		B      int    `json:"b"`
		Hidden string `json:"-"`
		C      string `json:"c,omitempty"`
		lower  string //nolint:unused // not encoded
	}
	got := jsonFields(reflect.TypeFor[outer]())
	want := map[string]string{"a": "A", "b": "B", "c": "C"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("jsonFields = %v, want %v", got, want)
	}
	_ = outer{}.lower
}

// TestOpenAPIEveryResponseHasSchema: every operation's every answer with a
// body, and every request body, names its schema in each media type; only
// 204, redirects and 304 have no body.
func TestOpenAPIEveryResponseHasSchema(t *testing.T) {
	spec, err := buildSpec()
	if err != nil {
		t.Fatal(err)
	}
	type media map[string]struct {
		Schema json.RawMessage `json:"schema"`
	}
	type response struct {
		Ref     string `json:"$ref"`
		Content media  `json:"content"`
	}
	var doc struct {
		Paths map[string]map[string]struct {
			RequestBody *struct {
				Content media `json:"content"`
			} `json:"requestBody"`
			Responses map[string]response `json:"responses"`
		} `json:"paths"`
		Components struct {
			Responses map[string]response `json:"responses"`
		} `json:"components"`
	}
	if err := json.Unmarshal(spec, &doc); err != nil {
		t.Fatal(err)
	}
	checkContent := func(where string, c media) {
		if len(c) == 0 {
			t.Errorf("%s: no content", where)
		}
		for mt, m := range c {
			if len(m.Schema) == 0 || string(m.Schema) == "{}" {
				t.Errorf("%s %s: no schema", where, mt)
			}
		}
	}
	n := 0
	for path, item := range doc.Paths {
		for method, o := range item {
			where := strings.ToUpper(method) + " " + path
			if len(o.Responses) == 0 {
				t.Errorf("%s: no responses", where)
			}
			if o.RequestBody != nil {
				checkContent(where+" request body", o.RequestBody.Content)
			}
			for code, r := range o.Responses {
				n++
				if r.Ref != "" {
					name := strings.TrimPrefix(r.Ref, "#/components/responses/")
					cr, ok := doc.Components.Responses[name]
					if !ok {
						t.Errorf("%s %s: dangling %s", where, code, r.Ref)
						continue
					}
					r = cr
				}
				if code == "204" || code == "303" || code == "304" { // RFC 9110 §15.4.5: a 304 has no content
					if len(r.Content) > 0 {
						t.Errorf("%s %s: a body on a bodiless answer", where, code)
					}
					continue
				}
				checkContent(where+" "+code, r.Content)
			}
		}
	}
	if n < 100 {
		t.Fatalf("only %d responses checked", n)
	}
}
