//go:build !linux

package media

// readRaw is the recvmmsg reader on Linux (recv_linux.go); elsewhere every
// socket is read with ReadFromUDPAddrPort.
func (s *Session) readRaw(*recvState) bool { return false }
