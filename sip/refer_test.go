package sip

import (
	"errors"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

func TestParseRefer(t *testing.T) {
	tests := []struct {
		name   string
		values []string // Refer-To header values
		by     string
		want   Refer
		status int // 0: accepted; else the status it maps to
	}{
		{name: "queue", values: []string{"<sip:sales@hotline>"}, want: Refer{User: "sales", Host: "hotline"}},
		{name: "number with port", values: []string{"<sip:+842838001234@Trunk.Example:5070>"}, by: "<sip:1001@hotline>",
			want: Refer{User: "+842838001234", Host: "trunk.example", Port: 5070, ReferredBy: "<sip:1001@hotline>"}},
		{name: "name-addr", values: []string{`"Sales" <sip:sales@hotline>`}, want: Refer{User: "sales", Host: "hotline"}},
		{name: "bare uri", values: []string{"sip:2001@pbx.example"}, want: Refer{User: "2001", Host: "pbx.example"}},
		{name: "escaped hash", values: []string{"<sip:12%23@pbx.example>"}, want: Refer{User: "12#", Host: "pbx.example"}},
		{name: "uri params kept out", values: []string{"<sip:2001@pbx.example;transport=udp>"}, want: Refer{User: "2001", Host: "pbx.example"}},
		{name: "missing", status: 400},
		{name: "two headers", values: []string{"<sip:a@h>", "<sip:b@h>"}, status: 400},
		{name: "two values", values: []string{"<sip:a@h>, <sip:b@h>"}, status: 400},
		{name: "bare two values", values: []string{"sip:a@h,sip:b@h"}, status: 400},
		{name: "replaces", values: []string{"<sip:2001@pbx.example?Replaces=abc%40h%3Bto-tag%3D1%3Bfrom-tag%3D2>"}, status: 400},
		{name: "embedded header", values: []string{"<sip:2001@pbx.example?Subject=hi>"}, status: 400},
		{name: "no user", values: []string{"<sip:pbx.example>"}, status: 400},
		{name: "empty", values: []string{"<>"}, status: 400},
		{name: "no scheme", values: []string{"<2001>"}, status: 400},
		{name: "unclosed", values: []string{"<sip:2001@pbx.example"}, status: 400},
		{name: "NUL in user", values: []string{"<sip:20%0001@pbx.example>"}, status: 400},
		{name: "tel", values: []string{"<tel:+842838001234>"}, status: 403},
		{name: "sips", values: []string{"<sips:2001@pbx.example>"}, status: 403},
		{name: "http", values: []string{"<http://evil.example/>"}, status: 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := sip.NewRequest(sip.REFER, sip.Uri{Scheme: "sip", User: "hotline", Host: "127.0.0.1"})
			for _, v := range tt.values {
				req.AppendHeader(sip.NewHeader("Refer-To", v))
			}
			if tt.by != "" {
				req.AppendHeader(sip.NewHeader("Referred-By", tt.by))
			}
			got, err := parseRefer(req)
			if tt.status == 0 {
				if err != nil || got != tt.want {
					t.Fatalf("parseRefer = %+v, %v; want %+v", got, err, tt.want)
				}
				return
			}
			status := 400
			var se *StatusError
			if errors.As(err, &se) {
				status = se.Code
			}
			if err == nil || !errors.Is(err, ErrBadRefer) || status != tt.status {
				t.Fatalf("parseRefer = %+v, %v (status %d); want status %d", got, err, status, tt.status)
			}
		})
	}
}

func TestSipfrag(t *testing.T) {
	tests := []struct {
		code   int
		reason string
		want   string
	}{
		{100, "Trying", "SIP/2.0 100 Trying\r\n"},
		{200, "OK", "SIP/2.0 200 OK\r\n"},
		{486, "Busy\r\nX-Evil: 1", "SIP/2.0 486 BusyX-Evil: 1\r\n"},
		{503, "", "SIP/2.0 503 Unknown\r\n"},
		{7, "bogus", "SIP/2.0 500 Server Internal Error\r\n"},
	}
	for _, tt := range tests {
		if got := string(sipfrag(tt.code, tt.reason)); got != tt.want {
			t.Errorf("sipfrag(%d, %q) = %q, want %q", tt.code, tt.reason, got, tt.want)
		}
	}
}

func TestReferURI(t *testing.T) {
	if got := (Refer{User: "2001", Host: "pbx.example", Port: 5070}).URI(); got != "sip:2001@pbx.example:5070" {
		t.Fatal(got)
	}
	if got := (Refer{User: "sales", Host: "hotline"}).URI(); got != "sip:sales@hotline" {
		t.Fatal(got)
	}
}

// TestReferInDialog drives Client.onRefer over loopback: the far end of an
// OutboundCall (here Hotline's own server leg) sends REFER in the dialog.
func TestReferInDialog(t *testing.T) {
	h := newWaitHandler()
	r := newRig(t, h, nil)
	oc := r.dial("100", DialOptions{})
	c := <-h.calls
	refer := func(referTo string, hdrs ...sip.Header) *sip.Response {
		t.Helper()
		req := sip.NewRequest(sip.REFER, c.dialog.InviteRequest.Contact().Address)
		if referTo != "" {
			req.AppendHeader(sip.NewHeader("Refer-To", referTo))
		}
		for _, h := range hdrs {
			req.AppendHeader(h)
		}
		res, err := c.dialog.Do(r.ctx, req)
		if err != nil {
			t.Fatalf("REFER: %v", err)
		}
		return res
	}
	if res := refer("<sip:sales@hotline>"); res.StatusCode != 403 {
		t.Fatalf("REFER without OnRefer: %d, want 403", res.StatusCode)
	}
	accepted := make(chan *Transfer, 1)
	oc.OnRefer(func(tr *Transfer) error {
		if tr.User == "nobody" {
			return &StatusError{Code: 404, Reason: "Not Found"}
		}
		accepted <- tr
		return nil
	})
	steps := []struct {
		name    string
		referTo string
		hdrs    []sip.Header
		want    int
	}{
		{"no Refer-To", "", nil, 400},
		{"Replaces", "<sip:sales@hotline?Replaces=x%40y>", nil, 400},
		{"refused by OnRefer", "<sip:nobody@hotline>", nil, 404},
		{"accepted without subscription", "<sip:sales@hotline>", []sip.Header{sip.NewHeader("Refer-Sub", "false")}, 202},
		{"second transfer", "<sip:sales@hotline>", nil, 491},
	}
	for _, s := range steps {
		res := s.want
		if got := refer(s.referTo, s.hdrs...); got.StatusCode != res {
			t.Fatalf("%s: %d, want %d", s.name, got.StatusCode, res)
		} else if res == 202 {
			if h := got.GetHeader("Refer-Sub"); h == nil || h.Value() != "false" {
				t.Fatalf("202 without Refer-Sub: false (RFC 4488 §4)")
			}
		}
	}
	tr := <-accepted
	if tr.User != "sales" || tr.Host != "hotline" {
		t.Fatalf("transfer %+v", tr.Refer)
	}
	if err := tr.Finish(r.ctx, 200, "OK"); err != nil { // no subscription: nothing to send
		t.Fatalf("Finish: %v", err)
	}
	if err := tr.Finish(r.ctx, 500, "again"); !errors.Is(err, ErrCallEnded) {
		t.Fatalf("second Finish: %v", err)
	}
	if err := oc.Hangup(r.ctx); err != nil {
		t.Fatal(err)
	}
}

// FuzzParseRefer: any Refer-To value is refused or yields a clean target.
func FuzzParseRefer(f *testing.F) {
	for _, s := range []string{"<sip:sales@hotline>", "sip:2001@pbx.example:5070", `"A" <sip:+84@h>;x=y`,
		"<sip:a@h?Replaces=x>", "<tel:1>", "<sip:%00@h>", "<<sip:a@h>>", "sip:a@h,sip:b@h", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		req := sip.NewRequest(sip.REFER, sip.Uri{Scheme: "sip", User: "hotline", Host: "127.0.0.1"})
		req.AppendHeader(sip.NewHeader("Refer-To", v))
		ref, err := parseRefer(req)
		if err != nil {
			return
		}
		if ref.User == "" || ref.Host == "" || clean(ref.User) != ref.User || clean(ref.Host) != ref.Host ||
			strings.ContainsAny(ref.URI(), "?<>\" ") {
			t.Fatalf("parseRefer(%q) = %+v", v, ref)
		}
	})
}
