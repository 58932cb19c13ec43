package webhook_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/hotline-dev/hotline/webhook"
)

// A receiver verifies every delivery before trusting it: the raw body,
// the Hotline-Signature header, its own clock. docs/api.md shows the same
// handler.
func ExampleVerify() {
	secret := []byte("whsec-0123456789abcdef0123456789abcdef")
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "read", http.StatusBadRequest)
			return
		}
		if err := webhook.Verify(secret, r.Header.Get(webhook.HeaderSignature), body, time.Now(), 5*time.Minute); err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		// De-duplicate on r.Header.Get(webhook.HeaderEventID) here, then store.
		w.WriteHeader(http.StatusNoContent)
	})
	send := func(sig string) int {
		body := `{"id":"evt_1","type":"call.ended"}`
		r := httptest.NewRequest(http.MethodPost, "/hooks/hotline", strings.NewReader(body))
		r.Header.Set(webhook.HeaderSignature, sig)
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		return w.Code
	}
	body := []byte(`{"id":"evt_1","type":"call.ended"}`)
	fmt.Println("genuine:", send(webhook.Sign(secret, time.Now(), body)))
	fmt.Println("forged:", send(webhook.Sign([]byte("not-the-secret-not-the-secret-00"), time.Now(), body)))
	fmt.Println("replayed:", send(webhook.Sign(secret, time.Now().Add(-6*time.Minute), body)))
	// Output:
	// genuine: 204
	// forged: 401
	// replayed: 401
}
