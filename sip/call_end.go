package sip

// EndCause reports why and by whom the call ended (Cause* and Side*
// constants); ok is false while the call is still up. The call logger reads
// it for the ticket history's hang-up cause and side.
func (c *Call) EndCause() (cause, side string, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cause, c.side, c.ended
}
