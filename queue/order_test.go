package queue

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// The chunked line keeps the order, ranks and cursor walks of one sorted
// slice through random joins, leaves and replacements, long enough to
// split chunks and empty them again (the model test's queues are short).
func TestLineIsASortedSlice(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, uint64(time.Now().UnixNano())))
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var l line
	var ref []*entry
	seq := uint64(0)
	cmp := func(a, b *entry) int {
		if entryLess(a, b) {
			return -1
		}
		if entryLess(b, a) {
			return 1
		}
		return 0
	}
	mk := func() *entry {
		seq++
		// Few distinct times: ties on vt and placed, broken by seq.
		vt := base.Add(time.Duration(rng.IntN(50)) * time.Second)
		return &entry{vt: vt, placed: vt.Add(time.Duration(rng.IntN(3)) * time.Second), seq: seq}
	}
	for step := range 20000 {
		grow := len(ref) < 1500 && rng.IntN(100) < 55 || len(ref) == 0 || step > 15000 && rng.IntN(100) < 5
		switch {
		case grow:
			e := mk()
			l.insert(e)
			i, _ := slices.BinarySearchFunc(ref, e, cmp)
			ref = slices.Insert(ref, i, e)
		case rng.IntN(10) == 0:
			// Replace at the same rank (a callback's customer takes its place).
			i := rng.IntN(len(ref))
			e := &entry{vt: ref[i].vt, placed: ref[i].placed, seq: ref[i].seq}
			l.replace(ref[i], e)
			ref[i] = e
		default:
			i := rng.IntN(len(ref))
			l.remove(ref[i])
			l.remove(ref[i]) // a second remove changes nothing
			ref = slices.Delete(ref, i, i+1)
		}
		if l.len() != len(ref) {
			t.Fatalf("step %d: len %d, want %d", step, l.len(), len(ref))
		}
		if step%97 != 0 {
			continue
		}
		if got := l.head(l.len()); !slices.Equal(got, ref) {
			t.Fatalf("step %d: order differs", step)
		}
		for _, c := range l.chunks {
			if len(c) == 0 || len(c) > lineChunk {
				t.Fatalf("step %d: chunk of %d", step, len(c))
			}
		}
		for i, e := range ref {
			if l.index(e) != i || l.rank(e) != i {
				t.Fatalf("step %d: index %d, rank %d; want %d", step, l.index(e), l.rank(e), i)
			}
		}
		if out := mk(); l.index(out) != -1 || l.rank(out) != sortRank(ref, out) {
			t.Fatalf("step %d: an entry not in the line: index %d, rank %d; want -1, %d", step, l.index(out), l.rank(out), sortRank(ref, out))
		}
		if n := rng.IntN(len(ref) + 2); !slices.Equal(l.head(n), ref[:min(n, len(ref))]) {
			t.Fatalf("step %d: head(%d) differs", step, n)
		}
		// A cursor steps by rank, also across a change under it.
		c := l.cursor()
		for r := 0; ; r++ {
			if rng.IntN(200) == 0 && len(ref) > 0 {
				j := rng.IntN(len(ref))
				l.remove(ref[j])
				ref = slices.Delete(ref, j, j+1)
			}
			e := c.at()
			if r >= len(ref) {
				if e != nil {
					t.Fatalf("step %d: cursor at rank %d of %d gives an entry", step, r, len(ref))
				}
				break
			}
			if e != ref[r] {
				t.Fatalf("step %d: cursor at rank %d differs", step, r)
			}
			c.next()
		}
	}
}

func sortRank(ref []*entry, e *entry) int {
	i, _ := slices.BinarySearchFunc(ref, e, func(a, b *entry) int {
		if entryLess(a, b) {
			return -1
		}
		return 1
	})
	return i
}
