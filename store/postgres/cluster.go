package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hotline-dev/hotline/store"
)

// The cluster's tables (migration 0007, docs/cluster.md): nodes and their
// heartbeats, the leader's advisory lock and epoch, the command table the
// nodes write and the leader consumes, the outbox the leader writes and
// the nodes consume, and the leader's snapshot of the ACD.

// Notification channels: a command was appended (the leader listens), an
// outbox item was written. The payload is the schema ("schema/node" for
// the outbox): channels are database-wide, like advisory locks.
const (
	ChanCommands = "hotline_acd_cmd"
	ChanOutbox   = "hotline_acd_out"
)

// leaderLock is the advisory lock of the ACD leader: the first key is
// "HOTL", the second the hash of the schema the cluster's tables are in.
// Advisory locks are database-wide; keyed by schema, two clusters (or two
// tests) in two schemas of one database do not share a leader.
const leaderLock int32 = 0x484f544c

// leaderLockHeld is the pg_locks row (as l) of a session holding this
// schema's leader lock; $1 is leaderLock.
const leaderLockHeld = `l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
	AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
	AND l.classid = $1::int4::oid AND l.objid = hashtext(current_schema())::oid`

// Cluster errors.
var (
	// ErrNodeLost means this node's heartbeat expired and the leader
	// removed its calls: it must stop serving and register again.
	ErrNodeLost = errors.New("store postgres: cluster node declared lost")
	// ErrFenced means a newer leader took over: this leader's commit was
	// refused and it must step down.
	ErrFenced = errors.New("store postgres: leader epoch superseded")
)

// Keepalives on the leader's lock connection, so the server ends the
// session (and frees the lock) of a leader cut off by a partition within
// about idle + interval*count = 5 + 2*3 = 11 s. A leader that dies with
// its host's kernel alive (kill -9) has its socket closed at once.
var lockKeepalive = map[string]string{
	"tcp_keepalives_idle": "5", "tcp_keepalives_interval": "2", "tcp_keepalives_count": "3",
	// A leader that stops mid-transaction must not hold the snapshot's rows.
	"idle_in_transaction_session_timeout": "10000",
}

// Command is one input of a node for the ACD.
type Command struct {
	ID   int64
	Node string
	Kind string
	Body []byte // JSON
}

// OutItem is one output of the ACD for a node.
type OutItem struct {
	ID   int64
	Node string
	Kind string
	Body []byte // JSON
}

// SnapEntry is a waiting caller in the snapshot.
type SnapEntry struct {
	CallID, Queue, Node string
	Placed              time.Time
	Seq                 int64
	Body                []byte // JSON: the join
	// State is the rest the leader's Service knew of the caller
	// (queue.EntrySnapshot as JSON); nil in a row written before 0013.
	State []byte
}

// SnapAgent is an agent's presence and bridged call in the snapshot.
type SnapAgent struct {
	AgentID, Presence, Reason   string
	CallID, CallQueue, CallNode string
	CallBody                    []byte // JSON, nil when no call
	// State is the rest the leader's Service knew of the agent
	// (queue.AgentSnapshot as JSON); nil in a row written before 0013.
	State []byte
}

// SnapOffer is an offer in flight.
type SnapOffer struct {
	OfferID, Node string
	Body          []byte // JSON: queue.Offer
}

// SnapQueue is a queue's state (queue.QueueSnapshot as JSON: round robin,
// the answers behind EWT; migration 0021). A commit merges it into the
// row's (jsonb ||): a key it leaves out keeps its last value.
type SnapQueue struct {
	Queue string
	State []byte
}

// Snapshot is the ACD state a new leader rebuilds from.
type Snapshot struct {
	Entries []SnapEntry // in (placed, seq) order
	Agents  []SnapAgent
	Queues  []SnapQueue
	Offers  []SnapOffer
	Lost    []string // nodes already declared lost
	// Recs are the statistics records since Load's since, oldest first.
	Recs []store.QueueRec
}

// Batch is what a leader commits at once: the commands it consumed, the
// snapshot's changes and the outbox items they produced.
type Batch struct {
	Consumed   []int64
	Entries    []SnapEntry // upserted
	DelEntries []string
	Agents     []SnapAgent // upserted
	Queues     []SnapQueue // upserted
	Offers     []SnapOffer // upserted
	DelOffers  []string
	Out        []OutItem
	LostNodes  []string // declared lost in this batch
	// Recs are the statistics records the batch made, in the order made:
	// one acd_recs row keyed by the first one's ID (migration 0023).
	Recs []store.QueueRec
	// View, when set, replaces the ACD's view (acd_view, JSON) that every
	// node reads; fenced like the rest of the batch.
	View []byte
}

// Empty reports whether b changes nothing.
func (b *Batch) Empty() bool {
	return len(b.Consumed)+len(b.Entries)+len(b.DelEntries)+len(b.Agents)+len(b.Queues)+len(b.Offers)+
		len(b.DelOffers)+len(b.Out)+len(b.LostNodes)+len(b.View)+len(b.Recs) == 0
}

// Cluster is the cluster's side of the database for one node: a small pool
// for commands, heartbeats and the outbox, plus dedicated connections for
// listening and (when leader) for the advisory lock.
type Cluster struct {
	p    *pgxpool.Pool
	url  string
	cand *pgx.Conn // TryLead's connection while the lock is refused
}

// OpenCluster connects to url and applies pending migrations (the same
// ones the store applies; idempotent).
func OpenCluster(ctx context.Context, url string) (*Cluster, error) {
	p, _, err := connect(ctx, url, 0)
	if err != nil {
		return nil, err
	}
	c := &conn{p: p}
	r, err := Runner(c)
	if err == nil {
		_, err = r.Up(ctx)
	}
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("store postgres cluster: %w", err)
	}
	return &Cluster{p: p, url: url}, nil
}

// Close closes the pool and the lock candidate's connection (not a
// Leader's: Leader.Close).
func (c *Cluster) Close() { c.dropCand(); c.p.Close() }

// Register records a node starting (again): not lost, seen now, its
// outbox empty.
func (c *Cluster) Register(ctx context.Context, node, address string) error {
	// Items left for an earlier run of the node are for calls that died
	// with it.
	err := pgx.BeginFunc(ctx, c.p, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM acd_outbox WHERE node = $1`, node); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO acd_nodes (id, address, started, last_seen) VALUES ($1, $2, now(), now())
			ON CONFLICT (id) DO UPDATE SET address = $2, started = now(), last_seen = now(), lost = FALSE`, node, address)
		return err
	})
	if err != nil {
		return fmt.Errorf("register node %s: %w", node, err)
	}
	return nil
}

// ErrFingerprint means a node's configuration fingerprint differs from
// the leader's: it must not join (its agents or queues differ).
var ErrFingerprint = errors.New("store postgres: configuration differs from the cluster leader's")

// RegisterChecked is Register for a node whose configuration has
// fingerprint fp: it refuses (ErrFingerprint) when the node that leads
// now (not this one, not lost, its heartbeat younger than expiry: a
// cluster stopped for a configuration change starts again) registered
// another fingerprint; otherwise
// it registers the node with fp. With no leader, the node joins and the
// next leader's copy decides for the nodes that come after.
func (c *Cluster) RegisterChecked(ctx context.Context, node, address, fp string, expiry time.Duration) error {
	var leader, theirs string
	err := c.p.QueryRow(ctx, `SELECT n.id, n.fingerprint FROM acd_leader l JOIN acd_nodes n ON n.id = l.node
		WHERE l.id = 1 AND n.id <> $1 AND NOT n.lost AND n.fingerprint <> ''
		AND n.last_seen > now() - make_interval(secs => $2)`, node, expiry.Seconds()).Scan(&leader, &theirs)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return fmt.Errorf("register node %s: the leader's fingerprint: %w", node, err)
	case theirs != fp:
		return fmt.Errorf("register node %s: fingerprint %s, leader %s has %s: %w", node, fp, leader, theirs, ErrFingerprint)
	}
	if err := c.Register(ctx, node, address); err != nil {
		return err
	}
	if _, err := c.p.Exec(ctx, `UPDATE acd_nodes SET fingerprint = $2 WHERE id = $1`, node, fp); err != nil {
		return fmt.Errorf("register node %s: fingerprint: %w", node, err)
	}
	return nil
}

// Heartbeat marks node seen now (the database's clock, so nodes' clocks
// do not matter). ErrNodeLost when it was declared lost meanwhile.
func (c *Cluster) Heartbeat(ctx context.Context, node string) error {
	t, err := c.p.Exec(ctx, `UPDATE acd_nodes SET last_seen = now() WHERE id = $1 AND NOT lost`, node)
	if err != nil {
		return fmt.Errorf("heartbeat node %s: %w", node, err)
	}
	if t.RowsAffected() == 0 {
		return fmt.Errorf("heartbeat node %s: %w", node, ErrNodeLost)
	}
	return nil
}

// Beat is Heartbeat with the node's load: its active calls and whether it
// drains (a draining node is given no new callback calls).
func (c *Cluster) Beat(ctx context.Context, node string, calls int, draining bool) error {
	t, err := c.p.Exec(ctx, `UPDATE acd_nodes SET last_seen = now(), calls = $2, draining = $3 WHERE id = $1 AND NOT lost`,
		node, calls, draining)
	if err != nil {
		return fmt.Errorf("heartbeat node %s: %w", node, err)
	}
	if t.RowsAffected() == 0 {
		return fmt.Errorf("heartbeat node %s: %w", node, ErrNodeLost)
	}
	return nil
}

// NodeLoad is a live node as its last heartbeat had it.
type NodeLoad struct {
	ID       string
	Calls    int
	Draining bool
}

// LiveNodes lists the nodes not lost whose heartbeat is younger than
// expiry, by id.
func (c *Cluster) LiveNodes(ctx context.Context, expiry time.Duration) ([]NodeLoad, error) {
	rows, err := c.p.Query(ctx, `SELECT id, calls, draining FROM acd_nodes
		WHERE NOT lost AND last_seen >= now() - make_interval(secs => $1) ORDER BY id`, expiry.Seconds())
	if err != nil {
		return nil, fmt.Errorf("live nodes: %w", err)
	}
	ns, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (NodeLoad, error) {
		var n NodeLoad
		return n, r.Scan(&n.ID, &n.Calls, &n.Draining)
	})
	if err != nil {
		return nil, fmt.Errorf("live nodes: %w", err)
	}
	return ns, nil
}

// Expired lists nodes not lost yet whose heartbeat is older than expiry.
func (c *Cluster) Expired(ctx context.Context, expiry time.Duration) ([]string, error) {
	return expiredNodes(ctx, c.p, expiry)
}

// querier is what the pool and the leader's own connection share.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// expiredNodes is the one query behind both Expired methods.
func expiredNodes(ctx context.Context, q querier, expiry time.Duration) ([]string, error) {
	rows, err := q.Query(ctx, `SELECT id FROM acd_nodes WHERE NOT lost AND last_seen < now() - make_interval(secs => $1) ORDER BY id`,
		expiry.Seconds())
	if err != nil {
		return nil, fmt.Errorf("expired nodes: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("expired nodes: %w", err)
	}
	return ids, nil
}

// Send appends a command and wakes the leader.
func (c *Cluster) Send(ctx context.Context, node, kind string, body []byte) (int64, error) {
	var id int64
	err := c.p.QueryRow(ctx, `WITH ins AS (INSERT INTO acd_commands (node, kind, body) VALUES ($1, $2, $3) RETURNING id)
		SELECT id FROM ins, pg_notify('`+ChanCommands+`', current_schema())`, node, kind, body).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("send %s command from %s: %w", kind, node, err)
	}
	return id, nil
}

// SendMany appends commands in order in one statement (and one commit):
// a node's concurrent commands share it, as the call journal's group
// commit shares an fsync. The same statement records token as the node's
// last batch (Sent), so that a batch whose answer was lost is sent again
// only if it did not commit.
func (c *Cluster) SendMany(ctx context.Context, node string, token int64, kinds []string, bodies [][]byte) error {
	bs := make([]string, len(bodies))
	for i, b := range bodies {
		bs[i] = string(b)
	}
	_, err := c.p.Exec(ctx, `WITH ins AS (INSERT INTO acd_commands (node, kind, body)
		SELECT $1, k, b FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS t(k, b, i) ORDER BY i RETURNING 1),
		mark AS (UPDATE acd_nodes SET sent = $4 WHERE id = $1)
		SELECT pg_notify('`+ChanCommands+`', current_schema()) FROM (SELECT 1 FROM ins LIMIT 1) x`, node, kinds, bs, token)
	if err != nil {
		return fmt.Errorf("send %d commands from %s: %w", len(kinds), node, err)
	}
	return nil
}

// Sent is the token of the last batch of node's commands that committed.
// It waits for a batch still in progress (the row's lock), so after a lost
// answer it says for sure whether that batch is in.
func (c *Cluster) Sent(ctx context.Context, node string) (int64, error) {
	var token int64
	err := pgx.BeginFunc(ctx, c.p, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT sent FROM acd_nodes WHERE id = $1 FOR UPDATE`, node).Scan(&token)
	})
	if err != nil {
		return 0, fmt.Errorf("last batch sent by %s: %w", node, err)
	}
	return token, nil
}

// Commands reads up to limit commands not consumed yet, in id order,
// leaving out skip: the ones the leader's commit in flight consumes (they
// are deleted, but not committed yet). The leader reads on the pool, so
// that it applies the next commands while its lock's connection commits
// the last ones.
func (c *Cluster) Commands(ctx context.Context, limit int, skip []int64) ([]Command, error) {
	if skip == nil {
		skip = []int64{}
	}
	// NOT IN over a subquery is hashed: the skip list is up to a batch.
	rows, err := c.p.Query(ctx, `SELECT id, node, kind, body FROM acd_commands WHERE id NOT IN (SELECT unnest($2::bigint[]))
		ORDER BY id LIMIT $1`, limit, skip)
	if err != nil {
		return nil, fmt.Errorf("read commands: %w", err)
	}
	cmds, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Command, error) {
		var c Command
		return c, r.Scan(&c.ID, &c.Node, &c.Kind, &c.Body)
	})
	if err != nil {
		return nil, fmt.Errorf("read commands: %w", err)
	}
	return cmds, nil
}

// Outbox reads up to limit items for node, oldest first. They stay until
// acknowledged (Ack).
func (c *Cluster) Outbox(ctx context.Context, node string, limit int) ([]OutItem, error) {
	rows, err := c.p.Query(ctx, `SELECT id, node, kind, body FROM acd_outbox WHERE node = $1 ORDER BY id LIMIT $2`, node, limit)
	if err != nil {
		return nil, fmt.Errorf("outbox of %s: %w", node, err)
	}
	items, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (OutItem, error) {
		var it OutItem
		return it, r.Scan(&it.ID, &it.Node, &it.Kind, &it.Body)
	})
	if err != nil {
		return nil, fmt.Errorf("outbox of %s: %w", node, err)
	}
	return items, nil
}

// Ack deletes node's outbox items up to id (they were handled in id
// order). The commit does not wait for the WAL flush: an ack lost in a
// database crash only brings items back, and a node skips the ones it
// has handled (Node keeps the last id). One round trip: the simple
// protocol sends the whole transaction at once (no parameters; the node
// is quoted, the id is a number).
func (c *Cluster) Ack(ctx context.Context, node string, upTo int64) error {
	sql := `BEGIN; SET LOCAL synchronous_commit = off; DELETE FROM acd_outbox WHERE node = ` +
		quote(node) + ` AND id <= ` + strconv.FormatInt(upTo, 10) + `; COMMIT`
	if _, err := c.p.Exec(ctx, sql); err != nil {
		return fmt.Errorf("ack outbox items of %s up to %d: %w", node, upTo, err)
	}
	return nil
}

// textOrNil is b as a text parameter, NULL for nil (a body column that may be NULL).
func textOrNil(b []byte) *string {
	if b == nil {
		return nil
	}
	v := string(b)
	return &v
}

// Unavailable reports whether err means the database did not answer: the
// connection could not be made or was lost, the server is shutting down,
// or a deadline ran out. What was sent may or may not have committed.
func Unavailable(err error) bool { return unavailable(err) }

// Retryable reports whether a command send that failed with err can be
// sent again without risking a second copy: nothing reached the server
// (pgconn.SafeToRetry: no connection could be made, or the write failed),
// or the server had ended the session before it (57P01-03: terminated,
// crash or shutdown, which roll an open transaction back). A connection
// lost after the statement was sent is not: it may have committed.
func Retryable(err error) bool {
	var ce *pgconn.ConnectError
	switch c := pgCode(err); {
	case pgconn.SafeToRetry(err), errors.As(err, &ce), c == "57P01", c == "57P02", c == "57P03":
		return true
	}
	return false
}

// quote is a string literal for s (standard_conforming_strings, the
// default since PostgreSQL 9.1: only ' is special).
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// Listener is a dedicated connection LISTENing on channels.
// Notifications are database-wide, so each carries the schema it is
// about, and Wait passes on only this cluster's.
type Listener struct {
	c      *pgx.Conn
	schema string
}

// keepaliveDial probes a silent server from the client side (the kernel's
// keepalives): a dedicated connection that only waits, a listener or the
// lock's, learns of a partition within about idle + interval*count =
// 5 + 2*3 = 11 s instead of the system default's minutes.
var keepaliveDial = (&net.Dialer{Timeout: 10 * time.Second,
	KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: 5 * time.Second, Interval: 2 * time.Second, Count: 3}}).DialContext

// Listen opens a connection that listens on channels.
func (c *Cluster) Listen(ctx context.Context, channels ...string) (*Listener, error) {
	cfg, err := pgx.ParseConfig(c.url)
	if err != nil {
		return nil, fmt.Errorf("listen: database url: %w", err)
	}
	cfg.DialFunc = keepaliveDial
	pc, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	l := &Listener{c: pc}
	if err := pc.QueryRow(ctx, `SELECT current_schema()`).Scan(&l.schema); err != nil {
		_ = pc.Close(context.Background())
		return nil, fmt.Errorf("listen: current schema: %w", err)
	}
	for _, ch := range channels {
		if _, err := pc.Exec(ctx, `LISTEN `+pgx.Identifier{ch}.Sanitize()); err != nil {
			_ = pc.Close(context.Background())
			return nil, fmt.Errorf("listen %s: %w", ch, err)
		}
	}
	return l, nil
}

// Wait blocks until a notification about this cluster arrives or ctx
// ends; it returns the channel and, for ChanOutbox, the node the items
// are for.
func (l *Listener) Wait(ctx context.Context) (channel, node string, err error) {
	return l.WaitPayload(ctx)
}

// WaitPayload is Wait returning the whole payload after "schema/" (an
// event on ChanEvents).
func (l *Listener) WaitPayload(ctx context.Context) (channel, payload string, err error) {
	for {
		n, err := l.c.WaitForNotification(ctx)
		if err != nil {
			return "", "", fmt.Errorf("wait for notification: %w", err)
		}
		schema, rest, _ := strings.Cut(n.Payload, "/")
		if schema == l.schema {
			return n.Channel, rest, nil
		}
	}
}

// Close closes the connection.
func (l *Listener) Close() { _ = l.c.Close(context.Background()) }

// Leader is a node holding the ACD's advisory lock, on its own connection:
// the lock lives as long as that session, and every commit runs on it and
// checks the epoch, so a leader whose session ended commits nothing.
type Leader struct {
	c     *pgx.Conn
	p     *pgxpool.Pool // BeatAside's: the lock's connection is busy with the long step
	pid   uint32        // the lock's session (its backend), for BeatAside
	Epoch int64
	// BeatEvery is how old acd_leader's beat may be before a commit writes
	// it again (acd_fence, migration 0024); between, a commit only locks
	// the leader row. Zero writes it on every commit.
	BeatEvery time.Duration
}

// TryLead takes the leader lock if it is free: (nil, nil) when another
// session holds it. On success the epoch is incremented and returned in
// the Leader, which owns the connection from then on. A refused attempt
// keeps its connection for the next one, so a follower polling the lock
// costs one query, not a connection, per attempt. Not safe for concurrent
// use (one goroutine of the node tries).
func (c *Cluster) TryLead(ctx context.Context, node string) (*Leader, error) {
	if c.cand == nil || c.cand.IsClosed() {
		cfg, err := pgx.ParseConfig(c.url)
		if err != nil {
			return nil, fmt.Errorf("lead: database url: %w", err)
		}
		for k, v := range lockKeepalive {
			cfg.RuntimeParams[k] = v
		}
		// Client side too: the kernel probes a silent server.
		cfg.DialFunc = keepaliveDial
		if c.cand, err = pgx.ConnectConfig(ctx, cfg); err != nil {
			return nil, fmt.Errorf("lead: %w", err)
		}
	}
	pc := c.cand
	var ok bool
	if err := pc.QueryRow(ctx, `SELECT pg_try_advisory_lock($1, hashtext(current_schema()))`, leaderLock).Scan(&ok); err != nil || !ok {
		if err != nil {
			c.dropCand()
			return nil, fmt.Errorf("lead: try lock: %w", err)
		}
		return nil, nil
	}
	c.cand = nil // the Leader's now
	var epoch int64
	if err := pc.QueryRow(ctx, `UPDATE acd_leader SET epoch = epoch + 1, node = $1, since = now(), beat = now() WHERE id = 1 RETURNING epoch`,
		node).Scan(&epoch); err != nil {
		_ = pc.Close(context.Background())
		return nil, fmt.Errorf("lead: new epoch: %w", err)
	}
	return &Leader{c: pc, p: c.p, pid: pc.PgConn().PID(), Epoch: epoch}, nil
}

// Depose ends the session of a leader that holds the lock but has not
// committed for stale (a hung process: its socket is open, so the lock
// is never freed). It reports whether a session was ended; the lock is
// then free for TryLead. Only the session holding this schema's leader
// lock is ended (found in pg_locks, never by a stored pid that may have
// been reused), and only while acd_leader's beat is stale. The database
// role must be allowed to signal the leader's backend (the same role, or
// pg_signal_backend).
func (c *Cluster) Depose(ctx context.Context, stale time.Duration) (bool, error) {
	rows, err := c.p.Query(ctx, `SELECT pg_terminate_backend(l.pid) FROM pg_locks l WHERE `+leaderLockHeld+`
		AND EXISTS (SELECT 1 FROM acd_leader WHERE id = 1 AND beat < now() - make_interval(secs => $2))`, leaderLock, stale.Seconds())
	if err != nil {
		return false, fmt.Errorf("depose a stale leader: %w", err)
	}
	ended, err := pgx.CollectRows(rows, pgx.RowTo[bool])
	if err != nil {
		return false, fmt.Errorf("depose a stale leader: %w", err)
	}
	return slices.Contains(ended, true), nil
}

func (c *Cluster) dropCand() {
	if c.cand != nil {
		_ = c.cand.Close(context.Background())
		c.cand = nil
	}
}

// Close ends the session, which frees the lock.
func (l *Leader) Close() { _ = l.c.Close(context.Background()) }

// Kill closes the leader's socket without a goodbye, as a crash would
// (tests: the server notices the closed socket and frees the lock).
func (l *Leader) Kill() { _ = l.c.PgConn().Conn().Close() }

// Beat sets acd_leader's beat without committing anything, whatever its
// age (acd_fence: ErrFenced when a newer leader holds the epoch). A takeover calls it while
// it rebuilds, so followers do not depose a leader that has not had the
// time to commit yet.
func (l *Leader) Beat(ctx context.Context) error {
	_, err := l.c.Exec(ctx, `SELECT acd_fence($1, 0)`, l.Epoch)
	if pgCode(err) == fenceCode {
		return fmt.Errorf("acd leader beat (epoch %d): %w: %w", l.Epoch, ErrFenced, err)
	}
	if err != nil {
		return fmt.Errorf("acd leader beat (epoch %d): %w", l.Epoch, err)
	}
	return nil
}

// BeatAside is Beat on a pooled connection, for while the lock's own
// connection is busy with one long statement (a takeover's snapshot read,
// which may wait on locks or read a large snapshot): followers would
// otherwise depose a leader that is only reading. It is fenced twice: by
// the epoch (acd_fence, ErrFenced when a newer leader holds it) and by the
// lock itself, which the lock's session must still hold (pg_locks, by its
// backend's pid; a deposed or disconnected session frees the lock, and then
// nothing is written and the answer is ErrFenced too), so a beat aside
// never keeps a leader alive whose session is gone.
func (l *Leader) BeatAside(ctx context.Context) error {
	var epoch int64
	err := l.p.QueryRow(ctx, `SELECT acd_fence($2, 0) FROM pg_locks l WHERE `+leaderLockHeld+` AND l.pid = $3`,
		leaderLock, l.Epoch, l.pid).Scan(&epoch)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("acd leader beat aside (epoch %d): the lock's session %d no longer holds the lock: %w", l.Epoch, l.pid, ErrFenced)
	case pgCode(err) == fenceCode:
		return fmt.Errorf("acd leader beat aside (epoch %d): %w: %w", l.Epoch, ErrFenced, err)
	case err != nil:
		return fmt.Errorf("acd leader beat aside (epoch %d): %w", l.Epoch, err)
	}
	return nil
}

// Expired is Cluster.Expired on the leader's connection.
func (l *Leader) Expired(ctx context.Context, expiry time.Duration) ([]string, error) {
	return expiredNodes(ctx, l.c, expiry)
}

// Load reads the snapshot, with the statistics records at or after since
// (older ones are deleted: no figure reads them again).
func (l *Leader) Load(ctx context.Context, since time.Time) (Snapshot, error) {
	var s Snapshot
	rows, err := l.c.Query(ctx, `SELECT call_id, queue, node, placed, seq, body, state FROM acd_entries ORDER BY placed, seq`)
	if err == nil {
		s.Entries, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (SnapEntry, error) {
			var e SnapEntry
			return e, r.Scan(&e.CallID, &e.Queue, &e.Node, &e.Placed, &e.Seq, &e.Body, &e.State)
		})
	}
	if err == nil {
		rows, err = l.c.Query(ctx, `SELECT agent_id, presence, reason, call_id, call_queue, call_node, call_body, state FROM acd_agents ORDER BY agent_id`)
	}
	if err == nil {
		s.Agents, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (SnapAgent, error) {
			var a SnapAgent
			return a, r.Scan(&a.AgentID, &a.Presence, &a.Reason, &a.CallID, &a.CallQueue, &a.CallNode, &a.CallBody, &a.State)
		})
	}
	if err == nil {
		rows, err = l.c.Query(ctx, `SELECT queue, state FROM acd_queues ORDER BY queue`)
	}
	if err == nil {
		s.Queues, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (SnapQueue, error) {
			var q SnapQueue
			return q, r.Scan(&q.Queue, &q.State)
		})
	}
	if err == nil {
		s.Recs, err = l.loadRecs(ctx, since)
	}
	if err == nil {
		rows, err = l.c.Query(ctx, `SELECT offer_id, node, body FROM acd_offers ORDER BY offer_id`)
	}
	if err == nil {
		s.Offers, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (SnapOffer, error) {
			var o SnapOffer
			return o, r.Scan(&o.OfferID, &o.Node, &o.Body)
		})
	}
	if err == nil {
		rows, err = l.c.Query(ctx, `SELECT id FROM acd_nodes WHERE lost ORDER BY id`)
	}
	if err == nil {
		s.Lost, err = pgx.CollectRows(rows, pgx.RowTo[string])
	}
	if err != nil {
		return Snapshot{}, fmt.Errorf("load acd snapshot: %w", err)
	}
	return s, nil
}

// loadRecs reads the statistics records at or after since, in (at, id)
// order: the leaders' (acd_recs, a row per commit) and queue_recs' (a
// single node's, and leaders' from before migration 0023). Rows whose
// records are all older are deleted; a row partly older is kept whole and
// filtered here.
func (l *Leader) loadRecs(ctx context.Context, since time.Time) ([]store.QueueRec, error) {
	if _, err := l.c.Exec(ctx, `DELETE FROM queue_recs WHERE at < $1`, since); err != nil {
		return nil, err
	}
	rows, err := l.c.Query(ctx, `SELECT id, queue, at, kind, call_id, duration_us, agent FROM queue_recs`)
	if err != nil {
		return nil, err
	}
	recs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.QueueRec, error) {
		var q store.QueueRec
		var us int64
		err := r.Scan(&q.ID, &q.Queue, &q.At, &q.Kind, &q.CallID, &us, &q.Agent)
		q.Duration = time.Duration(us) * time.Microsecond
		return q, err
	})
	if err != nil {
		return nil, err
	}
	if recs, err = leaderRecs(ctx, adapter{l.c}, since, recs); err != nil {
		return nil, err
	}
	store.SortQueueRecs(recs)
	return recs, nil
}

// fenceCode is the SQLSTATE acd_fence raises (migrations 0017, 0024).
const fenceCode = "HL409"

// Commit writes b in one transaction that first checks the epoch (locking
// the leader row, so a takeover waits for it or it sees the takeover).
// ErrFenced when a newer leader holds the epoch. The transaction is one
// round trip: every statement goes in one pipeline, which the server runs
// as one implicit transaction up to its Sync, and an error in any of them
// (acd_fence's first) rolls all of them back.
func (l *Leader) Commit(ctx context.Context, b *Batch) error {
	err := func() error {
		var q pgx.Batch
		// The row lock orders this commit against a takeover; beat tells
		// followers this leader still commits.
		q.Queue(`SELECT acd_fence($1, $2)`, l.Epoch, l.BeatEvery.Seconds())
		if len(b.Consumed) > 0 {
			q.Queue(`DELETE FROM acd_commands WHERE id = ANY($1)`, b.Consumed)
		}
		if len(b.DelEntries) > 0 {
			q.Queue(`DELETE FROM acd_entries WHERE call_id = ANY($1)`, b.DelEntries)
		}
		// One statement per table, whatever the batch's size: arrays
		// through unnest, not a statement per row.
		if n := len(b.Entries); n > 0 {
			ids, queues, nodes, placed, seqs, bodies, states := make([]string, n), make([]string, n), make([]string, n),
				make([]time.Time, n), make([]int64, n), make([]string, n), make([]*string, n)
			for i, e := range b.Entries {
				ids[i], queues[i], nodes[i], placed[i], seqs[i], bodies[i] = e.CallID, e.Queue, e.Node, e.Placed, e.Seq, string(e.Body)
				states[i] = textOrNil(e.State)
			}
			q.Queue(`INSERT INTO acd_entries (call_id, queue, node, placed, seq, body, state)
				SELECT c, q, n, p, s, b, st FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::bigint[], $6::text[], $7::text[])
				AS t(c, q, n, p, s, b, st)
				ON CONFLICT (call_id) DO UPDATE SET queue = EXCLUDED.queue, node = EXCLUDED.node, placed = EXCLUDED.placed,
				seq = EXCLUDED.seq, body = EXCLUDED.body, state = EXCLUDED.state
				WHERE (acd_entries.queue, acd_entries.node, acd_entries.placed, acd_entries.seq, acd_entries.body, acd_entries.state)
				IS DISTINCT FROM (EXCLUDED.queue, EXCLUDED.node, EXCLUDED.placed, EXCLUDED.seq, EXCLUDED.body, EXCLUDED.state)`,
				ids, queues, nodes, placed, seqs, bodies, states)
		}
		if n := len(b.Agents); n > 0 {
			ids, pres, reasons, calls, cqueues, cnodes, cbodies, states := make([]string, n), make([]string, n), make([]string, n),
				make([]string, n), make([]string, n), make([]string, n), make([]*string, n), make([]*string, n)
			for i, a := range b.Agents {
				ids[i], pres[i], reasons[i], calls[i], cqueues[i], cnodes[i] = a.AgentID, a.Presence, a.Reason, a.CallID, a.CallQueue, a.CallNode
				cbodies[i], states[i] = textOrNil(a.CallBody), textOrNil(a.State)
			}
			q.Queue(`INSERT INTO acd_agents (agent_id, presence, reason, call_id, call_queue, call_node, call_body, state)
				SELECT a, p, r, c, cq, cn, cb, st FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])
				AS t(a, p, r, c, cq, cn, cb, st)
				ON CONFLICT (agent_id) DO UPDATE SET presence = EXCLUDED.presence, reason = EXCLUDED.reason, call_id = EXCLUDED.call_id,
				call_queue = EXCLUDED.call_queue, call_node = EXCLUDED.call_node, call_body = EXCLUDED.call_body, state = EXCLUDED.state
				WHERE (acd_agents.presence, acd_agents.reason, acd_agents.call_id, acd_agents.call_queue, acd_agents.call_node,
				acd_agents.call_body, acd_agents.state) IS DISTINCT FROM (EXCLUDED.presence, EXCLUDED.reason, EXCLUDED.call_id,
				EXCLUDED.call_queue, EXCLUDED.call_node, EXCLUDED.call_body, EXCLUDED.state)`,
				ids, pres, reasons, calls, cqueues, cnodes, cbodies, states)
		}
		if n := len(b.Queues); n > 0 {
			names, states := make([]string, n), make([]string, n)
			for i, sq := range b.Queues {
				names[i], states[i] = sq.Queue, string(sq.State)
			}
			q.Queue(`INSERT INTO acd_queues (queue, state) SELECT q, st::jsonb FROM unnest($1::text[], $2::text[]) AS t(q, st)
				ON CONFLICT (queue) DO UPDATE SET state = acd_queues.state || EXCLUDED.state
				WHERE acd_queues.state IS DISTINCT FROM acd_queues.state || EXCLUDED.state`, names, states)
		}
		if len(b.DelOffers) > 0 {
			q.Queue(`DELETE FROM acd_offers WHERE offer_id = ANY($1)`, b.DelOffers)
		}
		if n := len(b.Offers); n > 0 {
			ids, nodes, bodies := make([]string, n), make([]string, n), make([]string, n)
			for i, o := range b.Offers {
				ids[i], nodes[i], bodies[i] = o.OfferID, o.Node, string(o.Body)
			}
			q.Queue(`INSERT INTO acd_offers (offer_id, node, body) SELECT o, n, b FROM unnest($1::text[], $2::text[], $3::text[]) AS t(o, n, b)
				ON CONFLICT (offer_id) DO UPDATE SET node = EXCLUDED.node, body = EXCLUDED.body
				WHERE (acd_offers.node, acd_offers.body) IS DISTINCT FROM (EXCLUDED.node, EXCLUDED.body)`, ids, nodes, bodies)
		}
		if len(b.LostNodes) > 0 {
			q.Queue(`UPDATE acd_nodes SET lost = TRUE WHERE id = ANY($1)`, b.LostNodes)
			// Nobody will read them: their calls died with the node.
			q.Queue(`DELETE FROM acd_outbox WHERE node = ANY($1)`, b.LostNodes)
		}
		if len(b.Out) > 0 {
			nodes, kinds, bodies := make([]string, len(b.Out)), make([]string, len(b.Out)), make([]string, len(b.Out))
			seen := map[string]bool{}
			for i, it := range b.Out {
				nodes[i], kinds[i], bodies[i] = it.Node, it.Kind, string(it.Body)
				seen[it.Node] = true
			}
			// unnest keeps the arrays' order, so ids follow b.Out.
			q.Queue(`INSERT INTO acd_outbox (node, kind, body)
				SELECT n, k, b FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS t(n, k, b, i) ORDER BY i`,
				nodes, kinds, bodies)
			for n := range seen {
				q.Queue(`SELECT pg_notify('`+ChanOutbox+`', current_schema() || '/' || $1)`, n)
			}
		}
		if len(b.Recs) > 0 {
			// One row for the batch's records (0023, recs.go); the first
			// record's ID keys it, so a batch sent twice is stored once.
			body, last := encodeRecs(b.Recs)
			q.Queue(`INSERT INTO acd_recs (id, last_at, body) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING`, b.Recs[0].ID, last, body)
		}
		if b.View != nil {
			q.Queue(`UPDATE acd_view SET version = version + 1, epoch = $1, at = now(), body = $2::text WHERE id = 1`, l.Epoch, string(b.View))
			q.Queue(`SELECT pg_notify('` + ChanView + `', current_schema())`)
		}
		return l.c.SendBatch(ctx, &q).Close()
	}()
	if pgCode(err) == fenceCode {
		return fmt.Errorf("commit acd batch (epoch %d): %w: %w", l.Epoch, ErrFenced, err)
	}
	if err != nil {
		return fmt.Errorf("commit acd batch (epoch %d): %w", l.Epoch, err)
	}
	return nil
}
