package sip

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/hotline-dev/hotline/media"
)

// Agent feature codes (*11 log in, *12 log out, *13[n] pause, *14 ready):
// an INVITE whose Request-URI user starts with '*' goes here instead of to
// the Handler when ServerConfig.FeatureCode is set.
//
//  1. Authenticate: the request must carry digest credentials of an agent
//     (RFC 3261 §22). Without them we answer 401 with a challenge
//     (WWW-Authenticate: we are the UAS, §22.1; 407 is for proxies, §22.3);
//     a wrong password gets 403. Only the agent's own phone changes its
//     state, and the authenticated user, not the From header, names it.
//  2. SDP is negotiated as for any call (488 when no common codec), so the
//     code is never applied for a call we could not answer.
//  3. FeatureCode(ctx, user, code) applies it. An error wrapping ErrNotFound
//     means no such code: 404 Not Found, nothing answered.
//  4. Otherwise we answer (200 with SDP), play a short confirmation (two
//     880 Hz beeps) or, when the code failed (e.g. pause while logged out),
//     a reorder tone (480+620 Hz, three bursts), then send BYE.
//
// This is what agent feature codes do on real PBXs: the usual Asterisk
// app_queue dialplan runs Answer, AddQueueMember/PauseQueueMember, Playback
// of a confirmation; FreeSWITCH mod_callcenter's runs answer,
// callcenter_config, playback. The phone shows an answered call and the
// agent hears whether it worked. Replying with a final
// non-2xx instead would make most phones show "call failed" even on success,
// and a 2xx without answering is not possible for INVITE.

// featureCall is an authenticated feature-code INVITE on its way to answer.
type featureCall struct {
	user, code string
	err        error // what FeatureCode returned (nil: done)
}

// isFeatureCode reports whether a Request-URI user is a feature code.
func isFeatureCode(called string) bool {
	return len(called) > 1 && called[0] == '*' && strings.Trim(called, "0123456789*#") == ""
}

// authenticateFeature checks credentials; on refusal it has answered.
func (s *Server) authenticateFeature(req *sip.Request, tx sip.ServerTransaction, callID, called string) (*featureCall, bool) {
	user, reject := s.cfg.Authenticate(req)
	if reject != nil {
		if reject.StatusCode != sip.StatusUnauthorized {
			s.log.Info("feature code refused", "call_id", callID, "code", called, "status", reject.StatusCode)
		}
		reject.AppendHeader(sip.NewHeader("Server", s.cfg.UserAgent))
		if err := tx.Respond(reject); err != nil {
			s.log.Debug("respond failed", "status", reject.StatusCode, "err", err)
		}
		return nil, false
	}
	return &featureCall{user: user, code: called}, true
}

// applyFeature runs the hook; false when it answered 404 (unknown code).
func (s *Server) applyFeature(req *sip.Request, tx sip.ServerTransaction, callID string, f *featureCall) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	f.err = s.cfg.FeatureCode(ctx, f.user, f.code)
	if errors.Is(f.err, ErrNotFound) {
		s.reject(req, tx, callID, f.err) // 404
		return false
	}
	s.log.Info("feature code", "call_id", callID, "user", f.user, "code", f.code, "err", f.err)
	return true
}

// serveFeature plays the result of an applied feature code; the server
// hangs up when it returns.
func (s *Server) serveFeature(ctx context.Context, c *Call, f *featureCall) {
	p := s.featureOK
	if f.err != nil {
		p = s.featureFailed
	}
	if err := c.Play(ctx, p); err != nil {
		c.log.Debug("feature code tone", "err", err)
	}
}

// featureTones builds the confirmation and the failure tone once per server.
func featureTones() (ok, failed *media.Prompt) {
	gap := func(d time.Duration) []int16 { return make([]int16, int(d/(time.Second/media.SampleRate))) }
	var a, b []int16
	for range 2 {
		a = append(a, media.Tone([]float64{880}, 200*time.Millisecond)...)
		a = append(a, gap(150*time.Millisecond)...)
	}
	for range 3 {
		b = append(b, media.Tone([]float64{480, 620}, 250*time.Millisecond)...)
		b = append(b, gap(250*time.Millisecond)...)
	}
	return media.NewPromptPCM("feature-ok", a), media.NewPromptPCM("feature-failed", b)
}
