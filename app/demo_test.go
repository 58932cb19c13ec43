package app

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestDemoOrders(t *testing.T) {
	srv := httptest.NewServer(demoOrders())
	defer srv.Close()
	for _, tc := range []struct {
		order  string
		code   int
		status string
	}{
		{"123453", 200, "shipped"},
		{"123456", 200, "delivered"},
		{"1234560", 200, "processing"},
		{"987657", 200, "delivered"},
		{"555559", 200, "cancelled"},
		{"000123", 404, ""},
		{"12a456", 400, ""},
		{"123", 400, ""},
	} {
		resp, err := http.Get(srv.URL + "/orders/" + tc.order)
		if err != nil {
			t.Fatal(err)
		}
		var body struct{ Status string }
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != tc.code || body.Status != tc.status {
			t.Errorf("order %s: %d %q, want %d %q", tc.order, resp.StatusCode, body.Status, tc.code, tc.status)
		}
	}
}
