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
	sp, err := openSpool(dir, quiet())
	if err != nil {
		t.Fatal(err)
	}
	if err := sp.append(sample("1"), sample("2")); err != nil {
		t.Fatal(err)
	}
	good := sp.size
	third, _ := appendRecord(nil, sample("3"))
	if _, err := sp.f.WriteAt(third[:len(third)-5], good); err != nil { // a crash mid-append
		t.Fatal(err)
	}
	_ = sp.close()

	sp, err = openSpool(dir, quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer sp.close()
	if sp.count != 2 || sp.size != good {
		t.Fatalf("after reopen: %d records, %d bytes; want 2, %d", sp.count, sp.size, good)
	}
	st, _ := os.Stat(filepath.Join(dir, SpoolFile))
	if st.Size() != good {
		t.Fatalf("file is %d bytes; torn tail not cut to %d", st.Size(), good)
	}
	// Appending after the cut works and reads back in order.
	if err := sp.append(sample("4")); err != nil {
		t.Fatal(err)
	}
	rs, next, err := sp.read(0, sp.size, 10)
	if err != nil || next != sp.size || len(rs) != 3 || rs[0].Voice.CallID != "1" || rs[2].Voice.CallID != "4" {
		t.Fatalf("read = %v, %d, %v", rs, next, err)
	}
}

func TestSpoolDamagedRecordSkipped(t *testing.T) {
	dir := t.TempDir()
	sp, err := openSpool(dir, quiet())
	if err != nil {
		t.Fatal(err)
	}
	if err := sp.append(sample("1")); err != nil {
		t.Fatal(err)
	}
	mid := sp.size
	if err := sp.append(sample("2"), sample("3")); err != nil {
		t.Fatal(err)
	}
	b := []byte{0}
	if _, err := sp.f.ReadAt(b, mid+20); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := sp.f.WriteAt(b, mid+20); err != nil {
		t.Fatal(err)
	}
	rs, _, err := sp.read(0, sp.size, 10)
	if err != nil || len(rs) != 2 || rs[0].Voice.CallID != "1" || rs[1].Voice.CallID != "3" {
		t.Fatalf("read = %+v, %v; want 1 and 3", rs, err)
	}
	_ = sp.close()
}

func TestSpoolLockedByOneProcess(t *testing.T) {
	dir := t.TempDir()
	sp, err := openSpool(dir, quiet())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := openSpool(dir, quiet()); !errors.Is(err, ErrSpoolBusy) {
		t.Fatalf("second open = %v; want ErrSpoolBusy", err)
	}
	_ = sp.close()
	sp, err = openSpool(dir, quiet())
	if err != nil {
		t.Fatalf("open after close: %v", err)
	}
	_ = sp.close()
}
