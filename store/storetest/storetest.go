// Package storetest is the conformance suite every store.Store backend
// passes. Run it from a backend's tests:
//
//	storetest.Run(t, func(t *testing.T) store.Store { return openFresh(t) })
//
// The factory returns an empty, migrated store opened with
// DefaultCountry "VN"; the suite closes it.
package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/hotline-dev/hotline/store"
)

// Factory opens a fresh, empty store for one subtest.
type Factory func(t *testing.T) store.Store

// Run runs every conformance test as a subtest.
func Run(t *testing.T, open Factory) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"CustomerCRUD", testCustomerCRUD},
		{"CustomerValidation", testCustomerValidation},
		{"CustomerConflicts", testCustomerConflicts},
		{"CustomerListFilters", testCustomerList},
		{"TicketCRUD", testTicketCRUD},
		{"TicketListPagination", testTicketList},
		{"InteractionCRUD", testInteractionCRUD},
		{"TimelineAcrossChannels", testTimeline},
		{"CursorErrors", testCursorErrors},
		{"LogCallNewCustomer", testLogCallNew},
		{"LogCallExistingCustomerAnyFormat", testLogCallExisting},
		{"LogCallTicketRule", testLogCallTicketRule},
		{"LogCallIdempotent", testLogCallIdempotent},
		{"LogCallReusedCallID", testLogCallReusedCallID},
		{"LogCallLegs", testLogCallLegs},
		{"LogCallAnonymous", testLogCallAnonymous},
		{"LogCallsBatch", testLogCallsBatch},
		{"LogCallValidation", testLogCallValidation},
		{"LogCallOutbound", testLogCallOutbound},
		{"LogCallsConcurrent", testLogCallsConcurrent},
		{"CallbackRequest", testCallbackRequest},
		{"CallbackValidation", testCallbackValidation},
		{"CallbackDedupe", testCallbackDedupe},
		{"CallbackDedupeRace", testCallbackDedupeRace},
		{"CallbackBounds", testCallbackBounds},
		{"CallbackBoundsRace", testCallbackBoundsRace},
		{"CallbackClaim", testCallbackClaim},
		{"CallbackStory", testCallbackStory},
		{"CallbackLoggedFirst", testCallbackLoggedFirst},
		{"CallbackChange", testCallbackChange},
		{"CallbackRecover", testCallbackRecover},
		{"CallbackList", testCallbackList},
		{"RuntimeBindings", testRuntimeBindings},
		{"RuntimeAgents", testRuntimeAgents},
		{"RuntimeQueueRecs", testRuntimeQueueRecs},
		{"WebhookSubscriptions", testWebhookSubscriptions},
		{"WebhookOutbox", testWebhookOutbox},
		{"WebhookBatch", testWebhookBatch},
		{"SyncOrder", testSyncOrder},
		{"SyncConcurrent", testSyncConcurrent},
		{"IfVersion", testIfVersion},
		{"IdempotencyKeys", testIdempotencyKeys},
		{"ExternalIDs", testExternalIDs},
		{"Search", testSearch},
		{"Recordings", testRecordings},
		{"RecordingValidation", testRecordingValidation},
		{"ExpiredRecordings", testExpiredRecordings},
		{"RecordingAudio", testRecordingAudio},
		{"RecordingAudioLongPut", testRecordingAudioLongPut},
		{"RecordingAudioOrphans", testRecordingAudioOrphans},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("close: %v", err)
				}
			})
			tc.fn(t, s)
		})
	}
}

func ctx(t *testing.T) context.Context { return t.Context() }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wantField checks err is a *store.FieldError naming field.
func wantField(t *testing.T, err error, field string) {
	t.Helper()
	var fe *store.FieldError
	if !errors.As(err, &fe) || !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("err = %v; want a FieldError for %q", err, field)
	}
	if fe.Field != field {
		t.Fatalf("FieldError names %q (%v); want %q", fe.Field, err, field)
	}
}

func wantIs(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("err = %v; want %v", err, target)
	}
}
