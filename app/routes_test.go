package app

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/hotline-dev/hotline/config"
)

// TestHeadAnswersLikeGetOnEveryRoute walks every GET route the server has
// (API, queue routes, /metrics, the demo service) and asks HEAD: same
// status and content type as GET, no body.
func TestHeadAnswersLikeGetOnEveryRoute(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	cfg := testConfig(t)
	cfg.HTTP.Tokens = []config.Token{{Name: "t", Secret: "tok", Scope: "write"}}
	a, err := New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	base := "http://" + a.HTTPAddr().String()
	// Every documented API path (the OpenAPI document is the route list),
	// and the routes outside the API.
	resp, err := client.Get(base + "/api/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	err = json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	paths := []string{"/metrics", "/demo/orders/123453", "/demo/orders/000123"}
	param := regexp.MustCompile(`\{[^}]+\}`)
	for p, ops := range doc.Paths {
		if _, ok := ops["get"]; ok {
			paths = append(paths, param.ReplaceAllString(p, "123456"))
		}
	}
	if len(paths) < 15 {
		t.Fatalf("only %d GET routes found: %v", len(paths), paths)
	}
	do := func(method, path string) (*http.Response, []byte) {
		rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer rcancel()
		req, _ := http.NewRequestWithContext(rctx, method, base+path, nil)
		req.Header.Set("Authorization", "Bearer tok")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
			return resp, nil // a stream: the headers are the answer
		}
		body, _ := io.ReadAll(resp.Body)
		return resp, body
	}
	for _, p := range paths {
		get, _ := do(http.MethodGet, p)
		head, body := do(http.MethodHead, p)
		if head.StatusCode != get.StatusCode || head.Header.Get("Content-Type") != get.Header.Get("Content-Type") || len(body) != 0 {
			t.Errorf("HEAD %s: %d %q (%d body bytes); GET: %d %q", p, head.StatusCode, head.Header.Get("Content-Type"), len(body),
				get.StatusCode, get.Header.Get("Content-Type"))
		}
		if head.StatusCode == http.StatusMethodNotAllowed {
			t.Errorf("HEAD %s: 405", p)
		}
	}
}
