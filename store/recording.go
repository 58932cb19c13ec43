package store

import (
	"context"
	"io"
	"time"
)

// Recording kinds (Recording.Kind): RecordingKinds lists them.
const (
	RecordingVoicemail = "voicemail" // a message left in a voicemail node
	RecordingCall      = "call"      // a recorded conversation
)

// RecordingKinds are the kinds of recording.
var RecordingKinds = []string{RecordingVoicemail, RecordingCall}

// Recording is the metadata of one recorded audio file; the audio itself
// is in a recording.Store under the key "<ID>.<Format>". A call's
// recordings travel with its record (VoiceDetails.Recordings): LogCall
// stores them linked to the call's interaction, and reading the
// interaction lists them (not those deleted).
type Recording struct {
	ID            string `json:"id"`
	CallID        string `json:"call_id"`
	FromTag       string `json:"from_tag"`
	InteractionID int64  `json:"interaction_id,omitempty"` // 0 until the call is logged
	Kind          string `json:"kind"`
	// Queue is where a call recording was made (its retention is that
	// queue's); "" for a voicemail message.
	Queue          string     `json:"queue,omitempty"`
	Format         string     `json:"format"` // "wav": 16-bit PCM, 8 kHz, mono (stereo for a split call recording: caller left, agent right)
	DurationMillis int64      `json:"duration_ms"`
	Size           int64      `json:"size"` // bytes
	CreatedAt      time.Time  `json:"created_at"`
	DeletedAt      *time.Time `json:"deleted_at,omitempty"`
}

// Recordings is the recordings table. Both backends implement it.
type Recordings interface {
	// CreateRecording stores r (CreatedAt defaults to now). Creating an
	// id that exists is ErrConflict.
	CreateRecording(ctx context.Context, r *Recording) error
	// GetRecording returns a recording, also a deleted one (DeletedAt
	// set), or ErrNotFound.
	GetRecording(ctx context.Context, id string) (*Recording, error)
	// DeleteRecording marks the recording deleted at at (the row stays:
	// the deletion is recorded); ErrNotFound if unknown. Deleting the
	// audio file is the caller's part.
	DeleteRecording(ctx context.Context, id string, at time.Time) error
	// ExpiredRecordings lists the recordings of kind made in queue before
	// before and not deleted, oldest first, at most limit (1..1000; 0 is
	// 100): what a retention sweep deletes.
	ExpiredRecordings(ctx context.Context, kind, queue string, before time.Time, limit int) ([]Recording, error)
}

// AudioInfo describes one stored audio object (RecordingAudio).
type AudioInfo struct {
	Key     string
	Size    int64 // bytes
	ModTime time.Time
}

// AudioObject is an opened audio object: seekable, so HTTP range
// requests read only the chunks they need.
type AudioObject interface {
	io.ReadSeekCloser
	Info() AudioInfo
}

// RecordingAudio keeps the recordings' audio in the database, for a
// cluster whose nodes share no filesystem (recordings.store: database;
// recording.Database adapts it to recording.Store). Both backends
// implement it: the audio is split in chunks (PostgreSQL bytea, SQLite
// blob) so a range request reads a few of them, not the whole object.
type RecordingAudio interface {
	// PutAudio stores r under key: its chunks a few per transaction, then
	// the header that names them. Once it returns nil the object is
	// committed (durable); before, readers see the old object or none. A
	// Put that fails removes what it wrote; a crash midway leaves chunks
	// no header names (never visible), removed when the key is put again.
	// Putting a key that exists replaces it.
	PutAudio(ctx context.Context, key string, r io.Reader) (AudioInfo, error)
	// OpenAudio opens key, or ErrNotFound. A Put or Delete of the same
	// key while it is read makes the next chunk's Read fail (never a mix
	// of two versions).
	OpenAudio(ctx context.Context, key string) (AudioObject, error)
	// StatAudio describes key, or ErrNotFound.
	StatAudio(ctx context.Context, key string) (AudioInfo, error)
	// DeleteAudio removes key and its chunks; ErrNotFound if missing.
	DeleteAudio(ctx context.Context, key string) error
	// DeleteAudioOrphans removes the chunks of Puts begun more than age
	// ago that no object names (a crash cut them short) and reports how
	// many chunks it removed.
	DeleteAudioOrphans(ctx context.Context, age time.Duration) (int, error)
}
