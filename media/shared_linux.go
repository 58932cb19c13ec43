//go:build linux

package media

import (
	"errors"
	"net"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sharedRecvBatch is how many datagrams one recvmmsg on a shared socket may
// return: the socket carries many calls, so a wake-up usually finds several
// queued (recv_linux.go's per-call reader asks for 4).
const sharedRecvBatch = 32

// sharedOS holds a shared socket's sendmmsg buffers, owned by its pacer's
// goroutine, and the socket's address family (0 until the first send).
type sharedOS struct {
	fam   int
	msgs  []unix.Mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6 // large enough for either family
}

// readLoop drains the shared socket with recvmmsg inside one RawConn.Read
// (as recv_linux.go does per call) and demultiplexes each datagram by its
// source. A socket that is not a *net.UDPConn (a test's in-memory one) is
// read one datagram at a time.
func (sp *sharedPort) readLoop() {
	defer close(sp.done)
	uc, ok := sp.conn.(*net.UDPConn)
	if !ok {
		sp.readGeneric()
		return
	}
	rc, err := uc.SyscallConn()
	if err != nil {
		sp.readGeneric()
		return
	}
	var (
		msgs  [sharedRecvBatch]unix.Mmsghdr
		iovs  [sharedRecvBatch]unix.Iovec
		names [sharedRecvBatch]unix.RawSockaddrAny
	)
	data := make([]byte, sharedRecvBatch*maxDatagram)
	for i := range msgs {
		iovs[i].Base = &data[i*maxDatagram]
		iovs[i].SetLen(maxDatagram)
		msgs[i].Hdr.Iov = &iovs[i]
		msgs[i].Hdr.SetIovlen(1)
		msgs[i].Hdr.Name = (*byte)(unsafe.Pointer(&names[i]))
	}
	drain := func(fd uintptr) bool {
		for errs := 0; ; {
			for i := range msgs {
				msgs[i].Hdr.Namelen = unix.SizeofSockaddrAny
				msgs[i].Hdr.Flags = 0
				msgs[i].Len = 0
			}
			r, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&msgs[0])), sharedRecvBatch, unix.MSG_DONTWAIT, 0, 0)
			switch errno {
			case 0:
			case unix.EAGAIN:
				return false
			case unix.EINTR:
				continue
			default:
				// ICMP-induced errors (a far end's port closed) do not
				// stop the socket's other calls.
				sp.errs.Add(1)
				if errs++; errs > sharedRecvBatch {
					return false
				}
				continue
			}
			n := int(r)
			sp.mu.RLock()
			for i := range n {
				src, ok := sockaddrAddrPort(&names[i])
				if !ok || msgs[i].Hdr.Flags&unix.MSG_TRUNC != 0 {
					sp.errs.Add(1)
					continue
				}
				off := i * maxDatagram
				sp.dispatch(data[off:off+int(msgs[i].Len)], src)
			}
			sp.mu.RUnlock()
			if n < sharedRecvBatch {
				return false
			}
		}
	}
	for {
		err := rc.Read(drain)
		if err == nil || errors.Is(err, net.ErrClosed) {
			return
		}
		sp.errs.Add(1)
	}
}

// sendBatch sends pkts to dst with sendmmsg: one syscall for the batch
// (more only if the kernel takes part of it). golang.org/x/sys/unix has no
// Sendmmsg wrapper, and golang.org/x/net/ipv4's WriteBatch takes a net.Addr
// per message (an allocation per packet), so the call is made as
// recv_linux.go makes recvmmsg. It returns how many were sent.
func (sp *sharedPort) sendBatch(pkts [][]byte, dst []netip.AddrPort) int {
	uc, ok := sp.conn.(*net.UDPConn)
	if !ok {
		return sp.sendSeq(pkts, dst)
	}
	rc, err := uc.SyscallConn()
	if err != nil {
		return sp.sendSeq(pkts, dst)
	}
	o := &sp.os
	if o.fam == 0 {
		o.fam = unix.AF_INET
		_ = rc.Control(func(fd uintptr) {
			if sa, err := unix.Getsockname(int(fd)); err == nil {
				if _, v6 := sa.(*unix.SockaddrInet6); v6 {
					o.fam = unix.AF_INET6
				}
			}
		})
	}
	n := len(pkts)
	if cap(o.msgs) < n {
		o.msgs = make([]unix.Mmsghdr, n)
		o.iovs = make([]unix.Iovec, n)
		o.names = make([]unix.RawSockaddrInet6, n)
	}
	msgs, iovs, names := o.msgs[:n], o.iovs[:n], o.names[:n]
	k := 0 // messages built: a destination of the wrong family is skipped
	for i, b := range pkts {
		nl, ok := putSockaddr(&names[k], o.fam, dst[i])
		if !ok || len(b) == 0 {
			continue
		}
		iovs[k].Base = &b[0]
		iovs[k].SetLen(len(b))
		msgs[k] = unix.Mmsghdr{}
		msgs[k].Hdr.Name = (*byte)(unsafe.Pointer(&names[k]))
		msgs[k].Hdr.Namelen = nl
		msgs[k].Hdr.Iov = &iovs[k]
		msgs[k].Hdr.SetIovlen(1)
		k++
	}
	sent := 0
	err = rc.Write(func(fd uintptr) bool {
		for sent < k {
			r, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&msgs[sent])), uintptr(k-sent), unix.MSG_DONTWAIT, 0, 0)
			sp.syscalls.Add(1)
			switch errno {
			case 0:
				sent += int(r)
			case unix.EAGAIN:
				return false // wait for room, as WriteToUDPAddrPort would
			case unix.EINTR:
			default:
				// The first message failed (e.g. ICMP-induced
				// ECONNREFUSED reported on it): skip it, send the rest.
				sp.errs.Add(1)
				msgs = append(msgs[:sent], msgs[sent+1:]...)
				k--
			}
		}
		return true
	})
	if err != nil {
		sp.errs.Add(1)
	}
	return sent
}

// putSockaddr writes ap into sa for a socket of family fam (IPv4 on an IPv6
// socket as a v4-mapped address) and returns its length.
func putSockaddr(sa *unix.RawSockaddrInet6, fam int, ap netip.AddrPort) (uint32, bool) {
	ip := ap.Addr()
	port := ap.Port()
	if fam == unix.AF_INET {
		ip = ip.Unmap()
		if !ip.Is4() {
			return 0, false
		}
		a := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		*a = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: ip.As4()}
		p := (*[2]byte)(unsafe.Pointer(&a.Port))
		p[0], p[1] = byte(port>>8), byte(port)
		return unix.SizeofSockaddrInet4, true
	}
	*sa = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: ip.As16()}
	p := (*[2]byte)(unsafe.Pointer(&sa.Port))
	p[0], p[1] = byte(port>>8), byte(port)
	return unix.SizeofSockaddrInet6, true
}
