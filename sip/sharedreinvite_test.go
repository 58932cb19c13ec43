package sip

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/media"
)

// A re-INVITE of a call on the shared RTP port is checked before it is
// answered (Session.PrepareRemote): onto the RTP address of another call on
// the shared port, or onto an address with NAT evidence (its IP is not the
// re-INVITE's source), it gets 488 with a Warning (RFC 3261 §14.2) and the
// call keeps its old media, its far end's RTP still reaching it; a
// re-INVITE to a fresh address on the SIP source moves the call.
func TestReinviteOnSharedPort(t *testing.T) {
	sharedNo := toolPorts.Block(t).Media()
	var pool *media.PortPool
	h := newWaitHandler()
	r := newRig(t, h, func(cfg *ServerConfig) {
		p, err := media.NewPortPool(61000, 61998)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.SetShared(media.SharedConfig{Ports: []int{sharedNo}, Networks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}); err != nil {
			t.Fatal(err)
		}
		cfg.RTP, pool = p, p
	})
	var ocs []*OutboundCall
	var calls []*Call
	for range 2 {
		oc := r.dial("100", DialOptions{})
		ocs = append(ocs, oc)
		calls = append(calls, <-h.calls)
	}
	for i, c := range calls {
		if c.Media().LocalAddr().Port() != uint16(sharedNo) {
			t.Fatalf("call %d on port %d, want the shared %d", i, c.Media().LocalAddr().Port(), sharedNo)
		}
	}
	if st := pool.SharedStats(); st.Calls != 2 || pool.InUse() != 0 {
		t.Fatalf("%d shared calls, %d per-call ports; want 2 and 0", st.Calls, pool.InUse())
	}
	// The far end of call 0 talks all along: its RTP must keep reaching it.
	talk, stop := context.WithCancel(r.ctx)
	defer stop()
	go func() {
		_ = ocs[0].Media().Play(talk, media.NewPromptPCM("silence", make([]int16, 20*media.SampleRate)))
	}()
	c, oc := calls[0], ocs[0]
	old := oc.Media().LocalAddr()
	received := func(after uint64) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for c.Media().Stats().PacketsReceived <= after+5 {
			if time.Now().After(deadline) {
				t.Fatalf("call 0's RTP no longer reaches it: %+v", c.Media().Stats())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	received(0)

	version := uint64(2)
	offerAt := func(addr netip.AddrPort) []byte {
		t.Helper()
		version++
		b, err := BuildOffer(LocalSDP{Addr: addr, SessionID: 9, Version: version}, []media.Codec{media.PCMU}, 0, SendRecv)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, tc := range []struct {
		name, warning string
		addr          netip.AddrPort
	}{
		{"onto call 1's RTP address", "in use by another call", ocs[1].Media().LocalAddr()},
		{"NAT evidence", "may not use the shared port", netip.MustParseAddrPort("127.0.0.5:40002")},
	} {
		res := reinvite(t, r.ctx, oc, offerAt(tc.addr))
		if res.StatusCode != 488 {
			t.Fatalf("%s: %d, want 488", tc.name, res.StatusCode)
		}
		if w := res.GetHeader("Warning"); w == nil || !strings.HasPrefix(w.Value(), "399 ") || !strings.Contains(w.Value(), tc.warning) {
			t.Errorf("%s: Warning %v, want 399 naming %q", tc.name, w, tc.warning)
		}
		if st := c.Media().Stats(); st.RemoteAddr != old {
			t.Errorf("%s: call 0 sends to %v, want still %v", tc.name, st.RemoteAddr, old)
		}
		c.mu.Lock()
		neg := c.neg.Remote
		c.mu.Unlock()
		if neg != old {
			t.Errorf("%s: call 0's negotiation moved to %v", tc.name, neg)
		}
		received(c.Media().Stats().PacketsReceived)
	}
	select {
	case <-c.Done():
		t.Fatal("call ended by a refused re-INVITE")
	default:
	}
	// A free address on the SIP source: accepted and applied.
	moved := netip.AddrPortFrom(old.Addr(), 40004)
	if res := reinvite(t, r.ctx, oc, offerAt(moved)); res.StatusCode != 200 {
		t.Fatalf("re-INVITE to a free address: %d", res.StatusCode)
	}
	if st := c.Media().Stats(); st.RemoteAddr != moved {
		t.Errorf("after the accepted re-INVITE call 0 sends to %v, want %v", st.RemoteAddr, moved)
	}
	stop()
	for _, oc := range ocs {
		if err := oc.Hangup(r.ctx); err != nil {
			t.Fatal(err)
		}
	}
	for range calls {
		r.waitEnded()
	}
	if st := pool.SharedStats(); st.Calls != 0 {
		t.Errorf("%d shared calls after hang-up", st.Calls)
	}
}

// A hold re-INVITE that also names a new address, then a resume naming the
// same one: the address is applied on resume (it is not while held), not
// left at the pre-hold one because the resume's offer equals the held one.
func TestReinviteResumeAppliesHeldAddress(t *testing.T) {
	h := newWaitHandler()
	r := newRig(t, h, nil)
	oc := r.dial("100", DialOptions{})
	c := <-h.calls
	old := oc.Media().LocalAddr()
	moved := netip.AddrPortFrom(old.Addr(), 40006)
	for i, dir := range []string{SendOnly, SendRecv} {
		offer, err := BuildOffer(LocalSDP{Addr: moved, SessionID: 9, Version: uint64(i + 2)}, []media.Codec{media.PCMU}, 0, dir)
		if err != nil {
			t.Fatal(err)
		}
		if res := reinvite(t, r.ctx, oc, offer); res.StatusCode != 200 {
			t.Fatalf("%s re-INVITE: %d", dir, res.StatusCode)
		}
		want := old
		if dir == SendRecv {
			want = moved
		}
		if got := c.Media().Stats().RemoteAddr; got != want {
			t.Errorf("after the %s re-INVITE media goes to %v, want %v", dir, got, want)
		}
	}
	if err := oc.Hangup(r.ctx); err != nil {
		t.Fatal(err)
	}
	r.waitEnded()
}
