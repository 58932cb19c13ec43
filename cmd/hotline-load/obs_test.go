package main

import (
	"net"
	"testing"
	"time"
)

func TestHistQuantiles(t *testing.T) {
	var h hist
	for i := 0; i < 98; i++ {
		h.add(20 * time.Millisecond)
	}
	h.add(30 * time.Millisecond)
	h.add(3 * time.Second) // beyond the last bucket: counted there, max exact
	if got := h.quantile(0.5); got != 20*time.Millisecond+bucket {
		t.Errorf("p50 = %v", got)
	}
	if got := h.quantile(0.99); got != 30*time.Millisecond+bucket {
		t.Errorf("p99 = %v", got)
	}
	if got := time.Duration(h.max.Load()); got != 3*time.Second {
		t.Errorf("max = %v", got)
	}
	if got := h.over(25 * time.Millisecond); got != 2 {
		t.Errorf("over 25ms = %d", got)
	}
}

// TestObsConn sends RTP over loopback to an obsConn: gaps are counted only
// within a talkspurt, and a marker packet after our digit's end packet
// gives one digit-to-next-prompt sample.
func TestObsConn(t *testing.T) {
	st := &stats{failures: map[string]int{}}
	rc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	o := newObsConn(rc, st)
	defer o.Close()
	o.dtmfPT.Store(101)
	tx, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	to := o.LocalAddr().(*net.UDPAddr).AddrPort()
	pkt := func(marker bool, seq byte) []byte {
		b := make([]byte, 12+160)
		b[0] = 0x80
		if marker {
			b[1] = 0x80
		}
		b[3] = seq
		return b
	}
	buf := make([]byte, 1500)
	recv := func(marker bool, seq byte) {
		if _, err := tx.WriteToUDPAddrPort(pkt(marker, seq), to); err != nil {
			t.Fatal(err)
		}
		if _, _, err := o.ReadFromUDPAddrPort(buf); err != nil {
			t.Fatal(err)
		}
	}
	recv(true, 1)
	recv(false, 2)
	recv(false, 3)
	if n := st.gaps.n.Load(); n != 2 {
		t.Fatalf("gaps counted = %d, want 2", n)
	}
	// Our digit's end packet (PT 101, E bit), sent once the server is silent.
	o.last.Store(wall() - int64(time.Second))
	end := make([]byte, 16)
	end[0], end[1], end[13] = 0x80, 101, 0x80
	if _, err := o.WriteToUDPAddrPort(end, tx.LocalAddr().(*net.UDPAddr).AddrPort()); err != nil {
		t.Fatal(err)
	}
	recv(true, 4) // next prompt
	if n, _ := st.digit.quantiles(0.5); n != 1 {
		t.Fatalf("digit samples = %d, want 1", n)
	}
	if n := st.gaps.n.Load(); n != 2 {
		t.Errorf("a marker packet must not add a gap; gaps = %d", n)
	}
	if st.talkspurts.Load() != 2 {
		t.Errorf("talkspurts = %d, want 2", st.talkspurts.Load())
	}
}
