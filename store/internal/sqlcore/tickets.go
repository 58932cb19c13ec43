package sqlcore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hotline-dev/hotline/store"
)

func tagsJSON(t []string) string {
	if t == nil {
		t = []string{}
	}
	b, _ := json.Marshal(t) // []string always marshals
	return string(b)
}

// customerExists turns a missing customer into a FieldError before a
// foreign key would.
func customerExists(ctx context.Context, q Querier, id int64) error {
	var one int64
	err := q.QueryRow(ctx, `SELECT id FROM customers WHERE id = $1`, id).Scan(&one)
	if errors.Is(err, ErrNoRows) {
		return fieldErr("customer_id", "no customer %d", id)
	}
	return err
}

// CreateTicket validates t, stores it and sets its ID and timestamps.
func (s *Store) CreateTicket(ctx context.Context, t *store.Ticket) error {
	if err := normTicket(t); err != nil {
		return s.wrap("create ticket", err)
	}
	now := s.clock()
	var n int
	err := s.c.Tx(ctx, func(q Querier) (err error) {
		if err := customerExists(ctx, q, t.CustomerID); err != nil {
			return err
		}
		if err := insertTicket(ctx, q, s.d, t, now); err != nil {
			return err
		}
		n, err = s.emit(ctx, q, store.Change{Kind: store.ChangeTicketCreated, Ticket: t})
		return err
	})
	s.committed(n, err)
	return s.wrap("create ticket", err)
}

func insertTicket(ctx context.Context, q Querier, d Dialect, t *store.Ticket, now time.Time) error {
	if err := q.QueryRow(ctx, `INSERT INTO tickets (customer_id, subject, category, tags, status, priority, assignee, channel, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING id`,
		t.CustomerID, t.Subject, t.Category, tagsJSON(t.Tags), t.Status, t.Priority, t.Assignee, t.Channel, d.Time(now)).Scan(&t.ID); err != nil {
		return err
	}
	if err := claimExternalIDs(ctx, q, ownerTicket, t.ID, t.ExternalIDs); err != nil {
		return err
	}
	if err := writeTerms(ctx, q, ownerTicket, t.ID, t.Subject); err != nil {
		return err
	}
	t.CreatedAt, t.UpdatedAt = now, now
	return readVersion(ctx, q, "tickets", t.ID, &t.Version)
}

const ticketCols = `id, customer_id, subject, category, tags, status, priority, assignee, channel, created_at, updated_at, change_tx`

func scanTickets(rows Rows) ([]store.Ticket, error) {
	defer rows.Close()
	out := []store.Ticket{}
	for rows.Next() {
		var t store.Ticket
		var tags []byte
		if err := rows.Scan(&t.ID, &t.CustomerID, &t.Subject, &t.Category, jsonDest{&tags}, &t.Status, &t.Priority,
			&t.Assignee, &t.Channel, ts(&t.CreatedAt), ts(&t.UpdatedAt), &t.Version); err != nil {
			return nil, err
		}
		t.Tags, t.ExternalIDs = []string{}, []store.ExternalID{}
		if len(tags) > 0 {
			if err := json.Unmarshal(tags, &t.Tags); err != nil {
				return nil, fmt.Errorf("ticket %d tags: %w", t.ID, err)
			}
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// GetTicket returns the ticket or ErrNotFound.
func (s *Store) GetTicket(ctx context.Context, id int64) (*store.Ticket, error) {
	op := "get ticket " + strconv.FormatInt(id, 10)
	rows, err := s.c.Query(ctx, `SELECT `+ticketCols+` FROM tickets WHERE id = $1`, id)
	if err != nil {
		return nil, s.wrap(op, err)
	}
	ts, err := scanTickets(rows)
	if err == nil {
		err = withExternalIDs(ctx, s.c, ts)
	}
	if err != nil {
		return nil, s.wrap(op, err)
	}
	if len(ts) == 0 {
		return nil, s.wrap(op, store.ErrNotFound)
	}
	return &ts[0], nil
}

// UpdateTicket replaces every field of ticket t.ID.
func (s *Store) UpdateTicket(ctx context.Context, t *store.Ticket) error {
	op := "update ticket " + strconv.FormatInt(t.ID, 10)
	if err := normTicket(t); err != nil {
		return s.wrap(op, err)
	}
	now := s.clock()
	var n int
	err := s.c.Tx(ctx, func(q Querier) (err error) {
		if err := customerExists(ctx, q, t.CustomerID); err != nil {
			return err
		}
		sql, args := `UPDATE tickets SET customer_id = $1, subject = $2, category = $3, tags = $4, status = $5,
			priority = $6, assignee = $7, channel = $8, updated_at = $9 WHERE id = $10`,
			[]any{t.CustomerID, t.Subject, t.Category, tagsJSON(t.Tags), t.Status, t.Priority, t.Assignee, t.Channel,
				s.d.Time(now), t.ID}
		if t.IfVersion != 0 {
			sql, args = sql+` AND change_tx = $11`, append(args, t.IfVersion)
		}
		err = q.QueryRow(ctx, sql+` RETURNING created_at`, args...).Scan(ts(&t.CreatedAt))
		if errors.Is(err, ErrNoRows) && t.IfVersion != 0 {
			return versionMismatch(ctx, q, "tickets", t.ID, t.IfVersion)
		}
		if err != nil {
			return err
		}
		t.UpdatedAt = now
		if err := claimExternalIDs(ctx, q, ownerTicket, t.ID, t.ExternalIDs); err != nil {
			return err
		}
		if err := writeTerms(ctx, q, ownerTicket, t.ID, t.Subject); err != nil {
			return err
		}
		if err := readVersion(ctx, q, "tickets", t.ID, &t.Version); err != nil {
			return err
		}
		n, err = s.emit(ctx, q, store.Change{Kind: store.ChangeTicketUpdated, Ticket: t})
		return err
	})
	s.committed(n, err)
	return s.wrap(op, err)
}

// ListTickets lists newest first (id descending).
func (s *Store) ListTickets(ctx context.Context, f store.TicketFilter, p store.Page) ([]store.Ticket, string, error) {
	limit, err := pageLimit(p)
	if err != nil {
		return nil, "", s.wrap("list tickets", err)
	}
	var q listQuery
	if f.CustomerID != 0 {
		q.and(`customer_id = ` + q.arg(f.CustomerID))
	}
	if f.Status != "" {
		q.and(`status = ` + q.arg(f.Status))
	}
	if f.Category != "" {
		q.and(`category = ` + q.arg(normCategory(f.Category)))
	}
	if !f.ExternalID.IsZero() {
		q.and(externalIDCond(&q, ownerTicket, "id", f.ExternalID))
	}
	if strings.TrimSpace(f.Query) != "" {
		q.and(s.searchCond(&q, ownerTicket, "id", f.Query))
	}
	plan, err := s.planSync(ctx, &q, "t", "", p, f.Since, "updated_at", "created_at")
	if err != nil {
		return nil, "", s.wrap("list tickets", err)
	}
	order := `id DESC`
	if plan.on {
		order = plan.order("")
	} else {
		cur, hasCur, err := decodeCursor(p.Cursor, "t")
		if err != nil {
			return nil, "", s.wrap("list tickets", err)
		}
		if hasCur {
			q.and(`id < ` + q.arg(cur.id))
		}
	}
	rows, err := s.c.Query(ctx, q.sql(`SELECT `+ticketCols+` FROM tickets`, order, limit), q.args...)
	if err != nil {
		return nil, "", s.wrap("list tickets", err)
	}
	out, err := scanTickets(rows)
	if err == nil {
		err = withExternalIDs(ctx, s.c, out)
	}
	if err != nil {
		return nil, "", s.wrap("list tickets", err)
	}
	var next string
	if plan.on {
		out, next = syncPage(plan, out, limit, func(t store.Ticket) (int64, int64) { return t.Version, t.ID })
	} else {
		out, next = nextPage(out, limit, func(t store.Ticket) cursor { return cursor{kind: "t", id: t.ID} })
	}
	return out, next, nil
}

// withExternalIDs loads the external ids of a page of tickets.
func withExternalIDs(ctx context.Context, q Querier, ts []store.Ticket) error {
	ids := make([]int64, len(ts))
	for i, t := range ts {
		ids[i] = t.ID
	}
	ext, err := loadExternalIDs(ctx, q, ownerTicket, ids)
	if err != nil {
		return err
	}
	for i := range ts {
		if e := ext[ts[i].ID]; e != nil {
			ts[i].ExternalIDs = e
		}
	}
	return nil
}
