package media

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func samplesOf(d time.Duration) int { return int(d * SampleRate / time.Second) }

// sines returns dur of the sum of sines (freq, amplitude).
func sines(dur time.Duration, parts ...[2]float64) []float64 {
	out := make([]float64, samplesOf(dur))
	for i := range out {
		for _, p := range parts {
			out[i] += p[1] * math.Sin(2*math.Pi*p[0]*float64(i)/SampleRate)
		}
	}
	return out
}

func toPCM(x []float64) []int16 {
	out := make([]int16, len(x))
	for i, v := range x {
		out[i] = clip16(v)
	}
	return out
}

// dtmfSignal is a key press with per-group amplitudes.
func dtmfSignal(key rune, dur time.Duration, lowAmp, highAmp float64) []float64 {
	lo, hi, err := DTMFFreqs(key)
	if err != nil {
		panic(err)
	}
	return sines(dur, [2]float64{lo, lowAmp}, [2]float64{hi, highAmp})
}

// addNoise adds white noise at snrDB below the signal's power.
func addNoise(x []float64, snrDB float64, rng *rand.Rand) []float64 {
	var p float64
	for _, v := range x {
		p += v * v
	}
	p /= float64(len(x))
	sigma := math.Sqrt(p / math.Pow(10, snrDB/10))
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = v + rng.NormFloat64()*sigma
	}
	return out
}

func concat(parts ...[]float64) []float64 {
	var out []float64
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func silence(d time.Duration) []float64 { return make([]float64, samplesOf(d)) }

// detect runs the detector over pcm in 20 ms frames, as the RTP reader does.
func detect(pcm []int16) []detected {
	d := newDTMFDetector()
	var out []detected
	for len(pcm) > 0 {
		n := min(160, len(pcm))
		out = d.process(pcm[:n], out)
		pcm = pcm[n:]
	}
	// Trailing silence lets a press that reaches the end be released.
	return d.process(make([]int16, 800), out)
}

func keysOf(ds []detected) string {
	var s string
	for _, d := range ds {
		s += string(d.key)
	}
	return s
}

func TestGoertzelAllKeys(t *testing.T) {
	for _, key := range "123A456B789C*0#D" {
		sig := concat(silence(ms(30)), dtmfSignal(key, ms(100), 7000, 7000), silence(ms(30)))
		got := detect(toPCM(sig))
		if keysOf(got) != string(key) {
			t.Fatalf("key %q: detected %q", key, keysOf(got))
		}
		if d := got[0].dur; d < ms(75) || d > ms(115) {
			t.Errorf("key %q: duration %v, want about 100ms", key, d)
		}
	}
}

func TestGoertzelConditions(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const a = 6000.0
	db := func(x float64) float64 { return math.Pow(10, x/20) }
	tests := []struct {
		name string
		sig  []float64
		want string
	}{
		{"SNR 20 dB", addNoise(dtmfSignal('5', ms(80), a, a), 20, rng), "5"},
		{"SNR 15 dB", addNoise(dtmfSignal('9', ms(80), a, a), 15, rng), "9"},
		{"SNR 10 dB", addNoise(dtmfSignal('0', ms(80), a, a), 10, rng), "0"},
		{"SNR 0 dB is noise", addNoise(dtmfSignal('0', ms(80), a, a), 0, rng), ""},
		{"white noise alone", addNoise(silence(ms(500)), -100, rng), ""},
		{"quiet -35 dBFS", dtmfSignal('3', ms(80), 600, 600), "3"},
		{"too quiet -50 dBFS", dtmfSignal('3', ms(80), 100, 100), ""},
		{"normal twist +6 dB", dtmfSignal('8', ms(80), a/db(6), a), "8"},
		{"normal twist +10 dB", dtmfSignal('8', ms(80), a/db(10), a), ""},
		{"reverse twist 3 dB", dtmfSignal('8', ms(80), a, a/db(3)), "8"},
		{"reverse twist 6 dB", dtmfSignal('8', ms(80), a, a/db(6)), ""},
		{"20 ms too short", dtmfSignal('1', ms(20), a, a), ""},
		{"25 ms too short", concat(silence(ms(7)), dtmfSignal('1', ms(25), a, a)), ""},
		{"50 ms accepted", dtmfSignal('1', ms(50), a, a), "1"},
		{"50 ms offset accepted", concat(silence(ms(6)), dtmfSignal('1', ms(50), a, a)), "1"},
		{"two presses 60 ms apart", concat(dtmfSignal('2', ms(70), a, a), silence(ms(60)), dtmfSignal('2', ms(70), a, a)), "22"},
		{"extra row tone at -6 dB", concat(sines(ms(80), [2]float64{697, a}, [2]float64{1209, a}, [2]float64{770, a / db(6)})), ""},
		{"extra row tone at -14 dB", concat(sines(ms(80), [2]float64{697, a}, [2]float64{1209, a}, [2]float64{770, a / db(14)})), "1"},
		{"extra column tone at -6 dB", concat(sines(ms(80), [2]float64{697, a}, [2]float64{1209, a}, [2]float64{1336, a / db(6)})), ""},
		{"column 2nd harmonic at -3 dB", concat(sines(ms(80), [2]float64{697, a}, [2]float64{1209, a}, [2]float64{2418, a / db(3)})), ""},
		{"column 2nd harmonic at -12 dB", concat(sines(ms(80), [2]float64{697, a}, [2]float64{1209, a}, [2]float64{2418, a / db(12)})), "1"},
		{"row 2nd harmonic louder than row", concat(sines(ms(80), [2]float64{697, a}, [2]float64{1209, a * db(5)}, [2]float64{1394, a * db(1)})), ""},
		{"long press is one digit", dtmfSignal('#', ms(1500), a, a), "#"},
		{"sequence", concat(dtmfSignal('1', ms(60), a, a), silence(ms(50)), dtmfSignal('2', ms(60), a, a), silence(ms(50)), dtmfSignal('3', ms(60), a, a)), "123"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := keysOf(detect(toPCM(tt.sig))); got != tt.want {
				t.Fatalf("detected %q, want %q", got, tt.want)
			}
		})
	}
}

// vowel synthesises a voiced vowel: harmonics of f0 (with slow vibrato)
// shaped by three formant resonances, like speech on the line.
func vowel(dur time.Duration, f0 float64, formants [3]float64, amp float64) []float64 {
	out := make([]float64, samplesOf(dur))
	nh := int(3800 / f0)
	phase := make([]float64, nh+1)
	for i := range out {
		f := f0 * (1 + 0.03*math.Sin(2*math.Pi*5*float64(i)/SampleRate))
		for h := 1; h <= nh; h++ {
			fh := f * float64(h)
			var g float64
			for k, F := range formants {
				bw := 80.0 + 40*float64(k)
				g += 1 / (1 + math.Pow((fh-F)/bw, 2))
			}
			phase[h] += 2 * math.Pi * fh / SampleRate
			out[i] += amp * g / float64(h) * math.Sin(phase[h])
		}
	}
	return out
}

// chord is notes with decaying overtones (1/k), like a piano or organ.
func chord(dur time.Duration, amp float64, notes ...float64) []float64 {
	var parts [][2]float64
	for _, n := range notes {
		for k := 1; k <= 6 && n*float64(k) < 3900; k++ {
			parts = append(parts, [2]float64{n * float64(k), amp / float64(k)})
		}
	}
	return sines(dur, parts...)
}

// TestGoertzelRejectsSpeechAndMusic: talk-off. None of these may produce a
// digit, or a caller's voice or hold music would select menu options.
func TestGoertzelRejectsSpeechAndMusic(t *testing.T) {
	vowels := map[string][3]float64{"a": {730, 1090, 2440}, "i": {270, 2290, 3010}, "u": {300, 870, 2240}, "e": {530, 1840, 2480}, "o": {570, 840, 2410}}
	var cases []struct {
		name string
		sig  []float64
	}
	add := func(name string, sig []float64) {
		cases = append(cases, struct {
			name string
			sig  []float64
		}{name, sig})
	}
	for v, f := range vowels {
		for _, f0 := range []float64{95, 120, 180, 230} {
			add("vowel "+v+" f0 "+itoa(int(f0)), vowel(ms(400), f0, f, 2500))
		}
	}
	add("C major", chord(ms(500), 4000, 523.3, 659.3, 784))
	add("A minor", chord(ms(500), 4000, 440, 523.3, 659.3))
	add("F5+D6 near '1'", chord(ms(500), 6000, 698.5, 1174.7))
	add("E5+E6 octave", chord(ms(500), 6000, 659.3, 1318.5))
	add("dial tone 350+440", sines(ms(500), [2]float64{350, 6000}, [2]float64{440, 6000}))
	add("ringback 440+480", sines(ms(500), [2]float64{440, 6000}, [2]float64{480, 6000}))
	add("1 kHz test tone", sines(ms(500), [2]float64{1000, 8000}))
	add("single 697 Hz", sines(ms(500), [2]float64{697, 8000}))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := keysOf(detect(toPCM(c.sig))); got != "" {
				t.Fatalf("talk-off: detected %q", got)
			}
		})
	}
}

// TestGoertzelThroughG711: tones survive µ-law and A-law companding.
func TestGoertzelThroughG711(t *testing.T) {
	for _, c := range []Codec{PCMU, PCMA} {
		pcm := toPCM(dtmfSignal('7', ms(80), 3000, 3000))
		enc := make([]byte, len(pcm))
		encodeG711(c, enc, pcm)
		decodeG711(c, pcm, enc)
		if got := keysOf(detect(pcm)); got != "7" {
			t.Fatalf("%v: detected %q", c, got)
		}
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

func BenchmarkGoertzelFrame(b *testing.B) {
	pcm := toPCM(addNoise(dtmfSignal('5', ms(20), 5000, 5000), 20, rand.New(rand.NewPCG(3, 4))))
	d := newDTMFDetector()
	var out []detected
	b.SetBytes(int64(2 * len(pcm)))
	for b.Loop() {
		out = d.process(pcm, out[:0])
	}
}

func BenchmarkGoertzelFrameSpeech(b *testing.B) {
	pcm := toPCM(vowel(ms(20), 120, [3]float64{730, 1090, 2440}, 2500))
	d := newDTMFDetector()
	var out []detected
	b.SetBytes(int64(2 * len(pcm)))
	for b.Loop() {
		out = d.process(pcm, out[:0])
	}
}
