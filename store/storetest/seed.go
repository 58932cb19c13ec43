package storetest

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/store/internal/sqlcore"
)

// SeedCallbacks inserts n waiting callbacks spread over queues queues
// ("q00", "q01", ...), due since an hour before at, each with its own
// number and a join time one second after the previous one's, on one
// customer's ticket (benchmarks of the scheduler: requests one by one would
// take minutes). It works on both backends.
func SeedCallbacks(ctx context.Context, s store.Store, n, queues int, at time.Time) error {
	raw, ok := s.(interface {
		Conn() sqlcore.Conn
		Dialect() sqlcore.Dialect
	})
	if !ok {
		return fmt.Errorf("storetest: %T cannot be seeded", s)
	}
	c := &store.Customer{Name: "seeded"}
	if err := s.CreateCustomer(ctx, c); err != nil {
		return err
	}
	t := &store.Ticket{CustomerID: c.ID, Subject: "seeded callbacks"}
	if err := s.CreateTicket(ctx, t); err != nil {
		return err
	}
	d := raw.Dialect()
	const rows = 500
	for lo := 0; lo < n; lo += rows {
		var vals []string
		var args []any
		for i := lo; i < min(lo+rows, n); i++ {
			ph := make([]string, 0, 12)
			for _, v := range []any{c.ID, t.ID, fmt.Sprintf("q%02d", i%queues), fmt.Sprintf("+8491%07d", i),
				d.Time(at.Add(time.Duration(i-n) * time.Second)), d.Time(at.Add(-time.Hour)), d.Time(at.Add(48 * time.Hour)),
				3, d.Time(at), d.Time(at)} {
				args = append(args, v)
				ph = append(ph, fmt.Sprintf("$%d", len(args)))
			}
			vals = append(vals, "("+ph[0]+", "+ph[1]+", "+ph[2]+", "+ph[3]+", 'customer_first', 'virtual_hold', 'waiting', '', "+
				strings.Join(ph[4:], ", ")+")")
		}
		if err := raw.Conn().Exec(ctx, `INSERT INTO callbacks (customer_id, ticket_id, queue, number, mode, source, state, tier,
			joined_at, not_before, expires_at, max_attempts, created_at, updated_at) VALUES `+strings.Join(vals, ", "), args...); err != nil {
			return fmt.Errorf("storetest: seed callbacks %d-%d: %w", lo, lo+len(vals), err)
		}
	}
	if d.Name == "sqlite" {
		return raw.Conn().Exec(ctx, `ANALYZE`)
	}
	return raw.Conn().Exec(ctx, `ANALYZE callbacks`)
}
