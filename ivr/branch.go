package ivr

import (
	"strconv"
	"strings"

	"github.com/hotline-dev/hotline/flows"
)

// branch returns the next node of the first case that holds, else `else`.
func (r *run) branch(n *flows.Node) string {
	for i, c := range n.Cases {
		if r.holds(c) {
			r.log.Debug("ivr: branch case matched", "node", n.Name, "case", i+1)
			r.traceEvent("branch", simBranchEvent{Case: i + 1, Test: describe(c), Next: c.Next})
			return c.Next
		}
	}
	r.traceEvent("branch", simBranchEvent{Next: n.Else})
	return n.Else
}

func (r *run) holds(c flows.Case) bool {
	switch {
	case c.Calendar != "":
		cal, ok := r.e.calendars[c.Calendar]
		if !ok {
			r.log.Error("ivr: unknown calendar, treated as closed", "calendar", c.Calendar)
			return false
		}
		return cal.Open(r.e.cfg.Clock.Now())
	case c.Caller != "":
		return matchNumber(c.Caller, r.call.Caller())
	case c.Var != "":
		v, set := r.vars[c.Var]
		switch {
		case c.Equals != nil:
			return set && v == *c.Equals
		case c.Matches != nil:
			return set && c.Matches.MatchString(v)
		case c.IsSet != nil:
			return (set && v != "") == *c.IsSet
		}
	}
	return false
}

// matchNumber matches an exact number or a prefix pattern ending in "*".
func matchNumber(pattern, number string) bool {
	if p, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(number, p)
	}
	return number == pattern
}

// describe renders a case for the simulator.
func describe(c flows.Case) string {
	switch {
	case c.Calendar != "":
		return "calendar " + c.Calendar + " is open"
	case c.Caller != "":
		return "caller matches " + c.Caller
	case c.Equals != nil:
		return c.Var + " equals " + strconv.Quote(*c.Equals)
	case c.Matches != nil:
		return c.Var + " matches " + c.Matches.String()
	case c.IsSet != nil && *c.IsSet:
		return c.Var + " is set"
	}
	return c.Var + " is not set"
}
