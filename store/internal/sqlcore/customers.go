package sqlcore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hotline-dev/hotline/phone"
	"github.com/hotline-dev/hotline/store"
)

// Contact kinds in customer_contacts. "caller" holds a raw caller ID that
// is not a phone number (anonymous, a SIP user): see LogCall.
const (
	kindPhone  = "phone"
	kindEmail  = "email"
	kindChat   = "chat"
	kindCaller = "caller"
)

type contact struct{ kind, value, field string }

func contactsOf(c *store.Customer) []contact {
	var out []contact
	for i, v := range c.Phones {
		out = append(out, contact{kindPhone, v, fmt.Sprintf("phones[%d]", i)})
	}
	for i, v := range c.Emails {
		out = append(out, contact{kindEmail, v, fmt.Sprintf("emails[%d]", i)})
	}
	for i, v := range c.ChatHandles {
		out = append(out, contact{kindChat, v, fmt.Sprintf("chat_handles[%d]", i)})
	}
	return out
}

// claimContacts fails with a ConflictError when a contact belongs to
// another customer, then (re)writes id's contacts.
func claimContacts(ctx context.Context, q Querier, id int64, cs []contact) error {
	for _, c := range cs {
		var owner int64
		err := q.QueryRow(ctx, `SELECT customer_id FROM customer_contacts WHERE kind = $1 AND value = $2`, c.kind, c.value).Scan(&owner)
		if err == nil && owner != id {
			return &store.ConflictError{Field: c.field, Message: fmt.Sprintf("%q belongs to customer %d", c.value, owner)}
		}
		if err != nil && !errors.Is(err, ErrNoRows) {
			return err
		}
	}
	if err := q.Exec(ctx, `DELETE FROM customer_contacts WHERE customer_id = $1 AND kind <> 'caller'`, id); err != nil {
		return err
	}
	for pos, c := range cs {
		if err := q.Exec(ctx, `INSERT INTO customer_contacts (customer_id, kind, value, position) VALUES ($1, $2, $3, $4)`,
			id, c.kind, c.value, pos); err != nil {
			return err
		}
	}
	return nil
}

func attrsJSON(m map[string]string) string {
	b, _ := json.Marshal(m) // a map[string]string always marshals
	return string(b)
}

// CreateCustomer validates c, stores it and sets its ID and timestamps.
func (s *Store) CreateCustomer(ctx context.Context, c *store.Customer) error {
	if err := s.normCustomer(c); err != nil {
		return s.wrap("create customer", err)
	}
	now := s.clock()
	err := s.c.Tx(ctx, func(q Querier) error { return insertCustomer(ctx, q, s.d, c, now) })
	return s.wrap("create customer", err)
}

func insertCustomer(ctx context.Context, q Querier, d Dialect, c *store.Customer, now time.Time) error {
	var id int64
	if err := q.QueryRow(ctx, `INSERT INTO customers (name, tier, attributes, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $4) RETURNING id`, c.Name, string(c.Tier), attrsJSON(c.Attributes), d.Time(now)).Scan(&id); err != nil {
		return err
	}
	if err := claimContacts(ctx, q, id, contactsOf(c)); err != nil {
		return err
	}
	if err := claimExternalIDs(ctx, q, ownerCustomer, id, c.ExternalIDs); err != nil {
		return err
	}
	if err := writeTerms(ctx, q, ownerCustomer, id, c.Name); err != nil {
		return err
	}
	c.ID, c.CreatedAt, c.UpdatedAt = id, now, now
	return readVersion(ctx, q, "customers", id, &c.Version)
}

// readVersion reads a row's change_tx after a write in the same
// transaction (SQLite's trigger sets it after RETURNING has been read).
func readVersion(ctx context.Context, q Querier, table string, id int64, v *int64) error {
	return q.QueryRow(ctx, `SELECT change_tx FROM `+table+` WHERE id = $1`, id).Scan(v)
}

// versionMismatch tells a missing row (ErrNotFound) from one that moved
// past the expected version (ErrVersion) after an UPDATE that matched no row.
func versionMismatch(ctx context.Context, q Querier, table string, id, want int64) error {
	var have int64
	if err := readVersion(ctx, q, table, id, &have); err != nil {
		return err
	}
	return fmt.Errorf("%s %d is at version %d, not %d: %w", table, id, have, want, store.ErrVersion)
}

// GetCustomer returns the customer or ErrNotFound.
func (s *Store) GetCustomer(ctx context.Context, id int64) (*store.Customer, error) {
	c, err := s.getCustomer(ctx, s.c, id)
	return c, s.wrap("get customer "+strconv.FormatInt(id, 10), err)
}

const customerCols = `c.id, c.name, c.tier, c.attributes, c.created_at, c.updated_at, c.change_tx`

func (s *Store) getCustomer(ctx context.Context, q Querier, id int64) (*store.Customer, error) {
	cs, err := s.scanCustomers(ctx, q, `SELECT `+customerCols+` FROM customers c WHERE c.id = $1`, id)
	if err != nil {
		return nil, err
	}
	if len(cs) == 0 {
		return nil, store.ErrNotFound
	}
	return &cs[0], nil
}

// scanCustomers runs a customer query and loads the contacts of each row.
func (s *Store) scanCustomers(ctx context.Context, q Querier, sql string, args ...any) ([]store.Customer, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	var out []store.Customer
	for rows.Next() {
		var c store.Customer
		var attrs []byte
		if err := rows.Scan(&c.ID, &c.Name, &c.Tier, jsonDest{&attrs}, ts(&c.CreatedAt), ts(&c.UpdatedAt), &c.Version); err != nil {
			rows.Close()
			return nil, err
		}
		c.Attributes = map[string]string{}
		if len(attrs) > 0 {
			if err := json.Unmarshal(attrs, &c.Attributes); err != nil {
				rows.Close()
				return nil, fmt.Errorf("customer %d attributes: %w", c.ID, err)
			}
		}
		c.Phones, c.Emails, c.ChatHandles, c.ExternalIDs = []string{}, []string{}, []string{}, []store.ExternalID{}
		out = append(out, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(out) == 0 {
		return out, err
	}
	idx := make(map[int64]int, len(out))
	ph := make([]string, len(out))
	args = args[:0]
	for i, c := range out {
		idx[c.ID] = i
		ph[i] = "$" + strconv.Itoa(i+1)
		args = append(args, c.ID)
	}
	rows, err = q.Query(ctx, `SELECT customer_id, kind, value FROM customer_contacts
		WHERE customer_id IN (`+strings.Join(ph, ",")+`) ORDER BY customer_id, position`, args...)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var id int64
		var kind, value string
		if err := rows.Scan(&id, &kind, &value); err != nil {
			return nil, err
		}
		c := &out[idx[id]]
		switch kind {
		case kindPhone:
			c.Phones = append(c.Phones, value)
		case kindEmail:
			c.Emails = append(c.Emails, value)
		case kindChat:
			c.ChatHandles = append(c.ChatHandles, value)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	ids := make([]int64, len(out))
	for i, c := range out {
		ids[i] = c.ID
	}
	ext, err := loadExternalIDs(ctx, q, ownerCustomer, ids)
	if err != nil {
		return nil, err
	}
	for i := range out {
		if e := ext[out[i].ID]; e != nil {
			out[i].ExternalIDs = e
		}
	}
	return out, nil
}

// UpdateCustomer replaces every field of customer c.ID (contacts included).
func (s *Store) UpdateCustomer(ctx context.Context, c *store.Customer) error {
	op := "update customer " + strconv.FormatInt(c.ID, 10)
	if err := s.normCustomer(c); err != nil {
		return s.wrap(op, err)
	}
	now := s.clock()
	err := s.c.Tx(ctx, func(q Querier) error {
		sql, args := `UPDATE customers SET name = $1, tier = $2, attributes = $3, updated_at = $4
			WHERE id = $5`, []any{c.Name, string(c.Tier), attrsJSON(c.Attributes), s.d.Time(now), c.ID}
		if c.IfVersion != 0 {
			sql, args = sql+` AND change_tx = $6`, append(args, c.IfVersion)
		}
		err := q.QueryRow(ctx, sql+` RETURNING created_at`, args...).Scan(ts(&c.CreatedAt))
		if errors.Is(err, ErrNoRows) && c.IfVersion != 0 {
			return versionMismatch(ctx, q, "customers", c.ID, c.IfVersion)
		}
		if err != nil {
			return err
		}
		c.UpdatedAt = now
		if err := claimContacts(ctx, q, c.ID, contactsOf(c)); err != nil {
			return err
		}
		if err := claimExternalIDs(ctx, q, ownerCustomer, c.ID, c.ExternalIDs); err != nil {
			return err
		}
		if err := writeTerms(ctx, q, ownerCustomer, c.ID, c.Name); err != nil {
			return err
		}
		return readVersion(ctx, q, "customers", c.ID, &c.Version)
	})
	return s.wrap(op, err)
}

// ListCustomers lists by id ascending.
func (s *Store) ListCustomers(ctx context.Context, f store.CustomerFilter, p store.Page) ([]store.Customer, string, error) {
	limit, err := pageLimit(p)
	if err != nil {
		return nil, "", s.wrap("list customers", err)
	}
	var q listQuery
	if f.Phone != "" {
		e, err := phone.Normalize(f.Phone, s.country)
		if err != nil {
			return nil, "", s.wrap("list customers", fieldErr("phone", "%q is not a phone number", f.Phone))
		}
		q.and(`c.id IN (SELECT customer_id FROM customer_contacts WHERE kind = 'phone' AND value = ` + q.arg(e) + `)`)
	}
	if f.Email != "" {
		q.and(`c.id IN (SELECT customer_id FROM customer_contacts WHERE kind = 'email' AND value = ` + q.arg(strings.ToLower(strings.TrimSpace(f.Email))) + `)`)
	}
	if f.Tier != "" {
		q.and(`c.tier = ` + q.arg(string(f.Tier)))
	}
	if !f.ExternalID.IsZero() {
		q.and(externalIDCond(&q, ownerCustomer, "c.id", f.ExternalID))
	}
	if strings.TrimSpace(f.Query) != "" {
		q.and(s.searchCond(&q, ownerCustomer, "c.id", f.Query))
	}
	plan, err := s.planSync(ctx, &q, "c", "c", p, f.Since, "c.updated_at", "created_at")
	if err != nil {
		return nil, "", s.wrap("list customers", err)
	}
	order := `c.id`
	if plan.on {
		order = plan.order("c")
	} else {
		cur, hasCur, err := decodeCursor(p.Cursor, "c")
		if err != nil {
			return nil, "", s.wrap("list customers", err)
		}
		if hasCur {
			q.and(`c.id > ` + q.arg(cur.id))
		}
	}
	cs, err := s.scanCustomers(ctx, s.c, q.sql(`SELECT `+customerCols+` FROM customers c`, order, limit), q.args...)
	if err != nil {
		return nil, "", s.wrap("list customers", err)
	}
	var next string
	if plan.on {
		cs, next = syncPage(plan, cs, limit, func(c store.Customer) (int64, int64) { return c.Version, c.ID })
	} else {
		cs, next = nextPage(cs, limit, func(c store.Customer) cursor { return cursor{kind: "c", id: c.ID} })
	}
	return orEmptyList(cs), next, nil
}

func orEmptyList[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// FindCustomerByPhone finds the customer owning a number (any format
// Normalize accepts).
func (s *Store) FindCustomerByPhone(ctx context.Context, number string) (*store.Customer, error) {
	e, err := phone.Normalize(number, s.country)
	if err != nil {
		return nil, s.wrap("find customer by phone", fieldErr("phone", "%q is not a phone number", number))
	}
	return s.findByContact(ctx, s.c, "find customer by phone", kindPhone, e)
}

// FindCustomerByEmail finds the customer owning an email (case-insensitive).
func (s *Store) FindCustomerByEmail(ctx context.Context, email string) (*store.Customer, error) {
	return s.findByContact(ctx, s.c, "find customer by email", kindEmail, strings.ToLower(strings.TrimSpace(email)))
}

func (s *Store) findByContact(ctx context.Context, q Querier, op, kind, value string) (*store.Customer, error) {
	var id int64
	err := q.QueryRow(ctx, `SELECT customer_id FROM customer_contacts WHERE kind = $1 AND value = $2`, kind, value).Scan(&id)
	if err != nil {
		return nil, s.wrap(op, err)
	}
	c, err := s.getCustomer(ctx, q, id)
	return c, s.wrap(op, err)
}
