package e2e

import (
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
)

// Ports a test must name before the process that binds them is running
// (sipp's -p and -mp, Kamailio's listen address, a child Hotline's
// sip.udp) come from blocks in [namedPortMin, namedPortMax], below the
// kernel's ephemeral range (net.ipv4.ip_local_port_range, 32768-60999 by
// default). A port probed free in the ephemeral range and closed again is
// anybody's: a socket bound to port 0 meanwhile (a Go caller's RTP,
// another package's test) can take it before sipp binds it, and sipp then
// exits before sending its INVITE. No other test in the repository binds
// in this range; keep it so.
const namedPortMin, namedPortMax = 18000, 19999

// portBlock is four consecutive ports from base (a multiple of 4). sipp
// binds -mp for audio RTP and -mp+2 for its video socket, whatever the
// scenario, so media is base and base+2 is kept free for it; sip is
// base+1; base+3 stays unbound.
type portBlock struct{ base int }

// media is the even port for sipp's -mp (it binds media and media+2).
func (b portBlock) media() int { return b.base }

// sip is the port for a SIP socket (sipp's -p, Kamailio's listen).
func (b portBlock) sip() int { return b.base + 1 }

// blocks hands the blocks out round robin, starting at a random one so
// that two test binaries started together (developers on one machine) do
// not begin on the same block. Package state: the port space it guards
// is the process's (and the machine's), not one test's.
var blocks struct {
	sync.Mutex
	next    int // index of the next block
	started bool
}

// reservePorts returns the next block whose ports (base to base+2) are
// free on 127.0.0.1 now. Within this process a block is handed out again
// only after all the others, long after its last user has exited.
func reservePorts() (portBlock, error) {
	blocks.Lock()
	defer blocks.Unlock()
	n := (namedPortMax - namedPortMin + 1) / 4
	if !blocks.started {
		blocks.next, blocks.started = rand.IntN(n), true
	}
	for range n {
		b := portBlock{base: namedPortMin + 4*blocks.next}
		blocks.next = (blocks.next + 1) % n
		if free(b.base, b.base+1, b.base+2) {
			return b, nil
		}
	}
	return portBlock{}, fmt.Errorf("no free block of 4 UDP ports in %d-%d", namedPortMin, namedPortMax)
}

// free reports whether every port can be bound on 127.0.0.1 (by another
// process: taken, the block is skipped).
func free(ports ...int) bool {
	var conns []net.PacketConn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for _, p := range ports {
		c, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			return false
		}
		conns = append(conns, c)
	}
	return true
}

// ports is reservePorts for the test's goroutine.
func ports(t *testing.T) portBlock {
	t.Helper()
	b, err := reservePorts()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A block is never handed out twice in a row, and one whose port another
// process holds (here: the video port sipp would fail on) is skipped.
func TestReservePortsSkipsTakenBlocks(t *testing.T) {
	a := ports(t)
	blocks.Lock()
	next := namedPortMin + 4*blocks.next
	blocks.Unlock()
	c, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", next+2))
	if err != nil {
		t.Skipf("port %d is taken already: %v", next+2, err)
	}
	defer c.Close()
	b := ports(t)
	if b.base == next {
		t.Errorf("block %d handed out while its port %d is bound", next, next+2)
	}
	if b.base == a.base {
		t.Errorf("block %d handed out twice in a row", a.base)
	}
	for _, p := range []portBlock{a, b} {
		if p.base%4 != 0 || p.base < namedPortMin || p.base+3 > namedPortMax || p.media()%2 != 0 {
			t.Errorf("block %d: not an aligned block of 4 in %d-%d", p.base, namedPortMin, namedPortMax)
		}
	}
}
