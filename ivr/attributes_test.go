package ivr

import (
	"testing"
)

// attrCall is a fake call that knows its customer (ivr.Attributes).
type attrCall struct {
	*fakeCall
	attrs map[string]string
}

func (c attrCall) Attributes() map[string]string { return c.attrs }

const tierFlow = `
flow: tiers
numbers: ["1"]
languages: [en]
nodes:
  t:
    type: branch
    cases:
      - var: tier
        equals: vip
        next: vip
    else: other
  vip:
    type: hangup
  other:
    type: hangup
`

func TestAttributesSeedVariables(t *testing.T) {
	for _, tc := range []struct {
		attrs      map[string]string
		wantPath   string
		wantCaller string
	}{
		{map[string]string{"tier": "vip", "customer_id": "42"}, "t vip", "+84281234567"},
		{map[string]string{"tier": "standard"}, "t other", "+84281234567"},
		{map[string]string{"tier": "vip", "caller": "+1999"}, "t vip", "+84281234567"}, // never replaces built-ins
		{nil, "t other", "+84281234567"},
	} {
		e, err := NewEngine(Config{Prompts: lib{}})
		if err != nil {
			t.Fatal(err)
		}
		fc := newFakeCall("+84281234567")
		fc.instant = true
		res := e.Run(t.Context(), attrCall{fc, tc.attrs}, mustFlow(t, tierFlow))
		if got := pathString(res); got != tc.wantPath {
			t.Errorf("attrs %v: path %q, want %q", tc.attrs, got, tc.wantPath)
		}
		if res.Vars["caller"] != tc.wantCaller {
			t.Errorf("attrs %v: caller = %q", tc.attrs, res.Vars["caller"])
		}
		if id := tc.attrs["customer_id"]; id != "" && res.Vars["customer_id"] != id {
			t.Errorf("customer_id = %q, want %q", res.Vars["customer_id"], id)
		}
	}
}
