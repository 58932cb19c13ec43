package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strconv"

	"github.com/hotline-dev/hotline/store"
)

// IdempotencyHeader names the key of a POST a client may retry: the same
// key (per token) and request within store.IdempotencyTTL get the first
// answer again; another request under the key is 422; while the first is
// still running, 409 with Retry-After (the client retries; the second
// request never runs beside the first).
const IdempotencyHeader = "Idempotency-Key"

// replayedHeader marks an answer given from the idempotency table.
const replayedHeader = "Idempotent-Replayed"

// keptHeaders are the headers of an answer that a replay repeats.
var keptHeaders = []string{"Content-Type", "Location", "ETag"}

// idempotent runs a POST with an Idempotency-Key at most once (see
// IdempotencyHeader). Answers of 5xx and 429 are not kept: the request did
// not happen, or not yet, and a retry runs it.
func (s *Server) idempotent(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get(IdempotencyHeader)
		idem, ok := s.cfg.Store.(store.Idempotency)
		if r.Method != http.MethodPost || key == "" || !ok {
			next.ServeHTTP(w, r)
			return
		}
		if !validKey(key) {
			s.writeError(w, r, invalid(IdempotencyHeader, "must be 1 to 255 visible ASCII characters (a UUID is usual)"))
			return
		}
		body, err := readBody(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		sum := sha256.New()
		sum.Write([]byte(r.Method + " " + r.URL.RequestURI() + "\n"))
		sum.Write(body)
		hash := hex.EncodeToString(sum.Sum(nil))
		scope := idempotencyScope(r.Context())
		// A claim older than two request deadlines got no answer: its
		// process died mid-request, and a retry may run it.
		got, claimed, err := idem.ClaimIdempotencyKey(r.Context(), scope, key, hash, 2*s.cfg.RequestTimeout)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if !claimed {
			s.replay(w, r, got, hash)
			return
		}
		cw := &captureWriter{ResponseWriter: w}
		// The answer is kept even when the client has gone: its retry
		// must find it.
		keep, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), s.cfg.RequestTimeout)
		defer cancel()
		saved := false
		defer func() {
			if !saved { // a 5xx, or a panic on its way to the recoverer
				if err := idem.ReleaseIdempotencyKey(keep, scope, key); err != nil {
					s.log.Warn("api: releasing an idempotency key", "header", IdempotencyHeader, "path", r.URL.Path, "err", err)
				}
			}
		}()
		next.ServeHTTP(cw, r)
		if cw.status == 0 || cw.status >= 500 || cw.status == http.StatusTooManyRequests {
			return
		}
		res := store.IdempotentResult{Scope: scope, Key: key, RequestHash: hash, Status: cw.status, Headers: map[string]string{}, Body: cw.body.Bytes()}
		for _, h := range keptHeaders {
			if v := w.Header().Get(h); v != "" {
				res.Headers[h] = v
			}
		}
		if err := idem.SaveIdempotencyKey(keep, res); err != nil {
			s.log.Warn("api: keeping an idempotent answer", "header", IdempotencyHeader, "path", r.URL.Path, "err", err)
			return
		}
		saved = true
	})
}

// replay answers a request whose key is taken.
func (s *Server) replay(w http.ResponseWriter, r *http.Request, got store.IdempotentResult, hash string) {
	switch {
	case got.RequestHash != hash:
		s.writeError(w, r, invalid(IdempotencyHeader, "was used in the last %d h for another request (method, path or body differ); send a new key",
			int(store.IdempotencyTTL.Hours())))
	case got.Status == 0:
		w.Header().Set("Retry-After", "1")
		s.writeError(w, r, &Error{Kind: ErrConflict, Field: IdempotencyHeader,
			Message: "a request with this key is still running; retry it to get its answer"})
	default:
		for h, v := range got.Headers {
			w.Header().Set(h, v)
		}
		w.Header().Set(replayedHeader, "true")
		w.WriteHeader(got.Status)
		_, _ = w.Write(got.Body)
	}
}

func validKey(k string) bool {
	if len(k) == 0 || len(k) > 255 {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x21 || k[i] > 0x7e {
			return false
		}
	}
	return true
}

// captureWriter keeps the status and body a handler writes.
type captureWriter struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (c *captureWriter) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *captureWriter) Write(p []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	c.body.Write(p)
	return c.ResponseWriter.Write(p)
}

// Unwrap lets http.NewResponseController reach the connection.
func (c *captureWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// idempotencyScope is whose keys a request's key is among: the token (or
// the token a session was opened with) and, for an agent-bound one, the
// agent, so two clients' keys never meet.
func idempotencyScope(ctx context.Context) string {
	p := principalOf(ctx)
	if p == nil {
		return ""
	}
	return strconv.Quote(p.name) + " " + p.agent // quoted: no name can end where another begins
}
