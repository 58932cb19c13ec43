package sipgo

import (
	"log/slog"
	"runtime"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/stretchr/testify/require"
)

// Hotline fork: a server dialog lets go of its INVITE transaction once the
// transaction has terminated (see NOTE.md). Before, the
// dialog held the transaction, and with it the INVITE as received, the
// final response and the ACK, for as long as the dialog lived.
func TestDialogServerReleasesInviteTx(t *testing.T) {
	ua, _ := NewUA()
	defer ua.Close()
	cli, _ := NewClient(ua)
	dua := &DialogUA{Client: cli, ContactHDR: sip.ContactHeader{Address: sip.Uri{User: "test", Host: "127.0.0.200", Port: 5099}}}

	// released reports whether the transaction was collected while the
	// dialog is still reachable (a finalizer, not weak.Pointer: the module
	// is go 1.23).
	released := func(t *testing.T, d *DialogServerSession, freed <-chan struct{}) bool {
		t.Helper()
		defer runtime.KeepAlive(d)
		for range 5 {
			runtime.GC()
			select {
			case <-freed:
				return true
			case <-time.After(20 * time.Millisecond): // finalizers run on their own goroutine
			}
		}
		return false
	}
	newDialog := func(t *testing.T) (*DialogServerSession, *sip.Request, <-chan struct{}) {
		invite, _, _ := createTestInvite(t, "sip:uas@uas.com", "udp", "uas.com:5090")
		invite.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Host: "uas", Port: 1234}})
		tx := sip.NewServerTx("test", invite, nil, slog.Default())
		freed := make(chan struct{})
		runtime.SetFinalizer(tx, func(*sip.ServerTx) { close(freed) })
		d, err := dua.ReadInvite(invite, tx)
		require.NoError(t, err)
		return d, invite, freed
	}

	t.Run("established keeps it", func(t *testing.T) {
		d, _, freed := newDialog(t)
		d.setState(sip.DialogStateEstablished)
		require.False(t, released(t, d, freed), "the dialog still needs the transaction to retransmit its 2xx")
		require.NotNil(t, d.inviteTransaction())
	})
	t.Run("confirmed, then BYE", func(t *testing.T) {
		d, invite, freed := newDialog(t)
		d.setState(sip.DialogStateEstablished)
		ack := sip.NewRequest(sip.ACK, invite.Recipient)
		ack.AppendHeader(&sip.CSeqHeader{SeqNo: invite.CSeq().SeqNo, MethodName: sip.ACK})
		require.NoError(t, d.ReadAck(ack, nil))
		require.Equal(t, sip.DialogStateConfirmed, d.LoadState())
		// Kept while confirmed: a BYE still terminates it at once (it does
		// not wait for Timer L).
		require.False(t, released(t, d, freed))
		d.inviteTransaction().Terminate() // what ReadBye and WriteBye do
		require.True(t, released(t, d, freed), "the dialog still references its INVITE transaction after it terminated")
		require.ErrorIs(t, d.WriteResponse(sip.NewResponseFromRequest(d.InviteRequest, 200, "OK", nil)), sip.ErrTransactionTerminated)
	})
	t.Run("transaction terminated", func(t *testing.T) {
		d, _, freed := newDialog(t)
		d.inviteTransaction().Terminate()
		require.True(t, released(t, d, freed), "the dialog still references its terminated INVITE transaction")
	})
}

// Hotline fork: the dialog's copy of the INVITE shares the headers it does
// not change with the transaction's request (which stays reachable as the
// transaction's origin) instead of cloning all of them: only To, which gets
// the dialog's tag, is its own.
func TestDialogServerInviteCopyIsShallow(t *testing.T) {
	ua, _ := NewUA()
	defer ua.Close()
	cli, _ := NewClient(ua)
	dua := &DialogUA{Client: cli, ContactHDR: sip.ContactHeader{Address: sip.Uri{User: "test", Host: "127.0.0.200", Port: 5099}}}
	invite, _, _ := createTestInvite(t, "sip:uas@uas.com", "udp", "uas.com:5090")
	invite.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Host: "uas", Port: 1234}})
	invite.AppendHeader(&sip.RecordRouteHeader{Address: sip.Uri{Host: "P1", Port: 5060}})
	invite.AppendHeader(sip.NewHeader("User-Agent", "test"))
	invite.SetBody([]byte("v=0\r\n"))

	d, err := dua.ReadInvite(invite, sip.NewServerTx("test", invite, nil, slog.Default()))
	require.NoError(t, err)
	dr := d.InviteRequest
	require.Same(t, invite.Via(), dr.Via())
	require.Same(t, invite.From(), dr.From())
	require.Same(t, invite.CallID(), dr.CallID())
	require.Same(t, invite.Contact(), dr.Contact())
	require.Same(t, invite.RecordRoute(), dr.RecordRoute())
	require.Equal(t, "test", dr.GetHeader("User-Agent").Value())
	require.Equal(t, invite.Body(), dr.Body())
	require.Len(t, dr.Headers(), len(invite.Headers()))
	require.NotSame(t, invite.To(), dr.To())
	_, tagged := dr.To().Params.Get("tag")
	require.True(t, tagged, "the dialog's To has its tag")
	_, tagged = invite.To().Params.Get("tag")
	require.False(t, tagged, "the transaction's INVITE is left as it came")
	require.Equal(t, d.ID, mustDialogID(t, dr))

	// What the copy costs, against the deep Clone it replaces.
	perOp := func(f func()) uint64 {
		var a, b runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&a)
		for range 200 {
			f()
		}
		runtime.ReadMemStats(&b)
		return (b.TotalAlloc - a.TotalAlloc) / 200
	}
	var keep *sip.Request
	shallow := perOp(func() { keep = invite.ShallowClone() })
	deep := perOp(func() { keep = invite.Clone() })
	_ = keep
	t.Logf("bytes per copy of a %d-header INVITE: ShallowClone %d, Clone %d", len(invite.Headers()), shallow, deep)
	require.Less(t, shallow*2, deep, "a shallow copy should cost well under half a deep one")
}

func mustDialogID(t *testing.T, req *sip.Request) string {
	t.Helper()
	id, err := sip.DialogIDFromRequestUAS(req)
	require.NoError(t, err)
	return id
}
