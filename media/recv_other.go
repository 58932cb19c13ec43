//go:build !linux

package media

// pollEntry is the Linux poller's registration (poller_linux.go); elsewhere
// every socket has its reader goroutine, reading with ReadFromUDPAddrPort.
type pollEntry struct{}

func (s *Session) startReading() {
	s.wg.Add(1)
	go s.readLoop()
}

func (s *Session) stopReading() {}
