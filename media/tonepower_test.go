package media

import (
	"testing"
	"time"
)

func TestTonePowerPicksTheToneThatIsThere(t *testing.T) {
	pcm := Tone([]float64{440}, 200*time.Millisecond)
	if on, off := TonePower(pcm, 440), TonePower(pcm, 1000); on < 1000*off {
		t.Errorf("440 Hz tone: power at 440 = %g, at 1000 = %g", on, off)
	}
	if p := TonePower(make([]int16, 1600), 440); p != 0 {
		t.Errorf("silence has power %g", p)
	}
	if sh := ToneShare(pcm, 440); sh < 0.9 {
		t.Errorf("share of 440 Hz in a 440 Hz tone = %g, want near 1", sh)
	}
	if sh := ToneShare(pcm, 1000); sh > 0.05 {
		t.Errorf("share of 1000 Hz in a 440 Hz tone = %g, want near 0", sh)
	}
	if sh := ToneShare(make([]int16, 160), 440); sh != 0 {
		t.Errorf("share in silence = %g", sh)
	}
}
