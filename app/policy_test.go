package app

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/config"
)

// TestNewRefusesBadAllowList: an invalid allow: entry is a configuration
// error naming the file and line, before anything is opened; a wide one
// starts with a warning.
func TestNewRefusesBadAllowList(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "hotline.yaml")
	if err := os.WriteFile(file, []byte("allow:\n  numbers:\n    - \"+8428*\"\n    - \"1*\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	loaded, err := config.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t)
	cfg.Allow = loaded.Allow
	_, err = New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if want := "allow.numbers[1] (" + file + ":4)"; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("New = %v, want an error naming %s", err, want)
	}

	cfg = testConfig(t)
	cfg.Allow.Numbers = []string{"+84*"}
	var logs bytes.Buffer
	a, err := New(context.Background(), cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "allow-list entry is wide") {
		t.Errorf("no warning for +84*:\n%s", logs.String())
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	res, err := http.Get("http://" + a.HTTPAddr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{"hotline_registrar_bans_total 0", "hotline_registrar_contacts_refused_total 0",
		"hotline_registrar_auth_failures_total 0", "hotline_registrar_bans_withheld_total 0", "hotline_registrar_banned_requests_total 0"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// TestCallerLookupSurvivesHangUp: a caller who hangs up at once (the call's
// context cancelled) is still looked up, so the bound on new customers
// cannot be dodged by hanging up; and the budget counts per source and day.
func TestCallerLookupSurvivesHangUp(t *testing.T) {
	cfg := testConfig(t)
	cfg.Customers = config.Customers{NewPerSource: 1, NewPerDay: 2}
	a, err := New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- a.Run(ctx) }()
		cancel()
		<-done
	}()
	hungUp, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		caller string
		want   lookup
	}{{"0912000201", lookupNotFound}, {"", lookupShared}, {"Anonymous", lookupShared}, {"alice", lookupRaw}} {
		if _, got, _ := a.callerAttributes(hungUp, tc.caller); got != tc.want {
			t.Errorf("caller %q after hang-up: lookup %v, want %v", tc.caller, got, tc.want)
		}
	}
	b := newCallerBudget(config.Customers{NewPerSource: 1, NewPerDay: 2}, time.UTC)
	day := time.Date(2026, 5, 6, 23, 0, 0, 0, time.UTC)
	for i, tc := range []struct {
		src, key string
		at       time.Time
		want     bool
	}{
		{"192.0.2.1", "+84912000001", day, true},
		{"192.0.2.1", "+84912000001", day, true}, // admitted today already
		{"192.0.2.1", "+84912000002", day, false},
		{"192.0.2.2", "+84912000003", day, true},
		{"192.0.2.3", "+84912000004", day, false},                   // the day's bound
		{"192.0.2.1", "+84912000002", day.Add(2 * time.Hour), true}, // a new day
	} {
		if got := b.admit(tc.src, tc.key, tc.at); got != tc.want {
			t.Errorf("admit %d (%s %s): %v, want %v", i, tc.src, tc.key, got, tc.want)
		}
	}
}
