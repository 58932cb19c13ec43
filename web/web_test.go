package web

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, method, path string) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	h := Handler()
	if strings.HasPrefix(path, AgentPrefix) {
		h = AgentHandler()
	}
	h.ServeHTTP(w, httptest.NewRequest(method, path, nil))
	return w
}

func TestServesThePageAndAssets(t *testing.T) {
	for _, tc := range []struct{ path, typ, has string }{
		{"/wallboard", "text/html; charset=utf-8", `<script type="module" src="/wallboard/board.js">`},
		{"/wallboard/", "text/html; charset=utf-8", "<title>Hotline wallboard</title>"},
		{"/wallboard/index.html", "text/html; charset=utf-8", "<title>Hotline wallboard</title>"},
		{"/wallboard/board.js", "text/javascript; charset=utf-8", "import { Api, Unauthorized } from './api.js'"},
		{"/wallboard/api.js", "text/javascript; charset=utf-8", "export class Api"},
		{"/wallboard/board.css", "text/css; charset=utf-8", ".tile"},
		{"/wallboard/formulas.json", "application/json", `"service_level"`},
		{"/wallboard/icon.svg", "image/svg+xml", "<svg"},
		{"/agent", "text/html; charset=utf-8", `<script type="module" src="/agent/agent.js">`},
		{"/agent/", "text/html; charset=utf-8", "<title>Hotline agent desk</title>"},
		{"/agent/agent.js", "text/javascript; charset=utf-8", "import { Api, Unauthorized } from './api.js'"},
		{"/agent/api.js", "text/javascript; charset=utf-8", "signInAgent"},
		{"/agent/agent.css", "text/css; charset=utf-8", ".history"},
	} {
		w := get(t, http.MethodGet, tc.path)
		if w.Code != http.StatusOK {
			t.Errorf("GET %s: %d", tc.path, w.Code)
			continue
		}
		h := w.Header()
		if got := h.Get("Content-Type"); got != tc.typ {
			t.Errorf("GET %s: Content-Type %q, want %q", tc.path, got, tc.typ)
		}
		if !strings.Contains(w.Body.String(), tc.has) {
			t.Errorf("GET %s: body lacks %q", tc.path, tc.has)
		}
		if got := h.Get("Content-Security-Policy"); got != CSP {
			t.Errorf("GET %s: CSP %q", tc.path, got)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("X-Frame-Options") != "DENY" || h.Get("Cache-Control") != "no-cache" {
			t.Errorf("GET %s: headers %v", tc.path, h)
		}
	}
}

// The policy itself: scripts only from this origin, nothing inline, no
// framing.
func TestCSPIsStrict(t *testing.T) {
	dirs := map[string]string{}
	for _, d := range strings.Split(CSP, ";") {
		f := strings.Fields(d)
		if len(f) > 0 {
			dirs[f[0]] = strings.Join(f[1:], " ")
		}
	}
	for k, want := range map[string]string{"default-src": "'none'", "script-src": "'self'", "style-src": "'self'",
		"connect-src": "'self'", "frame-ancestors": "'none'", "base-uri": "'none'"} {
		if dirs[k] != want {
			t.Errorf("%s = %q, want %q", k, dirs[k], want)
		}
	}
	if strings.Contains(CSP, "unsafe") {
		t.Errorf("CSP allows something unsafe: %s", CSP)
	}
}

func TestUnknownAndOddPathsAre404(t *testing.T) {
	for _, p := range []string{"/wallboard/nope.js", "/wallboard/static/board.js", "/wallboard/../web.go", "/wallboard/.hidden",
		"/wallboardx", "/wallboard/sub/board.js", "/wallboard/README", "/other",
		"/agentx", "/agent/../web.go", "/agent/sub/agent.js", "/agent/nope.js"} {
		w := get(t, http.MethodGet, p)
		if w.Code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, w.Code)
		}
		if w.Header().Get("Content-Security-Policy") == "" {
			t.Errorf("GET %s: a 404 without the CSP", p)
		}
	}
}

func TestMethods(t *testing.T) {
	if w := get(t, http.MethodHead, "/wallboard"); w.Code != http.StatusOK || w.Body.Len() != 0 || w.Header().Get("Content-Type") == "" {
		t.Errorf("HEAD: %d, %d bytes, %v", w.Code, w.Body.Len(), w.Header())
	}
	if w := get(t, http.MethodHead, "/agent"); w.Code != http.StatusOK || w.Body.Len() != 0 {
		t.Errorf("HEAD /agent: %d, %d bytes", w.Code, w.Body.Len())
	}
	if w := get(t, http.MethodPost, "/agent"); w.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /agent: %d", w.Code)
	}
	if w := get(t, http.MethodPost, "/wallboard"); w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d, Allow %q", w.Code, w.Header().Get("Allow"))
	}
}

// Every embedded file has a known type, and no page or script reaches
// outside the server (no CDN, no web font: the board works offline) or
// carries inline script or style the CSP would block.
func TestEmbeddedFilesAreSelfContained(t *testing.T) {
	n := 0
	external := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/`)
	inline := regexp.MustCompile(`(?i)\son[a-z]+\s*=|\sstyle\s*=|<style|javascript:`)
	script := regexp.MustCompile(`(?is)<script([^>]*)>(.*?)</script>`)
	err := fs.WalkDir(Files(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		if _, ok := types[strings.ToLower(p[strings.LastIndex(p, "."):])]; !ok {
			t.Errorf("%s: no content type for its extension", p)
		}
		b, err := fs.ReadFile(Files(), p)
		if err != nil {
			return err
		}
		s := string(b)
		if strings.HasSuffix(p, ".svg") {
			s = strings.ReplaceAll(s, "http://www.w3.org/2000/svg", "")
		}
		if m := external.FindString(s); m != "" {
			t.Errorf("%s refers to another host: %q", p, m)
		}
		if strings.HasSuffix(p, ".html") {
			if m := inline.FindString(s); m != "" {
				t.Errorf("%s has inline script or style: %q", p, m)
			}
			for _, m := range script.FindAllStringSubmatch(s, -1) {
				if !strings.Contains(m[1], "src=") || strings.TrimSpace(m[2]) != "" {
					t.Errorf("%s has an inline script: %q", p, m[0])
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"index.html", "board.js", "api.js", "board.css", "formulas.json", "agent.html", "agent.js", "agent.css"} {
		if _, err := fs.Stat(Files(), want); err != nil {
			t.Errorf("%s not embedded: %v", want, err)
		}
	}
	if n < 5 {
		t.Errorf("%d files embedded", n)
	}
}

// The formula behind every figure is the text docs/metrics.md gives (up
// to line breaks), so the board and the documentation cannot drift apart.
func TestFormulasAreTheDocumentedOnes(t *testing.T) {
	b, err := fs.ReadFile(Files(), "formulas.json")
	if err != nil {
		t.Fatal(err)
	}
	var formulas map[string]string
	if err := json.Unmarshal(b, &formulas); err != nil {
		t.Fatalf("formulas.json: %v", err)
	}
	doc, err := os.ReadFile("../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	text := oneLine(string(doc))
	for key, f := range formulas {
		if strings.TrimSpace(f) == "" {
			t.Errorf("%s: empty formula", key)
			continue
		}
		if !strings.Contains(text, oneLine(f)) {
			t.Errorf("%s: formula %q is not in docs/metrics.md", key, f)
		}
	}
	// Every key the board labels is in the file.
	js, _ := fs.ReadFile(Files(), "board.js")
	html, _ := fs.ReadFile(Files(), "index.html")
	keys := regexp.MustCompile(`label\([^,]+, '([a-z0-9_]+)'\)|data-f="([a-z0-9_]+)"`)
	for _, m := range keys.FindAllStringSubmatch(string(js)+string(html), -1) {
		k := m[1] + m[2]
		if _, ok := formulas[k]; !ok {
			t.Errorf("the board labels %q, which formulas.json lacks", k)
		}
	}
	for _, k := range []string{"alert_longest_wait", "alert_service_level", "alert_no_agents_while_waiting", "window_30m", "window_today"} {
		if _, ok := formulas[k]; !ok {
			t.Errorf("formulas.json lacks %s (labelled by computed key)", k)
		}
	}
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
