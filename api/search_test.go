package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/hotline-dev/hotline/store"
)

type customerPage struct {
	Data []store.Customer `json:"items"`
	Next string           `json:"next_cursor"`
}

func TestExternalIDsAPI(t *testing.T) { onBothStores(t, testExternalIDsAPI) }

func testExternalIDsAPI(t *testing.T, e *env) {
	c := e.customer(map[string]any{"name": "Nguyễn Văn An", "external_ids": []map[string]string{{"source": "Zendesk", "id": "9001"}}})
	if want := []store.ExternalID{{Source: "zendesk", ID: "9001"}}; !reflect.DeepEqual(c.ExternalIDs, want) {
		t.Fatalf("created external ids %v; want %v", c.ExternalIDs, want)
	}
	var page customerPage
	e.must(http.StatusOK, "GET", "/api/v1/customers?external_id=zendesk:9001", nil, &page)
	if len(page.Data) != 1 || page.Data[0].ID != c.ID {
		t.Fatalf("by external id: %+v", page)
	}
	e.must(http.StatusOK, "GET", "/api/v1/customers?external_id=zendesk:404", nil, &page)
	if len(page.Data) != 0 {
		t.Fatalf("unknown external id found %+v", page.Data)
	}
	if r := e.do("GET", "/api/v1/customers?external_id=9001", writeToken, nil); r.status != 422 || decodeErr(t, r).Error.Field != "external_id" {
		t.Fatalf("external_id without source: %d %s", r.status, r.body)
	}

	// A duplicate (source, id) is a 409 naming the owner.
	r := e.do("POST", "/api/v1/customers", writeToken, map[string]any{"name": "B", "external_ids": []map[string]string{{"source": "zendesk", "id": "9001"}}})
	if ae := decodeErr(t, r); r.status != 409 || ae.Error.Field != "external_ids[0]" || !strings.Contains(ae.Error.Message, fmt.Sprintf("customer %d", c.ID)) {
		t.Fatalf("duplicate: %d %s", r.status, r.body)
	}

	// Every problem in one 422, each with its pointer.
	r = e.do("POST", "/api/v1/customers", writeToken, map[string]any{"name": "B",
		"external_ids": []map[string]string{{"source": "", "id": "1"}, {"source": "crm", "id": ""}, {"source": "CRM", "id": "2"}}})
	var full struct {
		Error struct {
			Errors []struct{ Field, Pointer string } `json:"errors"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.body, &full); err != nil || r.status != 422 {
		t.Fatalf("invalid ids: %d %s", r.status, r.body)
	}
	var ptrs []string
	for _, x := range full.Error.Errors {
		ptrs = append(ptrs, x.Pointer)
	}
	if want := []string{"/external_ids/0/source", "/external_ids/1/id", "/external_ids/2/source"}; !reflect.DeepEqual(ptrs, want) {
		t.Fatalf("pointers %v; want %v (%s)", ptrs, want, r.body)
	}

	// PATCH with If-Match sets the ids and moves the ETag.
	g := e.do("GET", fmt.Sprintf("/api/v1/customers/%d", c.ID), writeToken, nil)
	tag := g.header.Get("ETag")
	p := e.doWith("PATCH", fmt.Sprintf("/api/v1/customers/%d", c.ID), writeToken,
		map[string]any{"external_ids": []map[string]string{{"source": "zendesk", "id": "9001"}, {"source": "freshdesk", "id": "77"}}},
		map[string]string{"If-Match": tag})
	if p.status != 200 || p.header.Get("ETag") == tag {
		t.Fatalf("patch: %d etag %q (was %q) %s", p.status, p.header.Get("ETag"), tag, p.body)
	}
	if s := e.doWith("PATCH", fmt.Sprintf("/api/v1/customers/%d", c.ID), writeToken,
		map[string]any{"external_ids": []map[string]string{}}, map[string]string{"If-Match": tag}); s.status != 412 {
		t.Fatalf("stale patch: %d", s.status)
	}
	e.must(http.StatusOK, "GET", "/api/v1/customers?external_id=freshdesk:77", nil, &page)
	if len(page.Data) != 1 || page.Data[0].ID != c.ID {
		t.Fatalf("after patch: %+v", page)
	}

	// Idempotency-Key replays the first answer, with its external ids.
	body := map[string]any{"name": "Idem", "external_ids": []map[string]string{{"source": "zendesk", "id": "idem-1"}}}
	first := e.doWith("POST", "/api/v1/customers", writeToken, body, map[string]string{"Idempotency-Key": "k-ext-1"})
	again := e.doWith("POST", "/api/v1/customers", writeToken, body, map[string]string{"Idempotency-Key": "k-ext-1"})
	if first.status != 201 || again.status != 201 || string(first.body) != string(again.body) {
		t.Fatalf("idempotent create: %d %s / %d %s", first.status, first.body, again.status, again.body)
	}

	// Tickets.
	tk := e.ticket(map[string]any{"customer_id": c.ID, "subject": "Không gọi được tổng đài",
		"external_ids": []map[string]string{{"source": "freshdesk", "id": "4411"}}})
	var tickets struct {
		Data []store.Ticket `json:"items"`
	}
	e.must(http.StatusOK, "GET", "/api/v1/tickets?external_id=freshdesk:4411", nil, &tickets)
	if len(tickets.Data) != 1 || tickets.Data[0].ID != tk.ID {
		t.Fatalf("ticket by external id: %+v", tickets)
	}
	r = e.do("POST", "/api/v1/tickets", writeToken, map[string]any{"customer_id": c.ID, "subject": "x",
		"external_ids": []map[string]string{{"source": "freshdesk", "id": "4411"}}})
	if ae := decodeErr(t, r); r.status != 409 || !strings.Contains(ae.Error.Message, fmt.Sprintf("ticket %d", tk.ID)) {
		t.Fatalf("duplicate ticket id: %d %s", r.status, r.body)
	}
	e.must(http.StatusOK, "GET", "/api/v1/tickets?q="+url.QueryEscape("tong dai"), nil, &tickets)
	if len(tickets.Data) != 1 || tickets.Data[0].ID != tk.ID {
		t.Fatalf("ticket search: %+v", tickets)
	}
}

func TestSearchAPI(t *testing.T) { onBothStores(t, testSearchAPI) }

func testSearchAPI(t *testing.T, e *env) {
	an := e.customer(map[string]any{"name": "Nguyễn Văn An", "phones": []string{"0912 345 678"}, "emails": []string{"an@example.vn"}})
	duc := e.customer(map[string]any{"name": "Trần Đức Nguyên"})
	for _, tc := range []struct {
		q    string
		want []int64
	}{
		{"0912 345 678", []int64{an.ID}},
		{"+84 912-345-678", []int64{an.ID}},
		{"AN@EXAMPLE.VN", []int64{an.ID}},
		{"nguyen", []int64{an.ID, duc.ID}},
		{"đức", []int64{duc.ID}},
		{"nobody", []int64{}},
	} {
		var page customerPage
		e.must(http.StatusOK, "GET", "/api/v1/customers?q="+url.QueryEscape(tc.q), nil, &page)
		got := []int64{}
		for _, c := range page.Data {
			got = append(got, c.ID)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("q=%q: %v; want %v", tc.q, got, tc.want)
		}
	}
	var page customerPage
	e.must(http.StatusOK, "GET", "/api/v1/customers?q=nguyen&limit=1", nil, &page)
	if len(page.Data) != 1 || page.Data[0].ID != an.ID || page.Next == "" {
		t.Fatalf("page 1: %+v", page)
	}
	e.must(http.StatusOK, "GET", "/api/v1/customers?q=nguyen&limit=1&cursor="+url.QueryEscape(page.Next), nil, &page)
	if len(page.Data) != 1 || page.Data[0].ID != duc.ID {
		t.Fatalf("page 2: %+v", page)
	}
}
