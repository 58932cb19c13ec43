package testports

import (
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// This package's own tests draw from 13200-13263 (see the package doc).
const testMin, testMax = 13200, 13263

// peek is the base of the block p hands out next (if it is free).
func (p *Pool) peek() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.min + BlockSize*p.next
}

// hold binds port on 127.0.0.1 over network for the rest of the test, as
// another process would; the test is skipped if something holds it already.
func hold(t *testing.T, network string, port int) {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	var c interface{ Close() error }
	var err error
	if network == "udp" {
		c, err = net.ListenPacket(network, addr)
	} else {
		c, err = net.Listen(network, addr)
	}
	if err != nil {
		t.Skipf("%s port %d is taken already: %v", network, port, err)
	}
	t.Cleanup(func() { c.Close() })
}

// A block one of whose ports another process holds is skipped: sipp's
// video port (Media+2, never passed to it), its SIP port, a TCP control
// port. A block is never handed out twice in a row, and every block is
// aligned inside the range.
func TestReserveSkipsTakenBlock(t *testing.T) {
	for _, tt := range []struct {
		name    string
		network string
		offset  int
	}{
		{"video port", "udp", 2},
		{"sip port", "udp", 1},
		{"ctrl port over tcp", "tcp", 3},
		{"media port over tcp", "tcp", 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := New(testMin, testMax)
			a := p.Block(t)
			next := p.peek()
			hold(t, tt.network, next+tt.offset)
			b := p.Block(t)
			if b.Base == next {
				t.Errorf("block %d handed out while %s port %d is bound", next, tt.network, next+tt.offset)
			}
			if b.Base == a.Base {
				t.Errorf("block %d handed out twice in a row", a.Base)
			}
			for _, blk := range []Block{a, b} {
				if blk.Base%BlockSize != 0 || blk.Base < testMin || blk.Base+BlockSize-1 > testMax || blk.Media()%2 != 0 {
					t.Errorf("block %d: not an aligned block of %d in %d-%d", blk.Base, BlockSize, testMin, testMax)
				}
				if got := []int{blk.Media(), blk.SIP(), blk.Ctrl()}; got[0] != blk.Base || got[1] != blk.Base+1 || got[2] != blk.Base+3 {
					t.Errorf("block %d: media, sip, ctrl = %v", blk.Base, got)
				}
			}
		})
	}
}

// With every block taken Reserve says so rather than handing one out.
func TestReserveAllTaken(t *testing.T) {
	p := New(testMin, testMin+2*BlockSize-1) // two blocks
	hold(t, "udp", testMin+2)
	hold(t, "tcp", testMin+BlockSize+1)
	if b, err := p.Reserve(); err == nil {
		t.Fatalf("Reserve = block %d with every block taken", b.Base)
	}
}

// Every block of the range comes round before the first one again.
func TestReserveRoundRobin(t *testing.T) {
	p := New(testMin, testMax)
	n := (testMax - testMin + 1) / BlockSize
	seen := map[int]bool{}
	for range n {
		seen[p.Block(t).Base] = true
	}
	if len(seen) != n {
		t.Errorf("%d distinct blocks of %d in one round: %v", len(seen), n, seen)
	}
}

func TestNewRejectsBadRanges(t *testing.T) {
	for _, tt := range []struct {
		min, max int
		ok       bool
	}{
		{12000, 12399, true},
		{12001, 12006, false}, // no aligned block of 4 inside (12004-12007 ends past it)
		{12001, 12011, true},  // 12004-12007, 12008-12011
		{12000, 12002, false},
		{40000, 40099, false}, // in the ephemeral range
		{32764, 32768, false},
		{0, 99, false},
		{13000, 12000, false},
	} {
		t.Run(fmt.Sprintf("%d-%d", tt.min, tt.max), func(t *testing.T) {
			defer func() {
				if r := recover(); (r == nil) != tt.ok {
					t.Errorf("New(%d, %d) panic = %v, want ok=%v", tt.min, tt.max, r, tt.ok)
				}
			}()
			New(tt.min, tt.max)
		})
	}
}

// The test packages' ranges (every testports.New with literal bounds in
// the repository's tests, and this package's own) do not overlap, and a
// package has one range: go test runs packages in parallel processes, and
// two drawing from one range would hand out the same block.
func TestRangesApart(t *testing.T) {
	type span struct {
		dir      string
		min, max int
	}
	spans := []span{{"internal/testports", testMin, testMax}}
	call := regexp.MustCompile(`testports\.New\((\d+), (\d+)\)`)
	root := filepath.Join("..", "..")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "third_party" || d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		for _, m := range call.FindAllStringSubmatch(string(b), -1) {
			lo, _ := strconv.Atoi(m[1])
			hi, _ := strconv.Atoi(m[2])
			spans = append(spans, span{rel, lo, hi})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(spans) < 5 {
		t.Fatalf("found only %d ranges: %v", len(spans), spans)
	}
	for i, a := range spans {
		for _, b := range spans[i+1:] {
			switch {
			case a.dir == b.dir && (a.min != b.min || a.max != b.max):
				t.Errorf("%s has two ranges: %d-%d and %d-%d", a.dir, a.min, a.max, b.min, b.max)
			case a.dir != b.dir && a.min <= b.max && b.min <= a.max:
				t.Errorf("%s's range %d-%d overlaps %s's %d-%d", a.dir, a.min, a.max, b.dir, b.min, b.max)
			}
		}
	}
}
