package sqlcore

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hotline-dev/hotline/phone"
	"github.com/hotline-dev/hotline/store"
)

// chunk bounds the rows of one multi-row statement (bind-variable limits:
// 19 voice columns x 500 rows stays far below SQLite's 32766).
const chunk = 500

// args collects bind arguments and hands out $N placeholders; pre (the
// dialect's BatchArgs) goes first and is not numbered.
type args struct{ pre, v []any }

func (s *Store) newArgs() *args { return &args{pre: s.d.BatchArgs} }

func (a *args) add(v any) string { a.v = append(a.v, v); return "$" + strconv.Itoa(len(a.v)) }

func (a *args) list(vs ...any) string {
	ph := make([]string, len(vs))
	for i, v := range vs {
		ph[i] = a.add(v)
	}
	return strings.Join(ph, ", ")
}

func (a *args) all() []any { return append(slices.Clone(a.pre), a.v...) }

type callerKey struct{ kind, value string }

// keyOf is the contact a call is matched on: the E.164 number, or the raw
// caller ID (lowercased, "" is "anonymous") when it is not a number.
func (s *Store) keyOf(r *store.CallRecord) (k callerKey, shown string) {
	return s.callerKeyOf(callerNumber(r))
}

// callerKeyOf is keyOf for a raw caller ID (a callback request uses it for
// the caller of the call it was asked from).
func (s *Store) callerKeyOf(raw string) (k callerKey, shown string) {
	raw = strings.TrimSpace(raw)
	if e, err := phone.Normalize(raw, s.country); err == nil {
		return callerKey{kindPhone, e}, e
	}
	if raw == "" {
		raw = "anonymous"
	}
	return callerKey{kindCaller, rawCallerKey(raw)}, raw
}

type ticketKey struct {
	customer int64
	category string
}

// logChunk logs up to chunk records with a fixed number of statements
// (set-based, not one round trip per record). The rules are LogCall's:
// see store.Store.
func (s *Store) logChunk(ctx context.Context, q Querier, recs []store.CallRecord) ([]store.LogResult, error) {
	now := s.clock()
	out := make([]store.LogResult, len(recs))

	// 1. Calls (Call-ID and From tag) already logged, and repeats inside
	// the batch.
	a := s.newArgs()
	ids := make([]any, 0, len(recs))
	for i := range recs {
		if id := recs[i].Voice.CallID; !slices.Contains(ids, any(id)) {
			ids = append(ids, id)
		}
	}
	rows, err := q.Query(ctx, `SELECT v.call_id, v.from_tag, i.id, i.customer_id, i.ticket_id FROM voice_calls v
		JOIN interactions i ON i.id = v.interaction_id WHERE v.call_id IN (`+a.list(ids...)+`)`, a.all()...)
	if err != nil {
		return nil, err
	}
	done := map[callKey]int{} // call -> index of the record that has it
	prior := map[callKey]store.LogResult{}
	for rows.Next() {
		var k callKey
		var res store.LogResult
		if err := rows.Scan(&k.id, &k.fromTag, &res.InteractionID, &res.CustomerID, nullInt{&res.TicketID}); err != nil {
			rows.Close()
			return nil, err
		}
		res.Duplicate = true
		prior[k] = res
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var fresh []int // records to write, in order
	for i := range recs {
		k := keyOfCall(&recs[i])
		if res, ok := prior[k]; ok {
			out[i] = res
			continue
		}
		if _, ok := done[k]; ok {
			continue // filled in from the first one at the end
		}
		done[k] = i
		fresh = append(fresh, i)
	}
	if len(fresh) > 0 {
		if err := s.writeFresh(ctx, q, recs, fresh, out, now); err != nil {
			return nil, err
		}
	}
	for i := range recs {
		if first, ok := done[keyOfCall(&recs[i])]; ok && first != i {
			out[i] = store.LogResult{InteractionID: out[first].InteractionID, CustomerID: out[first].CustomerID,
				TicketID: out[first].TicketID, Duplicate: true}
		}
	}
	return out, nil
}

// callKey is what makes a call record unique: the SIP Call-ID and the
// caller's From tag (RFC 3261 §12).
type callKey struct{ id, fromTag string }

func keyOfCall(r *store.CallRecord) callKey { return callKey{r.Voice.CallID, r.Voice.FromTag} }

func (s *Store) writeFresh(ctx context.Context, q Querier, recs []store.CallRecord, fresh []int, out []store.LogResult, now time.Time) error {
	// 2a. A call that asked for a callback belongs to the callback's
	// customer and ticket: the request was written while the call was up,
	// so its story (request, attempts, outcome) and the call share one
	// ticket whatever the call's category or caller ID say.
	linked, err := s.callbackTickets(ctx, q, recs, fresh)
	if err != nil {
		return err
	}
	// 2b. Other customers by caller key; create the missing ones.
	keys := make(map[int]callerKey, len(fresh))
	shown := make(map[int]string, len(fresh))
	var values []any
	for _, i := range fresh {
		k, sh := s.keyOf(&recs[i])
		keys[i], shown[i] = k, sh
		if _, ok := linked[i]; !ok {
			values = append(values, k.value)
		}
	}
	cust := map[callerKey]int64{}
	if len(values) > 0 {
		if err := s.findCallers(ctx, q, values, cust); err != nil {
			return err
		}
	}
	var missing []callerKey
	for _, i := range fresh {
		if _, ok := linked[i]; ok {
			continue
		}
		if _, ok := cust[keys[i]]; !ok && !slices.Contains(missing, keys[i]) {
			missing = append(missing, keys[i])
		}
	}
	if err := s.createCallers(ctx, q, missing, cust, now); err != nil {
		return err
	}
	created := map[callerKey]bool{}
	for _, k := range missing {
		created[k] = true
	}
	for _, i := range fresh {
		if l, ok := linked[i]; ok {
			out[i].CustomerID = l.customer
			continue
		}
		k := keys[i]
		out[i].CustomerID = cust[k]
		if created[k] {
			out[i].NewCustomer = true
			delete(created, k) // only the first call of a new caller says so
		}
	}

	// 3. Tickets: the callback's, else the newest open or pending one per
	// customer and category.
	if err := s.attachTickets(ctx, q, recs, fresh, linked, shown, out, now); err != nil {
		return err
	}

	// 4. Interactions and their voice rows.
	return s.insertCalls(ctx, q, recs, fresh, out, now)
}

// linkedTicket is where a call that asked for a callback goes.
type linkedTicket struct{ customer, ticket int64 }

// callbackTickets finds the callbacks the fresh records asked for (by
// Call-ID and From tag), by record index.
func (s *Store) callbackTickets(ctx context.Context, q Querier, recs []store.CallRecord, fresh []int) (map[int]linkedTicket, error) {
	a := s.newArgs()
	var ids []any
	for _, i := range fresh {
		if id := recs[i].Voice.CallID; !slices.Contains(ids, any(id)) {
			ids = append(ids, id)
		}
	}
	rows, err := q.Query(ctx, `SELECT call_id, from_tag, customer_id, ticket_id FROM callbacks WHERE call_id IN (`+a.list(ids...)+`)
		ORDER BY id`, a.all()...)
	if err != nil {
		return nil, err
	}
	byCall := map[callKey]linkedTicket{}
	for rows.Next() {
		var k callKey
		var l linkedTicket
		if err := rows.Scan(&k.id, &k.fromTag, &l.customer, &l.ticket); err != nil {
			rows.Close()
			return nil, err
		}
		if _, ok := byCall[k]; !ok { // the first callback the call asked for
			byCall[k] = l
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := map[int]linkedTicket{}
	for _, i := range fresh {
		if l, ok := byCall[keyOfCall(&recs[i])]; ok {
			out[i] = l
		}
	}
	return out, nil
}

// findCallers fills cust with the customers owning the phone or raw
// caller ID values.
func (s *Store) findCallers(ctx context.Context, q Querier, values []any, cust map[callerKey]int64) error {
	a := s.newArgs()
	rows, err := q.Query(ctx, `SELECT kind, value, customer_id FROM customer_contacts WHERE kind IN ('phone', 'caller')
		AND value IN (`+a.list(values...)+`)`, a.all()...)
	if err != nil {
		return err
	}
	for rows.Next() {
		var k callerKey
		var id int64
		if err := rows.Scan(&k.kind, &k.value, &id); err != nil {
			rows.Close()
			return err
		}
		cust[k] = id
	}
	rows.Close()
	return rows.Err()
}

// createCallers inserts one customer (tier new) per missing key, with its
// phone, or its raw caller ID as a "caller" contact and attribute.
func (s *Store) createCallers(ctx context.Context, q Querier, missing []callerKey, cust map[callerKey]int64, now time.Time) error {
	if len(missing) == 0 {
		return nil
	}
	st, err := s.stamper(ctx, q)
	if err != nil {
		return err
	}
	a := s.newArgs()
	var vals []string
	byName := map[string]callerKey{}
	for _, k := range missing {
		name, attrs := k.value, map[string]string{"source": "call"}
		if k.kind == kindCaller {
			name = "Unknown caller " + k.value
			attrs["caller_raw"] = k.value
		}
		byName[name] = k
		vals = append(vals, "("+a.list(name, string(store.TierNew), attrsJSON(attrs), s.d.Time(now), s.d.Time(now))+", "+st(a)+")")
	}
	terms := map[int64]string{}
	rows, err := q.Query(ctx, `INSERT INTO customers (name, tier, attributes, created_at, updated_at, change_tx) VALUES `+
		strings.Join(vals, ", ")+` RETURNING id, name`, a.all()...)
	if err != nil {
		return err
	}
	for rows.Next() {
		var id int64
		var name string
		if err := rows.Scan(&id, &name); err != nil {
			rows.Close()
			return err
		}
		cust[byName[name]] = id
		terms[id] = name
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if err := insertTerms(ctx, q, ownerCustomer, terms); err != nil {
		return err
	}
	a, vals = s.newArgs(), nil
	for _, k := range missing {
		vals = append(vals, "("+a.list(cust[k], k.kind, k.value, 0)+")")
	}
	return q.Exec(ctx, `INSERT INTO customer_contacts (customer_id, kind, value, position) VALUES `+strings.Join(vals, ", "), a.all()...)
}

func (s *Store) attachTickets(ctx context.Context, q Querier, recs []store.CallRecord, fresh []int, linked map[int]linkedTicket,
	shown map[int]string, out []store.LogResult, now time.Time) error {
	type open struct {
		id        int64
		tags, was []string
		isNew     bool
		subject   string
	}
	scan := func(sql string, a *args, put func(k ticketKey, t *open)) error {
		rows, err := q.Query(ctx, sql, a.all()...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var k ticketKey
			var t open
			var tags []byte
			if err := rows.Scan(&t.id, &k.customer, &k.category, jsonDest{&tags}); err != nil {
				rows.Close()
				return err
			}
			_ = jsonUnmarshal(tags, &t.tags)
			t.was = slices.Clone(t.tags)
			put(k, &t)
		}
		rows.Close()
		return rows.Err()
	}
	tickets := map[ticketKey]*open{}
	var custs []any
	for _, i := range fresh {
		if _, ok := linked[i]; !ok && !slices.Contains(custs, any(out[i].CustomerID)) {
			custs = append(custs, out[i].CustomerID)
		}
	}
	if len(custs) > 0 {
		a := s.newArgs()
		if err := scan(`SELECT id, customer_id, category, tags FROM tickets WHERE status IN ('open', 'pending')
			AND customer_id IN (`+a.list(custs...)+`) ORDER BY id`, a, func(k ticketKey, t *open) {
			tickets[k] = t // ordered by id: the newest wins
		}); err != nil {
			return err
		}
	}
	byID := map[int64]*open{} // the tickets of callbacks, whatever their status
	if len(linked) > 0 {
		a := s.newArgs()
		var ids []any
		for _, l := range linked {
			if !slices.Contains(ids, any(l.ticket)) {
				ids = append(ids, l.ticket)
			}
		}
		if err := scan(`SELECT id, customer_id, category, tags FROM tickets WHERE id IN (`+a.list(ids...)+`)`, a,
			func(_ ticketKey, t *open) { byID[t.id] = t }); err != nil {
			return err
		}
	}
	ticketOf := func(i int) *open {
		if l, ok := linked[i]; ok {
			return byID[l.ticket]
		}
		return tickets[ticketKey{out[i].CustomerID, recs[i].Category}]
	}
	var order []ticketKey // new tickets, in the order their first call came
	for _, i := range fresh {
		r := &recs[i]
		k := ticketKey{out[i].CustomerID, r.Category}
		t := ticketOf(i)
		if t == nil {
			t = &open{isNew: true, subject: r.Subject, tags: []string{}}
			if t.subject == "" {
				t.subject = "Call from " + shown[i] + " — " + r.Category
			}
			tickets[k] = t
			order = append(order, k)
			out[i].NewTicket = true
		}
		for _, g := range r.Tags {
			if !slices.Contains(t.tags, g) {
				t.tags = append(t.tags, g)
			}
		}
	}
	if len(order) > 0 {
		st, err := s.stamper(ctx, q)
		if err != nil {
			return err
		}
		a := s.newArgs()
		var vals []string
		for _, k := range order {
			t := tickets[k]
			vals = append(vals, "("+a.list(k.customer, t.subject, k.category, tagsJSON(t.tags), store.StatusOpen, "normal", "",
				store.ChannelVoice, s.d.Time(now), s.d.Time(now))+", "+st(a)+")")
		}
		terms := map[int64]string{}
		rows, err := q.Query(ctx, `INSERT INTO tickets (customer_id, subject, category, tags, status, priority, assignee, channel, created_at, updated_at, change_tx)
			VALUES `+strings.Join(vals, ", ")+` RETURNING id, customer_id, category`, a.all()...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var k ticketKey
			var id int64
			if err := rows.Scan(&id, &k.customer, &k.category); err != nil {
				rows.Close()
				return err
			}
			tickets[k].id = id
			terms[id] = tickets[k].subject
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if err := insertTerms(ctx, q, ownerTicket, terms); err != nil {
			return err
		}
	}
	// Reused tickets: mark updated, add new tags.
	a := s.newArgs()
	var touched []any
	for _, i := range fresh {
		t := ticketOf(i)
		out[i].TicketID = t.id
		if t.isNew || slices.Contains(touched, any(t.id)) {
			continue
		}
		touched = append(touched, t.id)
		if len(t.tags) != len(t.was) {
			if err := q.Exec(ctx, `UPDATE tickets SET tags = $1 WHERE id = $2`, tagsJSON(t.tags), t.id); err != nil {
				return err
			}
		}
	}
	if len(touched) == 0 {
		return nil
	}
	st, err := s.stamper(ctx, q)
	if err != nil {
		return err
	}
	at := a.add(s.d.Time(now))
	return q.Exec(ctx, `UPDATE tickets SET updated_at = `+at+`, change_tx = `+st(a)+` WHERE id IN (`+a.list(touched...)+`)`, a.all()...)
}

func (s *Store) insertCalls(ctx context.Context, q Querier, recs []store.CallRecord, fresh []int, out []store.LogResult, now time.Time) error {
	st, err := s.stamper(ctx, q)
	if err != nil {
		return err
	}
	a := s.newArgs()
	var vals []string
	for _, i := range fresh {
		r := &recs[i]
		var ended any
		if !r.EndedAt.IsZero() {
			ended = s.d.Time(r.EndedAt)
		}
		summary := r.Summary
		if summary == "" {
			summary = callSummary(r)
		}
		vals = append(vals, "("+a.list(out[i].CustomerID, out[i].TicketID, store.ChannelVoice, r.Direction, s.d.Time(r.StartedAt),
			ended, summary, "", s.d.Time(now))+", "+st(a)+")")
	}
	rows, err := q.Query(ctx, `INSERT INTO interactions (customer_id, ticket_id, channel, direction, started_at, ended_at, summary, body, created_at, change_tx)
		VALUES `+strings.Join(vals, ", ")+` RETURNING id`, a.all()...)
	if err != nil {
		return err
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if len(ids) != len(fresh) {
		return fmt.Errorf("insert interactions: %d ids for %d rows", len(ids), len(fresh))
	}
	// Both backends number the rows of one INSERT ... VALUES in order (an
	// identity / autoincrement evaluated row by row), so the ascending ids
	// are the VALUES rows in order.
	slices.Sort(ids)
	a, vals = s.newArgs(), nil
	for n, i := range fresh {
		out[i].InteractionID = ids[n]
		vs, err := voiceValues(ids[n], &recs[i].Voice)
		if err != nil {
			return err
		}
		vals = append(vals, "("+a.list(vs...)+")")
	}
	if err := q.Exec(ctx, `INSERT INTO voice_calls (`+voiceCols+`) VALUES `+strings.Join(vals, ", "), a.all()...); err != nil {
		return err
	}
	calls := make([]voiceOf, 0, len(fresh))
	for _, i := range fresh {
		calls = append(calls, voiceOf{out[i].InteractionID, &recs[i].Voice})
	}
	return insertRecordings(ctx, q, s.d, calls, now)
}
