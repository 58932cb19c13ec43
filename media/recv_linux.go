//go:build linux

package media

import (
	"net"
	"net/netip"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// recvBatch is how many datagrams one recvmmsg may return. Two are enough
// to learn that the socket's queue is empty (fewer than asked came back),
// which is what saves the second syscall per packet; more only help a
// burst.
const recvBatch = 4

// mmsgBufs is one recvmmsg's worth of buffers and headers, one set per
// poller (poller_linux.go): a call waiting for its next packet holds none
// (issue 15: memory per held call).
type mmsgBufs struct {
	msgs  [recvBatch]unix.Mmsghdr
	iovs  [recvBatch]unix.Iovec
	names [recvBatch]unix.RawSockaddrAny
	data  [recvBatch][maxDatagram]byte
}

func newMmsgBufs() *mmsgBufs {
	m := new(mmsgBufs)
	for i := range m.msgs {
		m.iovs[i].Base = &m.data[i][0]
		m.iovs[i].SetLen(maxDatagram)
		m.msgs[i].Hdr.Iov = &m.iovs[i]
		m.msgs[i].Hdr.SetIovlen(1)
		m.msgs[i].Hdr.Name = (*byte)(unsafe.Pointer(&m.names[i]))
	}
	return m
}

// startReading hands a real socket to one of the pollers (poller_linux.go):
// no goroutine of its own. A conn that is not a *net.UDPConn (a test's
// in-memory pipe, a caller's wrapper) gets readLoop's goroutine reading
// with ReadFromUDPAddrPort. The concrete type, not syscall.Conn: a
// caller's wrapper that embeds a *net.UDPConn has SyscallConn too, and
// reading under it would bypass the wrapper's own ReadFromUDPAddrPort
// (sip's TestDialMediaConn counts them). Called with s.mu held.
func (s *Session) startReading() {
	if uc, ok := s.conn.(*net.UDPConn); ok {
		e, err := readers.pick().add(s, uc, s.newRecvState())
		if err == nil {
			s.poll = e
			return
		}
		s.log.Warn("RTP poller unavailable: reading with a goroutine", "error", err)
	}
	s.wg.Add(1)
	go s.readLoop()
}

// stopReading takes the socket out of its poller before Close closes it:
// afterwards no handler of s runs.
func (s *Session) stopReading() {
	if s.poll != nil {
		s.poll.remove()
	}
}

// drain reads every datagram queued on fd into m and handles it; it
// returns when the queue is empty. A recvmmsg that returns fewer datagrams
// than asked says so, which saves the recvfrom that would return EAGAIN;
// a datagram arriving after it sets the socket's edge again.
func (s *Session) drain(fd uintptr, rs *recvState, m *mmsgBufs) {
	for errs := 0; ; {
		for i := range m.msgs {
			m.msgs[i].Hdr.Namelen = unix.SizeofSockaddrAny
			m.msgs[i].Hdr.Flags = 0
			m.msgs[i].Len = 0
		}
		r, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&m.msgs[0])), recvBatch, unix.MSG_DONTWAIT, 0, 0)
		switch errno {
		case 0:
		case unix.EAGAIN:
			return
		case unix.EINTR:
			continue
		default:
			// ICMP-induced and buffer errors do not end the call (the
			// inactivity timeout does if the far end is really gone);
			// they are reported once each, so read on, within reason.
			s.st.ignored.Add(1)
			if errs++; errs > recvBatch {
				return
			}
			continue
		}
		n := int(r)
		for i := range n {
			src, ok := sockaddrAddrPort(&m.names[i])
			if !ok || m.msgs[i].Hdr.Flags&unix.MSG_TRUNC != 0 {
				s.st.ignored.Add(1)
				continue
			}
			s.handlePacket(rs, m.data[i][:m.msgs[i].Len], src)
		}
		if n < recvBatch {
			return
		}
	}
}

// sockaddrAddrPort is the datagram's source; IPv6 scope IDs become numeric
// zones, which the net package resolves when a packet is sent back.
func sockaddrAddrPort(sa *unix.RawSockaddrAny) (netip.AddrPort, bool) {
	switch sa.Addr.Family {
	case unix.AF_INET:
		a := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		p := (*[2]byte)(unsafe.Pointer(&a.Port))
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(p[0])<<8|uint16(p[1])), true
	case unix.AF_INET6:
		a := (*unix.RawSockaddrInet6)(unsafe.Pointer(sa))
		p := (*[2]byte)(unsafe.Pointer(&a.Port))
		ip := netip.AddrFrom16(a.Addr)
		if a.Scope_id != 0 {
			ip = ip.WithZone(strconv.FormatUint(uint64(a.Scope_id), 10))
		}
		return netip.AddrPortFrom(ip, uint16(p[0])<<8|uint16(p[1])), true
	}
	return netip.AddrPort{}, false
}
