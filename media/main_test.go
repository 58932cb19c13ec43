package media

import (
	"runtime"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// BenchmarkSessionMemory reports the memory of one started, idle call
// (heap plus goroutine stacks) with real sockets; the budget is 64 KiB per
// call at 1,500 calls.
func BenchmarkSessionMemory(b *testing.B) {
	const calls = 200
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		sessions := make([]*Session, 0, calls)
		for i := 0; i < calls; i++ {
			s, err := NewSession(SessionConfig{IP: loopback, InactivityTimeout: time.Minute, InbandDTMF: true})
			if err != nil {
				b.Fatal(err)
			}
			if err := s.Start(remoteAt("127.0.0.1:9")); err != nil {
				b.Fatal(err)
			}
			sessions = append(sessions, s)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perCall := float64(after.HeapInuse+after.StackInuse-before.HeapInuse-before.StackInuse) / calls
		b.ReportMetric(perCall, "bytes/call")
		for _, s := range sessions {
			s.Close()
		}
	}
}
