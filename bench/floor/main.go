//go:build linux

// Command floor measures the kernel's cost of sending RTP-sized UDP packets
// on this machine, with no server around it: the floor under the media
// path's CPU per packet (issue 15, docs/benchmarks.md "The send floor").
//
// It opens -n sockets pairs on 127.0.0.1 and sends one 172-byte datagram
// (a 20 ms PCMU frame) per stream every 20 ms for -s seconds, as a held
// call's music on hold does, then prints the process's CPU (user+system
// from getrusage) per packet. Run it pinned to one core, e.g.
//
//	taskset -c 1 go run ./bench/floor -n 1000 -how sendto
//
// -how picks the send path:
//
//	sendto     one sendto per packet, each stream from its own socket (today's media path)
//	connected  one write per packet on a connected socket per stream
//	sendmmsg   every stream's packet from ONE socket, -batch packets per sendmmsg
//	           (what a shared media port allows)
//
// -dst read also runs a reader per destination socket (the receiver's
// wake-ups are then in the figure too); -dst bound leaves the datagrams
// queued and dropped when the socket buffer fills, as a sipp caller that
// does not read them does.
package main

import (
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func main() {
	n := flag.Int("n", 1000, "streams")
	secs := flag.Int("s", 5, "seconds")
	how := flag.String("how", "sendto", "sendto | connected | sendmmsg")
	batch := flag.Int("batch", 64, "packets per sendmmsg")
	dst := flag.String("dst", "bound", "bound | read")
	flag.Parse()
	if err := run(*n, *secs, *how, *batch, *dst == "read"); err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
}

func run(n, secs int, how string, batch int, read bool) error {
	lo := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}
	srcs := make([]*net.UDPConn, 0, n)
	dsts := make([]netip.AddrPort, 0, n)
	raw := make([]unix.RawSockaddrInet4, 0, n)
	for range n {
		d, err := net.ListenUDP("udp4", lo)
		if err != nil {
			return err
		}
		defer d.Close()
		ap := d.LocalAddr().(*net.UDPAddr).AddrPort()
		dsts = append(dsts, ap)
		p := ap.Port()
		raw = append(raw, unix.RawSockaddrInet4{Family: unix.AF_INET, Port: p>>8 | p<<8, Addr: ap.Addr().As4()})
		if read {
			go func() {
				b := make([]byte, 1500)
				for {
					if _, _, err := d.ReadFrom(b); err != nil {
						return
					}
				}
			}()
		}
		var s *net.UDPConn
		if how == "connected" {
			s, err = net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(ap))
		} else if len(srcs) == 0 || how != "sendmmsg" {
			s, err = net.ListenUDP("udp4", lo)
		}
		if err != nil {
			return err
		}
		if s != nil {
			defer s.Close()
			srcs = append(srcs, s)
		}
	}
	pkt := make([]byte, 12+160)
	var send func() error
	switch how {
	case "sendto":
		send = func() error {
			for i, s := range srcs {
				if _, err := s.WriteToUDPAddrPort(pkt, dsts[i]); err != nil {
					return err
				}
			}
			return nil
		}
	case "connected":
		send = func() error {
			for _, s := range srcs {
				if _, err := s.Write(pkt); err != nil {
					return err
				}
			}
			return nil
		}
	case "sendmmsg":
		rc, err := srcs[0].SyscallConn()
		if err != nil {
			return err
		}
		iov := unix.Iovec{Base: &pkt[0]}
		iov.SetLen(len(pkt))
		msgs := make([]unix.Mmsghdr, batch)
		send = func() error {
			var serr error
			err := rc.Write(func(fd uintptr) bool {
				for off := 0; off < len(raw); off += batch {
					m := msgs[:min(batch, len(raw)-off)]
					for i := range m {
						m[i].Hdr.Name = (*byte)(unsafe.Pointer(&raw[off+i]))
						m[i].Hdr.Namelen = unix.SizeofSockaddrInet4
						m[i].Hdr.Iov = &iov
						m[i].Hdr.SetIovlen(1)
					}
					if _, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), 0, 0, 0); e != 0 {
						serr = e
						return true
					}
				}
				return true
			})
			if serr != nil {
				return serr
			}
			return err
		}
	default:
		return fmt.Errorf("-how %q: want sendto, connected or sendmmsg", how)
	}

	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	start, c0, sent := time.Now(), cpuTime(), 0
	for time.Since(start) < time.Duration(secs)*time.Second {
		<-tick.C
		if err := send(); err != nil {
			return err
		}
		sent += n
	}
	wall, cpu := time.Since(start), cpuTime()-c0
	fmt.Printf("how=%s batch=%d dst-read=%v streams=%d packets/s=%.0f cpu=%.1f%% of a core, %.2f µs per packet\n",
		how, batch, read, n, float64(sent)/wall.Seconds(), 100*cpu.Seconds()/wall.Seconds(), float64(cpu.Nanoseconds())/1e3/float64(sent))
	return nil
}
