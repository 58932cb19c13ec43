package app

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/hotline-dev/hotline/config"
)

// startHTTP serves a body-reading handler on the guarded HTTP server.
func startHTTP(t *testing.T, c config.HTTP) string {
	t.Helper()
	ignore := goleak.IgnoreCurrent()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			http.Error(w, "slow body", http.StatusRequestTimeout)
			return
		}
		io.WriteString(w, "ok")
	})
	srv := newHTTPServer(ln, c, h, slog.New(slog.DiscardHandler))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := srv.Serve(context.Background()); err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	t.Cleanup(func() {
		srv.Close()
		wg.Wait()
		goleak.VerifyNone(t, ignore)
	})
	return srv.ln.Addr().String()
}

func httpConfig() config.HTTP {
	c := config.Default().HTTP
	c.ReadTimeout, c.IdleTimeout, c.ReadHeaderTimeout = time.Second, 700*time.Millisecond, 700*time.Millisecond
	c.MaxConnsPerSource = 4
	return c
}

func closedByServer(c net.Conn, within time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(within))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

func legitGET(t *testing.T, addr string) {
	t.Helper()
	cl := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	res, err := cl.Get("http://" + addr + "/")
	if err != nil {
		t.Fatalf("legitimate request during the attack: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("legitimate request: %d", res.StatusCode)
	}
}

// TestHTTPSlowBody: a body sent a byte every 200 ms is cut at read_timeout,
// token or not (issue 8.3: it stayed open past 90 s).
func TestHTTPSlowBody(t *testing.T) {
	addr := startHTTP(t, httpConfig())
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	io.WriteString(c, "POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n")
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for range 25 { // 5 s of trickle at most
		if _, err := c.Write([]byte("{")); err != nil {
			break
		}
		<-tick.C
		if done := closedByServer(c, time.Millisecond); done {
			break
		}
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Fatalf("slow body held the connection %v (read_timeout 1s)", d)
	}
	legitGET(t, addr)
}

// TestHTTPSlowHeadersAndIdle: headers that never end, and a keep-alive
// connection left idle, are closed.
func TestHTTPSlowHeadersAndIdle(t *testing.T) {
	addr := startHTTP(t, httpConfig())
	slow, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	io.WriteString(slow, "GET / HTTP/1.1\r\nHost: x\r\n")
	if !closedByServer(slow, 3*time.Second) {
		t.Fatal("unfinished headers kept the connection")
	}
	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	io.WriteString(idle, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	res, err := http.ReadResponse(bufio.NewReader(idle), nil)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("first request: %v %v", res, err)
	}
	res.Body.Close()
	if !closedByServer(idle, 3*time.Second) {
		t.Fatal("idle keep-alive connection kept open")
	}
	legitGET(t, addr)
}

// TestHTTPConnectionsPerSource: one source cannot hold more than
// max_conns_per_source connections; the next is closed at once.
func TestHTTPConnectionsPerSource(t *testing.T) {
	c := httpConfig()
	c.IdleTimeout, c.ReadHeaderTimeout = time.Minute, time.Minute
	addr := startHTTP(t, c)
	var held []net.Conn
	defer func() {
		for _, h := range held {
			h.Close()
		}
	}()
	for range 4 {
		h, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, h)
	}
	over, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer over.Close()
	if !closedByServer(over, 3*time.Second) {
		t.Fatal("5th connection from one source kept")
	}
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
	other, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	io.WriteString(other, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	if b, _ := io.ReadAll(other); !strings.Contains(string(b), "200 OK") {
		t.Fatalf("another source: %q", b)
	}
}
