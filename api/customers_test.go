package api_test

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/hotline-dev/hotline/store"
)

func TestCustomerCreateGetPatch(t *testing.T) { onBothStores(t, testCustomerCreateGetPatch) }

func testCustomerCreateGetPatch(t *testing.T, e *env) {
	c := e.customer(map[string]any{"name": "Nguyễn Văn An", "phones": []string{"0912 345 678"},
		"emails": []string{"an@example.vn"}, "tier": "vip", "attributes": map[string]string{"city": "Hà Nội"}})
	if c.ID == 0 || c.Phones[0] != "+84912345678" || c.Tier != "vip" || c.Attributes["city"] != "Hà Nội" {
		t.Fatalf("created %+v", c)
	}

	var got store.Customer
	r := e.must(http.StatusOK, "GET", fmt.Sprintf("/api/v1/customers/%d", c.ID), nil, &got)
	if got.Name != c.Name || got.Emails[0] != "an@example.vn" {
		t.Fatalf("got %+v", got)
	}
	if r.header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Errorf("content type %q", r.header.Get("Content-Type"))
	}

	// PATCH changes only the fields sent.
	var patched store.Customer
	e.must(http.StatusOK, "PATCH", fmt.Sprintf("/api/v1/customers/%d", c.ID),
		map[string]any{"tier": "standard", "phones": []string{"+84 912 345 678", "+66 81 234 5678"}}, &patched)
	if patched.Name != c.Name || patched.Tier != "standard" || len(patched.Phones) != 2 || patched.Phones[1] != "+66812345678" {
		t.Fatalf("patched %+v", patched)
	}
	if len(patched.Emails) != 1 {
		t.Fatalf("emails lost on patch: %+v", patched)
	}
	e.must(http.StatusOK, "GET", fmt.Sprintf("/api/v1/customers/%d", c.ID), nil, &got)
	if got.Tier != "standard" || len(got.Phones) != 2 {
		t.Fatalf("patch not stored: %+v", got)
	}
}

func TestCustomerErrors(t *testing.T) { onBothStores(t, testCustomerErrors) }

func testCustomerErrors(t *testing.T, e *env) {
	owner := e.customer(map[string]any{"name": "A", "phones": []string{"+84912345678"}, "emails": []string{"a@example.com"}})
	other := e.customer(map[string]any{"name": "B"})
	checkErrors(t, e, []errorCase{
		{"duplicate phone", "POST", "/api/v1/customers", `{"name":"X","phones":["0912345678"]}`, 409, "conflict", "phones[0]"},
		{"duplicate email on patch", "PATCH", fmt.Sprintf("/api/v1/customers/%d", other.ID), `{"emails":["a@example.com"]}`, 409, "conflict", "emails[0]"},
		{"bad phone", "POST", "/api/v1/customers", `{"name":"X","phones":["12ab"]}`, 422, "invalid", "phones[0]"},
		{"bad tier", "POST", "/api/v1/customers", `{"name":"X","tier":"gold"}`, 422, "invalid", "tier"},
		{"bad email", "POST", "/api/v1/customers", `{"name":"X","emails":["nope"]}`, 422, "invalid", "emails[0]"},
		{"empty customer", "POST", "/api/v1/customers", `{}`, 422, "invalid", "name"},
		{"wrong type", "POST", "/api/v1/customers", `{"name":"X","phones":"0912345678"}`, 422, "invalid", "phones"},
		{"id not accepted", "POST", "/api/v1/customers", `{"id":5,"name":"X"}`, 400, "unknown_field", "id"},
		{"unknown field on patch", "PATCH", fmt.Sprintf("/api/v1/customers/%d", owner.ID), `{"nmae":"X"}`, 400, "unknown_field", "nmae"},
		{"missing", "GET", "/api/v1/customers/999999", nil, 404, "not_found", ""},
		{"non-numeric id", "GET", "/api/v1/customers/abc", nil, 404, "not_found", ""},
		{"patch missing", "PATCH", "/api/v1/customers/999999", `{"name":"X"}`, 404, "not_found", ""},
		{"lookup neither", "GET", "/api/v1/customers/lookup", nil, 422, "invalid", "phone"},
		{"lookup both", "GET", "/api/v1/customers/lookup?phone=0912345678&email=a@example.com", nil, 422, "invalid", "phone"},
		{"lookup bad phone", "GET", "/api/v1/customers/lookup?phone=xyz", nil, 422, "invalid", "phone"},
		{"lookup unknown phone", "GET", "/api/v1/customers/lookup?phone=0987654321", nil, 404, "not_found", ""},
		{"lookup unknown email", "GET", "/api/v1/customers/lookup?email=zz@example.com", nil, 404, "not_found", ""},
		{"list bad tier", "GET", "/api/v1/customers?tier=gold", nil, 422, "invalid", "tier"},
		{"list bad limit", "GET", "/api/v1/customers?limit=0", nil, 422, "invalid", "limit"},
		{"list huge limit", "GET", "/api/v1/customers?limit=100000", nil, 422, "invalid", "limit"},
		{"list bad cursor", "GET", "/api/v1/customers?cursor=garbage", nil, 422, "invalid", "cursor"},
		{"timeline missing customer", "GET", "/api/v1/customers/999999/timeline", nil, 404, "not_found", ""},
	})
}

func TestCustomerLookupAndList(t *testing.T) { onBothStores(t, testCustomerLookupAndList) }

func testCustomerLookupAndList(t *testing.T, e *env) {
	an := e.customer(map[string]any{"name": "An", "phones": []string{"0912345678"}, "emails": []string{"An@Example.vn"}, "tier": "vip"})
	e.customer(map[string]any{"name": "Somchai", "phones": []string{"+66812345678"}})
	for _, q := range []url.Values{{"phone": {"0912345678"}}, {"phone": {"+84912345678"}},
		{"phone": {"+84 912 345 678"}}, {"phone": {"tel:+84-912-345-678"}}, {"email": {"an@example.vn"}}} {
		var got store.Customer
		e.must(http.StatusOK, "GET", "/api/v1/customers/lookup?"+q.Encode(), nil, &got)
		if got.ID != an.ID {
			t.Errorf("lookup %s: got customer %d, want %d", q, got.ID, an.ID)
		}
	}
	var vips struct {
		Items      []store.Customer `json:"items"`
		NextCursor string           `json:"next_cursor"`
	}
	e.must(http.StatusOK, "GET", "/api/v1/customers?tier=vip", nil, &vips)
	if len(vips.Items) != 1 || vips.Items[0].ID != an.ID || vips.NextCursor != "" {
		t.Fatalf("vip list %+v", vips)
	}
	e.must(http.StatusOK, "GET", "/api/v1/customers?phone="+url.QueryEscape("+66 81 234 5678"), nil, &vips)
	if len(vips.Items) != 1 || vips.Items[0].Name != "Somchai" {
		t.Fatalf("phone filter %+v", vips)
	}
}

// TestCustomerPagination walks every page and finds each customer once.
func TestCustomerPagination(t *testing.T) { onBothStores(t, testCustomerPagination) }

func testCustomerPagination(t *testing.T, e *env) {
	want := map[int64]bool{}
	for i := range 7 {
		c := e.customer(map[string]any{"name": fmt.Sprintf("c%d", i), "chat_handles": []string{fmt.Sprintf("zalo:%d", i)}})
		want[c.ID] = true
	}
	seen := map[int64]bool{}
	cursor, pages := "", 0
	for {
		var page struct {
			Items      []store.Customer `json:"items"`
			NextCursor string           `json:"next_cursor"`
		}
		e.must(http.StatusOK, "GET", "/api/v1/customers?limit=3&cursor="+url.QueryEscape(cursor), nil, &page)
		pages++
		if len(page.Items) > 3 {
			t.Fatalf("page of %d items with limit 3", len(page.Items))
		}
		for _, c := range page.Items {
			if seen[c.ID] {
				t.Fatalf("customer %d on two pages", c.ID)
			}
			seen[c.ID] = true
		}
		if page.NextCursor == "" {
			break
		}
		if pages > 10 {
			t.Fatal("pagination does not end")
		}
		cursor = page.NextCursor
	}
	if len(seen) != len(want) || pages < 3 {
		t.Fatalf("saw %d customers in %d pages, want %d in at least 3", len(seen), pages, len(want))
	}
}
