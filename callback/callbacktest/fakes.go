// Package callbacktest has fakes of the callback scheduler's two seams, the
// ACD and the Dialer, for tests of the scheduler and of what drives it.
package callbacktest

import (
	"context"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hotline-dev/hotline/callback"
	"github.com/hotline-dev/hotline/store"
)

// ACD is a fake queue: it keeps the line the scheduler offers (in place
// order) and dials its head on demand.
type ACD struct {
	mu    sync.Mutex
	lines map[string][]callback.Waiting
	in    map[int64]bool // offered and not withdrawn or dialled
	// Offers and Withdraws count the notices received.
	Offers, Withdraws int
	// OnOffer, when set, runs after each Offer (outside the fake's lock).
	OnOffer func(w callback.Waiting)
}

// NewACD returns an empty fake.
func NewACD() *ACD { return &ACD{lines: map[string][]callback.Waiting{}, in: map[int64]bool{}} }

func before(a, b callback.Waiting) int {
	if c := a.Place.Rank.Compare(b.Place.Rank); c != 0 {
		return c
	}
	if c := a.Place.JoinedAt.Compare(b.Place.JoinedAt); c != 0 {
		return c
	}
	switch {
	case a.ID < b.ID:
		return -1
	case a.ID > b.ID:
		return 1
	}
	return 0
}

// Offer implements callback.ACD.
func (a *ACD) Offer(w callback.Waiting) {
	a.mu.Lock()
	l := a.lines[w.Queue]
	if a.in[w.ID] {
		a.mu.Unlock()
		panic("callbacktest: callback offered twice without a withdraw or dial")
	}
	a.in[w.ID] = true
	i, _ := slices.BinarySearchFunc(l, w, before)
	a.lines[w.Queue] = slices.Insert(l, i, w)
	a.Offers++
	hook := a.OnOffer
	a.mu.Unlock()
	if hook != nil {
		hook(w)
	}
}

// Withdraw implements callback.ACD.
func (a *ACD) Withdraw(queue string, id int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.lines[queue] = slices.DeleteFunc(a.lines[queue], func(x callback.Waiting) bool { return x.ID == id })
	delete(a.in, id)
	a.Withdraws++
}

// Position implements callback.ACD: the place among the callbacks offered.
func (a *ACD) Position(queue string, id int64) (int, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	i := slices.IndexFunc(a.lines[queue], func(x callback.Waiting) bool { return x.ID == id })
	return i + 1, i >= 0
}

// Line is the fake's view of queue's line, in order.
func (a *ACD) Line(queue string) []callback.Waiting {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.lines[queue])
}

// Queues lists the queues with a line.
func (a *ACD) Queues() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for q, l := range a.lines {
		if len(l) > 0 {
			out = append(out, q)
		}
	}
	slices.Sort(out)
	return out
}

// DialHead asks s to dial the head of queue's line with free agents
// predicted free; on success the head leaves the fake's line (as it has
// the scheduler's). It returns the callback dialled (ok false for an
// empty line) and Dial's error.
func (a *ACD) DialHead(ctx context.Context, s *callback.Scheduler, queue string, free int) (callback.Waiting, bool, error) {
	a.mu.Lock()
	l := a.lines[queue]
	if len(l) == 0 {
		a.mu.Unlock()
		return callback.Waiting{}, false, nil
	}
	head := l[0]
	a.mu.Unlock()
	err := s.Dial(ctx, head.ID, callback.Go{FreeAgents: free})
	if err == nil {
		a.mu.Lock()
		a.lines[queue] = slices.DeleteFunc(a.lines[queue], func(x callback.Waiting) bool { return x.ID == head.ID })
		delete(a.in, head.ID)
		a.mu.Unlock()
	}
	return head, true, err
}

// Call is one call the fake Dialer is placing: the test ends it.
type Call struct {
	Req      callback.DialRequest
	At       time.Time
	progress callback.Progress
	ctx      context.Context
	end      chan callback.Result
}

// Confirm reports the confirm key pressed.
func (c *Call) Confirm() { c.progress.Confirmed(time.Now()) }

// End ends the call with r. It does not block.
func (c *Call) End(r callback.Result) {
	select {
	case c.end <- r:
	default:
	}
}

// Done is closed when the scheduler hung the call up (shutdown, cancel).
func (c *Call) Done() <-chan struct{} { return c.ctx.Done() }

// Dialer is a fake dialler: every Dial shows up on Calls and lasts until
// the test Ends it or the scheduler cancels it (then it returns Result
// interrupted... as a real one returns what it knew: here no_answer).
type Dialer struct {
	// Calls receives each call as it starts (buffered; size it for the test).
	Calls chan *Call
	mu    sync.Mutex
	all   []callback.DialRequest
}

// NewDialer returns a fake whose Calls holds up to buffer calls.
func NewDialer(buffer int) *Dialer { return &Dialer{Calls: make(chan *Call, buffer)} }

// Dial implements callback.Dialer.
func (d *Dialer) Dial(ctx context.Context, r callback.DialRequest, p callback.Progress) callback.Result {
	c := &Call{Req: r, At: time.Now(), progress: p, ctx: ctx, end: make(chan callback.Result, 1)}
	d.mu.Lock()
	d.all = append(d.all, r)
	d.mu.Unlock()
	d.Calls <- c
	select {
	case res := <-c.end:
		return res
	case <-ctx.Done():
		return callback.Result{Result: store.AttemptNoAnswer, Reason: "hung up: " + context.Cause(ctx).Error()}
	}
}

// Dialled lists every DialRequest so far, in order.
func (d *Dialer) Dialled() []callback.DialRequest {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.all)
}

// Next is the call the dialler got once every goroutine of the synctest
// bubble has settled; none fails the test.
func (d *Dialer) Next(t testing.TB) *Call {
	t.Helper()
	synctest.Wait()
	select {
	case c := <-d.Calls:
		return c
	default:
		t.Fatal("nothing was dialled")
		return nil
	}
}

// None fails the test if the dialler got a call once the bubble settled.
func (d *Dialer) None(t testing.TB) {
	t.Helper()
	synctest.Wait()
	select {
	case c := <-d.Calls:
		t.Fatalf("unexpected call to %s (callback %d)", c.Req.Number, c.Req.CallbackID)
	default:
	}
}
