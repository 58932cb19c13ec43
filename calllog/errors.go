package calllog

import "errors"

var (
	// ErrRunning means Run was called twice.
	ErrRunning = errors.New("calllog: already running")
	// ErrClosed means the Logger was closed: no more calls are taken.
	ErrClosed = errors.New("calllog: closed")
	// ErrFinished means Finish was called twice for one mark.
	ErrFinished = errors.New("calllog: call already finished")
	// ErrTorn means a spool entry is cut short (the process died while
	// appending it); it is discarded.
	ErrTorn = errors.New("calllog: torn spool entry")
	// ErrCorrupt means a spool entry fails its length, CRC or format check.
	ErrCorrupt = errors.New("calllog: corrupt spool entry")
	// ErrSpoolBusy means another process has the spool directory open
	// (detected with flock on Unix; not detected on other platforms).
	ErrSpoolBusy = errors.New("calllog: spool is in use by another process")
)
