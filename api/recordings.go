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
// may fetch any recording; an agent's session or agent-bound token only
// those of calls it answered (agentsRecording). A recording that is
// unknown, deleted, or whose audio is gone (a file under recordings.dir,
// or the database store's rows) is 404.
func (s *Server) getRecording(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r.Context())
	if p == nil {
		s.writeError(w, r, &Error{Kind: ErrUnauthorized, Message: "send Authorization: Bearer <token>"})
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
	if p.agent != "" {
		if err := s.agentsRecording(r, p, meta); err != nil {
			s.writeError(w, r, err)
			return
		}
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

// agentsRecording lets an agent (a desk session or an agent-bound token)
// have a recording of a call it answered: one of the call's legs names it.
// Anything else, a voicemail left in the IVR included, is 403.
func (s *Server) agentsRecording(r *http.Request, p *principal, meta *store.Recording) error {
	forbidden := &Error{Kind: ErrForbidden, Message: p.asAgent() + " may fetch only recordings of calls it answered"}
	if meta.InteractionID == 0 {
		return forbidden
	}
	in, err := s.cfg.Store.GetInteraction(r.Context(), meta.InteractionID)
	if isNotFound(err) {
		return forbidden
	}
	if err != nil {
		return err
	}
	if in.Voice != nil {
		for _, l := range in.Voice.Legs {
			if l.Agent == p.agent && l.Answered() {
				return nil
			}
		}
	}
	return forbidden
}

func contentType(format string) string {
	if format == recording.FormatWAV {
		return recording.ContentTypeWAV
	}
	return "application/octet-stream"
}
