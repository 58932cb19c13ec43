package flows

import "time"

// The voicemail node's defaults and bounds (docs/flows.md "voicemail").
const (
	DefaultVoicemailMax     = 2 * time.Minute
	DefaultVoicemailSilence = 5 * time.Second
	MaxVoicemailMax         = 10 * time.Minute
	MinVoicemailMax         = 5 * time.Second
	MaxVoicemailSilence     = time.Minute
	MinVoicemailSilence     = time.Second
	// The review's keys are fixed: the prompts say them.
	VoicemailKeepKey     = '1'
	VoicemailRerecordKey = '2'
	VoicemailListenKey   = '3'
	// VoicemailEndKey ends the recording (the greeting says so).
	VoicemailEndKey = '#'
)

// The voicemail dialogue's prompts (prompts/prompts.txt, "Voicemail"); the
// checker requires them in every language of a flow with a voicemail node.
// The greeting is the node's own prompts; the beep is a generated tone.
const (
	PromptVoicemailReview = "voicemail-review" // "To keep your message, press 1. To record it again, press 2. To listen to it, press 3."
	PromptVoicemailSaved  = "voicemail-saved"  // "Thank you, your message has been saved."
	PromptVoicemailEmpty  = "voicemail-empty"  // "Sorry, we did not hear a message."
)

// VoicemailPrompts lists the prompts the voicemail dialogue plays besides
// the greeting.
func VoicemailPrompts() []string {
	return []string{PromptVoicemailReview, PromptVoicemailSaved, PromptVoicemailEmpty}
}

// boundedDuration reads a duration and checks it lies in [lo, hi].
func (ps *problems) boundedDuration(p pair, node string, lo, hi time.Duration, dst *time.Duration) {
	d, ok := ps.duration(p, node)
	if !ok {
		return
	}
	if d < lo || d > hi {
		ps.errorf(p.kline, node, "%s: %s is out of range (%s to %s)", p.key, d, lo, hi)
		return
	}
	*dst = d
}
