package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
)

// statusWriter remembers the status for the access log and whether the
// header went out (so the recoverer knows if it can still send a 500).
// Unwrap lets http.ResponseController reach Flush and deadlines.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.status, w.wrote = http.StatusOK, true
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush keeps the writer an http.Flusher for code that type-asserts.
func (w *statusWriter) Flush() {
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// recoverer turns a handler panic into a logged 500 so one bad request never
// takes the process down. http.ErrAbortHandler keeps its meaning (abort the
// response silently).
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw, ok := w.(*statusWriter)
		if !ok {
			sw = &statusWriter{ResponseWriter: w}
		}
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(v)
			}
			s.log.Error("api handler panic", "method", r.Method, "path", r.URL.Path,
				"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			if !sw.wrote {
				s.writeError(sw, r, &Error{Kind: ErrInternal, Message: "internal error"})
			}
		}()
		next.ServeHTTP(sw, r)
	})
}

// accessLog logs each request: at debug level, at info for refused
// authentication (401, 403, 429: someone may be guessing tokens) and server
// errors. It names the token presented, once the authenticator knows it,
// never its secret, and the client's address.
func (s *Server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := s.now()
		sw, ok := w.(*statusWriter)
		if !ok {
			sw = &statusWriter{ResponseWriter: w}
		}
		note := &requestNote{}
		r = r.WithContext(context.WithValue(r.Context(), requestNoteKey{}, note))
		next.ServeHTTP(sw, r)
		if !s.log.Enabled(r.Context(), levelFor(sw.status)) {
			return
		}
		s.log.Log(r.Context(), levelFor(sw.status), "api request", "method", r.Method, "path", r.URL.Path,
			"status", sw.status, "duration", s.now().Sub(start), "token", note.token, "source", r.RemoteAddr)
	})
}

func levelFor(status int) slog.Level {
	switch {
	case status >= 500, status == http.StatusUnauthorized, status == http.StatusForbidden, status == http.StatusTooManyRequests:
		return slog.LevelInfo
	}
	return slog.LevelDebug
}

// limitBody caps request bodies; decodeBody reports the overflow as 413.
func (s *Server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > s.cfg.MaxBodyBytes {
			s.writeError(w, r, &Error{Kind: ErrTooLarge, Message: fmt.Sprintf("body is over %d bytes", s.cfg.MaxBodyBytes)})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
		next.ServeHTTP(w, r)
	})
}
