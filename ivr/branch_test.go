package ivr

import (
	"github.com/hotline-dev/hotline/events"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/store"
)

const hoursFlow = `
flow: t
languages: [en]
nodes:
  hours:
    type: branch
    cases:
      - calendar: office
        next: open
    else: closed
  open: {type: hangup}
  closed: {type: hangup}
`

func TestBranchCalendar(t *testing.T) {
	hcm := time.FixedZone("+07", 7*3600)
	tests := []struct {
		name string
		at   time.Time
		want string
	}{
		{"monday morning", time.Date(2026, 11, 23, 10, 0, 0, 0, hcm), "hours open"},
		{"monday lunch", time.Date(2026, 11, 23, 12, 30, 0, 0, hcm), "hours closed"},
		{"end is exclusive", time.Date(2026, 11, 23, 17, 30, 0, 0, hcm), "hours closed"},
		{"just before close", time.Date(2026, 11, 23, 17, 29, 0, 0, hcm), "hours open"},
		{"given in UTC, open in Ho Chi Minh City", time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC), "hours open"},
		{"01:30 UTC is 08:30 in Ho Chi Minh City", time.Date(2026, 11, 23, 1, 30, 0, 0, time.UTC), "hours open"},
		{"UTC Monday 23:30 is Tuesday local, no hours", time.Date(2026, 11, 23, 23, 30, 0, 0, time.UTC), "hours closed"},
		{"saturday morning", time.Date(2026, 11, 28, 9, 0, 0, 0, hcm), "hours open"},
		{"sunday", time.Date(2026, 11, 29, 9, 0, 0, 0, hcm), "hours closed"},
		{"holiday on a friday", time.Date(2026, 12, 25, 9, 0, 0, 0, hcm), "hours closed"},
	}
	cal := func(c *Config) {
		c.Calendars = map[string]config.Calendar{"office": {TimeZone: "Asia/Ho_Chi_Minh",
			Hours:    map[string][]string{"mon": {"08:00-12:00", "13:00-17:30"}, "fri": {"08:00-17:00"}, "saturday": {"08:00-12:00"}},
			Holidays: []string{"2026-12-25"}}}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runCase(t, engineCase{flow: hoursFlow, at: tt.at, cfg: cal, wantPath: tt.want, wantOutcome: store.OutcomeCompleted})
		})
	}
}

func TestBadCalendar(t *testing.T) {
	for _, c := range []config.Calendar{
		{TimeZone: "Mars/Olympus"},
		{TimeZone: "UTC", Hours: map[string][]string{"someday": {"08:00-09:00"}}},
		{TimeZone: "UTC", Hours: map[string][]string{"mon": {"09:00-08:00"}}},
		{TimeZone: "UTC", Hours: map[string][]string{"mon": {"9am-5pm"}}},
		{TimeZone: "UTC", Holidays: []string{"25/12/2026"}},
	} {
		if _, err := NewEngine(Config{Calendars: map[string]config.Calendar{"x": c}}); err == nil {
			t.Errorf("calendar %+v accepted", c)
		}
	}
}

const testsFlow = `
flow: t
languages: [en]
nodes:
  s:
    type: set
    vars: {status: shipped, greeting: "hi {caller}"}
    next: b
  b:
    type: branch
    cases:
      - caller: "+8490*"
        next: mobile
      - caller: "1000"
        next: exact
      - var: nothing
        set: true
        next: wrong
      - var: status
        equals: lost
        next: wrong
      - var: status
        matches: "^ship"
        next: shipped
    else: other
  mobile: {type: hangup}
  exact: {type: hangup}
  shipped: {type: hangup}
  wrong: {type: hangup}
  other: {type: hangup}
`

func TestBranchCallerAndVars(t *testing.T) {
	done := store.OutcomeCompleted
	for _, tc := range []engineCase{
		{name: "caller prefix", flow: testsFlow, caller: "+84901234567", wantPath: "s b mobile", wantOutcome: done},
		{name: "caller exact", flow: testsFlow, caller: "1000", wantPath: "s b exact", wantOutcome: done},
		{name: "exact does not match longer", flow: testsFlow, caller: "10001", wantPath: "s b shipped", wantOutcome: done,
			wantVars: map[string]string{"greeting": "hi 10001", "status": "shipped"}},
		{name: "else", flow: replaceOnce(testsFlow, "status: shipped", "status: lost2"), caller: "5", wantPath: "s b other", wantOutcome: done},
		{name: "set false", flow: replaceOnce(testsFlow, "set: true", "set: false"), caller: "5", wantPath: "s b wrong", wantOutcome: done},
	} {
		t.Run(tc.name, func(t *testing.T) { runCase(t, tc) })
	}
}

const langFlow = `
flow: t
languages: [en, vi]
fallback_language: en
nodes:
  vi: {type: language, language: vi, next: p}
  p: {type: play, prompts: [hello, only-en, none-anywhere, "tier-{tier}"], next: t}
  t: {type: ticket, category: sales, tags: [phone, "kỹ thuật"], priority: high, next: t2}
  t2: {type: ticket, tags: [phone, vip], next: bye}
  bye: {type: hangup, prompts: [bye]}
`

func TestLanguageFallbackAndTicket(t *testing.T) {
	runCase(t, engineCase{flow: langFlow, wantPath: "vi p t t2 bye", wantOutcome: store.OutcomeCompleted,
		wantPlayed: "vi/hello en/only-en vi/tier- vi/bye", wantVars: map[string]string{"language": "vi"},
		check: func(t *testing.T, r Result, _ []events.Event) {
			if r.Language != "vi" || r.Category != "sales" || r.Priority != "high" || len(r.Tags) != 3 || r.Tags[1] != "kỹ thuật" {
				t.Errorf("result %+v", r)
			}
		}})
}
