package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/hotline-dev/hotline/store"
)

func testCustomerCRUD(t *testing.T, s store.Store) {
	c := &store.Customer{Name: " Nguyễn Văn A ", Phones: []string{"0912 345 678", "+84912345678", "028 3822 1234"},
		Emails: []string{"An@Example.COM"}, ChatHandles: []string{"zalo:an"}, Attributes: map[string]string{"city": "Hà Nội"}}
	must(t, s.CreateCustomer(ctx(t), c))
	if c.ID <= 0 || c.CreatedAt.IsZero() || c.Tier != store.TierNew {
		t.Fatalf("after create: %+v", c)
	}
	if want := []string{"+84912345678", "+842838221234"}; !reflect.DeepEqual(c.Phones, want) {
		t.Fatalf("phones = %v; want %v", c.Phones, want)
	}
	got, err := s.GetCustomer(ctx(t), c.ID)
	must(t, err)
	if got.Name != "Nguyễn Văn A" || !reflect.DeepEqual(got.Phones, c.Phones) || !reflect.DeepEqual(got.Emails, []string{"an@example.com"}) ||
		!reflect.DeepEqual(got.ChatHandles, []string{"zalo:an"}) || got.Attributes["city"] != "Hà Nội" || !got.CreatedAt.Equal(c.CreatedAt) {
		t.Fatalf("get = %+v; created %+v", got, c)
	}
	got.Tier = store.TierVIP
	got.Phones = []string{"+66812345678"}
	got.Emails = nil
	must(t, s.UpdateCustomer(ctx(t), got))
	again, err := s.GetCustomer(ctx(t), c.ID)
	must(t, err)
	if again.Tier != store.TierVIP || !reflect.DeepEqual(again.Phones, []string{"+66812345678"}) || len(again.Emails) != 0 {
		t.Fatalf("after update: %+v", again)
	}
	// The number given up is free for somebody else; the old one finds nothing.
	_, err = s.FindCustomerByPhone(ctx(t), "0912345678")
	wantIs(t, err, store.ErrNotFound)
	byPhone, err := s.FindCustomerByPhone(ctx(t), "+66 81 234 5678")
	must(t, err)
	if byPhone.ID != c.ID {
		t.Fatalf("find by phone = %d; want %d", byPhone.ID, c.ID)
	}
	_, err = s.GetCustomer(ctx(t), c.ID+1000)
	wantIs(t, err, store.ErrNotFound)
	err = s.UpdateCustomer(ctx(t), &store.Customer{ID: c.ID + 1000, Name: "x"})
	wantIs(t, err, store.ErrNotFound)
	_, err = s.FindCustomerByEmail(ctx(t), "nobody@example.com")
	wantIs(t, err, store.ErrNotFound)
}

func testCustomerValidation(t *testing.T, s store.Store) {
	cases := []struct {
		c     store.Customer
		field string
	}{
		{store.Customer{Phones: []string{"+84912345678", "not a number"}}, "phones[1]"},
		{store.Customer{Emails: []string{"no-at-sign"}}, "emails[0]"},
		{store.Customer{Emails: []string{"a@b.c", "@x"}}, "emails[1]"},
		{store.Customer{Tier: "gold"}, "tier"},
		{store.Customer{ChatHandles: []string{" "}}, "chat_handles[0]"},
		{store.Customer{Name: "bad\xffutf8"}, "name"},
	}
	for _, tc := range cases {
		c := tc.c
		wantField(t, s.CreateCustomer(ctx(t), &c), tc.field)
	}
	_, err := s.FindCustomerByPhone(ctx(t), "garbage")
	wantField(t, err, "phone")
	cs, _, err := s.ListCustomers(ctx(t), store.CustomerFilter{}, store.Page{})
	must(t, err)
	if len(cs) != 0 {
		t.Fatalf("invalid customers were stored: %+v", cs)
	}
}

func testCustomerConflicts(t *testing.T, s store.Store) {
	a := &store.Customer{Name: "A", Phones: []string{"0912345678"}, Emails: []string{"a@example.com"}}
	must(t, s.CreateCustomer(ctx(t), a))
	b := &store.Customer{Name: "B", Phones: []string{"+84 912 345 678"}}
	err := s.CreateCustomer(ctx(t), b)
	wantIs(t, err, store.ErrConflict)
	var ce *store.ConflictError
	if !errors.As(err, &ce) || ce.Field != "phones[0]" {
		t.Fatalf("err = %v; want ConflictError on phones[0]", err)
	}
	err = s.CreateCustomer(ctx(t), &store.Customer{Name: "C", Emails: []string{"A@EXAMPLE.com"}})
	if !errors.As(err, &ce) || ce.Field != "emails[0]" {
		t.Fatalf("err = %v; want ConflictError on emails[0]", err)
	}
	// A failed create leaves nothing behind.
	cs, _, err := s.ListCustomers(ctx(t), store.CustomerFilter{}, store.Page{})
	must(t, err)
	if len(cs) != 1 {
		t.Fatalf("%d customers; want 1", len(cs))
	}
	d := &store.Customer{Name: "D", Emails: []string{"d@example.com"}}
	must(t, s.CreateCustomer(ctx(t), d))
	d.Emails = append(d.Emails, "a@example.com")
	wantIs(t, s.UpdateCustomer(ctx(t), d), store.ErrConflict)
	got, err := s.GetCustomer(ctx(t), d.ID)
	must(t, err)
	if !reflect.DeepEqual(got.Emails, []string{"d@example.com"}) {
		t.Fatalf("failed update changed emails: %v", got.Emails)
	}
}

func testCustomerList(t *testing.T, s store.Store) {
	var ids []int64
	for i := range 7 {
		tier := store.TierStandard
		if i%3 == 0 {
			tier = store.TierVIP
		}
		c := &store.Customer{Name: fmt.Sprint("c", i), Tier: tier, Phones: []string{fmt.Sprintf("+8491234560%d", i)},
			Emails: []string{fmt.Sprintf("c%d@example.com", i)}}
		must(t, s.CreateCustomer(ctx(t), c))
		ids = append(ids, c.ID)
	}
	var seen []int64
	cur := ""
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("pagination does not end")
		}
		cs, next, err := s.ListCustomers(ctx(t), store.CustomerFilter{}, store.Page{Limit: 3, Cursor: cur})
		must(t, err)
		for _, c := range cs {
			seen = append(seen, c.ID)
		}
		if next == "" {
			break
		}
		cur = next
	}
	if !reflect.DeepEqual(seen, ids) {
		t.Fatalf("paged ids %v; want %v", seen, ids)
	}
	vips, _, err := s.ListCustomers(ctx(t), store.CustomerFilter{Tier: store.TierVIP}, store.Page{})
	must(t, err)
	if len(vips) != 3 {
		t.Fatalf("%d vips; want 3", len(vips))
	}
	one, _, err := s.ListCustomers(ctx(t), store.CustomerFilter{Phone: "0912 345 604"}, store.Page{})
	must(t, err)
	if len(one) != 1 || one[0].ID != ids[4] {
		t.Fatalf("phone filter = %+v; want customer %d", one, ids[4])
	}
	one, _, err = s.ListCustomers(ctx(t), store.CustomerFilter{Email: "C5@example.com"}, store.Page{})
	must(t, err)
	if len(one) != 1 || one[0].ID != ids[5] {
		t.Fatalf("email filter = %+v; want customer %d", one, ids[5])
	}
	_, _, err = s.ListCustomers(ctx(t), store.CustomerFilter{Phone: "xyz"}, store.Page{})
	wantField(t, err, "phone")
	_, _, err = s.ListCustomers(ctx(t), store.CustomerFilter{}, store.Page{Limit: -1})
	wantField(t, err, "limit")
	_, _, err = s.ListCustomers(ctx(t), store.CustomerFilter{}, store.Page{Limit: 100000})
	wantField(t, err, "limit")
}
