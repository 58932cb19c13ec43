package storetest

import (
	"reflect"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/store"
)

// transferLegs is a call answered by a1 in technical, blind-transferred to
// sales, answered there by b2 and hung up by the caller.
func transferLegs() []store.CallLeg {
	at := func(s int) *time.Time { v := t0.Add(time.Duration(s) * time.Second); return &v }
	return []store.CallLeg{
		{Queue: "technical", Agent: "a1", JoinedAt: t0, OfferedAt: at(5), AnsweredAt: at(8), EndedAt: *at(68),
			WaitSeconds: 8, TalkSeconds: 60, End: store.LegTransferred, EndedBy: store.SideAgent, TransferTo: "sales"},
		{Queue: "sales", Agent: "b2", JoinedAt: *at(68), OfferedAt: at(70), AnsweredAt: at(71), EndedAt: *at(101),
			WaitSeconds: 3, TalkSeconds: 30, End: store.LegHangup, EndedBy: store.SideCaller},
		{Queue: "sales", Number: "sip:2001@pbx.example", JoinedAt: *at(101), EndedAt: *at(111), WaitSeconds: 10,
			End: store.LegUnanswered, Reason: "486 Busy Here"},
	}
}

// testLogCallLegs: every leg of a call comes back as logged, through the
// batch path and through CreateInteraction.
func testLogCallLegs(t *testing.T, s store.Store) {
	r := rec("legs@host", "0912345678", "technical")
	r.Voice.FromTag = "f1"
	r.Voice.Legs = transferLegs()
	r.Voice.Agent, r.Voice.WaitSeconds, r.Voice.TalkSeconds = "a1", 21, 90
	r.Voice.HangupSide = store.SideCaller
	res := logCall(t, s, r)
	in, err := s.GetInteraction(ctx(t), res.InteractionID)
	must(t, err)
	if in.Voice.FromTag != "f1" || !reflect.DeepEqual(in.Voice.Legs, transferLegs()) || in.Voice.HangupSide != store.SideCaller {
		t.Fatalf("voice = %+v\nlegs %+v\nwant %+v", in.Voice, in.Voice.Legs, transferLegs())
	}
	// A leg time with a zone and nanoseconds is kept as UTC microseconds.
	local := time.Date(2026, 2, 1, 15, 0, 0, 123456789, time.FixedZone("ICT", 7*3600))
	r = rec("legs-2@host", "0912345678", "technical")
	r.Voice.Legs = []store.CallLeg{{Queue: "technical", JoinedAt: local, EndedAt: local.Add(time.Second), End: store.LegUnanswered, Reason: "abandoned",
		EndedBy: store.SideCaller, WaitSeconds: 1}}
	res = logCall(t, s, r)
	in, err = s.GetInteraction(ctx(t), res.InteractionID)
	must(t, err)
	if got := in.Voice.Legs[0].JoinedAt; !got.Equal(local.Truncate(time.Microsecond)) || got.Location() != time.UTC {
		t.Fatalf("joined_at = %v, want %v in UTC", got, local.Truncate(time.Microsecond))
	}
	// No legs reads back as [], not null.
	res = logCall(t, s, rec("legs-3@host", "0912345678", "technical"))
	in, err = s.GetInteraction(ctx(t), res.InteractionID)
	must(t, err)
	if in.Voice.Legs == nil || len(in.Voice.Legs) != 0 {
		t.Fatalf("legs of a call that never queued = %#v, want []", in.Voice.Legs)
	}

	for _, tc := range []struct {
		mut   func(v *store.VoiceDetails)
		field string
	}{
		{func(v *store.VoiceDetails) { v.HangupSide = "server" }, "voice.hangup_side"},
		{func(v *store.VoiceDetails) { v.Legs[1].End = "ended" }, "voice.legs[1].end"},
		{func(v *store.VoiceDetails) { v.Legs[0].EndedBy = "remote" }, "voice.legs[0].ended_by"},
		{func(v *store.VoiceDetails) { v.Legs[2].WaitSeconds = -1 }, "voice.legs[2]"},
		{func(v *store.VoiceDetails) { v.Legs[0].EndedAt = t0.Add(-time.Second) }, "voice.legs[0].ended_at"},
		{func(v *store.VoiceDetails) { v.Legs[1].Agent = "a\x00b" }, "voice.legs[1].agent"},
		{func(v *store.VoiceDetails) { v.Legs = make([]store.CallLeg, 101) }, "voice.legs"},
		{func(v *store.VoiceDetails) { v.FromTag = "\xff" }, "voice.from_tag"},
	} {
		bad := rec("bad-leg@host", "0912345678", "")
		bad.Voice.Legs = transferLegs()
		tc.mut(&bad.Voice)
		_, err := s.LogCall(ctx(t), bad)
		wantField(t, err, tc.field)
	}
}

// testLogCallReusedCallID: a call is its Call-ID and From tag (RFC 3261
// §12): a later call reusing a Call-ID with a new From tag is a second
// interaction; a replay of either is a duplicate of the right one.
func testLogCallReusedCallID(t *testing.T, s store.Store) {
	first := rec("reused@host", "0912345678", "technical")
	first.Voice.FromTag = "tag-1"
	second := rec("reused@host", "0912345678", "technical")
	second.Voice.FromTag = "tag-2"
	second.StartedAt, second.EndedAt = t0.Add(time.Hour), t0.Add(time.Hour+time.Minute)
	a := logCall(t, s, first)
	b := logCall(t, s, second)
	if a.Duplicate || b.Duplicate || a.InteractionID == b.InteractionID || b.TicketID != a.TicketID {
		t.Fatalf("second call with the same Call-ID: %+v; first %+v", b, a)
	}
	// The spool replays both (a crash after the commit): nothing new.
	replay, err := s.LogCalls(ctx(t), []store.CallRecord{second, first})
	must(t, err)
	if !replay[0].Duplicate || replay[0].InteractionID != b.InteractionID || !replay[1].Duplicate || replay[1].InteractionID != a.InteractionID {
		t.Fatalf("replay = %+v; want duplicates of %d and %d", replay, b.InteractionID, a.InteractionID)
	}
	// In one batch: a new tag is new, a repeated one a duplicate of its first.
	third := rec("reused@host", "0912345678", "technical")
	third.Voice.FromTag = "tag-3"
	batch, err := s.LogCalls(ctx(t), []store.CallRecord{third, first, third})
	must(t, err)
	if batch[0].Duplicate || !batch[1].Duplicate || batch[1].InteractionID != a.InteractionID ||
		!batch[2].Duplicate || batch[2].InteractionID != batch[0].InteractionID {
		t.Fatalf("batch = %+v", batch)
	}
	all, _, err := s.ListInteractions(ctx(t), store.InteractionFilter{Channel: store.ChannelVoice}, store.Page{})
	must(t, err)
	tags := map[string]bool{}
	for _, in := range all {
		if in.Voice.CallID != "reused@host" {
			t.Fatalf("unexpected call %q", in.Voice.CallID)
		}
		tags[in.Voice.FromTag] = true
	}
	if len(all) != 3 || !tags["tag-1"] || !tags["tag-2"] || !tags["tag-3"] {
		t.Fatalf("%d interactions with From tags %v; want tag-1, tag-2, tag-3", len(all), tags)
	}

	// CreateInteraction (the API) keys the same way.
	c := newCustomer(t, s, "+84912000009")
	api := &store.Interaction{CustomerID: c.ID, Channel: store.ChannelVoice, Voice: &store.VoiceDetails{CallID: "reused@host", FromTag: "tag-4"}}
	must(t, s.CreateInteraction(ctx(t), api))
	dup := &store.Interaction{CustomerID: c.ID, Channel: store.ChannelVoice, Voice: &store.VoiceDetails{CallID: "reused@host", FromTag: "tag-1"}}
	wantIs(t, s.CreateInteraction(ctx(t), dup), store.ErrConflict)
}
