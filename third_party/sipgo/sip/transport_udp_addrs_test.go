package sip

import (
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestListenerAddrsExpireAndCap(t *testing.T) {
	t0 := time.Unix(1000, 0)
	a := newListenerAddrs(time.Minute, 8)
	for i := range 8 {
		a.touch("10.0.0.1:"+strconv.Itoa(i), t0.Add(time.Duration(i)*time.Second))
	}
	require.Empty(t, a.stale(t0.Add(8*time.Second), ""), "nothing is old or over the cap yet")

	// Over the cap: the least recently heard are dropped down to 3/4 of max.
	a.touch("10.0.0.2:1", t0.Add(9*time.Second))
	drop := a.stale(t0.Add(9*time.Second), "10.0.0.2:1")
	require.Len(t, drop, 3)
	require.ElementsMatch(t, []string{"10.0.0.1:0", "10.0.0.1:1", "10.0.0.1:2"}, drop)
	require.Len(t, a.seen, 6)

	// Idle past the TTL: all go but the address being handled.
	drop = a.stale(t0.Add(2*time.Minute), "10.0.0.1:7")
	require.Len(t, drop, 5)
	require.Equal(t, []string{"10.0.0.1:7"}, a.addrs())

	// Negative TTL and max: the behaviour before listenerAddrs, nothing is forgotten.
	never := newListenerAddrs(-1, -1)
	for i := range 100 {
		never.touch("10.0.0.1:"+strconv.Itoa(i), t0)
	}
	require.Empty(t, never.stale(t0.Add(24*time.Hour), ""))
}

// TestUDPListenerPoolBounded sends one-byte datagrams (not even SIP) from
// many source ports to a listening UDP transport and counts the connection
// pool entries it leaves behind. With the unpatched behaviour (negative TTL
// and max) every source stays in the pool until the listener closes: that
// is the leak. With a cap the pool stays bounded, and with a TTL it empties
// again once the sources are quiet.
func TestUDPListenerPoolBounded(t *testing.T) {
	const sources = 300
	for _, tc := range []struct {
		name     string
		ttl      time.Duration
		max      int
		maxAfter int // pool entries allowed after the burst (listener + sources)
	}{
		{"unpatched keeps every source", -1, -1, 1 + sources},
		{"capped", -1, 100, 1 + 100},
		{"expired", 50 * time.Millisecond, -1, 1 + sources},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tp := NewTransportLayer(net.DefaultResolver, NewParser(), nil, WithTransportLayerUDPListenerAddrs(tc.ttl, tc.max))
			defer tp.Close()
			msgs := make(chan Message, 16)
			tp.OnMessage(func(m Message) { msgs <- m })
			ln, err := net.ListenPacket("udp", "127.0.0.1:0")
			require.NoError(t, err)
			defer ln.Close()
			go tp.ServeUDP(ln)
			dst := ln.LocalAddr()
			// sync sends a SIP message from one fixed source and waits for
			// it: everything sent before it has been read by then.
			syncConn, err := net.ListenPacket("udp", "127.0.0.1:0")
			require.NoError(t, err)
			defer syncConn.Close()
			sync := func(id string) {
				_, err := syncConn.WriteTo(testRawOptions(id), dst)
				require.NoError(t, err)
				for {
					select {
					case m := <-msgs:
						if m.CallID().Value() == id {
							return
						}
					case <-time.After(3 * time.Second):
						t.Fatal("sync message not received")
					}
				}
			}
			sync("warm-up") // the listener is serving
			for i := 0; i < sources; i++ {
				c, err := net.ListenPacket("udp", "127.0.0.1:0") // kept open: each a distinct port
				require.NoError(t, err)
				defer c.Close()
				_, err = c.WriteTo([]byte("x"), dst)
				require.NoError(t, err)
				if i%50 == 49 { // stay within the socket's receive buffer
					sync("batch-" + strconv.Itoa(i))
				}
			}
			size := tp.Pool("udp").Size()
			require.LessOrEqual(t, size, tc.maxAfter+8, "pool entries after %d sources", sources)
			if tc.max < 0 && tc.ttl < 0 {
				require.GreaterOrEqual(t, size, sources, "unpatched: every source stays")
			}
			if tc.ttl > 0 {
				deadline := time.Now().Add(5 * time.Second)
				// Poll: each datagram gives the listener a chance to sweep.
				for tp.Pool("udp").Size() > 2 { // the listener and syncConn
					require.True(t, time.Now().Before(deadline), "pool never shrank: %d", tp.Pool("udp").Size())
					<-time.After(tc.ttl / 2)
					sync("after-ttl")
				}
			}
		})
	}
}
