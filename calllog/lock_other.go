//go:build !unix

package calllog

import "os"

// lockFile does nothing: ErrSpoolBusy is not detected on this platform.
func lockFile(*os.File) error { return nil }
