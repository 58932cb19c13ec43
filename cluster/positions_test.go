package cluster

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/queue"
)

// The hand encoder of the view's positions decodes to the same map as
// encoding/json's, call IDs that need escaping included, and it knows
// every field of queue.Position (a new one would be lost otherwise).
func TestPositionsEncodeAsJSON(t *testing.T) {
	if n := reflect.TypeFor[queue.Position]().NumField(); n != 3 {
		t.Fatalf("queue.Position has %d fields; positions.MarshalJSON writes 3", n)
	}
	in := positions{}
	ids := []string{"a84b2c@10.0.0.1", `q"uote`, `back\slash`, "<tag>&", "tab\tnl\n", "é-ünïcode", ""}
	for i := range 200 {
		ids = append(ids, fmt.Sprintf("call-%d@host;tag=%x", i, i*7919))
	}
	for i, id := range ids {
		in[id] = queue.Position{Position: i + 1, EWT: time.Duration(i) * 1234567 * time.Microsecond, Known: i%3 == 0}
	}
	for _, ps := range []positions{in, {}} {
		b, err := viewBody{Positions: ps, Changes: 3}.encode()
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(map[string]queue.Position(ps))
		var got, ref map[string]queue.Position
		var body struct {
			Positions json.RawMessage `json:"positions"`
			Changes   int64           `json:"changes"`
		}
		if err := json.Unmarshal(b, &body); err != nil || body.Changes != 3 {
			t.Fatalf("view %s: %v", b, err)
		}
		if len(ps) == 0 {
			body.Positions = []byte(`{}`) // omitted
		}
		var direct viewBody // as View reads it
		if err := json.Unmarshal(b, &direct); err != nil || len(direct.Positions) != len(ps) {
			t.Fatalf("view %s as viewBody: %d positions, %v", b, len(direct.Positions), err)
		}
		if mj, err := json.Marshal(ps); err != nil || !json.Valid(mj) {
			t.Fatalf("MarshalJSON: %s, %v", mj, err)
		}
		if err := json.Unmarshal(body.Positions, &got); err != nil {
			t.Fatalf("positions %s: %v", body.Positions, err)
		}
		_ = json.Unmarshal(want, &ref)
		if !reflect.DeepEqual(got, ref) || len(got) != len(ps) {
			t.Fatalf("decoded %v; want %v", got, ref)
		}
	}
}
