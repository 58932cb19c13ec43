package bridge

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hotline-dev/hotline/sip"
)

func TestClassify(t *testing.T) {
	status := func(code int) error {
		return fmt.Errorf("dial: %w", &sip.StatusError{Code: code, Reason: "x"})
	}
	tests := []struct {
		err  error
		want Failure
	}{
		{status(486), Busy},
		{status(600), Busy},
		{status(603), Declined},
		{status(408), NoAnswer},
		{status(480), NoAnswer},
		{status(487), NoAnswer},
		{status(404), Failed},
		{status(503), Failed},
		{fmt.Errorf("%w: %w", sip.ErrCanceled, context.DeadlineExceeded), NoAnswer}, // rang until the deadline
		{fmt.Errorf("%w: %w", sip.ErrCanceled, context.Canceled), Failed},
		{errors.New("sip: dial sip:1@x: no route"), Failed},
	}
	for _, tt := range tests {
		if got := Classify(tt.err); got != tt.want {
			t.Errorf("Classify(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

// blockingDialer answers (or fails) when the test says so.
type blockingDialer struct {
	dialled chan sip.DialOptions
	answer  chan error
}

func (d blockingDialer) Dial(ctx context.Context, uri string, o sip.DialOptions) (Call, error) {
	d.dialled <- o
	select {
	case err := <-d.answer:
		if err != nil {
			return nil, err
		}
		return newFakeCall(), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// TestDialWhileHolds: hold runs while the far end rings and has stopped
// when DialWhile returns, on an answer, a failure and a ring timeout.
func TestDialWhileHolds(t *testing.T) {
	for _, tc := range []struct {
		name    string
		answer  error
		timeout bool
	}{
		{"answered", nil, false},
		{"busy", &sip.StatusError{Code: 486, Reason: "Busy Here"}, false},
		{"ring timeout", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				d := blockingDialer{dialled: make(chan sip.DialOptions, 1), answer: make(chan error, 1)}
				holding, held := make(chan struct{}), make(chan struct{})
				ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
				defer cancel()
				type res struct {
					c   Call
					err error
				}
				out := make(chan res, 1)
				go func() {
					c, err := DialWhile(ctx, d, "sip:2001@pbx.example", sip.DialOptions{DisplayName: "Queue q"}, func(ctx context.Context) {
						close(holding)
						<-ctx.Done()
						close(held)
					})
					out <- res{c, err}
				}()
				if o := <-d.dialled; o.DisplayName != "Queue q" {
					t.Fatalf("dialled with %+v", o)
				}
				<-holding
				time.Sleep(10 * time.Second) // it rings (fake time)
				select {
				case <-held:
					t.Fatal("hold stopped while the far end rang")
				default:
				}
				if !tc.timeout {
					d.answer <- tc.answer
				}
				r := <-out
				select {
				case <-held:
				default:
					t.Fatal("DialWhile returned before hold stopped")
				}
				switch {
				case tc.timeout:
					if !errors.Is(r.err, context.DeadlineExceeded) || Classify(r.err) != NoAnswer {
						t.Fatalf("ring timeout: %v, %v", r.c, r.err)
					}
				case tc.answer != nil:
					if r.c != nil || Classify(r.err) != Busy {
						t.Fatalf("busy: %v, %v", r.c, r.err)
					}
				default:
					if r.c == nil || r.err != nil {
						t.Fatalf("answered: %v, %v", r.c, r.err)
					}
				}
			})
		})
	}
}

// slowHangup is a Call whose BYE takes time to be answered.
type slowHangup struct {
	*fakeCall
	took time.Duration
	err  error
}

func (c *slowHangup) Hangup(ctx context.Context) error {
	select {
	case <-time.After(c.took):
		return c.fakeCall.Hangup(ctx)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TestHangupOutlivesItsContext: the owner's call has ended (ctx done), but
// the far end still gets its BYE, within the grace period only.
func TestHangupOutlivesItsContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		c := &slowHangup{fakeCall: newFakeCall(), took: 2 * time.Second}
		if err := Hangup(ctx, c); err != nil || !c.wasHungUp() {
			t.Fatalf("Hangup after the owner's end: %v, hung up %v", err, c.wasHungUp())
		}
		never := &slowHangup{fakeCall: newFakeCall(), took: time.Hour}
		start := time.Now()
		if err := Hangup(ctx, never); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != hangupGrace {
			t.Fatalf("Hangup of an unanswered BYE: %v after %v, want the deadline after %v", err, time.Since(start), hangupGrace)
		}
	})
}
