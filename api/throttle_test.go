package api_test

import (
	"bytes"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/api"
)

// lockedBuffer is a log sink the test reads while the server writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type stepClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *stepClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *stepClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// clientFrom is an HTTP client whose connections come from source ip.
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
}

// TestTokenGuessingThrottled: a source that presents too many unknown
// tokens gets 429 with Retry-After, before its token is compared (so even
// the right one is refused while it waits); another address keeps working
// throughout; requests without a token are not counted; the access log
// names the token presented, never its secret.
func TestTokenGuessingThrottled(t *testing.T) {
	clk := &stepClock{now: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)}
	logs := &lockedBuffer{}
	e := newEnv(t, func(c *api.Config) {
		c.AuthFailures = 3 // per minute: one allowance back every 20 s
		c.Now = clk.Now
		c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	})
	guesser, integration := clientFrom("127.0.0.7"), clientFrom("127.0.0.8")
	get := func(c *http.Client, token string) *http.Response {
		t.Helper()
		req, err := http.NewRequest("GET", e.url+"/api/v1/customers", nil)
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	for i := range 3 {
		if res := get(guesser, "guess-"+string(rune('a'+i))); res.StatusCode != 401 {
			t.Fatalf("guess %d: %d, want 401", i, res.StatusCode)
		}
		if res := get(integration, readToken); res.StatusCode != 200 {
			t.Fatalf("the integration on another address during the guessing: %d", res.StatusCode)
		}
	}
	for _, tok := range []string{"guess-d", readToken} {
		res := get(guesser, tok)
		if res.StatusCode != 429 || res.Header.Get("Retry-After") != "20" {
			t.Fatalf("token %q while throttled: %d Retry-After %q, want 429 and 20", tok, res.StatusCode, res.Header.Get("Retry-After"))
		}
	}
	for range 5 { // no token: not guessing, not counted, not throttled
		if res := get(guesser, ""); res.StatusCode != 401 {
			t.Fatalf("no token: %d, want 401", res.StatusCode)
		}
	}
	clk.Advance(10 * time.Second)
	if res := get(guesser, readToken); res.StatusCode != 429 || res.Header.Get("Retry-After") != "10" {
		t.Fatalf("10 s later: %d Retry-After %q, want 429 and 10", res.StatusCode, res.Header.Get("Retry-After"))
	}
	clk.Advance(10 * time.Second)
	if res := get(guesser, readToken); res.StatusCode != 200 {
		t.Fatalf("after Retry-After, the right token: %d, want 200", res.StatusCode)
	}
	if res := get(guesser, "guess-e"); res.StatusCode != 401 {
		t.Fatalf("one more guess: %d, want 401", res.StatusCode)
	}
	if res := get(guesser, "guess-f"); res.StatusCode != 429 {
		t.Fatalf("and the next: %d, want 429", res.StatusCode)
	}
	// A read-only token writing is refused; the access log names it.
	req, _ := http.NewRequest("POST", e.url+"/api/v1/customers", strings.NewReader(`{"name":"x"}`))
	req.Header.Set("Authorization", "Bearer "+readToken)
	res, err := integration.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	l := logs.String()
	for _, want := range []string{`status=403 `, `token=board source=127.0.0.8:`, `status=429 `, `status=401 `, `source=127.0.0.7:`} {
		if !strings.Contains(l, want) {
			t.Errorf("access log lacks %q:\n%s", want, l)
		}
	}
	for _, secret := range []string{readToken, writeToken, "guess-a"} {
		if strings.Contains(l, secret) {
			t.Errorf("access log holds the secret %q", secret)
		}
	}
}
