package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hotline-dev/hotline/api"
	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/internal/testenv"
)

// probes records, per ?probe= name, whether the request carried a cookie.
type probes struct {
	mu   sync.Mutex
	seen map[string]bool // probe → cookie present
}

func (p *probes) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if name := r.URL.Query().Get("probe"); name != "" {
			p.mu.Lock()
			p.seen[name+" "+r.Method] = r.Header.Get("Cookie") != ""
			p.mu.Unlock()
			// The probe is the test's own mark: the lists refuse unknown
			// query parameters, so it does not reach them.
			q := r.URL.Query()
			q.Del("probe")
			r.URL.RawQuery = q.Encode()
		}
		next.ServeHTTP(w, r)
	})
}

func (p *probes) get(name string) (cookie, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	cookie, ok = p.seen[name]
	return cookie, ok
}

// TestBrowserSession drives a real headless Chromium: a page of Hotline's
// origin signs in, reads with the cookie, opens the event stream with it
// (EventSource sends no headers), and is held to the CSRF token; a page
// of another site then cannot use the cookie (SameSite=Strict: the
// browser does not send it) nor change agent state.
func TestBrowserSession(t *testing.T) {
	chromium := testenv.Tool(t, "chromium", "Debian: apt-get install chromium")
	acd := newACD(t)
	bus := events.NewBus()
	srv := api.New(api.Config{Store: openSQLite(t), Bus: bus, ACD: acd, RateLimit: -1,
		Tokens: []config.Token{{Name: "mail", Secret: writeToken, Scope: "write"}}})
	rec := &probes{seen: map[string]bool{}}
	page := http.NewServeMux()
	page.HandleFunc("GET /test/page", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<!doctype html><title>hotline</title>")
	})
	page.HandleFunc("POST /test/publish", func(w http.ResponseWriter, _ *http.Request) {
		bus.Publish(events.Event{Type: events.QueueJoined, Queue: "sales", CallID: "browser"})
		w.WriteHeader(http.StatusNoContent)
	})
	page.Handle("/", srv)
	hotline := httptest.NewServer(rec.wrap(page))
	defer hotline.Close()
	defer srv.Close()

	// Another site: evil.test (mapped to 127.0.0.1 in the browser only).
	evilSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<!doctype html><title>evil</title>")
	}))
	defer evilSrv.Close()
	eu, _ := url.Parse(evilSrv.URL)
	evil := "http://evil.test:" + eu.Port()

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("host-resolver-rules", "MAP evil.test 127.0.0.1"), chromedp.Flag("proxy-server", "direct://"))
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()
	ctx, cancel := context.WithTimeout(bctx, 60*time.Second)
	defer cancel()

	// On Hotline's origin.
	if err := chromedp.Do(ctx, chromedp.Navigate(hotline.URL+"/test/page")); err != nil {
		t.Fatalf("navigate: %v", err)
	}
	csrf := evalJS[string](t, ctx, `fetch("/api/v1/session", {method: "POST", headers: {"Content-Type": "application/json"},
		body: JSON.stringify({token: "`+writeToken+`"})}).then(r => r.json()).then(s => s.csrf_token)`)
	if csrf == "" {
		t.Fatal("sign-in answered no csrf_token")
	}
	jsCookie := evalJS[string](t, ctx, `document.cookie`)
	if jsCookie != "" {
		t.Fatalf("script reads the cookie %q: it must be HttpOnly", jsCookie)
	}
	status := evalJS[int](t, ctx, `fetch("/api/v1/customers?probe=same").then(r => r.status)`)
	if cookie, _ := rec.get("same GET"); status != 200 || !cookie {
		t.Fatalf("same-origin read: status %d, cookie sent %v", status, cookie)
	}
	typ := evalJS[string](t, ctx, `new Promise((resolve, reject) => {
		const es = new EventSource("/api/v1/events");
		es.onopen = () => fetch("/test/publish", {method: "POST"});
		es.onmessage = e => { es.close(); resolve(JSON.parse(e.data).type); };
		es.onerror = () => { es.close(); reject(new Error("event stream refused")); };
	})`)
	if typ != string(events.QueueJoined) {
		t.Fatalf("EventSource with the cookie got %q", typ)
	}
	status = evalJS[int](t, ctx, `fetch("/api/v1/agents/a/state", {method: "POST", body: '{"state":"login"}'}).then(r => r.status)`)
	if status != 403 {
		t.Fatalf("same-origin change without X-CSRF-Token: %d, want 403", status)
	}
	status = evalJS[int](t, ctx, `fetch("/api/v1/agents/a/state", {method: "POST", headers: {"X-CSRF-Token": "`+csrf+`"},
		body: '{"state":"login"}'}).then(r => r.status)`)
	if status != 200 {
		t.Fatalf("same-origin change with X-CSRF-Token: %d, want 200", status)
	}

	// On another site: the browser does not send the cookie, and nothing
	// changes.
	if err := chromedp.Do(ctx, chromedp.Navigate(evil+"/")); err != nil {
		t.Fatalf("navigate evil: %v", err)
	}
	evalJS[bool](t, ctx, `Promise.all([
		fetch("`+hotline.URL+`/api/v1/customers?probe=cross", {credentials: "include", mode: "no-cors"}),
		fetch("`+hotline.URL+`/api/v1/agents/a/state?probe=cross", {method: "POST", credentials: "include", mode: "no-cors",
			body: '{"state":"pause","reason":"evil"}'}),
		fetch("`+hotline.URL+`/api/v1/agents/a/state?probe=preflight", {method: "POST", credentials: "include",
			headers: {"X-CSRF-Token": "guess", "Content-Type": "application/json"}, body: '{"state":"logout"}'}).catch(() => "blocked"),
	]).then(() => true)`)
	for _, probe := range []string{"cross GET", "cross POST"} {
		cookie, ok := rec.get(probe)
		if !ok {
			t.Fatalf("the cross-site request %s never arrived: the test proves nothing", probe)
		}
		if cookie {
			t.Errorf("the cross-site request %s carried the session cookie", probe)
		}
	}
	if _, ok := rec.get("preflight POST"); ok {
		t.Error("a cross-site POST with X-CSRF-Token got past its CORS preflight")
	}
	if a, err := acd.Agent("a"); err != nil || a.Presence != "available" {
		t.Fatalf("agent a after the cross-site attempts: %+v, %v (want still available)", a, err)
	}
}

// evalJS runs a script in the page, awaits its promise, and decodes the result.
func evalJS[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}
