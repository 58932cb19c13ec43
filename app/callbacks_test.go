package app

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/callback"
	"github.com/hotline-dev/hotline/ivr"
	"github.com/hotline-dev/hotline/store"
)

type fakeRequester struct {
	got       []callback.Request
	cb        callback.Callback
	err       error
	first     time.Time // FirstCall's answer; zero: now
	firstAt   []time.Time
	cancelled []int64
	cancelErr error
}

func (f *fakeRequester) Request(_ context.Context, r callback.Request) (callback.Callback, error) {
	f.got = append(f.got, r)
	return f.cb, f.err
}

func (f *fakeRequester) FirstCall(_ string, at time.Time) (time.Time, bool, error) {
	f.firstAt = append(f.firstAt, at)
	if f.first.IsZero() {
		return time.Now(), true, nil
	}
	return f.first, true, nil
}

func (f *fakeRequester) Cancel(_ context.Context, id, version int64, by string) (callback.Callback, error) {
	if by == "" || version != 3 {
		return callback.Callback{}, fmt.Errorf("cancel %d v%d by %q", id, version, by)
	}
	f.cancelled = append(f.cancelled, id)
	return callback.Callback{}, f.cancelErr
}

func TestIVRCallbacksRequest(t *testing.T) {
	joined := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	f := &fakeRequester{cb: callback.Callback{Callback: store.Callback{ID: 7, Version: 2}, Position: 3}}
	c := ivrCallbacks{s: f}
	rc, err := c.ScheduleCallback(context.Background(), ivr.CallbackRequest{CallID: "c1", Number: "+84912345678", Queue: "technical",
		JoinedAt: joined, Tier: store.TierVIP, Language: "vi", Category: "technical"})
	if err != nil {
		t.Fatal(err)
	}
	if rc.ID != 7 || rc.Version != 2 || rc.Position != 3 || !rc.OpenNow || rc.Existing || rc.FirstCall.IsZero() {
		t.Errorf("receipt %+v", rc)
	}
	at := time.Now().Add(24 * time.Hour)
	f.first = at
	rc, err = c.ScheduleCallback(context.Background(), ivr.CallbackRequest{CallID: "c2", Number: "+84912345678", Queue: "operator", At: at})
	if err != nil {
		t.Fatal(err)
	}
	if rc.OpenNow || !rc.FirstCall.Equal(at) || !f.firstAt[1].Equal(at) {
		t.Errorf("chosen time receipt %+v (FirstCall asked for %v)", rc, f.firstAt)
	}
	if len(f.got) != 2 {
		t.Fatalf("requests %+v", f.got)
	}
	if r := f.got[0]; r.Source != store.SourceVirtualHold || !r.JoinedAt.Equal(joined) || r.Tier != store.TierVIP || r.CallID != "c1" ||
		r.Number != "+84912345678" || r.Queue != "technical" || r.Language != "vi" || !r.At.IsZero() {
		t.Errorf("virtual hold request %+v", r)
	}
	if r := f.got[1]; r.Source != store.SourceIVR || !r.JoinedAt.IsZero() || r.Queue != "operator" || !r.At.Equal(at) {
		t.Errorf("IVR request %+v", r)
	}
}

func TestIVRCallbacksDuplicateIsAReceipt(t *testing.T) {
	later := time.Now().Add(3 * time.Hour)
	f := &fakeRequester{first: later, err: &callback.DuplicateError{Existing: store.Callback{ID: 4, Version: 3, NotBefore: later}, Position: 0}}
	rc, err := ivrCallbacks{s: f}.ScheduleCallback(context.Background(), ivr.CallbackRequest{Number: "+84912345678", Queue: "technical"})
	if err != nil {
		t.Fatal(err)
	}
	if !rc.Existing || rc.ID != 4 || rc.Version != 3 || rc.OpenNow || !rc.FirstCall.Equal(later) {
		t.Errorf("receipt %+v", rc)
	}
	f.err = &callback.DuplicateError{Existing: store.Callback{ID: 4, Version: 3}, Position: 2}
	if rc, err = (ivrCallbacks{s: f}).ScheduleCallback(context.Background(), ivr.CallbackRequest{Queue: "technical"}); err != nil || rc.Position != 2 {
		t.Errorf("in line: %+v, %v", rc, err)
	}
}

func TestIVRCallbacksErrors(t *testing.T) {
	next := time.Date(2026, 12, 3, 8, 0, 0, 0, time.FixedZone("+07", 7*3600))
	tests := []struct {
		err  error
		want error
	}{
		{fmt.Errorf("%w: premium prefix", callback.ErrRefused), ivr.ErrCallbackRefused},
		{&callback.RateLimitError{Bound: "per_number", RetryAfter: time.Hour}, ivr.ErrCallbackRateLimited},
		{&callback.OutsideHoursError{At: next.Add(-12 * time.Hour), Next: next, Calendar: "office"}, ivr.ErrCallbackOutsideHours},
		{callback.ErrNotReady, ivr.ErrCallbackUnavailable},
		{callback.ErrClosed, ivr.ErrCallbackUnavailable},
		{fmt.Errorf("%w: queue x", callback.ErrDisabled), ivr.ErrCallbackUnavailable},
		{store.ErrUnavailable, ivr.ErrCallbackUnavailable},
	}
	for _, tt := range tests {
		f := &fakeRequester{err: tt.err}
		_, err := ivrCallbacks{s: f}.ScheduleCallback(context.Background(), ivr.CallbackRequest{Queue: "technical"})
		if !errors.Is(err, tt.want) {
			t.Errorf("%v: got %v, want %v", tt.err, err, tt.want)
		}
		var oh *ivr.CallbackOutsideHoursError
		if errors.As(err, &oh) && !oh.Next.Equal(next) {
			t.Errorf("next opening %v, want %v", oh.Next, next)
		}
	}
}

func TestIVRCallbacksCancel(t *testing.T) {
	f := &fakeRequester{}
	c := ivrCallbacks{s: f}
	if err := c.CancelCallback(context.Background(), 4, 3); err != nil || len(f.cancelled) != 1 || f.cancelled[0] != 4 {
		t.Errorf("cancel: %v, %v", err, f.cancelled)
	}
	f.cancelErr = callback.ErrInProgress
	if err := c.CancelCallback(context.Background(), 4, 3); !errors.Is(err, ivr.ErrCallbackUnavailable) || !errors.Is(err, callback.ErrInProgress) {
		t.Errorf("in progress: %v", err)
	}
}

// In a cluster a new callback's position comes after the request
// (the leader loads it): the receipt waits for it (await) when the
// callback is due now, and not for one scheduled later or already placed.
func TestIVRCallbacksAwaitPosition(t *testing.T) {
	f := &fakeRequester{cb: callback.Callback{Callback: store.Callback{ID: 9, Version: 1}}}
	var asked []int64
	c := ivrCallbacks{s: f, await: func(_ context.Context, queue string, id int64) int {
		asked = append(asked, id)
		if queue != "technical" {
			return 0
		}
		return 4
	}}
	rc, err := c.ScheduleCallback(context.Background(), ivr.CallbackRequest{Number: "+84912345678", Queue: "technical"})
	if err != nil || rc.Position != 4 || len(asked) != 1 || asked[0] != 9 {
		t.Fatalf("due now: receipt %+v, %v, awaited %v; want position 4 from await of 9", rc, err, asked)
	}
	f.first = time.Now().Add(2 * time.Hour) // the calendar opens later: no place in line yet
	if rc, err = c.ScheduleCallback(context.Background(), ivr.CallbackRequest{Number: "+84912345678", Queue: "technical"}); err != nil ||
		rc.Position != 0 || len(asked) != 1 {
		t.Fatalf("scheduled for later: receipt %+v, %v, awaited %v; want no wait", rc, err, asked)
	}
	f.first, f.cb.Position = time.Time{}, 2 // the request's answer has it (one node, or the leader's own)
	if rc, err = c.ScheduleCallback(context.Background(), ivr.CallbackRequest{Number: "+84912345678", Queue: "technical"}); err != nil ||
		rc.Position != 2 || len(asked) != 1 {
		t.Fatalf("placed: receipt %+v, %v, awaited %v; want 2 without a wait", rc, err, asked)
	}
}
