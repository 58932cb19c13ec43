// Package recording keeps recorded audio: voicemail messages and call
// recordings. Store is where the audio lives (Dir: files under the data
// directory, the single node's default; Database: chunks in the ticket
// database, a cluster's default, so any node serves any recording; the
// interface is small enough for an S3-compatible store), Capture turns received RTP frames into a gap-free
// 8 kHz PCM track, and the metadata (call, kind, duration) lives in the
// ticket history (store.Recording).
package recording
