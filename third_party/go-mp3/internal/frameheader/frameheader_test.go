// Copyright 2026 The go-mp3 Authors
//
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
//     http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.

package frameheader

import (
	"os"
	"testing"
)

// Layer III frame sizes (ISO/IEC 11172-3 2.4.3.1, 13818-3 2.4.3.1): a slot
// is a byte and a frame holds 144 * bitrate / rate slots for 1152 samples
// (MPEG-1), 72 * bitrate / rate for 576 (MPEG-2), truncated, plus one slot
// when the padding bit is set.
func TestFrameSize(t *testing.T) {
	tests := []struct {
		name   string
		header FrameHeader
		want   int
	}{
		{"MPEG-1 44.1 kHz 128 kbit/s", 0xfffb9000, 417},
		{"MPEG-1 44.1 kHz 128 kbit/s padded", 0xfffb9200, 418},
		{"MPEG-1 48 kHz 128 kbit/s", 0xfffb9400, 384},
		{"MPEG-1 32 kHz 32 kbit/s", 0xfffb1800, 144},
		{"MPEG-2 22.05 kHz 32 kbit/s", 0xfff340c0, 104},
		{"MPEG-2 22.05 kHz 32 kbit/s padded", 0xfff342c0, 105},
		{"MPEG-2 22.05 kHz 48 kbit/s", 0xfff360c0, 156},
		{"MPEG-2 22.05 kHz 48 kbit/s padded", 0xfff362c0, 157},
		{"MPEG-2 22.05 kHz 80 kbit/s padded", 0xfff392c0, 262},
		{"MPEG-2 24 kHz 32 kbit/s", 0xfff344c0, 96},
		{"MPEG-2 16 kHz 32 kbit/s", 0xfff348c0, 144},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !tt.header.IsValid() {
				t.Fatalf("header %08x is not valid", uint32(tt.header))
			}
			got, err := tt.header.FrameSize()
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("FrameSize() = %d, want %d", got, tt.want)
			}
		})
	}
}

// TestFrameSizeWalksLAMEFile steps through a LAME-encoded MPEG-2 file
// (1 s of a 1 kHz tone, 22.05 kHz mono at 32 kbit/s: frames of 104 and 105
// bytes) frame by frame: every FrameSize must end where the next frame's
// sync word starts, and the last one at the end of the file.
func TestFrameSizeWalksLAMEFile(t *testing.T) {
	data, err := os.ReadFile("../../testdata/tone-22050hz-32kbps-mono.mp3")
	if err != nil {
		t.Fatal(err)
	}
	frames, padded := 0, 0
	for pos := 0; pos < len(data); {
		if len(data)-pos < 4 {
			t.Fatalf("%d bytes left over after frame %d", len(data)-pos, frames)
		}
		h := FrameHeader(uint32(data[pos])<<24 | uint32(data[pos+1])<<16 | uint32(data[pos+2])<<8 | uint32(data[pos+3]))
		if !h.IsValid() {
			t.Fatalf("frame %d at byte %d: no frame header (% x)", frames, pos, data[pos:pos+4])
		}
		size, err := h.FrameSize()
		if err != nil {
			t.Fatal(err)
		}
		padded += h.PaddingBit()
		frames++
		pos += size
		if pos > len(data) {
			t.Fatalf("frame %d runs %d bytes past the end of the file", frames-1, pos-len(data))
		}
	}
	if padded == 0 {
		t.Fatalf("none of the %d frames is padded: the file does not test padding", frames)
	}
}
