package sqlcore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hotline-dev/hotline/store"
)

// ClaimCallback claims one attempt; see store.Callbacks. The attempt row
// and its voice interaction (keyed on the outbound call's Call-ID and From
// tag) commit with the claim, so the INVITE that follows is on the ticket
// whatever happens next.
func (s *Store) ClaimCallback(ctx context.Context, c store.CallbackClaim) (store.Callback, error) {
	op := "claim callback " + strconv.FormatInt(c.ID, 10)
	if c.Boot == "" || c.CallID == "" || c.FromTag == "" {
		return store.Callback{}, s.wrap(op, fieldErr("boot", "boot, call_id and from_tag are required"))
	}
	for _, f := range []struct{ name, v string }{{"call_id", c.CallID}, {"from_tag", c.FromTag}, {"trunk", c.Trunk}, {"agent", c.Agent}} {
		if err := checkText(f.name, f.v, 500); err != nil {
			return store.Callback{}, s.wrap(op, err)
		}
	}
	if c.At.IsZero() {
		c.At = s.clock()
	}
	at := micro(c.At)
	var out store.Callback
	err := s.c.Tx(ctx, func(q Querier) error {
		cb, ok, err := lockedCallback(ctx, q, `UPDATE callbacks SET state = 'dialling', attempts = attempts + 1, claimed_by = $1,
			version = version + 1, updated_at = $2
			WHERE id = $3 AND state = 'waiting' AND not_before <= $2 AND expires_at > $2 AND attempts < max_attempts
			AND ($4 = 0 OR version = $4) RETURNING `+callbackCols, c.Boot, s.d.Time(at), c.ID, c.Version)
		if err != nil {
			return err
		}
		if !ok {
			return stale(ctx, q, c.ID, c.Version, "claim")
		}
		v := &store.VoiceDetails{CallID: c.CallID, FromTag: c.FromTag, CalledNumber: cb.Number, Queue: cb.Queue,
			Agent: c.Agent, CallbackAttempts: cb.Attempts, Path: []store.IVRStep{}, Legs: []store.CallLeg{}}
		note := callbackNote{ID: cb.ID, Event: "attempt", Queue: cb.Queue, Number: cb.Number, Attempt: cb.Attempts, Trunk: c.Trunk, Agent: c.Agent}
		in := store.Interaction{CustomerID: cb.CustomerID, TicketID: cb.TicketID, Channel: store.ChannelVoice,
			Direction: store.DirectionOutbound, StartedAt: at, Voice: v, Details: note.details(),
			Summary: fmt.Sprintf("Callback call %d of %d to %s: dialling", cb.Attempts, cb.MaxAttempts, cb.Number)}
		if err := insertInteraction(ctx, q, s.d, &in, at); err != nil {
			return err
		}
		if err := q.Exec(ctx, `INSERT INTO callback_attempts (callback_id, attempt, claimed_by, started_at, trunk, agent, call_id, from_tag, interaction_id)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, cb.ID, cb.Attempts, c.Boot, s.d.Time(at), c.Trunk, c.Agent, c.CallID, c.FromTag, in.ID); err != nil {
			return err
		}
		cb.Calls = []store.CallbackAttempt{{Attempt: cb.Attempts, ClaimedBy: c.Boot, StartedAt: at, Trunk: c.Trunk, Agent: c.Agent,
			CallID: c.CallID, FromTag: c.FromTag, InteractionID: in.ID}}
		out = cb
		return nil
	})
	if err != nil {
		return store.Callback{}, s.wrap(op, err)
	}
	return out, nil
}

// ConnectCallback records the confirmation: dialling → connected.
func (s *Store) ConnectCallback(ctx context.Context, c store.CallbackConnect) (store.Callback, error) {
	op := "connect callback " + strconv.FormatInt(c.ID, 10)
	if c.At.IsZero() {
		c.At = s.clock()
	}
	at := micro(c.At)
	answered := at
	if !c.AnsweredAt.IsZero() {
		answered = micro(c.AnsweredAt)
	}
	var out store.Callback
	err := s.c.Tx(ctx, func(q Querier) error {
		cb, ok, err := lockedCallback(ctx, q, `UPDATE callbacks SET state = 'connected', version = version + 1, updated_at = $1
			WHERE id = $2 AND state = 'dialling' AND claimed_by = $3 AND attempts = $4 RETURNING `+callbackCols,
			s.d.Time(at), c.ID, c.Boot, c.Attempt)
		if err != nil {
			return err
		}
		if !ok {
			return stale(ctx, q, c.ID, 0, "connect")
		}
		out = cb
		return q.Exec(ctx, `UPDATE callback_attempts SET confirmed_at = $1, answered_at = $2 WHERE callback_id = $3 AND attempt = $4`,
			s.d.Time(at), s.d.Time(answered), c.ID, c.Attempt)
	})
	if err != nil {
		return store.Callback{}, s.wrap(op, err)
	}
	return out, nil
}

var nextStates = []string{string(store.CallbackWaiting), string(store.CallbackCompleted), string(store.CallbackFailed), string(store.CallbackExpired)}

// FinishCallback records an attempt's end and the callback's next state.
func (s *Store) FinishCallback(ctx context.Context, f store.CallbackFinish) (store.Callback, error) {
	op := fmt.Sprintf("finish callback %d attempt %d", f.ID, f.Attempt)
	if err := normFinish(&f, s.clock); err != nil {
		return store.Callback{}, s.wrap(op, err)
	}
	crash := 0
	if f.Result == store.AttemptInterrupted {
		crash = 1 // a shutdown cut the call short
	}
	var out store.Callback
	err := s.c.Tx(ctx, func(q Querier) error {
		cb, err := s.finish(ctx, q, f, crash)
		out = cb
		return err
	})
	if err != nil {
		return store.Callback{}, s.wrap(op, err)
	}
	return out, nil
}

func normFinish(f *store.CallbackFinish, now func() time.Time) error {
	if err := oneOf("result", string(f.Result), attemptResultNames()...); err != nil {
		return err
	}
	if err := oneOf("next", string(f.Next), nextStates...); err != nil {
		return err
	}
	if f.Next == store.CallbackWaiting && f.NotBefore.IsZero() {
		return fieldErr("not_before", "required for a retry")
	}
	for _, t := range []struct{ name, v string }{{"reason", f.Reason}, {"trunk", f.Trunk}, {"agent", f.Agent}, {"outcome", f.Outcome}} {
		if err := checkText(t.name, t.v, 500); err != nil {
			return err
		}
	}
	if f.SIPStatus < 0 || f.SIPStatus > 699 || f.TalkSeconds < 0 {
		return fieldErr("sip_status", "out of range")
	}
	if f.At.IsZero() {
		f.At = now()
	}
	f.At, f.NotBefore = micro(f.At), micro(f.NotBefore)
	for _, p := range []**time.Time{&f.AnsweredAt, &f.ConfirmedAt} {
		if *p != nil {
			t := micro(**p)
			*p = &t
		}
	}
	return nil
}

func attemptResultNames() []string {
	out := make([]string, len(store.AttemptResults))
	for i, r := range store.AttemptResults {
		out[i] = string(r)
	}
	return out
}

// finish applies f in q: f.Boot is whose claim it ends (for recovery, the
// boot that held it); interrupted is added to the callback's count of calls
// cut short.
func (s *Store) finish(ctx context.Context, q Querier, f store.CallbackFinish, interrupted int) (store.Callback, error) {
	var iid int64
	err := q.QueryRow(ctx, `UPDATE callback_attempts SET ended_at = $1, result = $2, sip_status = $3, reason = $4,
		trunk = CASE WHEN $5 = '' THEN trunk ELSE $5 END, agent = CASE WHEN $6 = '' THEN agent ELSE $6 END,
		answered_at = COALESCE(answered_at, $7), confirmed_at = COALESCE(confirmed_at, $8), talk_seconds = $9
		WHERE callback_id = $10 AND attempt = $11 AND claimed_by = $12 AND result IS NULL RETURNING interaction_id`,
		s.d.Time(f.At), string(f.Result), f.SIPStatus, f.Reason, f.Trunk, f.Agent, s.timeArg(f.AnsweredAt), s.timeArg(f.ConfirmedAt),
		f.TalkSeconds, f.ID, f.Attempt, f.Boot).Scan(&iid)
	if errors.Is(err, ErrNoRows) {
		return store.Callback{}, stale(ctx, q, f.ID, 0, fmt.Sprintf("finish attempt %d of", f.Attempt))
	}
	if err != nil {
		return store.Callback{}, err
	}
	giveBack := 0
	if f.GiveBack {
		giveBack = 1
	}
	outcome := f.Outcome
	if f.Next == store.CallbackWaiting {
		outcome = string(f.Result)
	}
	cb, ok, err := lockedCallback(ctx, q, `UPDATE callbacks SET state = $1, claimed_by = NULL,
		not_before = CASE WHEN $1 = 'waiting' THEN $2 ELSE not_before END,
		max_attempts = max_attempts + $3, interrupted = interrupted + $4, outcome = $5, version = version + 1, updated_at = $6
		WHERE id = $7 AND state IN ('dialling', 'connected') AND claimed_by = $8 AND attempts = $9 RETURNING `+callbackCols,
		string(f.Next), s.d.Time(f.NotBefore), giveBack, interrupted, outcome, s.d.Time(f.At), f.ID, f.Boot, f.Attempt)
	if err != nil {
		return store.Callback{}, err
	}
	if !ok {
		return store.Callback{}, stale(ctx, q, f.ID, 0, fmt.Sprintf("finish attempt %d of", f.Attempt))
	}
	// The attempt's interaction: the outbound call, now ended.
	summary := fmt.Sprintf("Callback call %d of %d to %s: %s", f.Attempt, cb.MaxAttempts, cb.Number, resultPhrase(f))
	note := callbackNote{ID: cb.ID, Event: "attempt", Queue: cb.Queue, Number: cb.Number, Attempt: f.Attempt, Result: f.Result,
		SIPStatus: f.SIPStatus, Reason: f.Reason, Trunk: f.Trunk, Agent: f.Agent}
	if err := q.Exec(ctx, `UPDATE interactions SET ended_at = $1, summary = $2, details = $3, updated_at = $5 WHERE id = $4`,
		s.d.Time(f.At), summary, string(note.details()), iid, s.d.Time(s.clock())); err != nil {
		return store.Callback{}, err
	}
	voiceOutcome := store.OutcomeFailed
	if f.Result == store.AttemptCompleted {
		voiceOutcome = store.OutcomeCompleted
	}
	if err := q.Exec(ctx, `UPDATE voice_calls SET outcome = $1, agent = CASE WHEN $2 = '' THEN agent ELSE $2 END, talk_seconds = $3,
		hangup_cause = $4 WHERE interaction_id = $5`, voiceOutcome, f.Agent, f.TalkSeconds, string(f.Result), iid); err != nil {
		return store.Callback{}, err
	}
	if !cb.State.Open() {
		if err := s.finalNote(ctx, q, cb, f.At, ""); err != nil {
			return store.Callback{}, err
		}
	}
	return cb, q.Exec(ctx, `UPDATE tickets SET updated_at = $1 WHERE id = $2`, s.d.Time(f.At), cb.TicketID)
}

func (s *Store) timeArg(t *time.Time) any {
	if t == nil {
		return nil
	}
	return s.d.Time(*t)
}

func resultPhrase(f store.CallbackFinish) string {
	p := strings.ReplaceAll(string(f.Result), "_", " ")
	if f.SIPStatus != 0 {
		p += fmt.Sprintf(" (SIP %d)", f.SIPStatus)
	}
	if f.Agent != "" && f.Result == store.AttemptCompleted {
		p += ", agent " + f.Agent
	}
	if f.Reason != "" {
		p += ": " + f.Reason
	}
	return p
}

// finalNote writes the interaction that says how a callback ended.
func (s *Store) finalNote(ctx context.Context, q Querier, cb store.Callback, at time.Time, by string) error {
	summary := fmt.Sprintf("Callback to %s, queue %s: %s after %d of %d calls", cb.Number, cb.Queue, cb.State, cb.Attempts, cb.MaxAttempts)
	if cb.Outcome != "" {
		summary += " (" + cb.Outcome + ")"
	}
	if by != "" {
		summary += ", by " + by
	}
	note := callbackNote{ID: cb.ID, Event: string(cb.State), Queue: cb.Queue, Number: cb.Number, State: cb.State,
		Attempt: cb.Attempts, Reason: cb.Outcome, By: by}
	in := store.Interaction{CustomerID: cb.CustomerID, TicketID: cb.TicketID, Channel: store.ChannelVoice,
		Direction: store.DirectionOutbound, StartedAt: at, EndedAt: &at, Summary: summary, Details: note.details()}
	return insertInteraction(ctx, q, s.d, &in, at)
}

// ChangeCallback reschedules or ends a waiting callback; see store.Callbacks.
func (s *Store) ChangeCallback(ctx context.Context, c store.CallbackChange) (store.Callback, error) {
	op := fmt.Sprintf("%s callback %d", changeVerb(c.To), c.ID)
	switch c.To {
	case store.CallbackWaiting, store.CallbackCancelled, store.CallbackExpired, store.CallbackFailed:
	default:
		return store.Callback{}, s.wrap(op, fieldErr("state", "%q: a waiting callback can be rescheduled (waiting), cancelled, expired or failed", c.To))
	}
	for _, t := range []struct{ name, v string }{{"outcome", c.Outcome}, {"by", c.By}} {
		if err := checkText(t.name, t.v, 500); err != nil {
			return store.Callback{}, s.wrap(op, err)
		}
	}
	if c.At.IsZero() {
		c.At = s.clock()
	}
	at := micro(c.At)
	var nb, exp any
	if !c.NotBefore.IsZero() {
		nb = s.d.Time(micro(c.NotBefore))
	}
	if !c.ExpiresAt.IsZero() {
		exp = s.d.Time(micro(c.ExpiresAt))
	}
	var out store.Callback
	err := s.c.Tx(ctx, func(q Querier) error {
		cb, ok, err := lockedCallback(ctx, q, `UPDATE callbacks SET state = $1, not_before = COALESCE($2, not_before),
			expires_at = COALESCE($3, expires_at), outcome = CASE WHEN $1 = 'waiting' THEN outcome ELSE $4 END,
			version = version + 1, updated_at = $5
			WHERE id = $6 AND state = 'waiting' AND ($7 = 0 OR version = $7) RETURNING `+callbackCols,
			string(c.To), nb, exp, c.Outcome, s.d.Time(at), c.ID, c.Version)
		if err != nil {
			return err
		}
		if !ok {
			return stale(ctx, q, c.ID, c.Version, changeVerb(c.To))
		}
		if !cb.ExpiresAt.After(cb.NotBefore) && cb.State == store.CallbackWaiting {
			return fieldErr("not_before", "must be before expires_at (%s)", cb.ExpiresAt.Format(time.RFC3339))
		}
		out = cb
		if cb.State == store.CallbackWaiting {
			nbt := cb.NotBefore
			note := callbackNote{ID: cb.ID, Event: "rescheduled", Queue: cb.Queue, Number: cb.Number, NotBefore: &nbt,
				ExpiresAt: timePtr(cb.ExpiresAt), By: c.By}
			summary := fmt.Sprintf("Callback to %s, queue %s: rescheduled to %s", cb.Number, cb.Queue, nbt.Format(time.RFC3339))
			if c.By != "" {
				summary += ", by " + c.By
			}
			in := store.Interaction{CustomerID: cb.CustomerID, TicketID: cb.TicketID, Channel: store.ChannelVoice,
				Direction: store.DirectionInbound, StartedAt: at, EndedAt: &at, Summary: summary, Details: note.details()}
			if err := insertInteraction(ctx, q, s.d, &in, at); err != nil {
				return err
			}
		} else if err := s.finalNote(ctx, q, cb, at, c.By); err != nil {
			return err
		}
		return q.Exec(ctx, `UPDATE tickets SET updated_at = $1 WHERE id = $2`, s.d.Time(at), cb.TicketID)
	})
	if err != nil {
		return store.Callback{}, s.wrap(op, err)
	}
	return out, nil
}

func changeVerb(to store.CallbackState) string {
	switch to {
	case store.CallbackWaiting:
		return "reschedule"
	case store.CallbackCancelled:
		return "cancel"
	case store.CallbackExpired:
		return "expire"
	case store.CallbackFailed:
		return "fail"
	}
	return "change"
}

// RecoverCallbacks marks attempts in flight interrupted; see store.Callbacks.
func (s *Store) RecoverCallbacks(ctx context.Context, r store.CallbackRecovery) ([]store.Callback, error) {
	const op = "recover callbacks"
	if r.Boot == "" && len(r.IDs) == 0 {
		return nil, s.wrap(op, fieldErr("boot", "required"))
	}
	if r.At.IsZero() {
		r.At = s.clock()
	}
	r.At = micro(r.At)
	out := []store.Callback{}
	err := s.c.Tx(ctx, func(q Querier) error {
		out = out[:0]
		var where string
		var bind []any
		if len(r.IDs) > 0 {
			a := &args{}
			ids := make([]any, len(r.IDs))
			for i, id := range r.IDs {
				ids[i] = id
			}
			where = `c.id IN (` + a.list(ids...) + `)`
			bind = a.v
		} else {
			where, bind = `c.claimed_by <> $1`, []any{r.Boot}
			if r.Prefix != "" {
				// substr counts characters in both SQLite and PostgreSQL.
				where += ` AND substr(c.claimed_by, 1, $2) = $3`
				bind = append(bind, utf8.RuneCountInString(r.Prefix), r.Prefix)
			}
		}
		type claim struct {
			id                   int64
			attempt, interrupted int
			boot                 string
		}
		var claims []claim
		rows, err := q.Query(ctx, `SELECT c.id, c.attempts, c.interrupted, c.claimed_by FROM callbacks c
			WHERE c.state IN ('dialling', 'connected') AND `+where+` ORDER BY c.id`, bind...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var c claim
			if err := rows.Scan(&c.id, &c.attempt, &c.interrupted, &c.boot); err != nil {
				rows.Close()
				return err
			}
			claims = append(claims, c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, c := range claims {
			f := store.CallbackFinish{ID: c.id, Boot: c.boot, Attempt: c.attempt, At: r.At, Result: store.AttemptInterrupted,
				Reason: r.Reason, Next: store.CallbackWaiting, NotBefore: r.At, GiveBack: true}
			crash := 1
			if len(r.IDs) > 0 {
				crash = 0 // no call was placed: nothing was cut short
			} else if c.interrupted > 0 {
				// A second crash during this callback's calls: stop, so a
				// server that keeps failing never keeps ringing a customer.
				f.Next, f.GiveBack, f.Outcome = store.CallbackFailed, false, "calls cut short by a restart twice"
			}
			if f.Reason == "" {
				f.Reason = "Hotline stopped during the call"
			}
			cb, err := s.finish(ctx, q, f, crash)
			if err != nil {
				return err
			}
			out = append(out, cb)
		}
		return nil
	})
	if err != nil {
		return nil, s.wrap(op, err)
	}
	return slices.Clip(out), nil
}
