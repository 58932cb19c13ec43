package outbound

import (
	"fmt"
	"strings"

	"github.com/nyaruka/phonenumbers"

	"github.com/hotline-dev/hotline/config"
)

// blocklist is the ranges never dialled (outbound.block_prefixes and
// outbound.block_types): premium-rate and shared-cost numbers bill the
// caller, personal numbers and international networks are what revenue-share
// fraud dials. It applies wherever a number is classified (every use), on
// top of allow.numbers: an allowed prefix does not unblock a premium range
// inside it; an exact allow.numbers entry does (the admin named that number).
type blocklist struct {
	prefixes []string // E.164 prefixes, "+1900"
	types    map[phonenumbers.PhoneNumberType]string
}

var numberTypes = map[string]phonenumbers.PhoneNumberType{
	config.TypePremiumRate: phonenumbers.PREMIUM_RATE,
	config.TypeSharedCost:  phonenumbers.SHARED_COST,
	config.TypePersonal:    phonenumbers.PERSONAL_NUMBER,
}

func newBlocklist(o config.Outbound) (blocklist, []string) {
	b := blocklist{types: map[phonenumbers.PhoneNumberType]string{}}
	var errs []string
	for i, raw := range o.BlockPrefixes {
		s := strings.TrimSuffix(stripVisual(raw), "*")
		d, plus := strings.CutPrefix(s, "+")
		if !plus || !allDigits(d) || len(d) > maxDigits {
			errs = append(errs, fmt.Sprintf("%s: %q is not an E.164 prefix", o.Where("block_prefixes", i), raw))
			continue
		}
		b.prefixes = append(b.prefixes, s)
	}
	for i, name := range o.BlockTypes {
		t, ok := numberTypes[name]
		if !ok {
			errs = append(errs, fmt.Sprintf("%s: %q is not a number type Hotline blocks", o.Where("block_types", i), name))
			continue
		}
		b.types[t] = name
	}
	return b, errs
}

// blocked says why e164 is in a blocked range, or "".
func (b blocklist) blocked(e164 string) string {
	for _, p := range b.prefixes {
		if strings.HasPrefix(e164, p) {
			return fmt.Sprintf("%s is in the blocked range %s (outbound.block_prefixes)", e164, p)
		}
	}
	if len(b.types) == 0 {
		return ""
	}
	n, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return ""
	}
	if name, ok := b.types[phonenumbers.GetNumberType(n)]; ok {
		return fmt.Sprintf("%s is a %s number (outbound.block_types)", e164, name)
	}
	return ""
}
