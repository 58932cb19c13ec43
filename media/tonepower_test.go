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
}
