package sip

import (
	"bytes"
	"errors"
	"net"
	"os"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// streamListener hands sipgo connections that enforce the SIP TCP/TLS
// timeouts (issue 8.3): a message must arrive whole within TCPReadTimeout
// of its first byte (a TLS handshake too), and a connection with no message
// for TCPIdleTimeout is closed unless a live call came over it (the BYE will
// need it). sipgo's reader sees a timeout error and closes the connection.
type streamListener struct {
	net.Listener
	s         *Server
	transport string // "TCP" or "TLS", as sipgo names it in Message.Transport
}

func (l *streamListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	sc := &streamConn{Conn: c, s: l.s, transport: l.transport, key: l.transport + " " + c.RemoteAddr().String()}
	now := time.Now()
	sc.msgStart, sc.lastMsg = now, now // the first message (or handshake) is due from now
	l.s.streams.add(sc)
	return sc, nil
}

// streams finds a connection by transport and remote address, the way
// sipgo reports the source of a message.
type streams struct {
	mu sync.Mutex
	m  map[string]*streamConn
}

func (st *streams) add(c *streamConn) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.m == nil {
		st.m = map[string]*streamConn{}
	}
	st.m[c.key] = c
}

func (st *streams) remove(c *streamConn) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.m[c.key] == c {
		delete(st.m, c.key)
	}
}

func (st *streams) get(key string) *streamConn {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.m[key]
}

// onMessage runs on sipgo's read goroutine for every parsed message (a
// transport-layer handler, called in line): the message that was being
// read is complete.
func (s *Server) onMessage(msg sip.Message) {
	switch msg.Transport() {
	case "TCP", "TLS":
		if c := s.streams.get(msg.Transport() + " " + msg.Source()); c != nil {
			c.messageDone()
		}
	}
}

type streamConn struct {
	net.Conn
	s         *Server
	transport string
	key       string
	once      sync.Once

	mu       sync.Mutex
	msgStart time.Time // first byte of the message being read; zero between messages
	lastMsg  time.Time // last complete message (or accept)
}

func (c *streamConn) messageDone() {
	c.mu.Lock()
	c.msgStart = time.Time{}
	c.lastMsg = time.Now()
	c.mu.Unlock()
}

// Read reads under the deadline of the state the connection is in.
func (c *streamConn) Read(b []byte) (int, error) {
	l := c.s.limits
	for {
		c.mu.Lock()
		reading := !c.msgStart.IsZero()
		var dl time.Time
		switch {
		case reading && l.TCPReadTimeout > 0:
			dl = c.msgStart.Add(l.TCPReadTimeout)
		case !reading && l.TCPIdleTimeout > 0:
			dl = c.lastMsg.Add(l.TCPIdleTimeout)
		}
		c.mu.Unlock()
		if err := c.Conn.SetReadDeadline(dl); err != nil {
			return 0, err
		}
		n, err := c.Conn.Read(b)
		if n > 0 {
			c.mu.Lock()
			if c.msgStart.IsZero() && len(bytes.Trim(b[:n], "\r\n")) > 0 {
				c.msgStart = time.Now()
			} else if c.msgStart.IsZero() {
				c.lastMsg = time.Now() // RFC 5626 §3.5.1 keep-alive: the connection is in use
			}
			c.mu.Unlock()
		}
		if err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
			return n, err
		}
		if reading {
			c.s.edge.add(EdgeTCPReadTimeout)
			c.s.edgeLog.Info("closing connection: message not complete in time", "transport", c.transport,
				"source", c.RemoteAddr().String(), "timeout", l.TCPReadTimeout)
			return n, err
		}
		if c.s.hasCallOver(c.transport, c.RemoteAddr().String()) {
			c.mu.Lock()
			c.lastMsg = time.Now() // keep it for the call's BYE; look again later
			c.mu.Unlock()
			continue
		}
		c.s.edge.add(EdgeTCPIdleClosed)
		c.s.edgeLog.Info("closing idle connection", "transport", c.transport, "source", c.RemoteAddr().String(),
			"idle", l.TCPIdleTimeout)
		return n, err
	}
}

// Write gives up on a peer that does not read (its window stays shut).
func (c *streamConn) Write(b []byte) (int, error) {
	if t := c.s.limits.TCPReadTimeout; t > 0 {
		if err := c.Conn.SetWriteDeadline(time.Now().Add(t)); err != nil {
			return 0, err
		}
	}
	return c.Conn.Write(b)
}

func (c *streamConn) Close() error {
	c.once.Do(func() { c.s.streams.remove(c) })
	return c.Conn.Close()
}

// hasCallOver reports a live call whose INVITE came over this connection.
func (s *Server) hasCallOver(transport, src string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.calls {
		r := c.dialog.InviteRequest
		if r.Transport() == transport && r.Source() == src {
			return true
		}
	}
	return false
}
