package media

import "github.com/zaf/g711"

// Silence bytes per law: the encodings of linear 0 (RFC 3551 §4.5.14 uses
// ITU-T G.711; µ-law 0 is 0xFF, A-law 0 is 0xD5 after even-bit inversion).
const (
	ulawSilence = 0xFF
	alawSilence = 0xD5
)

// encodeG711 encodes linear PCM into dst (len(dst) >= len(pcm)) without
// allocating; the per-sample work is zaf/g711's.
func encodeG711(c Codec, dst []byte, pcm []int16) {
	if c == PCMA {
		for i, v := range pcm {
			dst[i] = g711.EncodeAlawFrame(v)
		}
		return
	}
	for i, v := range pcm {
		dst[i] = g711.EncodeUlawFrame(v)
	}
}

// decodeG711 decodes a G.711 payload into dst (len(dst) >= len(src)).
func decodeG711(c Codec, dst []int16, src []byte) {
	if c == PCMA {
		for i, v := range src {
			dst[i] = g711.DecodeAlawFrame(v)
		}
		return
	}
	for i, v := range src {
		dst[i] = g711.DecodeUlawFrame(v)
	}
}

func silenceByte(c Codec) byte {
	if c == PCMA {
		return alawSilence
	}
	return ulawSilence
}

// validCodec reports whether c is one of the two G.711 laws we carry.
func validCodec(c Codec) bool { return c == PCMU || c == PCMA }

func alawToLinear(b byte) int16 { return g711.DecodeAlawFrame(b) }
func ulawToLinear(b byte) int16 { return g711.DecodeUlawFrame(b) }
