package registrar

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/internal/baresiptest"
	"github.com/hotline-dev/hotline/internal/testports"
)

// toolPorts are the ports this package's tests name for a tool before it
// binds them (baresip's ctrl_tcp): this package's range in
// internal/testports, below the kernel's ephemeral range.
var toolPorts = testports.New(13400, 13599)

// TestBaresipRegisters runs Debian's baresip (an independent SIP stack) as
// an agent phone against the registrar over UDP on 127.0.0.1: it must answer
// the challenge, get its contact bound, and un-REGISTER when stopped.
func TestBaresipRegisters(t *testing.T) {
	bus := events.NewBus()
	sub := bus.Subscribe(64)
	defer sub.Close()
	r := New(Config{Agents: []config.Agent{{ID: "lan", Username: "lan", Password: "s3cret"}}, Bus: bus})

	port := serveRegistrar(t, r)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	agent := baresiptest.Start(t, baresiptest.Config{Ports: toolPorts, Accounts: "accounts.agent.template", Tone: 440, Vars: map[string]string{
		"AGENT_USER": "lan", "AGENT_PASSWORD": "s3cret", "HOTLINE_SIP_PORT": strconv.Itoa(port)}})
	defer agent.Stop()
	next := func(action Action) {
		t.Helper()
		for {
			select {
			case e := <-sub.C:
				if b, _ := e.Payload.(BindingChange); b.Action == action {
					return
				}
			case <-ctx.Done():
				t.Fatalf("baresip: no %q binding event", action)
			}
		}
	}
	next("added")
	if cs := r.Lookup("lan"); len(cs) != 1 {
		t.Fatalf("bindings %+v", cs)
	} else {
		t.Logf("baresip bound %s (%s)", cs[0].URI, cs[0].UserAgent)
	}
	agent.Stop() // SIGTERM: baresip unregisters, then exits
	next("removed")
	if cs := r.Lookup("lan"); len(cs) != 0 {
		t.Fatalf("bindings after un-REGISTER: %+v", cs)
	}
}
