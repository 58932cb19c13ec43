package app

import (
	"context"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/hotline-dev/hotline/config"
)

func testConfig(t testing.TB) config.Config {
	cfg := config.Default()
	dir := t.TempDir()
	cfg.SIP.UDP, cfg.SIP.TCP, cfg.HTTP.Addr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.Media.Prompts, cfg.Flows.Dir = "../prompts", "../etc/flows"
	cfg.Media.PortMin, cfg.Media.PortMax = 31000, 31998 // below the ephemeral range: a port a test caller was given stays its own
	cfg.Database.URL = "sqlite:" + filepath.Join(dir, "h.db")
	cfg.Database.SpoolDir = filepath.Join(dir, "spool")
	return cfg
}

// A failed start releases what it had built: the spool lock, the database
// and the SIP sockets; starting again with the same directories works.
func TestFailedNewReleasesEverything(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cfg := testConfig(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	bad := cfg
	bad.HTTP.Addr = busy.Addr().String()
	if _, err := New(context.Background(), bad, log); err == nil || !strings.Contains(err.Error(), "http.addr") {
		t.Fatalf("New with a busy HTTP port: %v, want an error naming http.addr", err)
	}
	a, err := New(context.Background(), cfg, log)
	if err != nil {
		t.Fatalf("second New with the same spool and database: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func TestNewNamesTheBrokenSetting(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	busy, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, tc := range []struct {
		mutate func(*config.Config)
		want   string
	}{
		{func(c *config.Config) { c.Media.Prompts = "testdata/nowhere" }, "media.prompts"},
		{func(c *config.Config) { c.Flows.Dir = t.TempDir() }, "no flow files"},
		{func(c *config.Config) { c.SIP.UDP = busy.LocalAddr().String() }, "sip.udp"},
		{func(c *config.Config) { c.Database.URL = "mysql://hotline@127.0.0.1/hotline" }, "database.url"},
		{func(c *config.Config) {
			c.HTTP.Tokens = []config.Token{{Name: "desk", Secret: "env:HOTLINE_TEST_UNSET_TOKEN", Scope: "read"}}
		}, "http.tokens[0].secret"},
	} {
		cfg := testConfig(t)
		tc.mutate(&cfg)
		if _, err := New(context.Background(), cfg, log); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New: %v, want an error mentioning %q", err, tc.want)
		}
	}
}

// /readyz says ready only once the callback service has loaded its
// callbacks: before that the callbacks API answers 503, so a load balancer
// must not send it requests.
func TestReadinessWaitsForCallbacks(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	a, err := New(context.Background(), testConfig(t), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	check := func() error {
		for _, c := range a.readiness() {
			if c.Name == "callbacks" {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				return c.Run(ctx)
			}
		}
		t.Fatal("no callbacks readiness check")
		return nil
	}
	if err := check(); err == nil {
		t.Error("ready before the scheduler ran: the callbacks API would answer 503")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	if err := check(); err != nil {
		t.Errorf("not ready once running: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}
