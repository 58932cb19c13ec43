package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/internal/siptest"
	"github.com/hotline-dev/hotline/sip"
)

// An agent logs in and out by dialling feature codes from a phone that
// authenticates with its SIP credentials; a wrong password is refused.
func TestAgentFeatureCodesThroughTheServer(t *testing.T) {
	leakCheck(t)
	h := start(t, func(c *config.Config) {
		c.Agents = []config.Agent{{ID: "lan", Name: "Lan", Username: "lan", Password: "s3cret", Queues: map[string]int{"technical": 0}}}
	})
	client := siptest.Client(t, sip.ClientConfig{Addr: "127.0.0.1:0"})
	t.Cleanup(func() { client.Close() })
	code := func(c, password string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		call, err := client.Dial(ctx, "sip:"+c+"@"+h.sipAddr("udp"), sip.DialOptions{From: "101", Username: "lan", Password: password})
		if err != nil {
			return err
		}
		select { // Hotline confirms with a tone and hangs up
		case <-call.Done():
		case <-ctx.Done():
			t.Fatalf("feature code %s: Hotline did not hang up", c)
		}
		return nil
	}

	if err := code("*11", "s3cret"); err != nil {
		t.Fatalf("*11: %v", err)
	}
	if p := agentPresence(t, h, "lan"); p != "available" {
		t.Errorf("after *11 presence = %q, want available", p)
	}
	var se *sip.StatusError
	if err := code("*12", "wrong"); !errors.As(err, &se) || se.Code != 403 {
		t.Errorf("*12 with a wrong password: %v, want 403", err)
	}
	if p := agentPresence(t, h, "lan"); p != "available" {
		t.Errorf("a refused code changed presence to %q", p)
	}
	if err := code("*12", "s3cret"); err != nil {
		t.Fatalf("*12: %v", err)
	}
	if p := agentPresence(t, h, "lan"); p != "logged_out" {
		t.Errorf("after *12 presence = %q, want logged_out", p)
	}
	h.shutdown()
}

func agentPresence(t *testing.T, h *harness, id string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+h.app.HTTPAddr().String()+"/api/v1/agents/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	res, err := http.DefaultClient.Do(req)
	must(t, err)
	defer res.Body.Close()
	var a struct {
		Presence string `json:"presence"`
	}
	must(t, json.NewDecoder(res.Body).Decode(&a))
	return a.Presence
}
