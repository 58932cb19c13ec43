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

package mp3

import (
	"bytes"
	"io"
	"math"
	"os"
	"testing"
)

// toneShare is the share (0..1) of the energy of x that is at freq Hz
// (Goertzel power over the energy a pure tone of the same power would give):
// near 1 for a clean tone, near 0 for noise.
func toneShare(x []float64, freq, rate float64) float64 {
	k := 2 * math.Cos(2*math.Pi*freq/rate)
	var s1, s2, energy float64
	for _, v := range x {
		s1, s2 = v+k*s1-s2, s1
		energy += v * v
	}
	if energy == 0 {
		return 0
	}
	return (s1*s1 + s2*s2 - k*s1*s2) / (energy * float64(len(x)) / 2)
}

// TestDecodeMPEG2PaddedFrames decodes 1 s of a 1 kHz sine at -6 dBFS that
// LAME 3.100 encoded as MPEG-2 Layer III, 22.05 kHz mono, 32 kbit/s CBR
// (sox -n -r 44100 -c 1 -b 16 tone.wav synth 1 sine 1000 vol 0.5;
// lame --cbr -m m --resample 22.05 -b 32 tone.wav). 32 kbit/s at 22.05 kHz
// is 104.5 bytes a frame, so about every other frame carries a padding
// byte; a decoder that gets the padded frames' size wrong reads the bit
// reservoir from the wrong place and turns the tone into noise.
func TestDecodeMPEG2PaddedFrames(t *testing.T) {
	data, err := os.ReadFile("testdata/tone-22050hz-32kbps-mono.mp3")
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewDecoder(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if got := d.SampleRate(); got != 22050 {
		t.Fatalf("SampleRate() = %d, want 22050", got)
	}
	pcm, err := io.ReadAll(d)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(pcm)) != d.Length() {
		t.Errorf("decoded %d bytes, Length() = %d", len(pcm), d.Length())
	}
	// Left channel (a mono stream comes out twice) as -1..1.
	var left []float64
	for i := 0; i+4 <= len(pcm); i += 4 {
		left = append(left, float64(int16(uint16(pcm[i])|uint16(pcm[i+1])<<8))/32768)
	}
	if len(left) < 22050 {
		t.Fatalf("%d samples, want at least 1 s (22050)", len(left))
	}
	// The middle half, clear of the encoder delay and the fade-out.
	mid := left[len(left)/4 : len(left)*3/4]
	if share := toneShare(mid, 1000, 22050); share < 0.95 {
		t.Errorf("only %.3f of the energy is at 1 kHz, want >= 0.95", share)
	}
	var energy float64
	for _, v := range mid {
		energy += v * v
	}
	if db := 10 * math.Log10(energy/float64(len(mid))/0.125); math.Abs(db) > 1 {
		t.Errorf("level %+.2f dB from a -6 dBFS sine, want within 1 dB", db)
	}
}
