package recording

import "errors"

var (
	// ErrNotFound means no object has that key.
	ErrNotFound = errors.New("recording: not found")
	// ErrBadKey means a key is not a plain name (see ValidKey).
	ErrBadKey = errors.New("recording: bad key")
)
