package e2e

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/app"
	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/internal/siptest"
	"github.com/hotline-dev/hotline/sip"
	"github.com/hotline-dev/hotline/store"
)

// An unauthenticated caller makes up caller IDs to fill the ticket history
// with customers (issue 8 point 10). With customers.new_per_source 2 and
// new_per_day 3, real calls from 127.0.0.x: past a bound the call is still
// answered and recorded, on the shared "unverified" caller, with the given
// caller ID in the summary; a known customer calling again is never
// affected; another source has its own bound until the day's is reached.
func TestNewCustomersBoundedPerSourceAndDay(t *testing.T) {
	leakCheck(t)
	h := start(t, func(c *config.Config) { c.Customers = config.Customers{NewPerSource: 2, NewPerDay: 3} })
	calls := []struct {
		source, from string
		unverified   bool
	}{
		{"127.0.0.1", "0912000101", false},
		{"127.0.0.1", "0912000102", false},
		{"127.0.0.1", "0912000103", true},  // the source's bound
		{"127.0.0.1", "0912000101", false}, // a known customer
		{"127.0.0.2", "0912000104", false}, // another source
		{"127.0.0.3", "0912000105", true},  // the day's bound
		{"127.0.0.1", "*4711", true},       // not a number: the same bounds
	}
	customerOf := map[string]int64{}
	for i, c := range calls {
		it := callAndHangUp(t, h, c.source, c.from)
		got := it.Voice.CallerNumber == app.UnverifiedCaller
		if got != c.unverified {
			t.Fatalf("call %d from %s as %s: filed under %q (%s), want unverified=%v", i, c.source, c.from, it.Voice.CallerNumber, it.Summary, c.unverified)
		}
		if !c.unverified {
			if id, seen := customerOf[c.from]; seen && id != it.CustomerID {
				t.Fatalf("call %d: %s filed under customer %d, earlier %d", i, c.from, it.CustomerID, id)
			}
			customerOf[c.from] = it.CustomerID
			continue
		}
		if !strings.Contains(it.Summary, c.from) || !strings.Contains(it.Summary, c.source) {
			t.Errorf("call %d: summary %q lacks the caller ID and source", i, it.Summary)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		st, err := h.app.Store(ctx)
		must(t, err)
		tk, err := st.GetTicket(ctx, it.TicketID)
		cancel()
		must(t, err)
		if !slices.Contains(tk.Tags, app.TagUnverified) {
			t.Errorf("call %d: ticket tags %v lack %s", i, tk.Tags, app.TagUnverified)
		}
		if id, seen := customerOf[app.UnverifiedCaller]; seen && id != it.CustomerID {
			t.Errorf("unverified calls on customers %d and %d, want one shared", id, it.CustomerID)
		}
		customerOf[app.UnverifiedCaller] = it.CustomerID
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := h.app.Store(ctx)
	must(t, err)
	cs, _, err := st.ListCustomers(ctx, store.CustomerFilter{}, store.Page{Limit: 100})
	must(t, err)
	if len(cs) != 4 { // 101, 102, 104 and the shared unverified caller
		t.Fatalf("%d customers, want 4: %+v", len(cs), cs)
	}
	h.shutdown()
}

// callAndHangUp places a call from source with caller ID from to the e2e
// flow, hangs up once the flow runs and returns its recorded interaction.
func callAndHangUp(t *testing.T, h *harness, source, from string) store.Interaction {
	t.Helper()
	c := siptest.Client(t, sip.ClientConfig{Addr: source + ":0"})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	call, err := c.Dial(ctx, "sip:200@"+h.sipAddr("udp"), sip.DialOptions{From: from})
	if err != nil {
		t.Fatalf("dial from %s as %s: %v", source, from, err)
	}
	h.node(call.ID(), "welcome") // the flow runs: the customer lookup is done
	must(t, call.Hangup(ctx))
	return h.interaction(call.ID())
}
