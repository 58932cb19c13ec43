package api

import (
	"mime"
	"net/http"
	"strconv"
	"strings"
)

// WallboardPath is where a browser opening / is sent.
const WallboardPath = "/wallboard"

// index is GET /: a browser (Accept names text/html) is sent to the
// wallboard with 303; any other client gets a small JSON index of where
// things are. It needs no token and says nothing a token would protect.
func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	if acceptsHTML(r.Header.Get("Accept")) {
		http.Redirect(w, r, WallboardPath, http.StatusSeeOther)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{
		"name":      "Hotline",
		"api":       Prefix,
		"openapi":   Prefix + "/openapi.json",
		"session":   Prefix + "/session",
		"events":    Prefix + "/events",
		"wallboard": WallboardPath,
		"health":    "/readyz",
	})
}

// acceptsHTML reports whether an Accept header names text/html with a
// non-zero weight (a browser's navigation does; curl's */* does not).
func acceptsHTML(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || mt != "text/html" {
			continue
		}
		if q, ok := params["q"]; ok {
			if v, err := strconv.ParseFloat(q, 64); err != nil || v <= 0 {
				continue
			}
		}
		return true
	}
	return false
}
