package media

import (
	"errors"
	"net"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"
)

var loopback = netip.MustParseAddr("127.0.0.1")

func TestNewPortPoolRanges(t *testing.T) {
	tests := []struct {
		min, max int
		ok       bool
	}{
		{20000, 20010, true}, {20001, 20002, true}, {20000, 20000, true},
		{20001, 20001, false}, {0, 10, false}, {10, 70000, false}, {30000, 20000, false},
	}
	for _, tt := range tests {
		_, err := NewPortPool(tt.min, tt.max)
		if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrBadPortRange)) {
			t.Errorf("NewPortPool(%d, %d) err = %v, want ok=%v", tt.min, tt.max, err, tt.ok)
		}
	}
}

// freeEvenRange finds n consecutive even ports that bind right now, so the
// test does not collide with other packages' tests running concurrently.
func freeEvenRange(t testing.TB, n int) int {
	t.Helper()
	for base := 42000; base < 60000; base += 2 * n {
		ok := true
		for p := base; p < base+2*n && ok; p += 2 {
			c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, uint16(p))))
			if err != nil {
				ok = false
				continue
			}
			c.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatal("no free port range")
	return 0
}

func TestPortPoolEvenInUseAndExhaustion(t *testing.T) {
	base := freeEvenRange(t, 3)
	pool, err := NewPortPool(base, base+5)
	if err != nil {
		t.Fatal(err)
	}
	var conns []*net.UDPConn
	var ports []int
	for i := 0; i < 3; i++ {
		c, p, err := pool.listen(loopback)
		if err != nil {
			t.Fatal(err)
		}
		if p%2 != 0 || p < base || p > base+5 {
			t.Fatalf("port %d: not even or out of range", p)
		}
		conns, ports = append(conns, c), append(ports, p)
	}
	if pool.InUse() != 3 {
		t.Fatalf("InUse = %d, want 3", pool.InUse())
	}
	if _, _, err := pool.listen(loopback); !errors.Is(err, ErrNoPorts) {
		t.Fatalf("4th listen err = %v, want ErrNoPorts", err)
	}
	for i, c := range conns {
		c.Close()
		pool.release(ports[i])
	}
	pool.release(ports[0]) // double release is harmless
	if pool.InUse() != 0 {
		t.Fatalf("InUse after release = %d", pool.InUse())
	}
}

func TestPortPoolSkipsPortsThatFailToBind(t *testing.T) {
	base := freeEvenRange(t, 2)
	blocker, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, uint16(base))))
	if err != nil {
		t.Fatal(err)
	}
	defer blocker.Close()
	pool, _ := NewPortPool(base, base+2)
	c, p, err := pool.listen(loopback)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if p != base+2 || pool.BindErrors() != 1 {
		t.Fatalf("got port %d with %d bind errors, want %d with 1", p, pool.BindErrors(), base+2)
	}
}

// TestPortPoolQuarantine runs in a synctest bubble: the drain time passes
// on the fake clock.
func TestPortPoolQuarantine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := freeEvenRange(t, 1)
		pool, _ := NewPortPool(base, base+1)
		pool.SetDrain(2 * time.Second)
		c, p, err := pool.listen(loopback)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		pool.release(p)
		if _, _, err := pool.listen(loopback); !errors.Is(err, ErrNoPorts) {
			t.Fatalf("reused a draining port: err = %v", err)
		}
		time.Sleep(2 * time.Second) // fake clock: the drain time passes
		c, p2, err := pool.listen(loopback)
		if err != nil || p2 != p {
			t.Fatalf("after drain: port %d err %v, want %d", p2, err, p)
		}
		c.Close()
	})
}
