package calllog

import "errors"

var (
	// ErrRunning means Run was called twice.
	ErrRunning = errors.New("calllog: already running")
	// ErrTorn means a spool record is cut short (the process died while
	// appending it); it is discarded.
	ErrTorn = errors.New("calllog: torn spool record")
	// ErrCorrupt means a spool record fails its length or CRC check.
	ErrCorrupt = errors.New("calllog: corrupt spool record")
	// ErrSpoolBusy means another process has the spool open (detected with
	// flock on Unix; not detected on other platforms).
	ErrSpoolBusy = errors.New("calllog: spool is in use by another process")
)
