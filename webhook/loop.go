package webhook

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/hotline-dev/hotline/store"
)

// Run loads the API's subscriptions, then writes the queue to the outbox
// and delivers it until ctx ends or Close. Both loops retry while the
// database is away.
func (s *Service) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { _ = s.Close() })
	defer stop()
	go func() {
		select {
		case <-s.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	for wait := time.Duration(0); ; wait = s.dbRetry.Next(wait) {
		err := s.reload(ctx)
		if err == nil {
			s.rekeyOnce(ctx)
			break
		}
		s.log.Warn("webhook: cannot load subscriptions yet; retrying", "err", err, "retry_in", s.dbRetry.Next(wait))
		if !sleep(ctx, s.dbRetry.Next(wait)) {
			return nil
		}
	}
	writer := make(chan struct{})
	go func() { defer close(writer); s.writeLoop(ctx) }()
	s.deliverLoop(ctx)
	<-writer
	s.sends.Wait()
	// Keep-alive connections to receivers end with the service.
	s.cfg.Client.CloseIdleConnections()
	return nil
}

// Close stops observing the bus and ends Run.
func (s *Service) Close() error {
	s.closeOnce.Do(func() {
		if s.stopObs != nil {
			s.stopObs()
		}
		close(s.done)
	})
	return nil
}

func (s *Service) db(ctx context.Context) (store.Webhooks, error) { return s.cfg.Store(ctx) }

// rekeyOnce re-encrypts the secrets not under the current key (seal.go).
func (s *Service) rekeyOnce(ctx context.Context) {
	wctx, cancel := context.WithTimeout(ctx, s.cfg.Delivery.Timeout)
	defer cancel()
	db, err := s.db(wctx)
	if err != nil {
		return
	}
	api, err := db.ListWebhooks(wctx)
	if err != nil {
		return
	}
	s.rekey(wctx, db, api)
	if err := s.reload(wctx); err != nil {
		s.log.Warn("webhook: cannot reload subscriptions", "err", err)
	}
}

// reload reads the API's subscriptions, and takes them when they differ
// from those loaded last. It runs before every outbox write and every
// claimed batch's sends, and for the API's reads: in a cluster another
// node's API may have created, changed or deleted one a moment ago
// (docs/api.md "Webhooks in a cluster"). The table is a handful of rows,
// which the store's own writes read in each of their transactions anyway.
func (s *Service) reload(ctx context.Context) error {
	wctx, cancel := context.WithTimeout(ctx, s.cfg.Delivery.Timeout)
	defer cancel()
	db, err := s.db(wctx)
	if err != nil {
		return err
	}
	api, err := db.ListWebhooks(wctx)
	if err != nil {
		return err
	}
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	if v := subsVersion(api); v != s.apiVersion || !s.apiLoaded {
		s.setSubs(api)
		s.apiVersion, s.apiLoaded = v, true
	}
	s.loadOnce.Do(func() { close(s.loaded) })
	return nil
}

// subsVersion is the content of the API's subscriptions as one string:
// equal strings, equal subscriptions (no clock is compared, so nodes'
// skewed clocks do not matter).
func subsVersion(api []store.WebhookSubscription) string {
	var b strings.Builder
	for _, w := range api {
		fmt.Fprintf(&b, "%q %q %q %q %d\n", w.ID, w.URL, w.Secret, w.Events, w.UpdatedAt.UnixNano())
	}
	return b.String()
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (s *Service) kickDeliver() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// writeLoop moves queued events to the outbox in batches (one
// transaction each), fanned out to the subscriptions that want them.
func (s *Service) writeLoop(ctx context.Context) {
	var batch []Event
	for {
		select {
		case ev := <-s.in:
			batch = append(batch[:0], ev)
		case <-ctx.Done():
			s.flushOnStop(ctx)
			return
		}
	more:
		for len(batch) < batchMax {
			select {
			case ev := <-s.in:
				batch = append(batch, ev)
			default:
				break more
			}
		}
		for wait := time.Duration(0); ; {
			err := s.write(ctx, batch)
			if err == nil {
				break
			}
			s.writeFails.Add(1)
			wait = s.dbRetry.Next(wait)
			s.log.Warn("webhook: cannot write the outbox; retrying", "events", len(batch), "err", err, "retry_in", wait)
			if !s.writerSleep(ctx, wait) {
				s.log.Error("webhook: stopping with events not written to the outbox", "events", len(batch)+len(s.in))
				return
			}
		}
		s.wrote(len(batch))
		s.kickDeliver()
	}
}

// flushOnStop writes what is queued once more on the way out (a clean
// stop: the call log's last records made their events just before).
func (s *Service) flushOnStop(ctx context.Context) {
	var batch []Event
	for {
		select {
		case ev := <-s.in:
			batch = append(batch, ev)
			continue
		default:
		}
		break
	}
	if len(batch) == 0 {
		return
	}
	if err := s.write(ctx, batch); err != nil {
		s.log.Error("webhook: stopping with events not written to the outbox", "events", len(batch), "err", err)
		return
	}
	s.wrote(len(batch))
}

// writerSleep waits d before the writer's next attempt, less when Flush
// is waiting for it (the database may be back: the call log found it).
func (s *Service) writerSleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-s.wake:
	case <-ctx.Done():
		return false
	}
	return true
}

// Enqueue writes events to the outbox now, bypassing the queue (tests
// and the API's replay tests; the app's events go through the bus's queue or
// the store's transactions).
func (s *Service) Enqueue(ctx context.Context, evs ...Event) error {
	err := s.write(ctx, evs)
	s.kickDeliver()
	return err
}

func (s *Service) write(ctx context.Context, batch []Event) error {
	if len(batch) == 0 {
		return nil
	}
	// Not cut short by ctx: the writer flushes on the way out.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.Delivery.Timeout)
	defer cancel()
	if err := s.reload(wctx); err != nil {
		return err
	}
	subs := *s.subs.Load()
	var ds []store.WebhookDelivery
	for _, ev := range batch {
		d, err := fanout(subs, ev)
		if err != nil {
			s.log.Error("webhook: event not encodable; dropped", "call_id", ev.CallID, "type", ev.Type, "err", err)
			continue
		}
		ds = append(ds, d...)
	}
	if len(ds) == 0 {
		return nil
	}
	db, err := s.db(wctx)
	if err != nil {
		return err
	}
	if err := db.EnqueueWebhooks(wctx, ds); err != nil {
		return err
	}
	s.enqueued.Add(uint64(len(ds)))
	return nil
}

// deliverLoop claims due heads and sends each in its own goroutine; it
// sleeps until the outbox's next due time or a kick (a write, a finished
// send), never polling.
func (s *Service) deliverLoop(ctx context.Context) {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	var dbWait time.Duration
	var pruned time.Time
	for {
		if now := s.cfg.Now(); now.Sub(pruned) >= pruneEvery {
			pruned = now
			s.prune(ctx, now)
		}
		wait, err := s.round(ctx, false)
		if err != nil {
			dbWait = s.dbRetry.Next(dbWait)
			wait = dbWait
			if ctx.Err() == nil {
				s.log.Warn("webhook: cannot claim deliveries; retrying", "err", err, "retry_in", wait)
			}
		} else {
			dbWait = 0
		}
		t.Reset(min(max(wait, 0), pruneEvery))
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.kick:
		}
	}
}

// pruneEvery spaces the outbox's clean-ups.
const pruneEvery = time.Hour

// prune deletes deliveries finished longer than Delivery.Keep ago.
func (s *Service) prune(ctx context.Context, now time.Time) {
	wctx, cancel := context.WithTimeout(ctx, s.cfg.Delivery.Timeout)
	defer cancel()
	db, err := s.db(wctx)
	if err != nil {
		return // the round that follows reports the outage
	}
	n, err := db.PruneWebhooks(wctx, now.Add(-s.cfg.Delivery.Keep))
	switch {
	case err != nil:
		s.log.Warn("webhook: cannot prune the outbox", "err", err)
	case n > 0:
		s.log.Info("webhook: pruned finished deliveries", "deleted", n, "keep", s.cfg.Delivery.Keep)
	}
}

// Step claims the due heads and delivers them before it returns (tests
// with an injected clock: no goroutines, no sleeps). It reports how many
// were attempted.
func (s *Service) Step(ctx context.Context) (int, error) {
	s.loadOnce.Do(func() {}) // a test's Service need not Run
	var n int
	_, err := s.claimAndSend(ctx, true, &n)
	return n, err
}

// round claims and sends; wait is how long until the next due head.
func (s *Service) round(ctx context.Context, sync bool) (time.Duration, error) {
	return s.claimAndSend(ctx, sync, nil)
}

// claimBatch is how many deliveries of one subscription a claim takes:
// sent one after the other (the order), their outcomes written in one
// transaction, so the database costs two transactions per batch rather
// than per delivery.
const claimBatch = 64

// leaseMargin is left between the last attempt's timeout and the end of
// the claim, for writing the outcomes.
const leaseMargin = 5 * time.Second

func (s *Service) claimAndSend(ctx context.Context, sync bool, count *int) (time.Duration, error) {
	wctx, cancel := context.WithTimeout(ctx, s.cfg.Delivery.Timeout)
	defer cancel()
	db, err := s.db(wctx)
	if err != nil {
		return 0, err
	}
	now := s.cfg.Now()
	ds, err := db.ClaimWebhooks(wctx, store.WebhookClaim{By: s.cfg.Boot, At: now, Lease: s.cfg.Lease, Limit: claimBatch})
	if err != nil {
		return 0, err
	}
	if count != nil {
		*count = len(ds)
	}
	if len(ds) > 0 {
		if err := s.reload(wctx); err != nil {
			// Sent with subscriptions that may be stale (another node's
			// API changed them) they could go to a deleted receiver or an
			// old URL: given back, tried again when the database answers.
			ids := make([]int64, len(ds))
			for i, d := range ds {
				ids[i] = d.ID
			}
			if rerr := db.ReleaseWebhooks(wctx, s.cfg.Boot, ids); rerr != nil {
				s.log.Warn("webhook: cannot give back claimed deliveries; they wait for the claim to lapse", "deliveries", len(ids), "err", rerr)
			}
			return 0, fmt.Errorf("webhook: reload subscriptions before sending: %w", err)
		}
	}
	lines := map[string][]store.WebhookDelivery{} // by subscription, in id order
	var order []string
	for _, d := range ds {
		if _, ok := lines[d.Subscription]; !ok {
			order = append(order, d.Subscription)
		}
		lines[d.Subscription] = append(lines[d.Subscription], d)
	}
	until := now.Add(s.cfg.Lease)
	for _, sub := range order {
		line := lines[sub]
		if sync {
			s.sendLine(ctx, db, line, until)
			continue
		}
		s.sends.Add(1)
		go func() {
			defer s.sends.Done()
			s.sendLine(ctx, db, line, until)
			s.kickDeliver() // this subscription's next deliveries may be due
		}()
	}
	if len(ds) > 0 && !sync {
		return time.Hour, nil // the sends kick the loop when done
	}
	at, ok, err := db.NextWebhookDue(wctx)
	if err != nil {
		return 0, err
	}
	if !ok {
		return time.Hour, nil
	}
	return at.Sub(s.cfg.Now()), nil
}

// sendLine sends one subscription's claimed deliveries in order; at the
// first that fails the rest are given back untried (the order holds).
// An attempt starts only if it ends (its timeout) before the claim's
// lease does: past it this process, or another, may claim the rows again,
// and two senders of one line would break its order.
func (s *Service) sendLine(ctx context.Context, db store.Webhooks, line []store.WebhookDelivery, leaseEnd time.Time) {
	var results []store.WebhookResult
	var release []int64
	for i, d := range line {
		if s.cfg.Now().Add(s.cfg.Delivery.Timeout + leaseMargin).After(leaseEnd) {
			for _, rest := range line[i:] {
				release = append(release, rest.ID)
			}
			break
		}
		res := s.attempt(ctx, d)
		results = append(results, res)
		if res.State != store.WebhookDelivered {
			for _, rest := range line[i+1:] {
				release = append(release, rest.ID)
			}
			break
		}
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.Delivery.Timeout)
	defer cancel()
	if err := db.FinishWebhooks(wctx, results); err != nil {
		// The claims' lease ends and they are tried again: at least once.
		s.log.Warn("webhook: cannot record outcomes; they will be retried when the claim lapses", "subscription", line[0].Subscription,
			"deliveries", len(results), "err", err)
		return
	}
	if err := db.ReleaseWebhooks(wctx, s.cfg.Boot, release); err != nil {
		s.log.Warn("webhook: cannot give back untried deliveries; they wait for the claim to lapse", "subscription", line[0].Subscription,
			"deliveries", len(release), "err", err)
	}
}

// attempt makes one attempt of claimed delivery d and decides what follows.
func (s *Service) attempt(ctx context.Context, d store.WebhookDelivery) store.WebhookResult {
	log := s.log.With("subscription", d.Subscription, "event_id", d.EventID, "type", d.EventType, "attempt", d.Attempts)
	res := store.WebhookResult{ID: d.ID, By: s.cfg.Boot}
	// Reloaded after the claim (claimAndSend): one made or deleted through
	// another node's API is known here.
	sub := (*s.subs.Load())[d.Subscription]
	if sub == nil {
		res.State, res.Error = store.WebhookDead, "the subscription is no longer configured"
	} else if sub.broken != nil {
		res.Error = sub.broken.Error()
	} else {
		status, err := s.post(ctx, sub, d)
		res.Status = status
		if err == nil {
			res.State = store.WebhookDelivered
		} else {
			res.Error = err.Error()
		}
	}
	now := s.cfg.Now()
	res.At = now
	if res.State == "" {
		next, dead := s.retry.After(d.Attempts, d.FirstAt, now)
		if dead {
			res.State = store.WebhookDead
			res.Error = fmt.Sprintf("%s; retried for %v: dead letter", res.Error, s.cfg.Delivery.Retry)
		} else {
			res.State, res.NextAt = store.WebhookPending, next
		}
	}
	switch res.State {
	case store.WebhookDelivered:
		s.delivered.Add(1)
		log.Debug("webhook: delivered", "status", res.Status)
	case store.WebhookDead:
		s.dead.Add(1)
		log.Error("webhook: delivery dead", "status", res.Status, "err", res.Error)
	default:
		s.failed.Add(1)
		log.Warn("webhook: delivery failed; retrying", "status", res.Status, "err", res.Error, "next_at", res.NextAt)
	}
	return res
}

func (s *Service) post(ctx context.Context, sub *sub, d store.WebhookDelivery) (int, error) {
	rctx, cancel := context.WithTimeout(ctx, s.cfg.Delivery.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, sub.URL, bytes.NewReader(d.Body))
	if err != nil {
		return 0, fmt.Errorf("webhooks.%s.url: %w", sub.ID, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Hotline-Webhooks/1")
	req.Header.Set(HeaderEventID, d.EventID)
	req.Header.Set(HeaderEventType, d.EventType)
	req.Header.Set(HeaderSignature, Sign(sub.secret, s.cfg.Now(), d.Body))
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("POST %s: %w", sub.URL, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("POST %s: %s", sub.URL, resp.Status)
	}
	return resp.StatusCode, nil
}
