package sqlcore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/hotline-dev/hotline/phone"
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
	for attempt := 0; ; attempt++ {
		out = make([]store.LogResult, len(recs))
		err = s.c.Tx(ctx, func(q Querier) error {
			for i := range recs {
				res, err := s.logOne(ctx, q, &recs[i])
				if err != nil {
					return err
				}
				out[i] = res
			}
			return nil
		})
		if err == nil || !s.d.Unique(err) || attempt == conflictRetries || ctx.Err() != nil {
			break
		}
		s.log.Debug("log calls: lost a race, retrying", "attempt", attempt+1, "err", err)
	}
	if err != nil {
		return nil, s.wrap(fmt.Sprintf("log %d calls", len(recs)), err)
	}
	return out, nil
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
	t := store.Ticket{CustomerID: 1, Subject: "x", Tags: r.Tags}
	if err := normTicket(&t); err != nil {
		return err
	}
	r.Tags = t.Tags
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

func (s *Store) logOne(ctx context.Context, q Querier, r *store.CallRecord) (store.LogResult, error) {
	var res store.LogResult
	err := q.QueryRow(ctx, `SELECT i.id, i.customer_id, i.ticket_id FROM voice_calls v JOIN interactions i ON i.id = v.interaction_id
		WHERE v.call_id = $1`, r.Voice.CallID).Scan(&res.InteractionID, &res.CustomerID, nullInt{&res.TicketID})
	if err == nil {
		res.Duplicate = true
		return res, nil
	}
	if !errors.Is(err, ErrNoRows) {
		return res, err
	}
	now := s.clock()
	raw := strings.TrimSpace(callerNumber(r))
	kind, value := kindPhone, ""
	if e, err := phone.Normalize(raw, s.country); err == nil {
		value = e
	} else {
		kind, value = kindCaller, rawCallerKey(raw)
	}
	err = q.QueryRow(ctx, `SELECT customer_id FROM customer_contacts WHERE kind = $1 AND value = $2`, kind, value).Scan(&res.CustomerID)
	switch {
	case errors.Is(err, ErrNoRows):
		c := store.Customer{Name: value, Tier: store.TierNew, Phones: []string{}, Emails: []string{}, ChatHandles: []string{},
			Attributes: map[string]string{"source": "call"}}
		if kind == kindPhone {
			c.Phones = []string{value}
		} else {
			c.Name = "Unknown caller " + value
			c.Attributes["caller_raw"] = value
		}
		if err := insertCustomer(ctx, q, s.d, &c, now); err != nil {
			return res, err
		}
		if kind == kindCaller {
			if err := q.Exec(ctx, `INSERT INTO customer_contacts (customer_id, kind, value, position) VALUES ($1, $2, $3, 0)`,
				c.ID, kindCaller, value); err != nil {
				return res, err
			}
		}
		res.CustomerID, res.NewCustomer = c.ID, true
	case err != nil:
		return res, err
	}

	var tags []byte
	err = q.QueryRow(ctx, `SELECT id, tags FROM tickets WHERE customer_id = $1 AND category = $2 AND status IN ('open', 'pending')
		ORDER BY id DESC LIMIT 1`, res.CustomerID, r.Category).Scan(&res.TicketID, jsonDest{&tags})
	switch {
	case errors.Is(err, ErrNoRows):
		shown := raw
		if kind == kindPhone {
			shown = value
		}
		if shown == "" {
			shown = "anonymous"
		}
		t := store.Ticket{CustomerID: res.CustomerID, Subject: r.Subject, Category: r.Category, Tags: r.Tags,
			Status: store.StatusOpen, Priority: "normal", Channel: store.ChannelVoice}
		if t.Subject == "" {
			t.Subject = "Call from " + shown + " — " + r.Category
		}
		if err := insertTicket(ctx, q, s.d, &t, now); err != nil {
			return res, err
		}
		res.TicketID, res.NewTicket = t.ID, true
	case err != nil:
		return res, err
	default:
		if err := s.touchTicket(ctx, q, res.TicketID, tags, r.Tags, s.d.Time(now)); err != nil {
			return res, err
		}
	}

	i := store.Interaction{CustomerID: res.CustomerID, TicketID: res.TicketID, Channel: store.ChannelVoice,
		Direction: r.Direction, StartedAt: r.StartedAt, Summary: r.Summary, Voice: &r.Voice}
	if !r.EndedAt.IsZero() {
		e := r.EndedAt
		i.EndedAt = &e
	}
	if i.Summary == "" {
		i.Summary = callSummary(r)
	}
	if err := insertInteraction(ctx, q, s.d, &i, now); err != nil {
		return res, err
	}
	res.InteractionID = i.ID
	return res, nil
}

// touchTicket marks a reused ticket updated and adds the call's new tags.
func (s *Store) touchTicket(ctx context.Context, q Querier, id int64, old []byte, add []string, now any) error {
	var tags []string
	_ = jsonUnmarshal(old, &tags)
	merged := slices.Clone(tags)
	for _, t := range add {
		if !slices.Contains(merged, t) {
			merged = append(merged, t)
		}
	}
	if len(merged) == len(tags) {
		return q.Exec(ctx, `UPDATE tickets SET updated_at = $1 WHERE id = $2`, now, id)
	}
	return q.Exec(ctx, `UPDATE tickets SET updated_at = $1, tags = $2 WHERE id = $3`, now, tagsJSON(merged), id)
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
	out := r.Voice.Outcome
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
