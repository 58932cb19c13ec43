package app

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/internal/logbuf"
)

// startOnce starts the server, asks GET /api/v1/queues with the bearer
// token (when not ""), stops it, and returns the log and the status.
func startOnce(t *testing.T, cfg config.Config, token string) (string, int) {
	t.Helper()
	var logs logbuf.Buffer
	a, err := New(context.Background(), cfg, slog.New(slog.NewTextHandler(&logs, nil)))
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
	status := 0
	if token != "" {
		client := &http.Client{Transport: &http.Transport{}}
		defer client.CloseIdleConnections()
		req, _ := http.NewRequest("GET", "http://"+a.HTTPAddr().String()+"/api/v1/queues", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		status = res.StatusCode
	}
	return logs.String(), status
}

// TestFirstRunAdminToken: without http.tokens the first start creates a
// token file (0600) beside the spool and logs the token once, with a curl
// line and the wallboard's address; the second start uses the same token
// and logs only where it is.
func TestFirstRunAdminToken(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	cfg := testConfig(t)
	path := filepath.Join(filepath.Dir(cfg.Database.SpoolDir), "admin-token")
	if got := cfg.AdminTokenFile(); got != path {
		t.Fatalf("token file %s, want %s", got, path)
	}

	first, _ := startOnce(t, cfg, "")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("no token file after the first start: %v", err)
	}
	secret := strings.TrimSpace(string(b))
	if !regexp.MustCompile(`^hl_[A-Za-z0-9_-]{43}$`).MatchString(secret) {
		t.Fatalf("token %q: want hl_ and 32 random bytes", secret)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file mode %v (%v), want 0600", fi.Mode().Perm(), err)
	}
	if n := strings.Count(first, secret); n != 2 { // the token, and in the curl line
		t.Errorf("first start logged the token %d times, want in one line (token and curl):\n%s", n, first)
	}
	for _, want := range []string{"curl -H 'Authorization: Bearer " + secret + "' http://127.0.0.1:", "/wallboard", path} {
		if !strings.Contains(first, want) {
			t.Errorf("first start's log lacks %q:\n%s", want, first)
		}
	}

	second, status := startOnce(t, cfg, secret)
	if status != http.StatusOK {
		t.Fatalf("second start: the stored token answers %d", status)
	}
	if strings.Contains(second, secret) {
		t.Fatalf("second start logged the token again:\n%s", second)
	}
	if !strings.Contains(second, "admin API token kept in the file is in use") || !strings.Contains(second, path) {
		t.Fatalf("second start does not say which token is in use:\n%s", second)
	}
	if again, _ := os.ReadFile(path); string(again) != string(b) {
		t.Fatal("second start changed the token")
	}

	// A configured token turns it off: the stored one no longer works.
	cfg.HTTP.Tokens = []config.Token{{Name: "t", Secret: "configured-token", Scope: "read"}}
	third, status := startOnce(t, cfg, secret)
	if status != http.StatusUnauthorized || strings.Contains(third, "admin API token") {
		t.Fatalf("with http.tokens: stored token answers %d; log:\n%s", status, third)
	}
}

func TestFirstRunAdminTokenRefusesBadFile(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for name, tc := range map[string]struct {
		data string
		mode os.FileMode
	}{
		"readable by others": {"hl_abc\n", 0o644},
		"empty":              {"\n", 0o600},
		"two words":          {"a b\n", 0o600},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.HTTP.TokenFile = filepath.Join(t.TempDir(), "tok")
			if err := os.WriteFile(cfg.HTTP.TokenFile, []byte(tc.data), tc.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(cfg.HTTP.TokenFile, tc.mode); err != nil {
				t.Fatal(err)
			}
			if _, err := New(context.Background(), cfg, log); err == nil || !strings.Contains(err.Error(), "http.token_file") {
				t.Fatalf("New: %v, want an error naming http.token_file", err)
			}
		})
	}
}
