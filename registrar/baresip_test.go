package registrar

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/emiago/sipgo"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
)

// TestBaresipRegisters runs Debian's baresip (an independent SIP stack) as
// an agent phone against the registrar over UDP on 127.0.0.1: it must answer
// the challenge, get its contact bound, and un-REGISTER when stopped.
func TestBaresipRegisters(t *testing.T) {
	bin, err := exec.LookPath("baresip")
	if err != nil || testing.Short() {
		t.Skip("baresip not installed")
	}
	tmpl := func(name string) string {
		b, err := os.ReadFile(filepath.Join("..", "testdata", "baresip", name))
		if err != nil {
			t.Skip("testdata/baresip missing: ", err)
		}
		return string(b)
	}
	bus := events.NewBus()
	sub := bus.Subscribe(64)
	defer sub.Close()
	r := New(Config{Agents: []config.Agent{{ID: "lan", Username: "lan", Password: "s3cret"}}, Bus: bus})

	ua, err := sipgo.NewUA()
	if err != nil {
		t.Fatal(err)
	}
	defer ua.Close()
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		t.Fatal(err)
	}
	srv.OnRegister(r.HandleRegister)
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() { defer close(served); srv.ServeUDP(conn) }()
	defer func() { srv.Close(); conn.Close(); <-served }()

	ctrl, err := net.Listen("tcp", "127.0.0.1:0") // a free port for ctrl_tcp
	if err != nil {
		t.Fatal(err)
	}
	ctrlPort := ctrl.Addr().(*net.TCPAddr).Port
	ctrl.Close()
	dir := t.TempDir()
	vars := map[string]string{
		"BARESIP_CTRL_PORT": strconv.Itoa(ctrlPort), "BARESIP_TONE": "440", "BARESIP_REC_DIR": dir,
		"AGENT_USER": "lan", "AGENT_PASSWORD": "s3cret",
		"HOTLINE_SIP_PORT": strconv.Itoa(conn.LocalAddr().(*net.UDPAddr).Port),
	}
	expand := func(s string) string { return os.Expand(s, func(k string) string { return vars[k] }) }
	for name, body := range map[string]string{"config": tmpl("config.template"), "accounts": tmpl("accounts.agent.template")} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(expand(body)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-f", dir)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	next := func(action string) {
		t.Helper()
		for {
			select {
			case e := <-sub.C:
				if e.Data["action"] == action {
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
	cmd.Process.Signal(syscall.SIGTERM)
	next("removed")
	<-exited
	if cs := r.Lookup("lan"); len(cs) != 0 {
		t.Fatalf("bindings after un-REGISTER: %+v", cs)
	}
}
