package webhook_test

import (
	"encoding/base64"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/webhook"
)

func key(b byte) string {
	return base64.StdEncoding.EncodeToString([]byte(strings.Repeat(string(rune(b)), 32)))
}

// An API subscription's secret is encrypted in the database with the
// first key; deliveries are signed with the secret itself; a rotation
// (new key first, old after) re-encrypts it at the next start, and the
// old key can go.
func TestSecretsEncryptedAtRestAndRotated(t *testing.T) {
	rc := newReceiver(t, "")
	db := openDB(t, filepath.Join(t.TempDir(), "h.db"))
	d1 := fast()
	d1.SecretKeys = []config.WebhookKey{{ID: "k1", Key: key('a')}}
	s1, stop1 := start(t, db, webhook.Config{Delivery: d1})
	sub, got, err := s1.Create(t.Context(), rc.url(), secret, nil)
	if err != nil || got != secret {
		t.Fatalf("create: %v (secret %q)", err, got)
	}
	stored := func() string {
		w, err := db.GetWebhook(t.Context(), sub.ID)
		if err != nil {
			t.Fatal(err)
		}
		return w.Secret
	}
	if v := stored(); !strings.HasPrefix(v, "enc:v1:k1:") || strings.Contains(v, secret) {
		t.Fatalf("stored secret %q, want it encrypted with k1", v)
	}
	send := func(s *webhook.Service, id string) {
		t.Helper()
		if err := s.Enqueue(t.Context(), webhook.Event{ID: id, Type: "call.started", Created: time.Now(), Data: json.RawMessage(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	send(s1, "evt_k1")
	rc.waitFor(1, 10*time.Second) // the receiver verifies with the plain secret
	stop1()

	d2 := fast()
	d2.SecretKeys = []config.WebhookKey{{ID: "k2", Key: key('b')}, {ID: "k1", Key: key('a')}}
	s2, stop2 := start(t, db, webhook.Config{Delivery: d2})
	for deadline := time.Now().Add(10 * time.Second); !strings.HasPrefix(stored(), "enc:v1:k2:"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not re-encrypted with k2: %q", stored())
		}
	}
	send(s2, "evt_k2")
	rc.waitFor(2, 10*time.Second)
	stop2()

	// k1 gone: the secret still opens (it is under k2 now).
	d3 := fast()
	d3.SecretKeys = d2.SecretKeys[:1]
	s3, _ := start(t, db, webhook.Config{Delivery: d3})
	loaded(t, s3, sub.ID)
	send(s3, "evt_k3")
	rc.waitFor(3, 10*time.Second)
	if rc.bad != 0 {
		t.Fatalf("%d deliveries failed verification", rc.bad)
	}
}

// A secret under a key no longer configured does not open: its deliveries
// fail (retried, naming the key), nothing is signed with a wrong key.
func TestSecretUnderMissingKey(t *testing.T) {
	rc := newReceiver(t, "")
	db := openDB(t, filepath.Join(t.TempDir(), "h.db"))
	d1 := fast()
	d1.SecretKeys = []config.WebhookKey{{ID: "k1", Key: key('a')}}
	s1, stop1 := start(t, db, webhook.Config{Delivery: d1})
	sub, _, err := s1.Create(t.Context(), rc.url(), secret, nil)
	if err != nil {
		t.Fatal(err)
	}
	stop1()
	s2, _ := start(t, db, webhook.Config{Delivery: fast()}) // no keys now
	loaded(t, s2, sub.ID)
	if err := s2.Enqueue(t.Context(), webhook.Event{ID: "evt_x", Type: "call.started", Created: time.Now(), Data: json.RawMessage(`{}`)}); err != nil {
		t.Fatal(err)
	}
	// The outcome is written just after the attempt: poll the row, bounded.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		ds, _, err := db.ListWebhookDeliveries(t.Context(), store.WebhookFilter{Subscription: sub.ID}, store.Page{})
		if err != nil || len(ds) != 1 {
			t.Fatalf("deliveries of %s: %+v %v", sub.ID, ds, err)
		}
		if d := ds[0]; d.LastError != "" {
			if d.State != store.WebhookPending || !strings.Contains(d.LastError, `key "k1"`) {
				t.Fatalf("delivery under a missing key: %+v", d)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no outcome written: %+v", ds[0])
		}
	}
	if rc.bad != 0 {
		t.Fatalf("%d deliveries signed with a wrong secret reached the receiver", rc.bad)
	}
}

// loaded waits until s has read subscription id from the database.
func loaded(t *testing.T, s *webhook.Service, id string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, ok := s.Subscription(t.Context(), id); ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("subscription %s never loaded", id)
		}
	}
}
