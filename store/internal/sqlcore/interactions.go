package sqlcore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hotline-dev/hotline/store"
)

// CreateInteraction validates i, stores it (with its voice details) and sets
// its ID. A ticket, when given, must belong to the same customer.
func (s *Store) CreateInteraction(ctx context.Context, i *store.Interaction) error {
	if err := s.normInteraction(i); err != nil {
		return s.wrap("create interaction", err)
	}
	now := s.clock()
	var n int
	err := s.c.Tx(ctx, func(q Querier) (err error) {
		if err := customerExists(ctx, q, i.CustomerID); err != nil {
			return err
		}
		if i.TicketID != 0 {
			var owner int64
			err := q.QueryRow(ctx, `SELECT customer_id FROM tickets WHERE id = $1`, i.TicketID).Scan(&owner)
			if errors.Is(err, ErrNoRows) {
				return fieldErr("ticket_id", "no ticket %d", i.TicketID)
			}
			if err != nil {
				return err
			}
			if owner != i.CustomerID {
				return fieldErr("ticket_id", "ticket %d belongs to customer %d", i.TicketID, owner)
			}
		}
		if i.Voice != nil {
			var other int64
			err := q.QueryRow(ctx, `SELECT interaction_id FROM voice_calls WHERE call_id = $1 AND from_tag = $2`,
				i.Voice.CallID, i.Voice.FromTag).Scan(&other)
			if err == nil {
				return &store.ConflictError{Field: "voice.call_id", Message: fmt.Sprintf("call %q (From tag %q) already logged as interaction %d",
					i.Voice.CallID, i.Voice.FromTag, other)}
			}
			if !errors.Is(err, ErrNoRows) {
				return err
			}
		}
		if err := insertInteraction(ctx, q, s.d, i, now); err != nil {
			return err
		}
		n, err = s.emit(ctx, q, store.Change{Kind: store.ChangeInteractionCreated, Interaction: i})
		return err
	})
	s.committed(n, err)
	return s.wrap("create interaction", err)
}

func insertInteraction(ctx context.Context, q Querier, d Dialect, i *store.Interaction, now time.Time) error {
	var ended any
	if i.EndedAt != nil {
		ended = d.Time(*i.EndedAt)
	}
	var details any
	if len(i.Details) > 0 {
		details = string(i.Details)
	}
	if err := q.QueryRow(ctx, `INSERT INTO interactions (customer_id, ticket_id, channel, direction, started_at, ended_at, summary, body, details, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
		i.CustomerID, idArg(i.TicketID), i.Channel, i.Direction, d.Time(i.StartedAt), ended, i.Summary, i.Body, details, d.Time(now)).Scan(&i.ID); err != nil {
		return err
	}
	i.CreatedAt = now
	if err := readVersion(ctx, q, "interactions", i.ID, &i.Version); err != nil {
		return err
	}
	if v := i.Voice; v != nil {
		vals, err := voiceValues(i.ID, v)
		if err != nil {
			return err
		}
		a := &args{}
		if err := q.Exec(ctx, `INSERT INTO voice_calls (`+voiceCols+`) VALUES (`+a.list(vals...)+`)`, a.all()...); err != nil {
			return err
		}
		return insertRecordings(ctx, q, d, []voiceOf{{i.ID, v}}, now)
	}
	return nil
}

// voiceCols are the voice_calls columns every insert writes, in the order
// of voiceValues.
const voiceCols = `interaction_id, call_id, from_tag, caller_number, called_number, flow_name, flow_version,
	path, queue, wait_seconds, agent, talk_seconds, legs, outcome, hangup_cause, hangup_side, callback_attempts,
	packets_lost, jitter_ms`

// voiceValues are the bind values of one voice_calls row.
func voiceValues(interaction int64, v *store.VoiceDetails) ([]any, error) {
	pj, err := pathJSON(v)
	if err != nil {
		return nil, err
	}
	lj, err := legsJSON(v)
	if err != nil {
		return nil, err
	}
	return []any{interaction, v.CallID, v.FromTag, v.CallerNumber, v.CalledNumber, v.FlowName, v.FlowVersion, pj, v.Queue,
		v.WaitSeconds, v.Agent, v.TalkSeconds, lj, v.Outcome, v.HangupCause, string(v.HangupSide), v.CallbackAttempts,
		v.PacketsLost, v.JitterMillis}, nil
}

const interactionCols = `i.id, i.customer_id, i.ticket_id, i.channel, i.direction, i.started_at, i.ended_at, i.summary, i.body, i.details, i.created_at, i.change_tx,
	v.call_id, v.from_tag, v.caller_number, v.called_number, v.flow_name, v.flow_version, v.path, v.queue, v.wait_seconds, v.agent,
	v.talk_seconds, v.legs, v.outcome, v.hangup_cause, v.hangup_side, v.callback_attempts, v.packets_lost, v.jitter_ms`

const interactionFrom = ` FROM interactions i LEFT JOIN voice_calls v ON v.interaction_id = i.id`

func scanInteractions(rows Rows) ([]store.Interaction, error) {
	defer rows.Close()
	out := []store.Interaction{}
	for rows.Next() {
		var i store.Interaction
		var details, path, legs []byte
		var callID, fromTag, caller, called, flow, flowVer, queue, agent, outcome, cause, side *string
		var wait, talk, jitter *float64
		var attempts, lost *int64
		if err := rows.Scan(&i.ID, &i.CustomerID, nullInt{&i.TicketID}, &i.Channel, &i.Direction, ts(&i.StartedAt),
			tsNull(&i.EndedAt), &i.Summary, &i.Body, jsonDest{&details}, ts(&i.CreatedAt), &i.Version,
			&callID, &fromTag, &caller, &called, &flow, &flowVer, jsonDest{&path}, &queue, &wait, &agent,
			&talk, jsonDest{&legs}, &outcome, &cause, &side, &attempts, &lost, &jitter); err != nil {
			return nil, err
		}
		if len(details) > 0 {
			i.Details = json.RawMessage(details)
		}
		if callID != nil {
			v := &store.VoiceDetails{CallID: *callID, FromTag: deref(fromTag), CallerNumber: deref(caller), CalledNumber: deref(called),
				FlowName: deref(flow), FlowVersion: deref(flowVer), Queue: deref(queue), Agent: deref(agent),
				Outcome: store.Outcome(deref(outcome)), HangupCause: deref(cause), HangupSide: store.Side(deref(side)),
				Path: []store.IVRStep{}, Legs: []store.CallLeg{}, Recordings: []store.Recording{}}
			if wait != nil {
				v.WaitSeconds = *wait
			}
			if talk != nil {
				v.TalkSeconds = *talk
			}
			if jitter != nil {
				v.JitterMillis = *jitter
			}
			if attempts != nil {
				v.CallbackAttempts = int(*attempts)
			}
			if lost != nil {
				v.PacketsLost = *lost
			}
			if len(path) > 0 {
				if err := json.Unmarshal(path, &v.Path); err != nil {
					return nil, fmt.Errorf("interaction %d voice path: %w", i.ID, err)
				}
			}
			if len(legs) > 0 {
				if err := json.Unmarshal(legs, &v.Legs); err != nil {
					return nil, fmt.Errorf("interaction %d voice legs: %w", i.ID, err)
				}
			}
			i.Voice = v
		}
		out = append(out, i)
	}
	return out, rows.Err()
}

// pathJSON is the voice_calls.path column: the IVR steps as a JSON array
// ([] when there are none).
func pathJSON(v *store.VoiceDetails) (string, error) {
	path := v.Path
	if path == nil {
		path = []store.IVRStep{}
	}
	b, err := json.Marshal(path)
	if err != nil {
		return "", fieldErr("voice.path", "%v", err)
	}
	return string(b), nil
}

// legsJSON is the voice_calls.legs column: the legs as a JSON array ([]
// when there are none).
func legsJSON(v *store.VoiceDetails) (string, error) {
	legs := v.Legs
	if legs == nil {
		legs = []store.CallLeg{}
	}
	b, err := json.Marshal(legs)
	if err != nil {
		return "", fieldErr("voice.legs", "%v", err)
	}
	return string(b), nil
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// GetInteraction returns the interaction or ErrNotFound.
func (s *Store) GetInteraction(ctx context.Context, id int64) (*store.Interaction, error) {
	op := "get interaction " + strconv.FormatInt(id, 10)
	rows, err := s.c.Query(ctx, `SELECT `+interactionCols+interactionFrom+` WHERE i.id = $1`, id)
	if err != nil {
		return nil, s.wrap(op, err)
	}
	out, err := scanInteractions(rows)
	if err == nil {
		err = s.attachRecordings(ctx, out)
	}
	if err != nil {
		return nil, s.wrap(op, err)
	}
	if len(out) == 0 {
		return nil, s.wrap(op, store.ErrNotFound)
	}
	return &out[0], nil
}

// ListInteractions lists newest first: (started_at, id) descending.
func (s *Store) ListInteractions(ctx context.Context, f store.InteractionFilter, p store.Page) ([]store.Interaction, string, error) {
	out, next, err := s.listInteractions(ctx, f, p, "i")
	return out, next, s.wrap("list interactions", err)
}

// Timeline lists a customer's interactions on every channel, newest first.
// An unknown customer is ErrNotFound.
func (s *Store) Timeline(ctx context.Context, customerID int64, p store.Page) ([]store.Interaction, string, error) {
	op := "timeline of customer " + strconv.FormatInt(customerID, 10)
	out, next, err := s.listInteractions(ctx, store.InteractionFilter{CustomerID: customerID}, p, "l")
	if err == nil && len(out) == 0 && p.Cursor == "" {
		// Only an empty first page needs to tell "no such customer" apart.
		var one int64
		err = s.c.QueryRow(ctx, `SELECT id FROM customers WHERE id = $1`, customerID).Scan(&one)
	}
	if err != nil {
		return nil, "", s.wrap(op, err)
	}
	return out, next, nil
}

func (s *Store) listInteractions(ctx context.Context, f store.InteractionFilter, p store.Page, kind string) ([]store.Interaction, string, error) {
	limit, err := pageLimit(p)
	if err != nil {
		return nil, "", err
	}
	var q listQuery
	if f.CustomerID != 0 {
		q.and(`i.customer_id = ` + q.arg(f.CustomerID))
	}
	if f.TicketID != 0 {
		q.and(`i.ticket_id = ` + q.arg(f.TicketID))
	}
	if f.Channel != "" {
		q.and(`i.channel = ` + q.arg(f.Channel))
	}
	plan, err := s.planSync(ctx, &q, kind, "i", p, f.Since, "COALESCE(i.updated_at, i.created_at)", "created_at")
	if err != nil {
		return nil, "", err
	}
	order := `i.started_at DESC, i.id DESC`
	if plan.on {
		order = plan.order("i")
	} else {
		cur, hasCur, err := decodeCursor(p.Cursor, kind)
		if err != nil {
			return nil, "", err
		}
		if hasCur {
			q.and(`(i.started_at, i.id) < (` + q.arg(s.d.Time(atCursor(cur))) + `, ` + q.arg(cur.id) + `)`)
		}
	}
	rows, err := s.c.Query(ctx, q.sql(`SELECT `+interactionCols+interactionFrom, order, limit), q.args...)
	if err != nil {
		return nil, "", err
	}
	out, err := scanInteractions(rows)
	if err == nil {
		err = s.attachRecordings(ctx, out)
	}
	if err != nil {
		return nil, "", err
	}
	if plan.on {
		out, next := syncPage(plan, out, limit, func(i store.Interaction) (int64, int64) { return i.Version, i.ID })
		return out, next, nil
	}
	out, next := nextPage(out, limit, func(i store.Interaction) cursor {
		return cursor{kind: kind, at: i.StartedAt.UnixMicro(), id: i.ID}
	})
	return out, next, nil
}
