package queue

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/hotline-dev/hotline/bridge"
	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/ivr"
	"github.com/hotline-dev/hotline/media"
	"github.com/hotline-dev/hotline/recording"
)

const (
	// MaxCallRecording is the longest a bridged call is recorded: the
	// first two hours of a longer one are kept. The recording is in memory
	// until the call ends (16 kB a second each way).
	MaxCallRecording = 2 * time.Hour
	// recordingSaveTimeout bounds storing a recording once the call ended,
	// plus recordingSaveRate's time for its size: a 2-hour split
	// recording is 230 MB, which the database store writes at about
	// 24 MB/s on PostgreSQL under load (BenchmarkStorePut,
	// docs/benchmarks.md), so a fixed 15 s would lose the longest calls.
	recordingSaveTimeout = 15 * time.Second
	recordingSaveRate    = 2 << 20 // bytes a second, at least
)

// saveTimeout is how long storing size bytes may take.
func saveTimeout(size int) time.Duration {
	return recordingSaveTimeout + time.Duration(size/recordingSaveRate)*time.Second
}

// recordingOf is the queue's recording setting when it can record: on,
// with a store to keep the file.
func (q *Enqueuer) recordingOf(queue string) (config.QueueRecording, bool) {
	rc := q.cfg.Service.cfg.Queues[queue].Recording // defaults filled by New
	if !rc.Enabled {
		return rc, false
	}
	if q.cfg.Recordings == nil {
		q.cfg.Logger.Error("queue: recording is on but there is no recording store; the call is not recorded", "queue", queue)
		return rc, false
	}
	return rc, true
}

// noticeFirst tells the caller the call is recorded when req.Queue
// records, before they join it: the notice is heard whole (no key
// interrupts it: it is the point), no agent is rung meanwhile (so none
// waits in silence for it to end, and an agent's phone that stops sending
// to a silent far end is never left unheard), and their place in the
// queue starts after it. A missing prompt is logged: recording without the
// notice the configuration promised must not pass unnoticed. The error is
// the caller hanging up during it.
func (q *Enqueuer) noticeFirst(ctx context.Context, call ivr.Call, req ivr.QueueRequest) error {
	rc, ok := q.recordingOf(req.Queue)
	if !ok {
		return nil
	}
	ps := bridge.Lookup(q.cfg.Prompts, req.Language, rc.Announce)
	if len(ps) == 0 {
		q.cfg.Logger.Warn("queue: recording notice prompt missing", "call_id", call.ID(), "queue", req.Queue, "prompt", rc.Announce, "lang", req.Language)
		return nil
	}
	if err := call.Play(ctx, ps...); err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return nil
}

// callRecorder records one bridged call (bridge.Options.Tap).
type callRecorder struct {
	rec   *recording.Bridged
	split bool
	start time.Time
}

func newCallRecorder(rc config.QueueRecording) *callRecorder {
	now := time.Now()
	return &callRecorder{rec: recording.NewBridged(now, MaxCallRecording), split: rc.Channels == config.RecordingSplit, start: now}
}

// tap places a frame by its arrival now: a is the caller, b the agent.
func (r *callRecorder) tap(from bridge.Side, f media.Frame) {
	side := recording.Caller
	if from == bridge.SideB {
		side = recording.Agent
	}
	r.rec.Add(side, f, time.Now())
}

// save stores the recording as a WAV file and describes it for the call
// log. It runs after the call, on a context of its own (the caller's may
// be done).
func (q *Enqueuer) saveRecording(ctx context.Context, callID, queue, agent string, r *callRecorder) (ivr.Recorded, error) {
	r.rec.Close()
	log := q.cfg.Logger.With("call_id", callID, "queue", queue, "agent", agent)
	var buf bytes.Buffer
	if err := r.rec.WriteWAV(&buf, r.split); err != nil {
		log.Error("queue: call recording not saved", "err", err)
		return ivr.Recorded{}, err
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout(buf.Len()))
	defer cancel()
	id := recording.NewID()
	info, err := q.cfg.Recordings.Put(sctx, recording.Key(id, recording.FormatWAV), bytes.NewReader(buf.Bytes())) // seekable: a store may retry it elsewhere (recording.Fallback)
	if err != nil {
		log.Error("queue: call recording not saved", "err", err)
		return ivr.Recorded{}, fmt.Errorf("queue: call recording: %w", err)
	}
	st := r.rec.Stats()
	rec := ivr.Recorded{ID: id, Kind: recording.KindCall, Format: recording.FormatWAV, Queue: queue,
		Duration: r.rec.Duration(), Size: info.Size, CreatedAt: q.cfg.Service.cfg.Now()}
	log.Info("queue: call recorded", "recording", id, "duration", rec.Duration, "bytes", info.Size, "split", r.split,
		"filled_ms", [2]int{st.Filled[0] / 8, st.Filled[1] / 8}, "late", st.Late, "anchors", st.Anchors)
	return rec, nil
}
