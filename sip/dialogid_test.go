package sip

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// seenInvite is what a plain-sipgo UAS read off the wire.
type seenInvite struct {
	callID, fromTag, fromUser string
}

// busyUAS answers every INVITE 486 and reports its Call-ID and From.
func busyUAS(t *testing.T) (string, <-chan seenInvite) {
	t.Helper()
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("busy-phone"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		t.Fatal(err)
	}
	seen := make(chan seenInvite, 4)
	srv.OnInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		s := seenInvite{callID: req.CallID().Value()}
		if f := req.From(); f != nil {
			s.fromTag, _ = f.Params.Get("tag")
			s.fromUser = f.Address.User
		}
		seen <- s
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusBusyHere, "Busy Here", nil))
	})
	srv.OnAck(func(*sip.Request, sip.ServerTransaction) {})
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() { defer close(served); _ = srv.ServeUDP(conn) }()
	t.Cleanup(func() { srv.Close(); conn.Close(); <-served; ua.Close() })
	return conn.LocalAddr().String(), seen
}

// TestDialDialogIDOnTheWire: DialOptions.DialogCallID and FromTag are the
// INVITE's Call-ID and From tag as the far end reads them; without them
// each dial has fresh ones; a value that is not a word or a token fails
// the dial with ErrBadHeader and sends nothing.
func TestDialDialogIDOnTheWire(t *testing.T) {
	addr, seen := busyUAS(t)
	cli := runClient(t, ClientConfig{Addr: "127.0.0.1:0", Logger: testLogger(t)})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	uri := "sip:0912345678@" + addr

	_, err := cli.Dial(ctx, uri, DialOptions{From: "+842838001234", DialogCallID: "0b9e6c1e-cb42-4f0e-9d1a-7c1f3e2d5a60", FromTag: "a1b2c3d4e5f60718", CallID: "cb-7"})
	var se *StatusError
	if !errors.As(err, &se) || se.Code != 486 {
		t.Fatalf("Dial: %v, want 486", err)
	}
	got := within(t, seen, "INVITE")
	want := seenInvite{callID: "0b9e6c1e-cb42-4f0e-9d1a-7c1f3e2d5a60", fromTag: "a1b2c3d4e5f60718", fromUser: "+842838001234"}
	if got != want {
		t.Fatalf("INVITE carried %+v, want %+v", got, want)
	}

	_, _ = cli.Dial(ctx, uri, DialOptions{})
	fresh := within(t, seen, "INVITE")
	if fresh.callID == want.callID || fresh.fromTag == want.fromTag || fresh.callID == "" || len(fresh.fromTag) < 8 {
		t.Fatalf("a dial without them carried %+v", fresh)
	}

	for _, o := range []DialOptions{
		{DialogCallID: "a b"},
		{DialogCallID: "x\r\nVia: evil"},
		{DialogCallID: "a@b@c"},
		{DialogCallID: "@host"},
		{DialogCallID: strings.Repeat("a", 129)},
		{FromTag: "a;b"},
		{FromTag: "a:b"},
		{FromTag: strings.Repeat("t", 129)},
	} {
		if _, err := cli.Dial(ctx, uri, o); !errors.Is(err, ErrBadHeader) {
			t.Errorf("%+v: %v, want ErrBadHeader", o, err)
		}
	}
	select {
	case s := <-seen:
		t.Fatalf("a refused dial reached the phone: %+v", s)
	default: // the refusals returned before any write
	}
}

func TestValidDialogIDs(t *testing.T) {
	for _, tt := range []struct {
		s             string
		callID, token bool
	}{
		{"0b9e6c1e-cb42-4f0e-9d1a-7c1f3e2d5a60", true, true},
		{"abc@192.0.2.1", true, false},
		{"a.b!c%d*e_f+g`h'i~j", true, true},
		{"(x)<y>:z\\\"/[]?{}", true, false},
		{"", false, false},
		{"a b", false, false},
		{"a@", false, false},
		{"a@b@c", false, false},
		{"tag;x=1", false, false},
		{"é", false, false},
	} {
		if got := validCallID(tt.s); got != tt.callID {
			t.Errorf("validCallID(%q) = %v", tt.s, got)
		}
		if got := validToken(tt.s); got != tt.token {
			t.Errorf("validToken(%q) = %v", tt.s, got)
		}
	}
}
