package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hotline-dev/hotline/queue"
	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/store/postgres"
)

// leader is the node's state while it leads: the one queue.Service, what
// the snapshot holds about it, and the batch being built. Only the
// goroutine running Step touches it.
type leader struct {
	n      *Node
	db     *postgres.Leader
	svc    *queue.Service
	prefix string // "<epoch>.": offer IDs are unique across leaders

	entries map[string]*entryInfo          // waiting callers by call ID
	agents  map[string]*postgres.SnapAgent // by agent ID
	bridged map[string]string              // bridged call ID → agent ID
	offers  map[string]*offerInfo          // by the service's offer ID
	lost    map[string]bool                // nodes declared lost
	seq     int64
	recs    int64 // statistics records made this epoch (their IDs)

	committed time.Time     // the last commit sent (followers depose a leader that stops)
	flight    *flight       // the commit on its way, nil when none
	viewAt    time.Time     // the last view written (zero: none yet this epoch)
	viewDirty bool          // the ACD changed since
	changes   int64         // views of this epoch written for a change
	viewCost  time.Duration // building and encoding the last view

	// beat is the takeover's last beat (keepBeat); answersDue the queues
	// with answers (EWT) not written yet, answersAt when each queue's were
	// last written (at most every answersEvery).
	beat       time.Time
	asided     time.Duration // the takeover's long steps so far (aside)
	answersDue map[string]bool
	answersAt  map[string]time.Time

	// The batch: final states by key, written at commit.
	b          postgres.Batch
	dirtyEntry map[string]bool
	dirtyAgent map[string]bool
	dirtyOffer map[string]bool
	check      []string // calls whose place may have closed
	// dirtyQueue: round robin moved (fillQueues).
	dirtyQueue map[string]bool
	scanAll    bool
}

// flight is a commit on its way on the lock's connection, while the
// leader applies the next commands: the batch's outbox items reach the
// nodes only when it is committed, and a failure ends the epoch (the
// Service, ahead of the snapshot by the batch applied meanwhile, is
// dropped with it).
type flight struct {
	done     chan error
	consumed []int64 // the commands it deletes: not to be read again
}

// send starts committing the batch and starts a new one; at most one
// commit is on its way (wait first).
func (l *leader) send(ctx context.Context) {
	b := l.b
	f := &flight{done: make(chan error, 1), consumed: b.Consumed}
	go func() { f.done <- l.db.Commit(ctx, &b) }()
	l.flight = f
	l.committed = time.Now()
	l.reset()
}

// wait returns the result of the commit on its way, if any; it reports
// whether there was one.
func (l *leader) wait() (bool, error) {
	if l.flight == nil {
		return false, nil
	}
	err := <-l.flight.done
	l.flight = nil
	return true, err
}

func (l *leader) skip() []int64 {
	if l.flight == nil {
		return nil
	}
	return l.flight.consumed
}

// close ends the epoch: the lock's session closes once the commit on its
// way is done (kill: at once, as a crash would).
func (l *leader) close(kill bool) {
	if kill {
		l.db.Kill()
	}
	_, _ = l.wait()
	l.db.Close()
}

// offerInfo is an offer in flight: its snapshot row, and what an answer
// needs from it without decoding the row again.
type offerInfo struct {
	snap                 postgres.SnapOffer
	callID, agent, queue string
}

type entryInfo struct {
	join   JoinRequest
	body   []byte
	node   string
	placed time.Time
	seq    int64
	place  *queue.Place
}

// takeOver builds the leader's Service from the snapshot: every agent
// comes back as the last commit left it (queue.ImportAgent: presence,
// run-time membership, misses, idle and state times, a bridged call or a
// wrap-up), callers rejoin in their order (placed, seq: the same ranking,
// priorities and original join times included) with their real join time
// and the agents who missed them (queue.JoinRequest.Resume), the
// statistics go on from the records the last leaders committed, and offers
// in flight are cancelled on their nodes; the Service offers again once
// every caller is back (Resumed).
func (n *Node) takeOver(ctx context.Context, db *postgres.Leader) (*leader, error) {
	l := &leader{n: n, db: db, prefix: strconv.FormatInt(db.Epoch, 10) + ".",
		entries: map[string]*entryInfo{}, agents: map[string]*postgres.SnapAgent{}, bridged: map[string]string{},
		offers: map[string]*offerInfo{}, lost: map[string]bool{}, beat: time.Now(),
		answersDue: map[string]bool{}, answersAt: map[string]time.Time{}}
	l.reset()
	cfg := n.cfg.ACD
	cfg.Ringer, cfg.State = l, l
	l.svc = queue.New(cfg)
	// The read is one step on the lock's connection (a big snapshot, a
	// slow or locked server): it beats aside.
	var snap postgres.Snapshot
	err := l.aside(ctx, "snapshot read", func(ctx context.Context) error {
		var err error
		snap, err = db.Load(ctx, l.svc.Stats().Since(n.cfg.ACD.Now()))
		return err
	})
	if err != nil {
		return nil, err
	}
	for _, id := range snap.Lost {
		l.lost[id] = true
	}
	// Queues first: an agent's run-time membership moves round robin's
	// position with it.
	for _, q := range snap.Queues {
		var st queue.QueueSnapshot
		if err := json.Unmarshal(q.State, &st); err != nil {
			n.log.Error("cluster: bad snapshot queue state", "queue", q.Queue, "err", err)
			continue
		}
		if err := l.svc.ImportQueue(q.Queue, st); err != nil {
			n.log.Warn("cluster: queue state not taken over", "queue", q.Queue, "err", err)
		}
	}
	for i := range snap.Agents {
		if err := l.keepBeat(ctx); err != nil {
			return nil, err
		}
		a := snap.Agents[i]
		l.agents[a.AgentID] = &a
		st := queue.AgentSnapshot{Presence: queue.Presence(a.Presence), Reason: a.Reason}
		if a.State != nil {
			if err := json.Unmarshal(a.State, &st); err != nil {
				n.log.Error("cluster: bad snapshot agent state", "agent", a.AgentID, "err", err)
				st = queue.AgentSnapshot{Presence: queue.Presence(a.Presence), Reason: a.Reason}
			}
		}
		// The bridged call is the leader's own record (its node, its
		// join): it decides, also for a row written before 0013.
		if a.CallID != "" {
			st.Activity, st.Call, st.CallQueue = queue.OnCall, a.CallID, a.CallQueue
		} else if st.Activity == queue.OnCall {
			st.Activity = queue.Idle
		}
		err := l.svc.ImportAgent(a.AgentID, st)
		if err != nil && st.Activity != queue.Idle {
			n.log.Warn("cluster: call or wrap-up not taken over", "call_id", st.Call, "agent", a.AgentID, "err", err)
			st.Activity = queue.Idle
			err = l.svc.ImportAgent(a.AgentID, st)
		}
		if err != nil {
			n.log.Warn("cluster: agent not taken over", "agent", a.AgentID, "err", err)
			continue
		}
		if st.Activity == queue.OnCall {
			l.bridged[a.CallID] = a.AgentID
		}
	}
	// Every agent gets its row in the first commit: one the snapshot does
	// not have yet keeps its idle and state times from this Service on.
	for _, a := range cfg.Agents {
		l.dirtyAgent[a.ID] = true
	}
	for _, o := range snap.Offers {
		var off queue.Offer
		_ = json.Unmarshal(o.Body, &off)
		l.out(o.Node, outCancel, outCancelBody{Offer: off, Reason: "failover"})
		l.b.DelOffers = append(l.b.DelOffers, o.OfferID)
	}
	for _, e := range snap.Entries {
		if err := l.keepBeat(ctx); err != nil {
			return nil, err
		}
		var j JoinRequest
		if err := json.Unmarshal(e.Body, &j); err != nil {
			n.log.Error("cluster: bad snapshot entry", "call_id", e.CallID, "err", err)
			continue
		}
		l.seq = max(l.seq, e.Seq)
		info := &entryInfo{join: j, body: e.Body, node: e.Node, placed: e.Placed, seq: e.Seq}
		l.entries[e.CallID] = info
		r := j.JoinRequest
		r.JoinedAt = e.Placed
		// Admitted before: a queue whose agents all logged out since, or
		// one at MaxLength, keeps them (it would on one node).
		r.Resume = &queue.EntrySnapshot{}
		if e.State != nil {
			if err := json.Unmarshal(e.State, r.Resume); err != nil {
				n.log.Error("cluster: bad snapshot entry state", "call_id", e.CallID, "err", err)
				r.Resume = &queue.EntrySnapshot{}
			}
		}
		p, err := l.svc.Join(r)
		if err != nil {
			l.refused(info, err)
			continue
		}
		info.place = p
	}
	// Every caller is back: offers go in order now. A caller the records
	// saw waiting who did not come back counts as exited.
	if err := l.keepBeat(ctx); err != nil {
		return nil, err
	}
	// A day's records are replayed in one call: it beats aside too.
	if err := l.aside(ctx, "statistics", func(context.Context) error { l.svc.Resumed(snap.Recs); return nil }); err != nil {
		return nil, err
	}
	return l, nil
}

// keepBeat sets the beat followers watch every LeaderExpiry/4 while a
// takeover rebuilds: its first commit comes only after the last caller is
// back, and a rebuild longer than LeaderExpiry would otherwise be deposed
// as a hung leader (and the next one, rebuilding as long, too). The beat
// is fenced like a commit, so a leader already replaced stops here.
func (l *leader) keepBeat(ctx context.Context) error {
	if h := l.n.cfg.importing; h != nil {
		h()
	}
	if time.Since(l.beat) < l.n.cfg.LeaderExpiry/4 {
		return nil
	}
	if err := l.db.Beat(ctx); err != nil {
		return fmt.Errorf("takeover: %w", err)
	}
	l.beat = time.Now()
	return nil
}

// SaveAgent and Rec make the leader the Service's StateSink: the
// statistics records go into the batch's commit (the next leader reads
// them back); agents' presence and membership are in the snapshot rows.
func (l *leader) SaveAgent(store.AgentState) {}

func (l *leader) Rec(r store.QueueRec) {
	l.recs++
	// (at, id) orders records of one instant: the epoch and the number,
	// fixed width, sort as they were made.
	r.ID = fmt.Sprintf("acd%012d-%012d", l.db.Epoch, l.recs)
	l.b.Recs = append(l.b.Recs, r)
}

func (l *leader) reset() {
	l.b = postgres.Batch{}
	l.dirtyEntry, l.dirtyAgent, l.dirtyOffer = map[string]bool{}, map[string]bool{}, map[string]bool{}
	l.dirtyQueue = map[string]bool{}
	l.check, l.scanAll = l.check[:0], false
}

// Ring and Cancel make the leader the Service's Ringer: an offer is rung
// by the caller's node (it has the caller's media to bridge to).
func (l *leader) Ring(o queue.Offer) {
	node := l.ringerOf(o)
	id := o.ID
	o.ID = l.prefix + id
	b, _ := json.Marshal(o)
	l.offers[id] = &offerInfo{snap: postgres.SnapOffer{OfferID: o.ID, Node: node, Body: b}, callID: o.CallID, agent: o.Agent, queue: o.Queue}
	l.dirtyQueue[o.Queue] = true // round robin moved
	l.dirtyOffer[id] = true
	l.outRaw(node, outRing, b) // the row's body is the ring item's
}

func (l *leader) Cancel(o queue.Offer, reason string) {
	node := l.ringerOf(o)
	// A ring timeout is a miss: the caller's tried set and the agent's
	// misses changed.
	l.touchEntry(o.CallID)
	l.dirtyAgent[o.Agent] = true
	l.dropOffer(o.ID)
	o.ID = l.prefix + o.ID
	l.out(node, outCancel, outCancelBody{Offer: o, Reason: reason})
}

func (l *leader) dropOffer(id string) {
	if so := l.offers[id]; so != nil {
		delete(l.offers, id)
		l.dirtyOffer[id] = true
		l.b.DelOffers = append(l.b.DelOffers, so.snap.OfferID)
	}
}

// touchEntry marks a waiting caller's snapshot row to be written again.
func (l *leader) touchEntry(callID string) {
	if l.entries[callID] != nil {
		l.dirtyEntry[callID] = true
	}
}

func (l *leader) nodeOf(callID string) string {
	if e := l.entries[callID]; e != nil {
		return e.node
	}
	return ""
}

// ringerOf is the node that rings an offer: the caller's, and for a
// callback's entry (agent first) the leader's own, whose callback
// scheduler dials the customer and bridges the agent's leg.
func (l *leader) ringerOf(o queue.Offer) string {
	if o.Callback != "" {
		return l.n.cfg.ID
	}
	return l.nodeOf(o.CallID)
}

// work runs what Do queued for this epoch. The agents it touches
// (reserved, freed) are written with the batch.
func (l *leader) work() {
	n := l.n
	n.dmu.Lock()
	todo := n.todo
	n.todo = nil
	n.dmu.Unlock()
	if len(todo) == 0 {
		return
	}
	for _, w := range todo {
		switch {
		case w.epoch != l.db.Epoch:
		case w.out != nil:
			l.outRaw(w.out.Node, w.out.Kind, w.out.Body)
		default:
			w.f(l.svc)
		}
	}
	for id := range l.agents {
		l.dirtyAgent[id] = true
	}
}

// out queues an outbox item; nothing is written for a lost node.
func (l *leader) out(node, kind string, v any) {
	if node == "" || l.lost[node] {
		return
	}
	b, _ := json.Marshal(v)
	l.outRaw(node, kind, b)
}

// outRaw is out with the body already encoded.
func (l *leader) outRaw(node, kind string, body []byte) {
	if node == "" || l.lost[node] {
		return
	}
	l.b.Out = append(l.b.Out, postgres.OutItem{Node: node, Kind: kind, Body: body})
}

// step applies due deadlines, expired nodes and a batch of commands, and
// commits them with the snapshot's changes and the outbox in one fenced
// transaction. The commit is sent and not waited for: the next step reads
// and applies the next commands meanwhile (pipelining), then waits for it
// before sending its own. So a commit's round trip and WAL flush overlap
// the next batch's work, and batches follow each other in order.
func (l *leader) step(ctx context.Context) (bool, error) {
	now := l.n.cfg.ACD.Now()
	if next, ok := l.svc.NextDeadline(); ok && !now.Before(next) {
		l.svc.Tick()
		l.scanAll = true
		for id := range l.agents {
			l.dirtyAgent[id] = true
		}
	}
	if time.Since(l.n.checked) >= l.n.cfg.ExpiryEvery {
		// On the lock's connection: the commit on its way first.
		if _, err := l.wait(); err != nil {
			return true, err
		}
		l.n.checked = time.Now()
		expired, err := l.db.Expired(ctx, l.n.cfg.NodeExpiry)
		if err != nil {
			return false, err
		}
		for _, id := range expired {
			if id != l.n.cfg.ID {
				l.nodeLost(id, now)
			}
		}
	}
	cmds, err := l.n.cfg.DB.Commands(ctx, l.n.cfg.Batch, l.skip())
	if err != nil {
		return false, err
	}
	for _, c := range cmds {
		l.apply(c, now)
		l.b.Consumed = append(l.b.Consumed, c.ID)
	}
	l.work()
	l.closePlaces()
	empty := len(l.b.Consumed) == 0 && len(l.b.Out) == 0 && len(l.dirtyEntry)+len(l.dirtyAgent)+len(l.dirtyOffer)+len(l.b.LostNodes) == 0 &&
		len(l.b.DelOffers)+len(l.b.Recs) == 0
	l.viewDirty = l.viewDirty || !empty || l.scanAll
	// The view goes in a batch's commit, built while the last commit is
	// still on its way (milliseconds with thousands of callers waiting):
	// with none on its way, this batch's decisions go first, and the next
	// step builds the view while they commit.
	viewDue := l.viewDue(time.Now()) && (l.flight != nil || empty)
	if viewDue {
		if v, err := l.view(); err != nil {
			l.n.log.Error("cluster: acd view not written", "err", err)
			l.viewAt = time.Now() // not again at once
			viewDue = false
		} else {
			l.b.View = v
		}
	}
	waited, err := l.wait()
	if err != nil {
		return true, err
	}
	if empty && !viewDue {
		l.reset()
		if time.Since(l.committed) < l.n.cfg.LeaderExpiry/4 {
			return waited, nil
		}
		// Idle: an empty commit is the heartbeat followers watch.
		l.send(ctx)
		return true, nil
	}
	l.fill()
	l.send(ctx)
	if viewDue {
		l.viewAt, l.viewDirty = l.committed, false
	}
	return true, nil
}

// viewDue reports whether this step writes the view: the first of an
// epoch, after a change once ViewEvery has passed since the last one (a
// burst of changes is one write), and every ViewMax anyway (waits and
// windowed figures move with time alone).
func (l *leader) viewDue(now time.Time) bool {
	if l.viewAt.IsZero() {
		return true
	}
	every, most := l.viewGaps()
	since := now.Sub(l.viewAt)
	return since >= most || (l.viewDirty && since >= every)
}

// viewGaps are ViewEvery and ViewMax, stretched so that building the view
// takes at most a tenth of the leader's time: with 10,000 callers waiting
// a view costs milliseconds, and the decisions come first.
func (l *leader) viewGaps() (every, most time.Duration) {
	return max(l.n.cfg.ViewEvery, 10*l.viewCost), max(l.n.cfg.ViewMax, 10*l.viewCost)
}

// nextView is when the view is due next (Run's timer).
func (l *leader) nextView() time.Time {
	if l.viewAt.IsZero() {
		return time.Now()
	}
	every, most := l.viewGaps()
	if l.viewDirty {
		return l.viewAt.Add(every)
	}
	return l.viewAt.Add(most)
}

// view is the Service's read side as every node serves it (View).
func (l *leader) view() ([]byte, error) {
	began := time.Now()
	defer func() { l.viewCost = time.Since(began) }()
	if l.viewDirty || l.viewAt.IsZero() {
		l.changes++ // a failed commit skips a number: harmless, only a change of it counts
	}
	v := viewBody{Queues: l.svc.Queues(), Agents: l.svc.Agents(), Positions: make(positions, len(l.entries)), Changes: l.changes}
	if l.n.cfg.ViewExtra != nil {
		v.Extra = l.n.cfg.ViewExtra()
	}
	all := l.svc.Positions() // one pass, not a Position per caller
	for id := range l.entries {
		if p, ok := all[id]; ok {
			v.Positions[id] = p
		}
	}
	b, err := v.encode()
	if err != nil {
		return nil, fmt.Errorf("encode acd view: %w", err)
	}
	return b, nil
}

// fill turns the dirty keys into the batch's upserts and deletes.
func (l *leader) fill() {
	for _, id := range slices.Sorted(maps.Keys(l.dirtyEntry)) {
		if e := l.entries[id]; e != nil {
			var state []byte
			if st, err := l.svc.ExportEntry(id); err == nil {
				state, _ = json.Marshal(st)
			}
			l.b.Entries = append(l.b.Entries, postgres.SnapEntry{CallID: id, Queue: e.join.Queue, Node: e.node,
				Placed: e.placed, Seq: e.seq, Body: e.body, State: state})
		} else {
			l.b.DelEntries = append(l.b.DelEntries, id)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(l.dirtyAgent)) {
		a := l.agents[id]
		if st, err := l.svc.ExportAgent(id); err == nil {
			if a == nil {
				a = &postgres.SnapAgent{AgentID: id}
				l.agents[id] = a
			}
			a.Presence, a.Reason = string(st.Presence), st.Reason
			a.State, _ = json.Marshal(st)
		}
		if a != nil {
			l.b.Agents = append(l.b.Agents, *a)
		}
	}
	l.fillQueues()
	for id := range l.dirtyOffer {
		if so := l.offers[id]; so != nil {
			l.b.Offers = append(l.b.Offers, so.snap)
		}
	}
	// An offer rung and ended in the same batch: its delete must win
	// over nothing, and an upsert never follows its own delete.
	if len(l.b.DelOffers) > 0 {
		live := map[string]bool{}
		for _, o := range l.b.Offers {
			live[o.OfferID] = true
		}
		l.b.DelOffers = slices.DeleteFunc(l.b.DelOffers, func(id string) bool { return live[id] })
	}
}

// answersEvery is how often at most a queue's answers (EWT's, up to one
// pair per second of the window) are written: a busy queue answers
// thousands an hour, and round robin moves at every offer.
const answersEvery = time.Second

// fillQueues writes the queues whose round robin moved (every offer: the
// row is small) and, with the view or at most every answersEvery, the
// answers behind their EWT. The row is merged (acd_queues.state ||
// this), so a row without answers keeps the last ones written: a takeover
// loses at most answersEvery of them.
func (l *leader) fillQueues() {
	now := time.Now()
	for name := range l.answersDue {
		if l.b.View != nil || now.Sub(l.answersAt[name]) >= answersEvery {
			l.dirtyQueue[name] = true
		}
	}
	for _, name := range slices.Sorted(maps.Keys(l.dirtyQueue)) {
		answers := l.answersDue[name] && (l.b.View != nil || now.Sub(l.answersAt[name]) >= answersEvery)
		st, err := l.svc.ExportQueue(name, answers) // without: the row keeps the last written
		if err != nil {
			continue
		}
		if answers {
			delete(l.answersDue, name)
			l.answersAt[name] = now
		}
		state, _ := json.Marshal(st)
		l.b.Queues = append(l.b.Queues, postgres.SnapQueue{Queue: name, State: state})
	}
}

// apply runs one command on the Service. Errors of the Service (a caller
// gone, an unknown agent) are the command's, not the leader's: logged.
func (l *leader) apply(c postgres.Command, now time.Time) {
	var m command
	if err := json.Unmarshal(c.Body, &m); err != nil {
		l.n.log.Error("cluster: bad command", "command", c.ID, "kind", c.Kind, "err", err)
		return
	}
	var err error
	switch c.Kind {
	case cmdJoin:
		var j JoinRequest
		if len(m.Join) == 0 {
			err = errors.New("join without a request")
			break
		}
		if err = json.Unmarshal(m.Join, &j); err != nil {
			break
		}
		m.CallID = j.CallID
		err = l.join(c, j, m.Join, now)
	case cmdLeave:
		err = l.svc.Leave(m.CallID, m.Reason)
		l.check = append(l.check, m.CallID)
	case cmdKey:
		_, err = l.svc.Key(m.CallID, m.Digit)
		l.check = append(l.check, m.CallID)
	case cmdHangup:
		err = l.svc.Hangup(m.CallID)
		if err == nil {
			l.unbridge(m.CallID)
		}
	case cmdAnswered, cmdFailed:
		id, ok := strings.CutPrefix(m.Offer, l.prefix)
		so := l.offers[id]
		if !ok || so == nil {
			err = queue.ErrOfferGone
		} else {
			if c.Kind == cmdAnswered {
				err = l.svc.Answered(id)
				l.check = append(l.check, so.callID)
				l.answersDue[so.queue] = true // an answer: EWT
			} else {
				err = l.svc.Failed(id, m.Result)
				l.touchEntry(so.callID) // a miss: tried last now
			}
			l.dropOffer(id)
			l.dirtyAgent[so.agent] = true
		}
		if c.Kind == cmdAnswered && errors.Is(err, queue.ErrOfferGone) {
			l.out(c.Node, outGone, outCancelBody{Offer: queue.Offer{ID: m.Offer}, Reason: "gone"})
		}
	case cmdAgent:
		err = l.svc.SetState(m.Agent, m.State, m.Reason)
		l.dirtyAgent[m.Agent] = true
		if m.State == "logout" {
			l.scanAll = true // leave-when-empty may send callers out
		}
	case cmdCallback:
		if l.n.cfg.Callback != nil {
			l.n.cfg.Callback(m.CallbackID)
		}
	case cmdMember:
		if m.Remove {
			err = l.svc.RemoveMember(m.Agent, m.Queue)
		} else {
			_, err = l.svc.SetMember(m.Agent, m.Queue, m.Penalty)
		}
		l.dirtyAgent[m.Agent] = true
		l.scanAll = true // a new member may take a waiting caller; a removed one may empty a queue
	default:
		err = fmt.Errorf("unknown command kind %q", c.Kind)
	}
	if err != nil {
		// The logger's attributes only now: With costs an allocation (and
		// a handler's formatting) per command.
		l.n.log.Info("cluster: command refused", "call_id", m.CallID, "from", c.Node, "kind", c.Kind, "command", c.ID, "err", err)
	}
}

// join takes a caller in; body is the request as the node encoded it
// (the snapshot row's body).
func (l *leader) join(c postgres.Command, j JoinRequest, body []byte, now time.Time) error {
	if l.lost[c.Node] { // sent before its node died: the call is gone with it
		l.out(l.n.cfg.ID, outLost, lostOf(j, c.Node, "", now))
		return nil
	}
	if l.entries[j.CallID] != nil || l.bridged[j.CallID] != "" {
		return fmt.Errorf("join %q: %w", j.CallID, queue.ErrDuplicateCall)
	}
	placed := j.JoinedAt
	if placed.IsZero() {
		placed = now
	}
	l.seq++
	info := &entryInfo{join: j, body: body, node: c.Node, placed: placed, seq: l.seq}
	l.entries[j.CallID] = info // before Join: its offers ring on this node
	r := j.JoinRequest
	r.JoinedAt = placed
	r.Resume = nil // only a takeover resumes
	p, err := l.svc.Join(r)
	if err != nil {
		l.refused(info, err)
		return nil
	}
	info.place = p
	l.dirtyEntry[j.CallID] = true
	return nil
}

// refused answers a join the Service refused (full, empty, a duplicate).
func (l *leader) refused(e *entryInfo, err error) {
	delete(l.entries, e.join.CallID)
	l.dirtyEntry[e.join.CallID] = true
	out := queue.Outcome{Reason: queue.ReasonDropped}
	var x *queue.ExitError
	if errors.As(err, &x) {
		out = queue.Outcome{Reason: x.Reason, Exit: x.Exit}
	}
	l.out(e.node, outOutcome, outOutcomeBody{CallID: e.join.CallID, Outcome: out})
}

// closePlaces sends the outcome of every place the batch closed to its
// node; an answered caller's agent is bridged with the caller's node.
func (l *leader) closePlaces() {
	ids := l.check
	if l.scanAll {
		ids = slices.Collect(maps.Keys(l.entries))
		slices.SortFunc(ids, func(a, b string) int { return int(l.entries[a].seq - l.entries[b].seq) })
	}
	for _, id := range ids {
		e := l.entries[id]
		if e == nil || e.place == nil {
			continue
		}
		select {
		case <-e.place.Done():
		default:
			continue
		}
		out := e.place.Outcome()
		delete(l.entries, id)
		l.dirtyEntry[id] = true
		if out.Reason == queue.ReasonAnswered && out.Agent != "" {
			a := l.agents[out.Agent]
			if a == nil {
				a = &postgres.SnapAgent{AgentID: out.Agent}
				l.agents[out.Agent] = a
			}
			a.CallID, a.CallQueue, a.CallNode, a.CallBody = id, e.join.Queue, e.node, e.body
			l.bridged[id] = out.Agent
			l.dirtyAgent[out.Agent] = true
		}
		if out.Offer != "" {
			// The ids nodes know carry the epoch (the Ring item's): the
			// caller's node takes the answered leg by this id.
			out.Offer = l.prefix + out.Offer
		}
		l.out(e.node, outOutcome, outOutcomeBody{CallID: id, Outcome: out})
	}
}

func (l *leader) unbridge(callID string) {
	if id := l.bridged[callID]; id != "" {
		delete(l.bridged, callID)
		if a := l.agents[id]; a != nil {
			a.CallID, a.CallQueue, a.CallNode, a.CallBody = "", "", "", nil
		}
		l.dirtyAgent[id] = true
	}
}

// nodeLost declares a node lost: its waiting callers leave the queues
// (dropped), agents bridged with its calls are free (after wrap-up), and
// each of those calls is handed to this node as a LostCall to record —
// once: the same commit marks the node lost, so no later leader does it
// again.
func (l *leader) nodeLost(node string, now time.Time) {
	if l.lost[node] {
		return
	}
	l.n.log.Warn("cluster: node lost", "lost_node", node)
	l.lost[node] = true
	l.b.LostNodes = append(l.b.LostNodes, node)
	l.out(l.n.cfg.ID, outNodeLost, nodeLostBody{Node: node})
	var calls []*entryInfo
	for _, e := range l.entries {
		if e.node == node {
			calls = append(calls, e)
		}
	}
	slices.SortFunc(calls, func(a, b *entryInfo) int { return int(a.seq - b.seq) })
	for _, e := range calls {
		l.out(l.n.cfg.ID, outLost, lostOf(e.join, node, "", now))
		_ = l.svc.Leave(e.join.CallID, queue.ReasonDropped)
		delete(l.entries, e.join.CallID)
		l.dirtyEntry[e.join.CallID] = true
	}
	for _, callID := range slices.Sorted(maps.Keys(l.bridged)) {
		a := l.agents[l.bridged[callID]]
		if a == nil || a.CallNode != node {
			continue
		}
		var j JoinRequest
		_ = json.Unmarshal(a.CallBody, &j)
		l.out(l.n.cfg.ID, outLost, lostOf(j, node, a.AgentID, now))
		_ = l.svc.Hangup(callID)
		l.unbridge(callID)
	}
}

func lostOf(j JoinRequest, node, agent string, now time.Time) LostCall {
	return LostCall{CallID: j.CallID, FromTag: j.FromTag, Caller: j.Caller, Called: j.Called, Queue: j.Queue,
		Tier: j.Tier, Node: node, Agent: agent, Started: j.Started, Lost: now}
}
