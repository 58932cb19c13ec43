package queue

import "sort"

// lineChunk is the most entries a chunk of a line holds before it splits.
const lineChunk = 256

// line is a queue's waiting entries in service order (entryLess), kept in
// sorted chunks of at most lineChunk: a join or a leave moves at most one
// chunk's entries, not the whole line (9,000 callers waiting moved 72 KB
// of pointers each time as one sorted slice), and a rank is the chunks'
// lengths before it plus a search in its chunk. The order and every rank
// are those of one sorted slice.
type line struct {
	chunks [][]*entry // none empty
	n      int
	ver    uint64 // changes with every insert and remove (cursor)
}

func (l *line) len() int { return l.n }

// chunkOf is the first chunk whose last entry is not before e: where e is,
// or where it goes (len(chunks) when e goes after all).
func (l *line) chunkOf(e *entry) int {
	return sort.Search(len(l.chunks), func(i int) bool { c := l.chunks[i]; return !entryLess(c[len(c)-1], e) })
}

func (l *line) insert(e *entry) {
	l.n++
	l.ver++
	if len(l.chunks) == 0 {
		c := make([]*entry, 1, lineChunk)
		c[0] = e
		l.chunks = [][]*entry{c}
		return
	}
	k := min(l.chunkOf(e), len(l.chunks)-1)
	c := l.chunks[k]
	i := sort.Search(len(c), func(i int) bool { return entryLess(e, c[i]) })
	c = append(c, nil)
	copy(c[i+1:], c[i:])
	c[i] = e
	if len(c) <= lineChunk {
		l.chunks[k] = c
		return
	}
	// Split in halves, each with room to grow.
	hi := make([]*entry, len(c)-len(c)/2, lineChunk)
	copy(hi, c[len(c)/2:])
	clear(c[len(c)/2:])
	l.chunks[k] = c[:len(c)/2]
	l.chunks = append(l.chunks, nil)
	copy(l.chunks[k+2:], l.chunks[k+1:])
	l.chunks[k+1] = hi
}

// find is e's chunk and index in it, or -1, -1.
func (l *line) find(e *entry) (int, int) {
	k := l.chunkOf(e)
	if k == len(l.chunks) {
		return -1, -1
	}
	c := l.chunks[k]
	i := sort.Search(len(c), func(i int) bool { return !entryLess(c[i], e) })
	if i == len(c) || c[i] != e {
		return -1, -1
	}
	return k, i
}

// index is e's rank (0 = next), or -1.
func (l *line) index(e *entry) int {
	k, i := l.find(e)
	if k < 0 {
		return -1
	}
	for _, c := range l.chunks[:k] {
		i += len(c)
	}
	return i
}

// rank is how many entries go before e, whether e is in the line or not.
func (l *line) rank(e *entry) int {
	r := 0
	for _, c := range l.chunks {
		if !entryLess(c[len(c)-1], e) {
			return r + sort.Search(len(c), func(i int) bool { return !entryLess(c[i], e) })
		}
		r += len(c)
	}
	return r
}

func (l *line) remove(e *entry) {
	k, i := l.find(e)
	if k < 0 {
		return
	}
	l.n--
	l.ver++
	c := l.chunks[k]
	copy(c[i:], c[i+1:])
	c[len(c)-1] = nil
	c = c[:len(c)-1]
	if len(c) > 0 {
		l.chunks[k] = c
		return
	}
	copy(l.chunks[k:], l.chunks[k+1:])
	l.chunks[len(l.chunks)-1] = nil
	l.chunks = l.chunks[:len(l.chunks)-1]
}

// replace puts e at old's place (the same rank: the order holds).
func (l *line) replace(old, e *entry) {
	if k, i := l.find(old); k >= 0 {
		l.chunks[k][i] = e
	}
}

// all is the line in order (for range).
func (l *line) all(yield func(int, *entry) bool) {
	r := 0
	for _, c := range l.chunks {
		for _, e := range c {
			if !yield(r, e) {
				return
			}
			r++
		}
	}
}

// head is the first n entries (fewer when the line is shorter), a copy.
func (l *line) head(n int) []*entry {
	out := make([]*entry, 0, min(n, l.n))
	for _, e := range l.all {
		if len(out) == n {
			break
		}
		out = append(out, e)
	}
	return out
}

// cursor walks the line by rank, as an index into one sorted slice would
// (dispatch): each step is O(1) while the line does not change, and after
// a change the rank is found again.
type cursor struct {
	l       *line
	r, k, i int // rank; its chunk and index there, as of ver
	ver     uint64
}

func (l *line) cursor() cursor { return cursor{l: l, ver: l.ver} }

// at is the entry at the cursor's rank, nil past the end.
func (c *cursor) at() *entry {
	if c.ver != c.l.ver {
		c.k, c.i, c.ver = 0, c.r, c.l.ver
	}
	for c.k < len(c.l.chunks) && c.i >= len(c.l.chunks[c.k]) {
		c.k, c.i = c.k+1, c.i-len(c.l.chunks[c.k])
	}
	if c.k == len(c.l.chunks) {
		return nil
	}
	return c.l.chunks[c.k][c.i]
}

// next moves to the next rank.
func (c *cursor) next() { c.r, c.i = c.r+1, c.i+1 }
