package storetest

import (
	"errors"
	"reflect"
	"slices"
	"testing"

	"github.com/hotline-dev/hotline/store"
)

func customerIDs(cs []store.Customer) []int64 {
	out := []int64{}
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}

func testExternalIDs(t *testing.T, s store.Store) {
	a := &store.Customer{Name: "An", ExternalIDs: []store.ExternalID{{Source: " Zendesk ", ID: " 123 "}, {Source: "freshdesk", ID: "fd-9"}}}
	must(t, s.CreateCustomer(ctx(t), a))
	want := []store.ExternalID{{Source: "zendesk", ID: "123"}, {Source: "freshdesk", ID: "fd-9"}}
	got, err := s.GetCustomer(ctx(t), a.ID)
	must(t, err)
	if !reflect.DeepEqual(got.ExternalIDs, want) || !reflect.DeepEqual(a.ExternalIDs, want) {
		t.Fatalf("external ids = %v (create %v); want %v", got.ExternalIDs, a.ExternalIDs, want)
	}
	// The same id in another source, or for a ticket, is someone else's.
	b := &store.Customer{Name: "Bình", ExternalIDs: []store.ExternalID{{Source: "hubspot", ID: "123"}}}
	must(t, s.CreateCustomer(ctx(t), b))
	dup := &store.Customer{Name: "Dup", ExternalIDs: []store.ExternalID{{Source: "ZENDESK", ID: "123"}}}
	err = s.CreateCustomer(ctx(t), dup)
	wantIs(t, err, store.ErrConflict)
	var ce *store.ConflictError
	if !errors.As(err, &ce) || ce.Field != "external_ids[0]" {
		t.Fatalf("conflict = %v; want on external_ids[0]", err)
	}
	wantField(t, s.CreateCustomer(ctx(t), &store.Customer{Name: "X", ExternalIDs: []store.ExternalID{{Source: "zendesk"}}}), "external_ids[0].id")
	wantField(t, s.CreateCustomer(ctx(t), &store.Customer{Name: "X", ExternalIDs: []store.ExternalID{{Source: "a:b", ID: "1"}}}), "external_ids[0].source")
	wantField(t, s.CreateCustomer(ctx(t), &store.Customer{Name: "X", ExternalIDs: []store.ExternalID{{Source: "z", ID: "1"}, {Source: "Z", ID: "2"}}}), "external_ids[1].source")

	cs, _, err := s.ListCustomers(ctx(t), store.CustomerFilter{ExternalID: store.ExternalID{Source: "Zendesk", ID: "123"}}, store.Page{})
	must(t, err)
	if ids := customerIDs(cs); !reflect.DeepEqual(ids, []int64{a.ID}) {
		t.Fatalf("by zendesk:123 = %v; want [%d]", ids, a.ID)
	}
	// Setting an external id is a change for sync: the version moves.
	before := got.Version
	got.ExternalIDs = []store.ExternalID{{Source: "zendesk", ID: "124"}}
	must(t, s.UpdateCustomer(ctx(t), got))
	if got.Version == before {
		t.Fatalf("version unchanged after setting an external id")
	}
	cs, _, err = s.ListCustomers(ctx(t), store.CustomerFilter{ExternalID: store.ExternalID{Source: "freshdesk", ID: "fd-9"}}, store.Page{})
	must(t, err)
	if len(cs) != 0 {
		t.Fatalf("removed id still finds %v", customerIDs(cs))
	}
	// The freed id can be taken.
	must(t, s.CreateCustomer(ctx(t), &store.Customer{Name: "C", ExternalIDs: []store.ExternalID{{Source: "zendesk", ID: "123"}}}))

	tk := &store.Ticket{CustomerID: a.ID, Subject: "Mất kết nối", ExternalIDs: []store.ExternalID{{Source: "zendesk", ID: "123"}}}
	must(t, s.CreateTicket(ctx(t), tk))
	gt, err := s.GetTicket(ctx(t), tk.ID)
	must(t, err)
	if !reflect.DeepEqual(gt.ExternalIDs, []store.ExternalID{{Source: "zendesk", ID: "123"}}) {
		t.Fatalf("ticket external ids = %v", gt.ExternalIDs)
	}
	err = s.CreateTicket(ctx(t), &store.Ticket{CustomerID: a.ID, Subject: "dup", ExternalIDs: gt.ExternalIDs})
	wantIs(t, err, store.ErrConflict)
	ts, _, err := s.ListTickets(ctx(t), store.TicketFilter{ExternalID: store.ExternalID{Source: "zendesk", ID: "123"}}, store.Page{})
	must(t, err)
	if len(ts) != 1 || ts[0].ID != tk.ID {
		t.Fatalf("ticket by zendesk:123 = %+v", ts)
	}
	before = gt.Version
	gt.ExternalIDs = nil
	must(t, s.UpdateTicket(ctx(t), gt))
	if gt.Version == before || len(gt.ExternalIDs) != 0 {
		t.Fatalf("ticket after clearing ids: %+v (version was %d)", gt, before)
	}
}

func testSearch(t *testing.T, s store.Store) {
	an := &store.Customer{Name: "Nguyễn Văn An", Phones: []string{"0912 345 678"}, Emails: []string{"An.Nguyen@Example.com"},
		ExternalIDs: []store.ExternalID{{Source: "zendesk", ID: "z-77"}}}
	duc := &store.Customer{Name: "Trần Đức Nguyên", Phones: []string{"0987 654 321"}}
	bob := &store.Customer{Name: "Bob Smith"}
	for _, c := range []*store.Customer{an, duc, bob} {
		must(t, s.CreateCustomer(ctx(t), c))
	}
	for _, tc := range []struct {
		q    string
		want []int64
	}{
		{"0912 345 678", []int64{an.ID}},
		{"+84 912-345-678", []int64{an.ID}},
		{"84912345678", []int64{an.ID}},
		{"AN.NGUYEN@example.COM", []int64{an.ID}},
		{"nguyen", []int64{an.ID, duc.ID}},
		{"NGUYỄN", []int64{an.ID, duc.ID}},
		{"nguyen an", []int64{an.ID}},
		{"duc", []int64{duc.ID}},
		{"đức", []int64{duc.ID}},
		{"smi", []int64{bob.ID}},
		{"zendesk:z-77", []int64{an.ID}},
		{"z-77", []int64{an.ID}},
		{"nobody", []int64{}},
	} {
		cs, _, err := s.ListCustomers(ctx(t), store.CustomerFilter{Query: tc.q}, store.Page{})
		must(t, err)
		if got := customerIDs(cs); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("q=%q: %v; want %v", tc.q, got, tc.want)
		}
	}
	// Renaming moves the terms.
	bob.Name = "Robert Lê"
	must(t, s.UpdateCustomer(ctx(t), bob))
	cs, _, err := s.ListCustomers(ctx(t), store.CustomerFilter{Query: "le"}, store.Page{})
	must(t, err)
	if got := customerIDs(cs); !reflect.DeepEqual(got, []int64{bob.ID}) {
		t.Errorf("q=le after rename: %v", got)
	}
	cs, _, err = s.ListCustomers(ctx(t), store.CustomerFilter{Query: "smith"}, store.Page{})
	must(t, err)
	if len(cs) != 0 {
		t.Errorf("old name still found: %v", customerIDs(cs))
	}

	// Pagination with the usual cursor, combined with another filter.
	var pages []int64
	cur := ""
	for range 5 {
		cs, next, err := s.ListCustomers(ctx(t), store.CustomerFilter{Query: "nguyen"}, store.Page{Limit: 1, Cursor: cur})
		must(t, err)
		pages = append(pages, customerIDs(cs)...)
		if next == "" {
			break
		}
		cur = next
	}
	if !reflect.DeepEqual(pages, []int64{an.ID, duc.ID}) {
		t.Errorf("paged search = %v", pages)
	}

	t1 := &store.Ticket{CustomerID: an.ID, Subject: "Không gọi được tổng đài", ExternalIDs: []store.ExternalID{{Source: "freshdesk", ID: "4411"}}}
	t2 := &store.Ticket{CustomerID: duc.ID, Subject: "Hoá đơn tháng 11"}
	must(t, s.CreateTicket(ctx(t), t1))
	must(t, s.CreateTicket(ctx(t), t2))
	for _, tc := range []struct {
		q    string
		want []int64
	}{
		{"tong dai", []int64{t1.ID}},
		{"hoa don", []int64{t2.ID}},
		{"4411", []int64{t1.ID}},
		{"freshdesk:4411", []int64{t1.ID}},
		{"goi", []int64{t1.ID}},
	} {
		ts, _, err := s.ListTickets(ctx(t), store.TicketFilter{Query: tc.q}, store.Page{})
		must(t, err)
		var got []int64
		for _, x := range ts {
			got = append(got, x.ID)
		}
		slices.Sort(got)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ticket q=%q: %v; want %v", tc.q, got, tc.want)
		}
	}

	// Rows LogCalls creates in its batch are searchable too.
	res := logCall(t, s, rec("search-1", "0281 234 5678", "Kỹ thuật"))
	ts, _, err := s.ListTickets(ctx(t), store.TicketFilter{Query: "call ky thuat"}, store.Page{})
	must(t, err)
	if len(ts) != 1 || ts[0].ID != res.TicketID {
		t.Errorf("logged call's ticket by subject: %+v; want ticket %d", ts, res.TicketID)
	}
}
