// Package phone normalises telephone numbers to E.164 so a customer is found
// whatever format a caller ID, an agent or an email signature used.
package phone

import (
	"errors"
	"fmt"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// ErrInvalid means the input is not a possible telephone number.
var ErrInvalid = errors.New("phone: invalid number")

// maxLen bounds the input handed to the parser; no real number is longer.
const maxLen = 64

// Normalize returns raw in E.164 form (+84912345678). National numbers
// ("0912 345 678") are read in defaultCountry (ISO 3166 alpha-2, e.g. "VN");
// numbers with a leading + or an international prefix ignore it. A "tel:"
// prefix and visual separators are accepted. Errors wrap ErrInvalid.
func Normalize(raw, defaultCountry string) (e164 string, err error) {
	s := strings.TrimSpace(raw)
	s = strings.TrimPrefix(strings.TrimPrefix(s, "tel:"), "TEL:")
	if s == "" {
		return "", fmt.Errorf("%w: empty", ErrInvalid)
	}
	if len(s) > maxLen {
		return "", fmt.Errorf("%w: longer than %d characters", ErrInvalid, maxLen)
	}
	// The parser is third-party code fed caller-controlled input; a bug in it
	// must not take a call down.
	defer func() {
		if r := recover(); r != nil {
			e164, err = "", fmt.Errorf("%w: %q: parser failure", ErrInvalid, raw)
		}
	}()
	region := strings.ToUpper(strings.TrimSpace(defaultCountry))
	num, perr := phonenumbers.Parse(s, region)
	if perr != nil {
		return "", fmt.Errorf("%w: %q: %v", ErrInvalid, raw, perr)
	}
	if !phonenumbers.IsPossibleNumber(num) {
		return "", fmt.Errorf("%w: %q: not a possible number", ErrInvalid, raw)
	}
	out := phonenumbers.Format(num, phonenumbers.E164)
	// libphonenumber may strip a national-prefix zero each time it reads its
	// own output ("+3580000000000" → "+358000000000" → ...); repeat until the
	// form is stable, so a stored number always matches its own lookup. Each
	// pass removes a digit and E.164 has at most 15, so 16 passes suffice.
	for range 16 {
		again, perr := phonenumbers.Parse(out, region)
		if perr != nil || !phonenumbers.IsPossibleNumber(again) {
			break
		}
		next := phonenumbers.Format(again, phonenumbers.E164)
		if next == out {
			break
		}
		out = next
	}
	if len(out) < 3 || out[0] != '+' {
		return "", fmt.Errorf("%w: %q", ErrInvalid, raw)
	}
	return out, nil
}
