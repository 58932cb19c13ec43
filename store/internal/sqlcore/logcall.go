package sqlcore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hotline-dev/hotline/store"
)

// conflictRetries bounds how often a batch is retried after losing a race
// (another process logged the same Call-ID or created the same caller).
const conflictRetries = 3

// LogCall records one finished call; see store.Store.
func (s *Store) LogCall(ctx context.Context, r store.CallRecord) (store.LogResult, error) {
	res, err := s.LogCalls(ctx, []store.CallRecord{r})
	if err != nil {
		return store.LogResult{}, err
	}
	return res[0], nil
}

// LogCalls records a batch in one transaction. A record that fails
// validation fails the whole batch with a FieldError whose field is
// prefixed "records[i]." (the caller can drop that record and retry).
func (s *Store) LogCalls(ctx context.Context, rs []store.CallRecord) ([]store.LogResult, error) {
	if len(rs) == 0 {
		return []store.LogResult{}, nil
	}
	recs := make([]store.CallRecord, len(rs))
	for i, r := range rs {
		if err := s.normRecord(&r); err != nil {
			var fe *store.FieldError
			if errors.As(err, &fe) && len(rs) > 1 {
				err = &store.FieldError{Field: fmt.Sprintf("records[%d].%s", i, fe.Field), Message: fe.Message}
			}
			return nil, s.wrap("log call "+r.Voice.CallID, err)
		}
		recs[i] = r
	}
	var out []store.LogResult
	var err error
	var n int
	for attempt := 0; ; attempt++ {
		out = make([]store.LogResult, len(recs))
		err = s.c.Tx(ctx, func(q Querier) (err error) {
			for lo := 0; lo < len(recs); lo += chunk {
				hi := min(lo+chunk, len(recs))
				res, err := s.logChunk(ctx, q, recs[lo:hi])
				if err != nil {
					return err
				}
				copy(out[lo:], res)
			}
			n, err = s.emit(ctx, q, callChanges(recs, out)...)
			return err
		})
		retry := s.d.Unique(err) || (s.d.Transient != nil && s.d.Transient(err))
		if err == nil || !retry || attempt == conflictRetries || ctx.Err() != nil {
			break
		}
		s.log.Debug("log calls: lost a race, retrying", "attempt", attempt+1, "err", err)
	}
	s.committed(n, err)
	if err != nil {
		return nil, s.wrap(fmt.Sprintf("log %d calls", len(recs)), err)
	}
	return out, nil
}

// callChanges are the outbox's changes of a logged batch: its records
// that were written (a duplicate made its events when it was first
// logged), in order.
func callChanges(recs []store.CallRecord, out []store.LogResult) []store.Change {
	var cs []store.Change
	for i := range recs {
		if !out[i].Duplicate {
			cs = append(cs, store.Change{Kind: store.ChangeCallLogged, Call: &recs[i], Result: out[i]})
		}
	}
	return cs
}

func (s *Store) normRecord(r *store.CallRecord) error {
	if r.Direction == "" {
		r.Direction = store.DirectionInbound
	}
	if err := oneOf("direction", r.Direction, store.DirectionInbound, store.DirectionOutbound); err != nil {
		return err
	}
	if err := checkVoice(&r.Voice); err != nil {
		return err
	}
	if r.StartedAt.IsZero() {
		r.StartedAt = r.EndedAt
	}
	if r.StartedAt.IsZero() {
		r.StartedAt = s.clock()
	}
	r.StartedAt = micro(r.StartedAt)
	if !r.EndedAt.IsZero() {
		r.EndedAt = micro(r.EndedAt)
		if r.EndedAt.Before(r.StartedAt) {
			return fieldErr("ended_at", "before started_at")
		}
	}
	r.Category = normCategory(r.Category)
	for _, f := range []struct{ name, v string }{{"category", r.Category}, {"subject", r.Subject}, {"summary", r.Summary}} {
		if err := checkText(f.name, f.v, 1000); err != nil {
			return err
		}
	}
	tags, err := normTags(r.Tags)
	if err != nil {
		return err
	}
	r.Tags = tags
	return nil
}

// callerNumber is whose call it is: the caller for inbound calls, the
// called party for outbound ones (callbacks).
func callerNumber(r *store.CallRecord) string {
	if r.Direction == store.DirectionOutbound {
		return r.Voice.CalledNumber
	}
	return r.Voice.CallerNumber
}

// rawCallerKey is the contact value for a caller ID that is not a number:
// trimmed, lowercased, "" is "anonymous", at most 100 bytes.
func rawCallerKey(raw string) string {
	k := strings.ToLower(strings.TrimSpace(raw))
	if k == "" {
		k = "anonymous"
	}
	if len(k) > 100 {
		k = k[:100]
	}
	return strings.ToValidUTF8(k, "?")
}

func callSummary(r *store.CallRecord) string {
	out := string(r.Voice.Outcome)
	if out == "" {
		out = "ended"
	}
	s := r.Direction + " call, " + out
	if r.Voice.Queue != "" {
		s += ", queue " + r.Voice.Queue
	}
	if r.Voice.Agent != "" {
		s += ", agent " + r.Voice.Agent
	}
	return s
}
