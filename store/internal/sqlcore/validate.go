package sqlcore

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hotline-dev/hotline/phone"
	"github.com/hotline-dev/hotline/store"
)

func fieldErr(field, format string, args ...any) error {
	return &store.FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
}

func checkText(field, v string, max int) error {
	if !utf8.ValidString(v) {
		return fieldErr(field, "not valid UTF-8")
	}
	if strings.ContainsRune(v, 0) {
		return fieldErr(field, "contains a NUL character")
	}
	if len(v) > max {
		return fieldErr(field, "longer than %d bytes", max)
	}
	return nil
}

func oneOf[T ~string](field string, v T, allowed ...T) error {
	if !slices.Contains(allowed, v) {
		names := make([]string, len(allowed))
		for i, a := range allowed {
			names[i] = string(a)
		}
		return fieldErr(field, "%q is not one of %s", v, strings.Join(names, ", "))
	}
	return nil
}

// normCustomer validates c in place: phones to E.164, emails lowercased,
// duplicates removed, defaults filled.
func (s *Store) normCustomer(c *store.Customer) error {
	c.Name = strings.TrimSpace(c.Name)
	if err := checkText("name", c.Name, 500); err != nil {
		return err
	}
	if c.Tier == "" {
		c.Tier = store.TierNew
	}
	if err := oneOf("tier", c.Tier, store.Tiers...); err != nil {
		return err
	}
	var phones []string
	for i, p := range c.Phones {
		e, err := phone.Normalize(p, s.country)
		if err != nil {
			return fieldErr(fmt.Sprintf("phones[%d]", i), "%q is not a phone number", p)
		}
		if !slices.Contains(phones, e) {
			phones = append(phones, e)
		}
	}
	var emails []string
	for i, e := range c.Emails {
		e = strings.ToLower(strings.TrimSpace(e))
		at := strings.LastIndexByte(e, '@')
		if at < 1 || at == len(e)-1 || strings.ContainsAny(e, " \t\r\n<>,;") || checkText("", e, 254) != nil {
			return fieldErr(fmt.Sprintf("emails[%d]", i), "%q is not an email address", c.Emails[i])
		}
		if !slices.Contains(emails, e) {
			emails = append(emails, e)
		}
	}
	var handles []string
	for i, h := range c.ChatHandles {
		h = strings.TrimSpace(h)
		if h == "" || checkText("", h, 200) != nil {
			return fieldErr(fmt.Sprintf("chat_handles[%d]", i), "empty, too long or not UTF-8")
		}
		if !slices.Contains(handles, h) {
			handles = append(handles, h)
		}
	}
	for k, v := range c.Attributes {
		if k == "" || checkText("attributes", k, 200) != nil || checkText("attributes", v, 10000) != nil {
			return fieldErr("attributes", "key %q: empty, too long or not UTF-8", k)
		}
	}
	ext, err := normExternalIDs(c.ExternalIDs)
	if err != nil {
		return err
	}
	c.Phones, c.Emails, c.ChatHandles, c.ExternalIDs = orEmpty(phones), orEmpty(emails), orEmpty(handles), ext
	if c.Attributes == nil {
		c.Attributes = map[string]string{}
	}
	return nil
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

var (
	statuses   = []string{store.StatusOpen, store.StatusPending, store.StatusSolved, store.StatusClosed}
	priorities = []string{"low", "normal", "high", "urgent"}
	channels   = []string{store.ChannelVoice, store.ChannelEmail, store.ChannelChat, store.ChannelSMS, store.ChannelSocial}
	outcomes   = append([]store.Outcome{""}, store.Outcomes...)
)

// normCategory is the rule tickets are matched on: trimmed, lowercased,
// "" is "general".
func normCategory(c string) string {
	c = strings.ToLower(strings.TrimSpace(c))
	if c == "" {
		return "general"
	}
	return c
}

func normTicket(t *store.Ticket) error {
	if t.CustomerID <= 0 {
		return fieldErr("customer_id", "required")
	}
	t.Subject = strings.TrimSpace(t.Subject)
	if t.Subject == "" {
		return fieldErr("subject", "required")
	}
	if err := checkText("subject", t.Subject, 1000); err != nil {
		return err
	}
	t.Category = normCategory(t.Category)
	if err := checkText("category", t.Category, 100); err != nil {
		return err
	}
	if t.Status == "" {
		t.Status = store.StatusOpen
	}
	if err := oneOf("status", t.Status, statuses...); err != nil {
		return err
	}
	if t.Priority == "" {
		t.Priority = "normal"
	}
	if err := oneOf("priority", t.Priority, priorities...); err != nil {
		return err
	}
	if t.Channel != "" {
		if err := oneOf("channel", t.Channel, channels...); err != nil {
			return err
		}
	}
	if err := checkText("assignee", t.Assignee, 200); err != nil {
		return err
	}
	tags, err := normTags(t.Tags)
	if err != nil {
		return err
	}
	t.Tags = tags
	ext, err := normExternalIDs(t.ExternalIDs)
	if err != nil {
		return err
	}
	t.ExternalIDs = ext
	return nil
}

// normTags trims tags and drops duplicates; the result is never nil.
func normTags(in []string) ([]string, error) {
	tags := []string{}
	for i, g := range in {
		g = strings.TrimSpace(g)
		if g == "" || checkText("", g, 100) != nil {
			return nil, fieldErr(fmt.Sprintf("tags[%d]", i), "empty, too long or not UTF-8")
		}
		if !slices.Contains(tags, g) {
			tags = append(tags, g)
		}
	}
	return tags, nil
}

func (s *Store) normInteraction(i *store.Interaction) error {
	if i.CustomerID <= 0 {
		return fieldErr("customer_id", "required")
	}
	if i.TicketID < 0 {
		return fieldErr("ticket_id", "must not be negative")
	}
	if err := oneOf("channel", i.Channel, channels...); err != nil {
		return err
	}
	if i.Direction == "" {
		i.Direction = store.DirectionInbound
	}
	if err := oneOf("direction", i.Direction, store.DirectionInbound, store.DirectionOutbound); err != nil {
		return err
	}
	if i.StartedAt.IsZero() {
		i.StartedAt = s.clock()
	}
	i.StartedAt = micro(i.StartedAt)
	if i.EndedAt != nil {
		e := micro(*i.EndedAt)
		if e.Before(i.StartedAt) {
			return fieldErr("ended_at", "before started_at")
		}
		i.EndedAt = &e
	}
	if err := checkText("summary", i.Summary, 2000); err != nil {
		return err
	}
	if err := checkText("body", i.Body, 1<<20); err != nil {
		return err
	}
	if len(i.Details) > 0 && !json.Valid(i.Details) {
		return fieldErr("details", "not valid JSON")
	}
	if len(i.Details) > 1<<20 {
		return fieldErr("details", "larger than 1 MiB")
	}
	if i.Voice != nil {
		if i.Channel != store.ChannelVoice {
			return fieldErr("voice", "only for channel voice")
		}
		if err := checkVoice(i.Voice); err != nil {
			return err
		}
	}
	return nil
}

func checkVoice(v *store.VoiceDetails) error {
	v.CallID = strings.TrimSpace(v.CallID)
	if v.CallID == "" {
		return fieldErr("voice.call_id", "required")
	}
	for _, f := range []struct {
		name, v string
	}{{"voice.call_id", v.CallID}, {"voice.from_tag", v.FromTag}, {"voice.caller_number", v.CallerNumber},
		{"voice.called_number", v.CalledNumber}, {"voice.flow_name", v.FlowName}, {"voice.flow_version", v.FlowVersion},
		{"voice.queue", v.Queue}, {"voice.agent", v.Agent}, {"voice.hangup_cause", v.HangupCause}} {
		if err := checkText(f.name, f.v, 500); err != nil {
			return err
		}
	}
	if err := oneOf("voice.outcome", v.Outcome, outcomes...); err != nil {
		return err
	}
	if err := oneOf("voice.hangup_side", string(v.HangupSide), sides...); err != nil {
		return err
	}
	if v.WaitSeconds < 0 || v.TalkSeconds < 0 || v.CallbackAttempts < 0 || v.PacketsLost < 0 || v.JitterMillis < 0 {
		return fieldErr("voice", "negative duration or counter")
	}
	if len(v.Path) > 10000 {
		return fieldErr("voice.path", "more than 10000 steps")
	}
	if len(v.Legs) > maxLegs {
		return fieldErr("voice.legs", "more than %d legs", maxLegs)
	}
	for i := range v.Legs {
		normLeg(&v.Legs[i])
		if err := checkLeg(fmt.Sprintf("voice.legs[%d]", i), &v.Legs[i]); err != nil {
			return err
		}
	}
	return checkRecordings(v)
}

// maxLegs bounds the legs of one call (transfers and re-queues; the
// longest real chain is a handful).
const maxLegs = 100

var (
	sides   = []string{"", string(store.SideCaller), string(store.SideAgent), string(store.SideHotline)}
	legEnds = []string{string(store.LegHangup), string(store.LegTransferred), string(store.LegUnanswered)}
)

// normLeg keeps leg timestamps as the store keeps every timestamp: UTC,
// microseconds.
func normLeg(l *store.CallLeg) {
	l.JoinedAt, l.EndedAt = micro(l.JoinedAt), micro(l.EndedAt)
	for _, p := range []**time.Time{&l.OfferedAt, &l.AnsweredAt} {
		if *p != nil {
			t := micro(**p)
			*p = &t
		}
	}
}

func checkLeg(field string, l *store.CallLeg) error {
	for _, f := range []struct{ name, v string }{{"queue", l.Queue}, {"agent", l.Agent}, {"number", l.Number},
		{"transfer_to", l.TransferTo}, {"reason", l.Reason}} {
		if err := checkText(field+"."+f.name, f.v, 500); err != nil {
			return err
		}
	}
	if err := oneOf(field+".end", string(l.End), legEnds...); err != nil {
		return err
	}
	if err := oneOf(field+".ended_by", string(l.EndedBy), sides...); err != nil {
		return err
	}
	if l.WaitSeconds < 0 || l.TalkSeconds < 0 {
		return fieldErr(field, "negative duration")
	}
	if !l.EndedAt.IsZero() && l.EndedAt.Before(l.JoinedAt) {
		return fieldErr(field+".ended_at", "before joined_at")
	}
	if l.AnsweredAt != nil && l.AnsweredAt.Before(l.JoinedAt) {
		return fieldErr(field+".answered_at", "before joined_at")
	}
	return nil
}
