// Package web is the pages Hotline serves to browsers, embedded in the
// binary: plain HTML, CSS and JavaScript, no build step. Today that is the
// wallboard (/wallboard, docs/wallboard.md) and the agent desk (/agent,
// docs/agent-desk.md). The pages read the API like
// any client (/api/v1/queues, /api/v1/agents, the event stream); they hold
// no logic the API does not also give a script.
package web

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed static
var static embed.FS

// Files is the embedded tree (static/...), for tests and for a reader of
// the formula texts.
func Files() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil { // only if the embed directive above changed
		panic("web: embedded static tree missing: " + err.Error())
	}
	return sub
}

// Prefix is where the wallboard is served.
const Prefix = "/wallboard"

// AgentPrefix is where the agent desk is served (docs/agent-desk.md).
const AgentPrefix = "/agent"

// CSP allows only this origin's own scripts, styles and connections: no
// inline script or style (an injected string in a queue or agent name
// cannot run), no framing (clickjacking), no form posting elsewhere.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// types are the content types of what static holds, named here rather
// than taken from the machine's MIME database, which differs by system.
var types = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".json": "application/json",
	".svg":  "image/svg+xml",
	".png":  "image/png",
}

// Handler serves the wallboard at Prefix (its page) and Prefix/<file>
// (its assets): GET and HEAD, 404 for anything not embedded, 405 for
// other methods. Mount it at Prefix.
func Handler() http.Handler { return page(Prefix, "index.html") }

// AgentHandler serves the agent desk at AgentPrefix (agent.html) and
// AgentPrefix/<file> (the same embedded assets: api.js is shared). Mount
// it at AgentPrefix.
func AgentHandler() http.Handler { return page(AgentPrefix, "agent.html") }

// page serves the page index at prefix and the embedded files under it.
func page(prefix, index string) http.Handler {
	files := Files()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", CSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name, ok := fileName(prefix, index, r.URL.Path)
		if !ok {
			http.NotFound(w, r)
			return
		}
		typ, known := types[path.Ext(name)]
		b, err := fs.ReadFile(files, name)
		if !known || err != nil {
			http.NotFound(w, r)
			return
		}
		h.Set("Content-Type", typ)
		// Revalidate every time: an upgraded server must not run the old
		// script against its new API. The files are small.
		h.Set("Cache-Control", "no-cache")
		if r.Method == http.MethodHead {
			return
		}
		_, _ = w.Write(b)
	})
}

// fileName maps a request path to an embedded file: prefix and prefix/
// are the page (index); prefix/x.js is x.js. Nothing with a directory or
// a dot file.
func fileName(prefix, index, p string) (string, bool) {
	rest, ok := strings.CutPrefix(p, prefix)
	switch {
	case !ok:
		return "", false
	case rest == "" || rest == "/":
		return index, true
	case !strings.HasPrefix(rest, "/"):
		return "", false // /wallboardx
	}
	name := rest[1:]
	if name == "" || strings.ContainsAny(name, "/\\") || strings.HasPrefix(name, ".") || !fs.ValidPath(name) {
		return "", false
	}
	return name, true
}
