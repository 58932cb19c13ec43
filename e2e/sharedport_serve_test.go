package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/internal/testenv"
)

// Shared-port mode against the real binary with an independent client:
// `hotline serve` with media.shared_ports on, sipp running the bench's
// ivr_dtmf scenario (bench/ivr/sipp: 2 s of audio, RFC 4733 digit 1, the
// flow plays option 1 and hangs up). Four calls at once share the port:
// three send RTP from their SIP address (127.0.0.1), one from another
// (sipp -mi 127.0.0.2, an SBC with separate signalling and media
// addresses), declared in media.shared_port_no_nat_networks. No per-call
// port is taken while they run (hotline_rtp_ports_in_use stays 0,
// hotline_rtp_shared_calls reaches 4), and each call's digit is recognised
// and Hotline hangs up. Then a call with NAT evidence outside that network
// (-mi 127.0.0.3) completes too, on a per-call port: the check above can
// tell the two apart.
func TestServeSharedPortSipp(t *testing.T) {
	sippBin := testenv.Tool(t, "sipp", "Debian: apt-get install sip-tester")
	leakCheck(t)
	bin := buildHotline(t)
	sipPort := toolPorts.Block(t).SIP()
	shared := toolPorts.Block(t).Media()
	perCall := toolPorts.Block(t).Base // one per-call port: Base (Base+2 for its RTCP neighbour)

	dir := t.TempDir()
	prompts := filepath.Join(dir, "prompts")
	must(t, os.CopyFS(prompts, os.DirFS("../prompts")))
	copyFile(t, "../bench/ivr/welcome.wav", filepath.Join(prompts, "en", "welcome.wav"))
	copyFile(t, "../bench/ivr/option1.wav", filepath.Join(prompts, "en", "option1.wav"))
	flows, err := filepath.Abs("../bench/ivr/flows")
	must(t, err)
	cfg := filepath.Join(dir, "hotline.yaml")
	must(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`log: {format: json, level: info}
sip: {udp: "127.0.0.1:%d", tcp: "", rate_limit: 0, max_unconfirmed_per_source: -1}
http: {addr: "127.0.0.1:0"}
media:
  prompts: %q
  port_min: %d
  port_max: %d
  shared_ports: [%d]
  shared_port_networks: [127.0.0.0/8]
  shared_port_no_nat_networks: [127.0.0.2]
flows: {dir: %q, watch: false}
database: {url: "sqlite:%s", spool_dir: %q}
queues:
  support: {max_wait: 10s, join_empty: true, exit: bye, music: hold-music}
`, sipPort, prompts, perCall, perCall+3, shared, flows, filepath.Join(dir, "hotline.db"), filepath.Join(dir, "spool"))), 0o644))
	h := serve(t, bin, cfg)
	metricsURL := "http://" + h.http + "/metrics"
	// metric reads a series; a labelled counter not yet incremented is
	// absent, which reads 0.
	metric := func(name string) float64 {
		t.Helper()
		v, err := heldMetric(metricsURL, name)
		if err != nil && !strings.Contains(name, "{") {
			t.Fatal(err)
		}
		return v
	}

	// call runs one sipp ivr_dtmf call with media from mediaIP.
	call := func(mediaIP string) error {
		b, err := toolPorts.Reserve()
		if err != nil {
			return err
		}
		errFile := filepath.Join(t.TempDir(), "sipp.err")
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, sippBin, "-sf", "ivr_dtmf.xml", "-s", "1000", "-m", "1",
			"-i", "127.0.0.1", "-p", fmt.Sprint(b.SIP()), "-mi", mediaIP, "-mp", fmt.Sprint(b.Media()),
			"-timeout", "30s", "-timeout_error", "-trace_err", "-error_file", errFile, "-nostdin",
			fmt.Sprintf("127.0.0.1:%d", sipPort))
		cmd.Dir = "../bench/ivr/sipp" // the scenario's pcaps
		if out, err := cmd.CombinedOutput(); err != nil {
			trace, _ := os.ReadFile(errFile)
			return fmt.Errorf("sipp (media %s): %v\n%s\nerrors:\n%s", mediaIP, err, tail(out, 2000), trace)
		}
		return nil
	}
	// phase runs the calls at once, sampling the RTP gauges until they end.
	phase := func(mediaIPs ...string) (maxShared, maxPorts float64) {
		t.Helper()
		errs := make(chan error, len(mediaIPs))
		var wg sync.WaitGroup
		for _, ip := range mediaIPs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- call(ip)
			}()
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		for sampling := true; sampling; {
			select {
			case <-done:
				sampling = false
			case <-time.After(20 * time.Millisecond):
			}
			maxShared = max(maxShared, metric("hotline_rtp_shared_calls"))
			maxPorts = max(maxPorts, metric("hotline_rtp_ports_in_use"))
		}
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
		return maxShared, maxPorts
	}
	// completed checks that n more calls pressed 1 (RFC 4733), reached the
	// flow's option-1 hang-up and were hung up by Hotline.
	var digits, hangups float64
	completed := func(what string, n float64) {
		t.Helper()
		waitFor(t, 10*time.Second, what+": the calls logged", func() bool { return metric("hotline_calls_active") == 0 })
		d, up := metric(`hotline_dtmf_digits_total{source="rfc4733"}`), metric(`hotline_calls_ended_total{side="server"}`)
		if d-digits != n || up-hangups != n {
			t.Errorf("%s: %v digits recognised, %v calls hung up by Hotline; want %v each\n%s", what, d-digits, up-hangups, n,
				grepLines(get(t, metricsURL), "hotline_"))
		}
		digits, hangups = d, up
	}

	sharedMax, portsMax := phase("127.0.0.1", "127.0.0.1", "127.0.0.1", "127.0.0.2")
	if sharedMax != 4 || portsMax != 0 {
		t.Errorf("shared-port calls: up to %v on the shared port and %v per-call ports in use; want 4 and 0", sharedMax, portsMax)
	}
	completed("shared-port calls", 4)
	if u := metric("hotline_rtp_shared_unknown_packets"); u != 0 {
		t.Errorf("%v packets from unknown sources on the shared port, want 0", u)
	}

	sharedMax, portsMax = phase("127.0.0.3")
	if sharedMax != 0 || portsMax == 0 {
		t.Errorf("NAT-evidence call: up to %v on the shared port, %v per-call ports; want 0 and 1", sharedMax, portsMax)
	}
	completed("NAT-evidence call", 1)
	h.stop()
}
