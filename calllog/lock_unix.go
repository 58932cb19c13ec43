//go:build unix

package calllog

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// lockFile takes an exclusive advisory lock on the spool; the kernel drops
// it when the process dies, so a crash never leaves it held.
func lockFile(f *os.File) error {
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return fmt.Errorf("%w: %s", ErrSpoolBusy, f.Name())
		}
		return fmt.Errorf("calllog: lock spool: %w", err)
	}
	return nil
}
