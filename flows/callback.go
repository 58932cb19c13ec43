package flows

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hotline-dev/hotline/say"
)

// MinNumberDigits is the fewest digits a number typed in the callback
// dialogue may have (and the lowest max_number_digits): shorter is no
// number Hotline could call back.
const MinNumberDigits = 6

// The callback dialogue's prompts (prompts/prompts.txt, "Callback
// dialogue"); the checker requires them, the say fragments and the digits
// in every language of a flow with a callback node.
const (
	PromptCallbackPosition      = "callback-position"       // "You keep your place in the queue. Your position is" <n>
	PromptCallbackNumberEnding  = "callback-number-ending"  // "We will call you back on the number ending in" <digits>
	PromptCallbackConfirmNumber = "callback-confirm-number" // "To confirm, press 1. To enter another number, press 2."
	PromptCallbackEnterNumber   = "callback-enter-number"   // "Please enter the number ..., followed by the pound key."
	PromptCallbackRefused       = "callback-number-refused" // "Sorry, we cannot call that number back."
	PromptCallbackWhenOpen      = "callback-when-open"      // "The office is closed now. We will call you back when the office opens, from" <time>
	PromptCallbackAt            = "callback-at"             // "We will call you back at" <time>
	PromptCallbackClosedThen    = "callback-closed-then"    // "The office is closed at that time. It opens at" <time>
	PromptCallbackOfferTime     = "callback-offer-time"     // "To be called back then, press 1. Otherwise, press 2."
	PromptCallbackExisting      = "callback-existing"       // "You already have a callback request at position" <n>
	PromptCallbackExistingMenu  = "callback-existing-menu"  // "To cancel it, press 2. To keep it, press 1."
	PromptCallbackCancelled     = "callback-cancelled"      // "Your callback request has been cancelled."
	PromptCallbackNotTaken      = "callback-not-taken"      // "Sorry, we cannot take a callback request right now..."
	PromptCallbackBooked        = "callback-booked"         // "Thank you, your callback is booked. You may hang up now."
)

// CallbackPrompts lists every prompt the callback dialogue may play
// besides the node's own: its sentences, the say fragments (positions and
// times) and the digits (the number's ending).
func CallbackPrompts() []string {
	out := []string{PromptCallbackPosition, PromptCallbackNumberEnding, PromptCallbackConfirmNumber, PromptCallbackEnterNumber,
		PromptCallbackRefused, PromptCallbackWhenOpen, PromptCallbackAt, PromptCallbackClosedThen, PromptCallbackOfferTime,
		PromptCallbackExisting, PromptCallbackExistingMenu, PromptCallbackCancelled, PromptCallbackNotTaken, PromptCallbackBooked}
	out = append(out, say.CoreFragments()...)
	return append(out, ReadBackPrompts()...)
}

// ParseChosenTime reads a callback node's `at` once its placeholders are
// filled: an RFC 3339 time, or "HH:MM" (also "tomorrow HH:MM") meaning its
// next occurrence after now in now's zone. An empty value is the zero time
// (no chosen time).
func ParseChosenTime(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	days := 0
	if rest, ok := strings.CutPrefix(s, "tomorrow "); ok {
		days, s = 1, strings.TrimSpace(rest)
	}
	h, m, ok := clock(s)
	if !ok {
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time nor HH:MM (or \"tomorrow HH:MM\")", s)
	}
	y, mo, d := now.Date()
	t := time.Date(y, mo, d+days, h, m, 0, 0, now.Location())
	if days == 0 && !t.After(now) {
		t = t.AddDate(0, 0, 1)
	}
	return t, nil
}

// clock reads "H:MM" or "HH:MM" (00:00 to 23:59).
func clock(s string) (h, m int, ok bool) {
	hs, ms, found := strings.Cut(s, ":")
	if !found || len(hs) < 1 || len(hs) > 2 || len(ms) != 2 {
		return 0, 0, false
	}
	for _, r := range hs + ms {
		if r < '0' || r > '9' {
			return 0, 0, false
		}
	}
	h, _ = strconv.Atoi(hs)
	m, _ = strconv.Atoi(ms)
	return h, m, h <= 23 && m <= 59
}
