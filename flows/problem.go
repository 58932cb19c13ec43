package flows

import (
	"fmt"
	"sort"
)

// Severity says whether a problem blocks loading (Error) or is advice (Warning).
type Severity int

const (
	// Error problems make a file or set unusable: it is not loaded.
	Error Severity = iota
	// Warning problems are printed but do not block loading.
	Warning
)

func (s Severity) String() string {
	if s == Warning {
		return "warning"
	}
	return "error"
}

// Problem is one thing the parser or checker found, tied to a file, a line
// and (when known) a node.
type Problem struct {
	File     string
	Line     int
	Column   int    // 0 when only the line is known
	Node     string // "" for flow-level problems
	Severity Severity
	Message  string
}

// String renders the problem as `file:line: node "x": message` (or
// file:line:column when the column is known), with "warning: " before the
// message for warnings.
func (p Problem) String() string {
	s := p.File
	if p.Line > 0 {
		s += fmt.Sprintf(":%d", p.Line)
		if p.Column > 0 {
			s += fmt.Sprintf(":%d", p.Column)
		}
	}
	s += ": "
	if p.Severity == Warning {
		s += "warning: "
	}
	if p.Node != "" {
		s += fmt.Sprintf("node %q: ", p.Node)
	}
	return s + p.Message
}

// Error makes a Problem usable as an error.
func (p Problem) Error() string { return p.String() }

// HasErrors reports whether any problem is an Error.
func HasErrors(ps []Problem) bool {
	for _, p := range ps {
		if p.Severity == Error {
			return true
		}
	}
	return false
}

// Count returns the number of errors and warnings.
func Count(ps []Problem) (errs, warns int) {
	for _, p := range ps {
		if p.Severity == Error {
			errs++
		} else {
			warns++
		}
	}
	return errs, warns
}

// Sort orders problems errors first, then by file, line and message.
func Sort(ps []Problem) {
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		if a.Severity != b.Severity {
			return a.Severity < b.Severity
		}
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Column != b.Column {
			return a.Column < b.Column
		}
		return a.Message < b.Message
	})
}

// problems collects problems for one file.
type problems struct {
	file string
	list []Problem
}

func (ps *problems) errorf(line int, node, format string, args ...any) {
	ps.list = append(ps.list, Problem{File: ps.file, Line: line, Node: node, Severity: Error, Message: fmt.Sprintf(format, args...)})
}

func (ps *problems) warnf(line int, node, format string, args ...any) {
	ps.list = append(ps.list, Problem{File: ps.file, Line: line, Node: node, Severity: Warning, Message: fmt.Sprintf(format, args...)})
}
