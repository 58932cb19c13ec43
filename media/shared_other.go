//go:build !linux

package media

import "net/netip"

// Off Linux a shared socket is read and written one datagram at a time:
// the demultiplexing still saves a socket and a reader per call.
func (sp *sharedPort) readLoop() {
	defer close(sp.done)
	sp.readGeneric()
}

func (sp *sharedPort) sendBatch(pkts [][]byte, dst []netip.AddrPort) int {
	return sp.sendSeq(pkts, dst)
}

type sharedOS struct{}
