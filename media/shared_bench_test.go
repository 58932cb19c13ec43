package media

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"testing"
	"time"
)

// BenchmarkSharedSend is the send side of held calls on one core: 500
// sessions play a prompt to 500 far-end sockets on 127.0.0.1 (which never
// read: the kernel drops what overflows), per-call ports against one
// shared port; it reports the process CPU per packet sent (getrusage),
// which holds on a loaded machine better than wall time. Run both
// alternated: go test -run XXX -bench SharedSend -benchtime 3x ./media
func BenchmarkSharedSend(b *testing.B) {
	const calls = 500
	for _, shared := range []bool{false, true} {
		name := map[bool]string{false: "per-call", true: "shared"}[shared]
		b.Run(name, func(b *testing.B) {
			base := freeEvenRange(b, calls+4)
			pool, err := NewPortPool(base, base+2*calls+6)
			if err != nil {
				b.Fatal(err)
			}
			var sinks []*net.UDPConn
			for range calls {
				c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2)}) // off 127.0.0.1: no clash with the pool
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				sinks = append(sinks, c)
			}
			if shared {
				if err := pool.SetShared(SharedConfig{Ports: []int{toolPorts.Block(b).Media()}, Networks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}); err != nil {
					b.Fatal(err)
				}
			}
			var sess []*Session
			for _, c := range sinks {
				peer := c.LocalAddr().(*net.UDPAddr).AddrPort()
				s, err := NewSession(SessionConfig{IP: loopback, Pool: pool, Peer: peer, PeerSignal: peer.Addr()})
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				if err := s.Start(pcmaRemote(peer)); err != nil {
					b.Fatal(err)
				}
				sess = append(sess, s)
			}
			prompt := NewPromptPCM("tone", Tone([]float64{440}, 2*time.Second))
			var cpu time.Duration
			var pkts uint64
			for b.Loop() {
				var before syscall.Rusage
				_ = syscall.Getrusage(syscall.RUSAGE_SELF, &before)
				var sent0 uint64
				for _, s := range sess {
					sent0 += s.Stats().PacketsSent
				}
				var wg sync.WaitGroup
				for _, s := range sess {
					wg.Add(1)
					go func() {
						defer wg.Done()
						_ = s.Play(context.Background(), prompt)
					}()
				}
				wg.Wait()
				var after syscall.Rusage
				_ = syscall.Getrusage(syscall.RUSAGE_SELF, &after)
				cpu += time.Duration(after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano())
				for _, s := range sess {
					pkts += s.Stats().PacketsSent
				}
				pkts -= sent0
			}
			b.ReportMetric(float64(cpu.Microseconds())/float64(pkts), "cpu-us/pkt")
			b.ReportMetric(float64(pkts)/float64(b.N), "pkts/op")
		})
	}
}
