package sip

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/hotline-dev/hotline/media"
)

// The lifecycle convention (docs/architecture.md): Serve/Run return nil on
// a clean stop (their context, Shutdown or Close), also when the stop came
// first; Close is safe to repeat.
func TestServerStopsCleanly(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent(), lateMessage)
	pool, err := media.NewPortPool(62000, 62098)
	if err != nil {
		t.Fatal(err)
	}
	newServer := func() *Server {
		srv, err := NewServer(ServerConfig{UDP: "127.0.0.1:0", TCP: "127.0.0.1:0", RTP: pool}, newWaitHandler(), testLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Listen(); err != nil {
			t.Fatal(err)
		}
		return srv
	}
	stops := map[string]func(srv *Server, cancel context.CancelFunc){
		"context": func(_ *Server, cancel context.CancelFunc) { cancel() },
		"Close":   func(srv *Server, _ context.CancelFunc) { srv.Close() },
		"Shutdown": func(srv *Server, _ context.CancelFunc) {
			if err := srv.Shutdown(context.Background()); err != nil {
				t.Errorf("Shutdown: %v", err)
			}
		},
	}
	for name, stop := range stops {
		t.Run(name+" while serving", func(t *testing.T) {
			srv := newServer()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- srv.Serve(ctx) }()
			// Serving: OPTIONS is answered.
			if res := rawUDP(t, srv, []byte("OPTIONS sip:{ADDR} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK{BR}\r\nFrom: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:{ADDR}>\r\nCall-ID: up-{BR}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"), 2*time.Second); res == "" {
				t.Fatal("not serving")
			}
			stop(srv, cancel)
			if err := <-done; err != nil {
				t.Fatalf("Serve = %v, want nil", err)
			}
			if err := srv.Close(); err != nil {
				t.Fatalf("second Close = %v", err)
			}
		})
		t.Run(name+" before Serve", func(t *testing.T) {
			srv := newServer()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			stop(srv, cancel)
			if err := srv.Serve(ctx); err != nil {
				t.Fatalf("Serve after the stop = %v, want nil", err)
			}
			srv.Close()
		})
	}
}

// Serve and Close racing (a Run cancelled right after it starts) share
// nothing unguarded: run under -race, this failed on the WaitGroup of the
// serving goroutines (Add in Serve against Wait in Close).
func TestServeCloseRace(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent(), lateMessage)
	pool, err := media.NewPortPool(62100, 62198)
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		srv, err := NewServer(ServerConfig{UDP: "127.0.0.1:0", RTP: pool}, newWaitHandler(), testLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Listen(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- srv.Serve(context.Background()) }()
		srv.Close()
		if err := <-done; err != nil {
			t.Fatalf("Serve = %v", err)
		}
	}
}

func TestClientLifecycle(t *testing.T) {
	r := newRig(t, newWaitHandler(), nil)

	t.Run("Dial waits for Run", func(t *testing.T) {
		cli, err := NewClient(ClientConfig{Addr: "127.0.0.1:0", Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		defer cli.Close()
		short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if _, err := cli.Dial(short, r.uri("100"), DialOptions{}); !errors.Is(err, ErrCanceled) {
			t.Fatalf("Dial without Run = %v, want ErrCanceled once its context ends", err)
		}
		ctx, stop := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- cli.Run(ctx) }()
		oc, err := cli.Dial(r.ctx, r.uri("100"), DialOptions{})
		if err != nil {
			t.Fatalf("Dial with Run: %v", err)
		}
		stop() // Run's context ends: the client closes, the call is hung up
		if err := <-done; err != nil {
			t.Fatalf("Run = %v, want nil", err)
		}
		<-oc.Done()
		if _, side := oc.Ended(); side != SideLocal {
			t.Errorf("call ended by %s, want local (Close hangs up)", side)
		}
	})

	t.Run("Shutdown waits for calls", func(t *testing.T) {
		cli := startClient(t, ClientConfig{Addr: "127.0.0.1:0", Logger: testLogger(t)})
		oc, err := cli.Dial(r.ctx, r.uri("100"), DialOptions{})
		if err != nil {
			t.Fatal(err)
		}
		shut := make(chan error, 1)
		go func() { shut <- cli.Shutdown(r.ctx) }()
		// Draining: no new call, the live one goes on.
		for {
			early, err := cli.Dial(r.ctx, r.uri("100"), DialOptions{})
			if errors.Is(err, ErrClientClosed) {
				break
			}
			if err != nil {
				t.Fatalf("Dial while draining: %v", err)
			}
			early.Hangup(r.ctx) // raced ahead of Shutdown: end it and ask again
		}
		select {
		case <-oc.Done():
			t.Fatal("Shutdown hung up a live call")
		default:
		}
		if err := oc.Hangup(r.ctx); err != nil {
			t.Fatal(err)
		}
		if err := <-shut; err != nil {
			t.Fatalf("Shutdown = %v", err)
		}
	})

	t.Run("Close before Run", func(t *testing.T) {
		cli, err := NewClient(ClientConfig{Addr: "127.0.0.1:0"})
		if err != nil {
			t.Fatal(err)
		}
		cli.Close()
		if err := cli.Run(context.Background()); err != nil {
			t.Fatalf("Run after Close = %v, want nil", err)
		}
		if _, err := cli.Dial(r.ctx, r.uri("100"), DialOptions{}); !errors.Is(err, ErrClientClosed) {
			t.Fatalf("Dial after Close = %v, want ErrClientClosed", err)
		}
	})
}
