package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/store"
)

func recordingsOf(t *testing.T, s store.Store) store.Recordings {
	t.Helper()
	rs, ok := s.(store.Recordings)
	if !ok {
		t.Fatalf("%T does not implement store.Recordings", s)
	}
	return rs
}

// testRecordings: a call's recordings are stored with its record, listed
// on its interaction until deleted, and the deletion is kept.
func testRecordings(t *testing.T, s store.Store) {
	rs := recordingsOf(t, s)
	r := rec("vm-1", "0912 345 678", "general")
	r.Voice.FromTag = "tag-1"
	r.Voice.Outcome = store.OutcomeVoicemail
	r.Voice.Recordings = []store.Recording{{ID: "rec_a", Kind: store.RecordingVoicemail, Format: "wav", DurationMillis: 4200, Size: 67244,
		CreatedAt: t0.Add(time.Minute)}}
	res := logCall(t, s, r)
	in, err := s.GetInteraction(ctx(t), res.InteractionID)
	must(t, err)
	if len(in.Voice.Recordings) != 1 {
		t.Fatalf("recordings on the interaction: %+v", in.Voice.Recordings)
	}
	got := in.Voice.Recordings[0]
	want := store.Recording{ID: "rec_a", CallID: "vm-1", FromTag: "tag-1", InteractionID: res.InteractionID, Kind: store.RecordingVoicemail,
		Format: "wav", DurationMillis: 4200, Size: 67244, CreatedAt: t0.Add(time.Minute)}
	if !got.CreatedAt.Equal(want.CreatedAt) || got.DeletedAt != nil {
		t.Fatalf("recording %+v, want %+v", got, want)
	}
	got.CreatedAt = want.CreatedAt
	if got != want {
		t.Fatalf("recording %+v, want %+v", got, want)
	}
	one, err := rs.GetRecording(ctx(t), "rec_a")
	must(t, err)
	if one.InteractionID != res.InteractionID || one.CallID != "vm-1" || one.DurationMillis != 4200 {
		t.Fatalf("GetRecording = %+v", one)
	}
	// The list and the timeline show them too; a call without any has [].
	plain := logCall(t, s, rec("plain-1", "0912 345 678", "general"))
	list, _, err := s.Timeline(ctx(t), res.CustomerID, store.Page{})
	must(t, err)
	for _, i := range list {
		n := len(i.Voice.Recordings)
		switch {
		case i.Voice.Recordings == nil:
			t.Errorf("interaction %d: Recordings nil, want []", i.ID)
		case i.ID == res.InteractionID && n != 1, i.ID == plain.InteractionID && n != 0:
			t.Errorf("interaction %d: %d recordings", i.ID, n)
		}
	}
	// Logging the call again writes nothing twice.
	if again := logCall(t, s, r); !again.Duplicate {
		t.Fatalf("second log = %+v", again)
	}
	// A recording stored during the call is linked when the call is logged.
	early := &store.Recording{ID: "rec_b", CallID: "vm-2", Kind: store.RecordingVoicemail, Format: "wav", DurationMillis: 1000, Size: 16044}
	must(t, rs.CreateRecording(ctx(t), early))
	if early.CreatedAt.IsZero() {
		t.Fatal("CreatedAt not set")
	}
	wantIs(t, rs.CreateRecording(ctx(t), early), store.ErrConflict)
	r2 := rec("vm-2", "0912 345 678", "general")
	r2.Voice.Recordings = []store.Recording{*early}
	res2 := logCall(t, s, r2)
	b, err := rs.GetRecording(ctx(t), "rec_b")
	must(t, err)
	if b.InteractionID != res2.InteractionID {
		t.Fatalf("early recording not linked: %+v (interaction %d)", b, res2.InteractionID)
	}
	// Deleted: gone from the interaction, the row keeps when.
	at := t0.Add(24 * time.Hour)
	must(t, rs.DeleteRecording(ctx(t), "rec_a", at))
	must(t, rs.DeleteRecording(ctx(t), "rec_a", at.Add(time.Hour))) // the first deletion's time stays
	del, err := rs.GetRecording(ctx(t), "rec_a")
	must(t, err)
	if del.DeletedAt == nil || !del.DeletedAt.Equal(at) {
		t.Fatalf("deleted recording: %+v", del)
	}
	in, err = s.GetInteraction(ctx(t), res.InteractionID)
	must(t, err)
	if len(in.Voice.Recordings) != 0 {
		t.Fatalf("a deleted recording is still listed: %+v", in.Voice.Recordings)
	}
	_, err = rs.GetRecording(ctx(t), "rec_nope")
	wantIs(t, err, store.ErrNotFound)
	wantIs(t, rs.DeleteRecording(ctx(t), "rec_nope", at), store.ErrNotFound)
}

func testRecordingValidation(t *testing.T, s store.Store) {
	rs := recordingsOf(t, s)
	for _, tc := range []struct {
		r     store.Recording
		field string
	}{
		{store.Recording{Kind: store.RecordingVoicemail, Format: "wav"}, "recording.id"},
		{store.Recording{ID: "x", Kind: "memo", Format: "wav"}, "recording.kind"},
		{store.Recording{ID: "x", Kind: store.RecordingCall}, "recording.format"},
		{store.Recording{ID: "x", Kind: store.RecordingCall, Format: "wav", Size: -1}, "recording"},
	} {
		wantField(t, rs.CreateRecording(ctx(t), &tc.r), tc.field)
	}
	r := rec("vm-bad", "0912 345 678", "")
	r.Voice.Recordings = []store.Recording{{ID: "r1", Kind: "memo", Format: "wav"}}
	_, err := s.LogCall(ctx(t), r)
	wantField(t, err, "voice.recordings.kind")
	r.Voice.Recordings = []store.Recording{{ID: "r1", Kind: store.RecordingVoicemail, Format: "wav"}, {ID: "r1", Kind: store.RecordingVoicemail, Format: "wav"}}
	_, err = s.LogCall(ctx(t), r)
	wantField(t, err, "voice.recordings.id")
}

// testExpiredRecordings: the retention sweep's query lists a queue's live
// call recordings made before a time, oldest first and bounded; not those
// of another queue or kind, not those deleted, not those made since.
func testExpiredRecordings(t *testing.T, s store.Store) {
	rs := recordingsOf(t, s)
	mk := func(id, kind, queue string, at time.Time) {
		t.Helper()
		must(t, rs.CreateRecording(ctx(t), &store.Recording{ID: id, CallID: "call-" + id, Kind: kind, Queue: queue, Format: "wav",
			DurationMillis: 1000, Size: 16044, CreatedAt: at}))
	}
	mk("rec_s3", store.RecordingCall, "sales", t0.Add(3*time.Hour))
	mk("rec_s1", store.RecordingCall, "sales", t0.Add(1*time.Hour))
	mk("rec_s2", store.RecordingCall, "sales", t0.Add(2*time.Hour))
	mk("rec_new", store.RecordingCall, "sales", t0.Add(10*time.Hour))
	mk("rec_sup", store.RecordingCall, "support", t0.Add(time.Hour))
	mk("rec_vm", store.RecordingVoicemail, "sales", t0.Add(time.Hour))
	mk("rec_gone", store.RecordingCall, "sales", t0)
	must(t, rs.DeleteRecording(ctx(t), "rec_gone", t0.Add(time.Minute)))
	ids := func(rs []store.Recording) []string {
		out := []string{}
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return out
	}
	before := t0.Add(5 * time.Hour)
	got, err := rs.ExpiredRecordings(ctx(t), store.RecordingCall, "sales", before, 0)
	must(t, err)
	if g := ids(got); !slices.Equal(g, []string{"rec_s1", "rec_s2", "rec_s3"}) {
		t.Fatalf("expired = %v, want rec_s1 rec_s2 rec_s3", g)
	}
	if got[0].Queue != "sales" || got[0].Kind != store.RecordingCall || !got[0].CreatedAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("expired[0] = %+v", got[0])
	}
	got, err = rs.ExpiredRecordings(ctx(t), store.RecordingCall, "sales", before, 2)
	must(t, err)
	if g := ids(got); !slices.Equal(g, []string{"rec_s1", "rec_s2"}) {
		t.Fatalf("expired, limit 2 = %v", g)
	}
	// The boundary: made exactly at before is not yet expired.
	got, err = rs.ExpiredRecordings(ctx(t), store.RecordingCall, "sales", t0.Add(time.Hour), 0)
	must(t, err)
	if len(got) != 0 {
		t.Fatalf("expired at the boundary = %v", ids(got))
	}
	got, err = rs.ExpiredRecordings(ctx(t), store.RecordingCall, "nobody", before, 0)
	must(t, err)
	if got == nil || len(got) != 0 {
		t.Fatalf("expired of an unknown queue = %#v, want []", got)
	}
	_, err = rs.ExpiredRecordings(ctx(t), store.RecordingCall, "sales", before, 5000)
	wantField(t, err, "limit")
	// A call's recording logged with its record keeps its queue.
	r := rec("rq-1", "0912 345 678", "sales")
	r.Voice.Recordings = []store.Recording{{ID: "rec_q", Kind: store.RecordingCall, Queue: "sales", Format: "wav", DurationMillis: 1, Size: 46, CreatedAt: t0}}
	logCall(t, s, r)
	one, err := rs.GetRecording(ctx(t), "rec_q")
	must(t, err)
	if one.Queue != "sales" {
		t.Fatalf("logged recording's queue %q", one.Queue)
	}
}
