package sip

import (
	"errors"
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
