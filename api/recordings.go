package api

import (
	"errors"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/hotline-dev/hotline/recording"
	"github.com/hotline-dev/hotline/store"
)

// getRecording serves GET /api/v1/recordings/{id}: the audio file, with
// range requests (Range, If-Range, 206, 416: http.ServeContent) so a
// browser's player can seek. Read and write tokens (and their sessions)
// may fetch any recording; an agent's session or agent-bound token may
// not (its calls are not simple to tell apart from a voicemail left in
// the IVR). A recording that is unknown, deleted, or whose file is gone
// is 404.
func (s *Server) getRecording(w http.ResponseWriter, r *http.Request) {
	if p := principalOf(r.Context()); p == nil || p.agent != "" {
		who := "this principal"
		if p != nil {
			who = p.asAgent()
		}
		s.writeError(w, r, &Error{Kind: ErrForbidden, Message: "recordings are served to read and write tokens, not to " + who})
		return
	}
	index, ok := s.cfg.Store.(store.Recordings)
	if s.cfg.Recordings == nil || !ok {
		s.writeError(w, r, &Error{Kind: ErrUnavailable, Message: "no recording store is configured"})
		return
	}
	id := chi.URLParam(r, "id")
	gone := notFound("no recording %q", id)
	if !recording.ValidKey(id) {
		s.writeError(w, r, gone)
		return
	}
	meta, err := index.GetRecording(r.Context(), id)
	switch {
	case isNotFound(err):
		s.writeError(w, r, gone)
		return
	case err != nil:
		s.writeError(w, r, err)
		return
	case meta.DeletedAt != nil:
		s.writeError(w, r, gone)
		return
	}
	obj, err := s.cfg.Recordings.Open(r.Context(), recording.Key(meta.ID, meta.Format))
	if errors.Is(err, recording.ErrNotFound) {
		s.log.Warn("api: recording file missing", "recording", id, "err", err)
		s.writeError(w, r, gone)
		return
	}
	if err != nil {
		s.writeError(w, r, &Error{Kind: ErrUnavailable, Message: "the recording store did not answer"})
		s.log.Error("api: recording store", "recording", id, "err", err)
		return
	}
	defer obj.Close()
	h := w.Header()
	h.Set("Content-Type", contentType(meta.Format))
	h.Set("Cache-Control", "private, no-cache")
	h.Set("Content-Disposition", `inline; filename="`+meta.ID+"."+meta.Format+`"`)
	// A recording never changes: its id is a strong validator, so If-Range
	// and If-None-Match work without comparing dates.
	h.Set("ETag", `"`+meta.ID+`"`)
	http.ServeContent(w, r, "", obj.Info().ModTime, obj)
}

func contentType(format string) string {
	if format == recording.FormatWAV {
		return recording.ContentTypeWAV
	}
	return "application/octet-stream"
}
