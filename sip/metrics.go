package sip

import (
	"strconv"
	"sync"

	"github.com/emiago/sipgo/sip"
)

// ResponseKey is one bucket of Server.Responses: the request method and
// the status class of the response ("1xx".."6xx", RFC 3261 §7.2).
type ResponseKey struct {
	Method string
	Class  string
}

// responseCounts counts the responses a server sent. Every request handler
// runs behind Server.wrap, which hands it a counting transaction, so no
// response of ours is missed (those sipgo sends on its own, such as the
// 487 for a cancelled INVITE, are not ours to count).
type responseCounts struct {
	mu sync.Mutex
	n  map[ResponseKey]uint64
}

// knownMethods bound the method label: a request with a method of its own
// invention is counted as "other" (label values must not come from the wire).
var knownMethods = map[string]bool{"INVITE": true, "ACK": true, "CANCEL": true, "BYE": true, "REGISTER": true,
	"OPTIONS": true, "SUBSCRIBE": true, "NOTIFY": true, "REFER": true, "INFO": true, "MESSAGE": true,
	"PRACK": true, "UPDATE": true, "PUBLISH": true}

// add counts one response (delta 1) or takes one back (delta -1).
func (c *responseCounts) add(method string, code int, delta int) {
	if !knownMethods[method] {
		method = "other"
	}
	class := "other"
	if code >= 100 && code <= 699 {
		class = strconv.Itoa(code/100) + "xx"
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[ResponseKey]uint64{}
	}
	k := ResponseKey{Method: method, Class: class}
	if delta < 0 {
		c.n[k]--
		return
	}
	c.n[k]++
}

func (c *responseCounts) snapshot() map[ResponseKey]uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[ResponseKey]uint64, len(c.n))
	for k, v := range c.n {
		out[k] = v
	}
	return out
}

// countingTx counts each response sent on a server transaction.
type countingTx struct {
	sip.ServerTransaction
	method string
	counts *responseCounts
}

// Respond counts the response before handing it to the transport, so a
// peer that has read it can already see it counted; a response the
// transport could not send is taken back out.
func (t countingTx) Respond(res *sip.Response) error {
	t.counts.add(t.method, res.StatusCode, 1)
	err := t.ServerTransaction.Respond(res)
	if err != nil {
		t.counts.add(t.method, res.StatusCode, -1)
	}
	return err
}

// Responses reports how many responses the server has sent since it
// started, by request method and status class (metrics).
func (s *Server) Responses() map[ResponseKey]uint64 { return s.responses.snapshot() }
