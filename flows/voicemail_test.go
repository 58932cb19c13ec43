package flows

import (
	"testing"
	"time"
)

// TestVoicemailNode reads the voicemail node's fields and defaults.
func TestVoicemailNode(t *testing.T) {
	tests := []struct {
		name, node string
		max, sil   time.Duration
		beep, rev  bool
		retries    int
		timeout    time.Duration
	}{
		{"defaults", "{type: voicemail, prompts: [hi], next: bye}", DefaultVoicemailMax, DefaultVoicemailSilence, true, true, DefaultRetries, DefaultTimeout},
		{"set", "{type: voicemail, prompts: [hi], next: bye, max: 1m, silence: 3s, beep: false, review: false, retries: 1, timeout: 8s}",
			time.Minute, 3 * time.Second, false, false, 1, 8 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, ps := Parse("t.yaml", []byte("flow: a\nlanguages: [en]\nnodes:\n  vm: "+tt.node+"\n  bye: {type: hangup}\n"))
			if HasErrors(ps) {
				t.Fatalf("problems: %v", ps)
			}
			n := f.Nodes["vm"]
			if n.Max != tt.max || n.Silence != tt.sil || n.Beep != tt.beep || n.Review != tt.rev || n.Retries != tt.retries || n.Timeout != tt.timeout {
				t.Errorf("got max %v silence %v beep %v review %v retries %d timeout %v", n.Max, n.Silence, n.Beep, n.Review, n.Retries, n.Timeout)
			}
			if !n.Records() || n.Input() {
				t.Errorf("Records %v Input %v; want a recording node that is no key input", n.Records(), n.Input())
			}
		})
	}
}
