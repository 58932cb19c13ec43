package sip

import (
	"context"
	"time"

	"github.com/emiago/sipgo"
)

// Shutdown stops taking calls (503 + Retry-After), lets live calls finish
// until ctx is done, then hangs them all up (BYE) and waits, then closes.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.draining = true
	s.mu.Unlock()
	idle := make(chan struct{})
	go func() { s.callWG.Wait(); close(idle) }()
	var err error
	select {
	case <-idle:
	case <-ctx.Done():
		err = ctx.Err()
		s.endAll(errShutdown)
		<-idle
	}
	s.Close()
	return err
}

// Close hangs up every call at once, waits for them, and releases sockets.
func (s *Server) Close() error {
	s.mu.Lock()
	s.draining = true
	s.closed = true
	s.mu.Unlock()
	s.endAll(errShutdown)
	s.callWG.Wait()
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closeListeners()
		s.mu.Unlock()
		s.ua.Close()
		if s.dua != nil {
			s.dua.Client.Close()
		}
		close(s.closeCh)
	})
	s.serveWG.Wait()
	return nil
}

func (s *Server) endAll(cause error) {
	s.mu.Lock()
	s.forced = true
	calls := make([]*Call, 0, len(s.calls))
	for _, c := range s.calls {
		calls = append(calls, c)
	}
	s.mu.Unlock()
	for _, c := range calls {
		if c.markEnded(CauseShutdown, SideLocal) {
			c.cancel(cause)
		}
	}
}

// waitUDPReady returns once sipgo has registered the UDP listener in its
// connection pool, so requests we send leave from it. sipgo's Serve* has no
// readiness signal, and registration happens on the serving goroutine.
func waitUDPReady(ua *sipgo.UserAgent, addr string, stop <-chan struct{}) {
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := ua.TransportLayer().GetConnection("udp", addr); err == nil && c != nil {
			return
		}
		select {
		case <-stop:
			return
		case <-time.After(time.Millisecond):
		}
	}
}
