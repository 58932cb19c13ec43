package sqlcore

import (
	"context"
	"strings"
	"time"

	"github.com/hotline-dev/hotline/store"
)

var _ store.Recordings = (*Store)(nil)

const recordingCols = `id, call_id, from_tag, interaction_id, kind, format, duration_ms, size, created_at, deleted_at, queue`

// maxRecordings bounds a call's recordings (a voicemail node re-recorded
// keeps one; a long call recorded in parts keeps a few).
const maxRecordings = 100

func checkRecording(field string, r *store.Recording) error {
	r.ID = strings.TrimSpace(r.ID)
	if r.ID == "" {
		return fieldErr(field+".id", "required")
	}
	for _, f := range []struct{ name, v string }{{".id", r.ID}, {".call_id", r.CallID}, {".from_tag", r.FromTag}, {".format", r.Format}, {".queue", r.Queue}} {
		if err := checkText(field+f.name, f.v, 200); err != nil {
			return err
		}
	}
	if err := oneOf(field+".kind", r.Kind, store.RecordingKinds...); err != nil {
		return err
	}
	if r.Format == "" {
		return fieldErr(field+".format", "required")
	}
	if r.DurationMillis < 0 || r.Size < 0 {
		return fieldErr(field, "negative duration or size")
	}
	return nil
}

func scanRecording(r interface{ Scan(...any) error }) (store.Recording, error) {
	var rec store.Recording
	err := r.Scan(&rec.ID, &rec.CallID, &rec.FromTag, nullInt{&rec.InteractionID}, &rec.Kind, &rec.Format,
		&rec.DurationMillis, &rec.Size, ts(&rec.CreatedAt), tsNull(&rec.DeletedAt), &rec.Queue)
	return rec, err
}

// CreateRecording stores one recording's metadata.
func (s *Store) CreateRecording(ctx context.Context, r *store.Recording) error {
	if err := checkRecording("recording", r); err != nil {
		return s.wrap("create recording", err)
	}
	if r.CreatedAt.IsZero() {
		r.CreatedAt = s.clock()
	}
	r.CreatedAt = micro(r.CreatedAt)
	err := s.c.Tx(ctx, func(q Querier) error {
		return q.Exec(ctx, `INSERT INTO recordings (`+recordingCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, $10)`,
			r.ID, r.CallID, r.FromTag, idArg(r.InteractionID), r.Kind, r.Format, r.DurationMillis, r.Size, s.d.Time(r.CreatedAt), r.Queue)
	})
	return s.wrap("create recording "+r.ID, err)
}

// GetRecording reads one recording, deleted or not.
func (s *Store) GetRecording(ctx context.Context, id string) (*store.Recording, error) {
	rec, err := scanRecording(s.c.QueryRow(ctx, `SELECT `+recordingCols+` FROM recordings WHERE id = $1`, id))
	if err != nil {
		return nil, s.wrap("get recording "+id, err)
	}
	return &rec, nil
}

// DeleteRecording marks a recording deleted (the first deletion's time stays).
func (s *Store) DeleteRecording(ctx context.Context, id string, at time.Time) error {
	var got string
	err := s.c.QueryRow(ctx, `UPDATE recordings SET deleted_at = COALESCE(deleted_at, $1) WHERE id = $2 RETURNING id`,
		s.d.Time(micro(at)), id).Scan(&got)
	return s.wrap("delete recording "+id, err)
}

// ExpiredRecordings lists live recordings of kind in queue made before before.
func (s *Store) ExpiredRecordings(ctx context.Context, kind, queue string, before time.Time, limit int) ([]store.Recording, error) {
	op := "expired recordings of queue " + queue
	switch {
	case limit == 0:
		limit = 100
	case limit < 0 || limit > 1000:
		return nil, s.wrap(op, fieldErr("limit", "%d is not between 1 and 1000", limit))
	}
	rows, err := s.c.Query(ctx, `SELECT `+recordingCols+` FROM recordings WHERE kind = $1 AND queue = $2 AND created_at < $3
		AND deleted_at IS NULL ORDER BY created_at, id LIMIT $4`, kind, queue, s.d.Time(micro(before)), limit)
	if err != nil {
		return nil, s.wrap(op, err)
	}
	defer rows.Close()
	out := []store.Recording{}
	for rows.Next() {
		rec, err := scanRecording(rows)
		if err != nil {
			return nil, s.wrap(op, err)
		}
		out = append(out, rec)
	}
	return out, s.wrap(op, rows.Err())
}

// voiceOf is one logged call: its interaction and voice details.
type voiceOf struct {
	interaction int64
	voice       *store.VoiceDetails
}

// insertRecordings writes the recordings of freshly logged calls, linked
// to their interactions. One already stored (CreateRecording during the
// call) is linked instead.
func insertRecordings(ctx context.Context, q Querier, d Dialect, calls []voiceOf, now time.Time) error {
	a := &args{pre: d.BatchArgs}
	var vals []string
	for _, c := range calls {
		v := c.voice
		for _, r := range v.Recordings {
			created := r.CreatedAt
			if created.IsZero() {
				created = now
			}
			vals = append(vals, "("+a.list(r.ID, v.CallID, v.FromTag, c.interaction, r.Kind, r.Format, r.DurationMillis, r.Size,
				d.Time(micro(created)))+", NULL, "+a.list(r.Queue)+")")
		}
	}
	if len(vals) == 0 {
		return nil
	}
	return q.Exec(ctx, `INSERT INTO recordings (`+recordingCols+`) VALUES `+strings.Join(vals, ", ")+
		` ON CONFLICT (id) DO UPDATE SET interaction_id = excluded.interaction_id`, a.all()...)
}

// attachRecordings fills the voice interactions' Recordings (not deleted,
// oldest first).
func (s *Store) attachRecordings(ctx context.Context, out []store.Interaction) error {
	var q listQuery
	var ids []string
	at := map[int64]int{}
	for n := range out {
		if out[n].Voice == nil {
			continue
		}
		out[n].Voice.Recordings = []store.Recording{}
		at[out[n].ID] = n
		ids = append(ids, q.arg(out[n].ID))
	}
	if len(ids) == 0 {
		return nil
	}
	rows, err := s.c.Query(ctx, `SELECT `+recordingCols+` FROM recordings WHERE interaction_id IN (`+strings.Join(ids, ", ")+
		`) AND deleted_at IS NULL ORDER BY created_at, id`, q.args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		rec, err := scanRecording(rows)
		if err != nil {
			return err
		}
		if n, ok := at[rec.InteractionID]; ok {
			out[n].Voice.Recordings = append(out[n].Voice.Recordings, rec)
		}
	}
	return rows.Err()
}

// checkRecordings validates a call record's recordings.
func checkRecordings(v *store.VoiceDetails) error {
	if len(v.Recordings) > maxRecordings {
		return fieldErr("voice.recordings", "more than %d recordings", maxRecordings)
	}
	seen := map[string]bool{}
	for i := range v.Recordings {
		r := &v.Recordings[i]
		if err := checkRecording("voice.recordings", r); err != nil {
			return err
		}
		if seen[r.ID] {
			return fieldErr("voice.recordings.id", "%q twice", r.ID)
		}
		seen[r.ID] = true
		r.CallID, r.FromTag = v.CallID, v.FromTag
	}
	return nil
}
