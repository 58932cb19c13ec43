package registrar

import (
	"sync"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/store"
)

type memBindings struct {
	mu sync.Mutex
	by map[string]store.UserBindings
}

func (m *memBindings) SaveBindings(b store.UserBindings) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.by[b.Username] = b
}

func (m *memBindings) all() []store.UserBindings {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []store.UserBindings
	for _, b := range m.by {
		out = append(out, b)
	}
	return out
}

func TestBindingsSurviveARestart(t *testing.T) {
	st := &memBindings{by: map[string]store.UserBindings{}}
	g := newRig(t, func(c *Config) { c.State = st })
	if res := g.do(reg{contacts: []string{"<sip:1001@10.0.0.1:5060>"}, expires: "600"}); res.StatusCode != 200 {
		t.Fatalf("REGISTER: %d", res.StatusCode)
	}
	if res := g.do(reg{user: "1002", contacts: []string{"<sip:1002@10.0.0.2:5060>"}, expires: "600", callID: "r2"}); res.StatusCode != 200 {
		t.Fatalf("REGISTER 1002: %d", res.StatusCode)
	}
	if res := g.do(reg{user: "1002", contacts: []string{"<sip:1002@10.0.0.2:5060>"}, expires: "0", callID: "r2"}); res.StatusCode != 200 {
		t.Fatalf("unREGISTER 1002: %d", res.StatusCode)
	}
	want := g.r.Lookup("1001")
	if len(want) != 1 {
		t.Fatalf("bindings before restart: %v", want)
	}

	// The restart, five minutes later: the binding is still live, 1002's
	// removal stayed removed.
	g.clk.Advance(5 * time.Minute)
	r2 := New(Config{Realm: "hotline", Agents: testAgents, Now: g.clk.Now})
	r2.Restore(st.all())
	got := r2.Lookup("1001")
	if len(got) != 1 || got[0].URI != want[0].URI || !got[0].Expires.Equal(want[0].Expires) || got[0].Source != want[0].Source {
		t.Fatalf("after restart 1001 = %+v, want %+v", got, want)
	}
	if got := r2.Lookup("1002"); len(got) != 0 {
		t.Fatalf("an unregistered contact came back: %v", got)
	}
	// A binding that expired meanwhile does not come back.
	g.clk.Advance(10 * time.Minute)
	r3 := New(Config{Realm: "hotline", Agents: testAgents, Now: g.clk.Now})
	r3.Restore(st.all())
	if got := r3.Lookup("1001"); len(got) != 0 {
		t.Fatalf("an expired binding came back: %v", got)
	}
}
