// Package recording keeps recorded audio: voicemail messages today, call
// recordings later. Store is where the files live (the filesystem under the
// data directory by default; the interface is small enough for an
// S3-compatible store), Capture turns received RTP frames into a gap-free
// 8 kHz PCM track, and the metadata (call, kind, duration) lives in the
// ticket history (store.Recording).
package recording
