package calllog

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestSpoolTornTailDiscarded(t *testing.T) {
	dir := t.TempDir()
	sp, rec, err := openSpool(dir, quiet())
	if err != nil {
		t.Fatal(err)
	}
	two := append(end(t, sample("1")), end(t, sample("2"))...)
	if err := sp.writeAt(rec.size, two); err != nil {
		t.Fatal(err)
	}
	good := int64(len(two))
	third := end(t, sample("3"))
	if _, err := sp.f.WriteAt(third[:len(third)-5], good); err != nil { // a crash mid-append
		t.Fatal(err)
	}
	_ = sp.close()

	sp, rec, err = openSpool(dir, quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer sp.close()
	if rec.ends != 2 || rec.size != good {
		t.Fatalf("after reopen: %d records, %d bytes; want 2, %d", rec.ends, rec.size, good)
	}
	st, _ := os.Stat(filepath.Join(dir, SpoolFile))
	if st.Size() != good {
		t.Fatalf("file is %d bytes; torn tail not cut to %d", st.Size(), good)
	}
	// Appending after the cut works and reads back in order.
	four := end(t, sample("4"))
	if err := sp.writeAt(good, four); err != nil {
		t.Fatal(err)
	}
	size := good + int64(len(four))
	rs, next, err := sp.readEnds(0, size, 10)
	if err != nil || next != size || len(rs) != 3 || rs[0].Voice.CallID != "1" || rs[2].Voice.CallID != "4" {
		t.Fatalf("read = %v, %d, %v", rs, next, err)
	}
}

func TestSpoolDamagedRecordSkipped(t *testing.T) {
	dir := t.TempDir()
	sp, _, err := openSpool(dir, quiet())
	if err != nil {
		t.Fatal(err)
	}
	first := end(t, sample("1"))
	buf := append(append(append([]byte(nil), first...), end(t, sample("2"))...), end(t, sample("3"))...)
	if err := sp.writeAt(0, buf); err != nil {
		t.Fatal(err)
	}
	mid := int64(len(first))
	b := []byte{0}
	if _, err := sp.f.ReadAt(b, mid+20); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := sp.f.WriteAt(b, mid+20); err != nil {
		t.Fatal(err)
	}
	rs, next, err := sp.readEnds(0, int64(len(buf)), 10)
	if err != nil || len(rs) != 2 || rs[0].Voice.CallID != "1" || rs[1].Voice.CallID != "3" || next != int64(len(buf)) {
		t.Fatalf("read = %+v, %d, %v; want 1 and 3", rs, next, err)
	}
	_ = sp.close()
	// Reopened, the damaged entry is stepped over, not taken for a tail.
	sp, rec, err := openSpool(dir, quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer sp.close()
	if rec.size != int64(len(buf)) || rec.ends != 2 {
		t.Fatalf("reopen: %d bytes, %d ends; want %d, 2", rec.size, rec.ends, len(buf))
	}
}

func TestSpoolLockedByOneProcess(t *testing.T) {
	dir := t.TempDir()
	sp, _, err := openSpool(dir, quiet())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := openSpool(dir, quiet()); !errors.Is(err, ErrSpoolBusy) {
		t.Fatalf("second open = %v; want ErrSpoolBusy", err)
	}
	_ = sp.close()
	sp, _, err = openSpool(dir, quiet())
	if err != nil {
		t.Fatalf("open after close: %v", err)
	}
	_ = sp.close()
}

// A compaction cut short leaves a half-built copy beside an intact spool:
// the copy is removed and the spool read as it was.
func TestSpoolUnfinishedCompactionIgnored(t *testing.T) {
	dir := t.TempDir()
	whole := end(t, sample("kept"))
	if err := os.WriteFile(filepath.Join(dir, SpoolFile), whole, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, SpoolFile+".tmp"), whole[:10], 0o600); err != nil {
		t.Fatal(err)
	}
	sp, rec, err := openSpool(dir, quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer sp.close()
	if rec.ends != 1 || rec.size != int64(len(whole)) {
		t.Fatalf("recovered %+v; want the one record", rec)
	}
	if _, err := os.Stat(filepath.Join(dir, SpoolFile+".tmp")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("half-built copy still there: %v", err)
	}
}
