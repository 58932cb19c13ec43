package sqlite

import "strings"

// positional turns "$1, $2, ... $n" into "?" when each appears once and in
// order (every multi-row statement LogCalls builds). SQLite resolves named
// and numbered parameters through linear lists, which made statements with
// thousands of them quadratic to prepare and bind; anonymous "?" are bound
// by position. Any other use of $N (a repeat, out of order) is left alone.
// Quoted text is skipped.
func positional(q string) string {
	if !strings.Contains(q, "$") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q))
	next := 1
	inQuote := false
	for i := 0; i < len(q); i++ {
		c := q[i]
		if c == '\'' {
			inQuote = !inQuote
		}
		if c != '$' || inQuote {
			b.WriteByte(c)
			continue
		}
		j := i + 1
		n := 0
		for j < len(q) && q[j] >= '0' && q[j] <= '9' && n < 1e6 {
			n = n*10 + int(q[j]-'0')
			j++
		}
		if j == i+1 || n != next {
			return q
		}
		next++
		b.WriteByte('?')
		i = j - 1
	}
	return b.String()
}
