package api_test

import (
	"errors"
	"net/http"
	"testing"

	"github.com/hotline-dev/hotline/api"
)

// checkDecodeErr is the property every decoder keeps on any input: no
// panic, and a failure is a client error (400 or 422) that names the
// field whenever it is about one.
func checkDecodeErr(t *testing.T, in []byte, err error) {
	if err == nil {
		return
	}
	var ae *api.Error
	if !errors.As(err, &ae) {
		t.Fatalf("input %q: error %T %v is not *api.Error", in, err, err)
	}
	switch ae.Status() {
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
	default:
		t.Fatalf("input %q: status %d (%v)", in, ae.Status(), err)
	}
	// An unknown field may legitimately be "" (the JSON key {"": 1}).
	if errors.Is(err, api.ErrInvalid) && ae.Field == "" {
		t.Fatalf("input %q: %v names no field", in, err)
	}
	if ae.Message == "" {
		t.Fatalf("input %q: empty message", in)
	}
}

var jsonSeeds = []string{
	``, `{}`, `null`, `[]`, `"x"`, `{"a":1}`, `{"name":`, "{\n\"name\": \"x\",\n}", `{} {}`, `{"name":"\u0000"}`,
	`{"name":1e999}`, `{"customer_id":-1}`, `{"customer_id":1.5}`, `{"customer_id":99999999999999999999}`,
}

func FuzzDecodeCustomer(f *testing.F) {
	for _, s := range append(jsonSeeds,
		`{"name":"Nguyễn Văn An","phones":["0912 345 678"],"emails":["an@example.vn"],"tier":"vip","attributes":{"city":"Hà Nội"}}`,
		`{"chat_handles":["zalo:123"]}`, `{"tier":"gold","name":"x"}`, `{"attributes":{"":""},"name":"x"}`,
		`{"phones":"0912"}`, `{"name":"x","name":"y"}`, `{"Name":"case"}`) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := api.DecodeCustomer(b)
		checkDecodeErr(t, b, err)
		if err == nil && c.Name == "" && len(c.Phones)+len(c.Emails)+len(c.ChatHandles) == 0 {
			t.Fatalf("input %q: accepted a customer with nothing to identify it", b)
		}
	})
}

func FuzzDecodeTicket(f *testing.F) {
	for _, s := range append(jsonSeeds,
		`{"customer_id":1,"subject":"Đơn hàng","category":"shipping","tags":["email"],"status":"pending","priority":"high","channel":"email"}`,
		`{"customer_id":1,"subject":"x","status":"done"}`, `{"customer_id":1,"subject":"x","tags":[""]}`,
		`{"customer_id":"1","subject":"x"}`, `{"customer_id":1,"subject":"x","channel":"fax"}`) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		tk, err := api.DecodeTicket(b)
		checkDecodeErr(t, b, err)
		if err == nil && (tk.CustomerID <= 0 || tk.Status == "" || tk.Priority == "") {
			t.Fatalf("input %q: accepted %+v", b, tk)
		}
	})
}

func FuzzDecodeInteraction(f *testing.F) {
	for _, s := range append(jsonSeeds,
		`{"customer_id":1,"ticket_id":2,"channel":"email","direction":"inbound","started_at":"2026-11-01T09:00:00Z","ended_at":"2026-11-01T09:05:00+07:00","summary":"Re: x","body":"hi","details":{"message_id":"<a@b>"}}`,
		`{"ticket_id":2,"channel":"voice","voice":{"call_id":"a@b","path":[{"node":"menu","type":"menu","at":"2026-01-01T00:00:00Z","digits":"1"}]}}`,
		`{"customer_id":1,"channel":"chat","started_at":"yesterday"}`, `{"customer_id":1,"channel":"chat","details":[1]}`,
		`{"customer_id":1,"channel":"chat","details":null}`, `{"customer_id":1,"channel":"email","voice":{}}`,
		`{"customer_id":1,"channel":"chat","voice":{"path":[{"at":"x"}]}}`) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		i, err := api.DecodeInteraction(b)
		checkDecodeErr(t, b, err)
		if err == nil && (i.CustomerID == 0 && i.TicketID == 0 || i.Channel == "" || i.Direction == "") {
			t.Fatalf("input %q: accepted %+v", b, i)
		}
		if err == nil && i.EndedAt != nil && !i.StartedAt.IsZero() && i.EndedAt.Before(i.StartedAt) {
			t.Fatalf("input %q: accepted an interaction that ends before it starts", b)
		}
		m, err := api.DecodeMessage(b)
		checkDecodeErr(t, b, err)
		if err == nil && (m.Channel == "" || m.CustomerID != 0 || m.TicketID != 0) {
			t.Fatalf("input %q: message accepted %+v", b, m)
		}
	})
}

func FuzzDecodeCallback(f *testing.F) {
	for _, s := range append(jsonSeeds,
		`{"number":"0912 345 678","queue":"technical"}`,
		`{"number":"+84912345678","queue":"sales","at":"2026-11-24T10:00:00+07:00","customer_id":3,"note":"gọi lại giúp tôi"}`,
		`{"number":"+84912345678","queue":"sales","at":"tomorrow"}`, `{"number":"","queue":"x"}`, `{"number":"1","queue":""}`,
		`{"number":"+84912345678","queue":"sales","ticket_id":-4}`, `{"number":"+84912345678","queue":"sales","at":"2026-13-40T99:00:00Z"}`) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := api.DecodeCallback(b)
		checkDecodeErr(t, b, err)
		if err == nil && (r.Number == "" || r.Queue == "" || r.CustomerID < 0 || r.TicketID < 0) {
			t.Fatalf("input %q: accepted %+v", b, r)
		}
	})
}
