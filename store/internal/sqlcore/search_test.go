package sqlcore

import (
	"reflect"
	"testing"

	"github.com/hotline-dev/hotline/store"
)

func TestFold(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Nguyễn Văn An", "nguyen van an"},
		{"Trần Đức", "tran duc"},
		{"đường", "duong"},
		{"HOÀNG THỊ HƯƠNG", "hoang thi huong"},
		{"Lê Quý Đôn", "le quy don"},
		{"José Müller", "jose muller"},
		{"plain", "plain"},
		{"", ""},
	} {
		if got := Fold(tc.in); got != tc.want {
			t.Errorf("Fold(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
}

func TestTerms(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"Nguyễn Văn An", []string{"nguyen", "van", "an"}},
		{"  Không gọi được, tổng-đài!  ", []string{"khong", "goi", "duoc", "tong", "dai"}},
		{"an An ân", []string{"an"}},
		{"Hoá đơn 11/2026", []string{"hoa", "don", "11", "2026"}},
		{"", nil},
	} {
		if got := Terms(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Terms(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
}

func TestParseExternalID(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want store.ExternalID
		ok   bool
	}{
		{"zendesk:123", store.ExternalID{Source: "zendesk", ID: "123"}, true},
		{" Zendesk : 123 ", store.ExternalID{Source: "zendesk", ID: "123"}, true},
		{"crm:urn:x:1", store.ExternalID{Source: "crm", ID: "urn:x:1"}, true},
		{"123", store.ExternalID{}, false},
		{":123", store.ExternalID{}, false},
		{"zendesk:", store.ExternalID{}, false},
	} {
		got, ok := ParseExternalID(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseExternalID(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
