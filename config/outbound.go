package config

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v4"
)

// Outbound bounds the calls Hotline places to telephone numbers
// (callbacks, transfers to numbers, external agents): blocked number
// ranges, rates and caps. The outbound package enforces it
// (docs/security.md "Outbound policy"). Limits: 0 takes the default,
// negative turns the limit off.
type Outbound struct {
	MaxCalls            int `yaml:"max_calls"`               // calls to numbers up at once, all trunks; default 30
	MaxPerDay           int `yaml:"max_per_day"`             // dials to numbers per day (the office calendar's day); default 1000
	AlarmPercent        int `yaml:"alarm_percent"`           // outbound.cap_alarm when the day's dials reach this share of max_per_day; default 80
	MaxPerNumberPerHour int `yaml:"max_per_number_per_hour"` // dials to one number in any hour; default 6
	MaxPerSourcePerHour int `yaml:"max_per_source_per_hour"` // dials on behalf of one caller (or API client) in any hour; default 10
	// BlockPrefixes are E.164 prefixes never dialled, even when allow.numbers
	// covers them (an exact allow.numbers entry wins). Absent: the shipped
	// list (DefaultBlockPrefixes); [] blocks no prefix.
	BlockPrefixes []string `yaml:"block_prefixes"`
	// BlockTypes are number types (libphonenumber's classification) never
	// dialled: premium-rate, shared-cost, personal. Absent: all three.
	BlockTypes []string `yaml:"block_types"`

	file  string           // the file the section came from
	lines map[string][]int // block_prefixes / block_types → line of each entry
}

// DefaultBlockPrefixes is the shipped list of E.164 prefixes that bill the
// caller at premium or shared-cost rates or reach networks that international
// revenue-share fraud (IRSF) uses. Sources:
//   - ITU-T E.164 list of assigned country codes (complement to ITU-T E.164,
//     ITU Operational Bulletin): +808 International Shared Cost Service,
//     +870 Inmarsat, +878 Universal Personal Telecommunications, +881 Global
//     Mobile Satellite System, +882 and +883 International Networks, +888
//     OCHA, +979 International Premium Rate Service, +991 ITPCS trial;
//   - NANP (NANPA): 900 premium services, 976 information services;
//   - Vietnam (MIC numbering plan, Circular 22/2014/TT-BTTTT): 1900
//     information and entertainment services, charged to the caller;
//   - UK (Ofcom National Telephone Numbering Plan): 09 premium rate, 070
//     personal numbers, 0871-0873 service numbers;
//   - Germany (BNetzA): 0900 premium, 0137 mass calling, 0118 directory
//     enquiries; France (ARCEP): 089 premium; Australia (ACMA): 190 premium.
//
// Most national ranges are also caught by BlockTypes (libphonenumber's
// metadata types them); the list holds what the types miss or may not know.
var DefaultBlockPrefixes = []string{
	"+808", "+870", "+878", "+881", "+882", "+883", "+888", "+979", "+991",
	"+1900", "+1976",
	"+841900",
	"+449", "+4470", "+44871", "+44872", "+44873",
	"+49900", "+49137", "+49118",
	"+3389",
	"+61190",
}

// Number types BlockTypes may name.
const (
	TypePremiumRate = "premium-rate"
	TypeSharedCost  = "shared-cost"
	TypePersonal    = "personal"
)

// DefaultBlockTypes is every type Hotline knows to block.
var DefaultBlockTypes = []string{TypePremiumRate, TypeSharedCost, TypePersonal}

var outboundKeys = []string{"max_calls", "max_per_day", "alarm_percent", "max_per_number_per_hour", "max_per_source_per_hour",
	"block_prefixes", "block_types"}

// UnmarshalYAML decodes outbound: refusing unknown keys and remembering the
// line of every block_prefixes and block_types entry.
func (o *Outbound) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: outbound: want a mapping with keys %v", n.Line, outboundKeys)
	}
	lines := map[string][]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !contains(outboundKeys, k.Value) {
			return fmt.Errorf("line %d: field %s not found in type config.Outbound", k.Line, k.Value)
		}
		if v.Kind == yaml.SequenceNode {
			for _, e := range v.Content {
				lines[k.Value] = append(lines[k.Value], e.Line)
			}
		}
	}
	type plain Outbound
	var p plain
	if err := n.Decode(&p); err != nil {
		return err
	}
	*o = Outbound(p)
	o.lines = lines
	return nil
}

// Where names entry i of key (block_prefixes, block_types) for an error
// message: "outbound.block_prefixes[2] (hotline.yaml:88)".
func (o Outbound) Where(key string, i int) string {
	w := fmt.Sprintf("outbound.%s[%d]", key, i)
	ls := o.lines[key]
	switch {
	case i < 0 || i >= len(ls) || ls[i] <= 0:
		return w
	case o.file == "":
		return fmt.Sprintf("%s (line %d)", w, ls[i])
	}
	return fmt.Sprintf("%s (%s:%d)", w, o.file, ls[i])
}

// WithDefaults fills unset keys (0, or an absent list) with their
// documented defaults; negative limits and empty lists are kept (off).
func (o Outbound) WithDefaults() Outbound {
	fillInt(&o.MaxCalls, 30)
	fillInt(&o.MaxPerDay, 1000)
	fillInt(&o.AlarmPercent, 80)
	fillInt(&o.MaxPerNumberPerHour, 6)
	fillInt(&o.MaxPerSourcePerHour, 10)
	if o.BlockPrefixes == nil {
		o.BlockPrefixes = append([]string(nil), DefaultBlockPrefixes...)
	}
	if o.BlockTypes == nil {
		o.BlockTypes = append([]string(nil), DefaultBlockTypes...)
	}
	return o
}

// validate checks the syntax of every entry (the outbound package reads
// the prefixes as E.164).
func (o Outbound) validate() error {
	if o.AlarmPercent > 100 {
		return fmt.Errorf("outbound.alarm_percent: %d is more than 100", o.AlarmPercent)
	}
	for i, p := range o.BlockPrefixes {
		d, plus := strings.CutPrefix(strings.TrimSuffix(strings.TrimSpace(p), "*"), "+")
		if !plus || d == "" || len(d) > 15 || strings.Trim(d, "0123456789") != "" {
			return fmt.Errorf("%s: %q is not an E.164 prefix (\"+1900\", an optional trailing *)", o.Where("block_prefixes", i), p)
		}
	}
	for i, t := range o.BlockTypes {
		if !contains(DefaultBlockTypes, t) {
			return fmt.Errorf("%s: %q is not one of %s", o.Where("block_types", i), t, strings.Join(DefaultBlockTypes, ", "))
		}
	}
	return nil
}
