package testcall

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/media"
	"github.com/hotline-dev/hotline/sip"
)

// TestMain checks for leaks, ignoring sipgo's late-message reader (see
// sip/server_test.go lateMessage): a datagram handled after UserAgent.Close.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/emiago/sipgo/sip.(*TransportUDP).readUDPConnection"))
}

// ivr is a tiny handler: play a tone, collect want digits, hang up.
type ivr struct {
	want   int
	prompt *media.Prompt
	mu     sync.Mutex
	got    []media.Digit
}

func (h *ivr) ServeCall(ctx context.Context, c *sip.Call) {
	// Barge-in style: digits may arrive while playing. The player ends
	// with this handler, not after it.
	pctx, stop := context.WithCancel(ctx)
	var played sync.WaitGroup
	played.Add(1)
	go func() {
		defer played.Done()
		c.Play(pctx, h.prompt)
	}()
	defer played.Wait()
	defer stop()
	for {
		select {
		case d := <-c.Digits():
			h.mu.Lock()
			h.got = append(h.got, d)
			n := len(h.got)
			h.mu.Unlock()
			if n >= h.want {
				return
			}
		case <-ctx.Done():
			return
		}
	}
}

func startServer(t *testing.T, h sip.Handler, inband string) (*sip.Server, *events.Subscription) {
	t.Helper()
	pool, err := media.NewPortPool(62000, 62998)
	if err != nil {
		t.Fatal(err)
	}
	bus := events.NewBus()
	sub := bus.Subscribe(256)
	srv, err := sip.NewServer(sip.ServerConfig{UDP: "127.0.0.1:0", RTP: pool, Bus: bus, InbandDTMF: inband,
		InactivityTimeout: 10 * time.Second}, h, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(context.Background())
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
		sub.Close()
		if pool.InUse() != 0 {
			t.Errorf("ports in use: %d", pool.InUse())
		}
	})
	return srv, sub
}

func TestRunDigitsEachMode(t *testing.T) {
	for _, mode := range []string{DTMFRFC4733, DTMFINFO, DTMFInband} {
		t.Run(mode, func(t *testing.T) {
			h := &ivr{want: 2, prompt: media.NewPromptPCM("tone", media.Tone([]float64{440}, 2*time.Second))}
			inband := "never"
			if mode == DTMFInband {
				inband = "always"
			}
			srv, _ := startServer(t, h, inband)
			steps, err := ParseSchedule("5@200ms,#@600ms")
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			wav := filepath.Join(t.TempDir(), "out.wav")
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			res, err := Run(ctx, Options{URI: "sip:100@" + srv.Addr().String(), From: "0912345678", Digits: steps,
				DTMF: mode, Duration: 10 * time.Second, Record: wav}, &out)
			if err != nil {
				t.Fatalf("Run: %v\n%s", err, out.String())
			}
			if !res.Answered || res.HungUpBy != sip.SideRemote {
				t.Errorf("answered %v hung up by %q\n%s", res.Answered, res.HungUpBy, out.String())
			}
			h.mu.Lock()
			got := h.got
			h.mu.Unlock()
			if len(got) != 2 || got[0].Key != '5' || got[1].Key != '#' {
				t.Fatalf("server heard %+v", got)
			}
			wantSrc := map[string]media.DigitSource{DTMFRFC4733: media.SourceRFC4733, DTMFINFO: media.SourceINFO, DTMFInband: media.SourceInband}[mode]
			if got[0].Source != wantSrc {
				t.Errorf("source %s, want %s", got[0].Source, wantSrc)
			}
			if res.Packets == 0 || res.NonSilent == 0 || len(res.PCM) == 0 {
				t.Errorf("audio: packets %d non-silent %v pcm %d", res.Packets, res.NonSilent, len(res.PCM))
			}
			if len(res.Digits) != 2 {
				t.Errorf("digits sent %+v", res.Digits)
			}
			for _, ev := range []string{"answered", "digit key=5", "digit key=#", "hangup by=remote", "received packets="} {
				if !strings.Contains(out.String(), ev) {
					t.Errorf("output lacks %q:\n%s", ev, out.String())
				}
			}
			f, err := os.Open(wav)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			p, err := media.DecodeWAV(wav, f)
			if err != nil {
				t.Fatalf("recording: %v", err)
			}
			if p.Samples() != len(res.PCM) {
				t.Errorf("wav has %d samples, result %d", p.Samples(), len(res.PCM))
			}
		})
	}
}

func TestRunFailures(t *testing.T) {
	srv, _ := startServer(t, sip.HandlerFunc(func(ctx context.Context, c *sip.Call) {}), "never")
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Server hangs up at once and plays nothing: no audio is a failure.
	res, err := Run(ctx, Options{URI: "sip:100@" + srv.Addr().String(), Duration: 5 * time.Second}, &out)
	if !errors.Is(err, ErrNoAudio) || res == nil || !res.Answered {
		t.Errorf("silent call: %v %+v", err, res)
	}
	if _, err := Run(ctx, Options{URI: "sip:100@" + srv.Addr().String(), DTMF: "smoke"}, &out); !errors.Is(err, ErrBadOptions) {
		t.Errorf("bad mode: %v", err)
	}
}

func TestRunRejected(t *testing.T) {
	pool, _ := media.NewPortPool(62000, 62998)
	srv, err := sip.NewServer(sip.ServerConfig{UDP: "127.0.0.1:0", RTP: pool, Accept: func(string) bool { return false }},
		sip.HandlerFunc(func(context.Context, *sip.Call) {}), nil)
	if err != nil {
		t.Fatal(err)
	}
	srv.Listen()
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(context.Background()) }()
	defer func() { srv.Close(); <-done }()
	var out bytes.Buffer
	res, err := Run(context.Background(), Options{URI: "sip:999@" + srv.Addr().String()}, &out)
	var se *sip.StatusError
	if !errors.As(err, &se) || se.Code != 404 || res.Answered {
		t.Fatalf("err %v", err)
	}
	if !strings.Contains(out.String(), "failed status=404") {
		t.Errorf("output:\n%s", out.String())
	}
}
