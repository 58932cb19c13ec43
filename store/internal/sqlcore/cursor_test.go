package sqlcore

import (
	"errors"
	"testing"

	"github.com/hotline-dev/hotline/store"
)

func TestCursorRoundTrip(t *testing.T) {
	c := cursor{kind: "l", at: 1735689600123456, id: 42}
	got, ok, err := decodeCursor(c.encode(), "l")
	if err != nil || !ok || got != c {
		t.Fatalf("decode = %+v, %v, %v", got, ok, err)
	}
	if _, _, err := decodeCursor(c.encode(), "t"); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("cursor of another list accepted: %v", err)
	}
	if _, ok, err := decodeCursor("", "l"); ok || err != nil {
		t.Fatalf("empty cursor = %v, %v", ok, err)
	}
}

func FuzzDecodeCursor(f *testing.F) {
	f.Add(cursor{kind: "l", at: 1, id: 2}.encode(), "l")
	f.Add(cursor{kind: "c", id: 9}.encode(), "c")
	f.Add("!!!", "t")
	f.Add("dDowOjM", "t")
	f.Add("dDotMTotMQ", "t")
	f.Fuzz(func(t *testing.T, s, kind string) {
		c, ok, err := decodeCursor(s, kind)
		if err != nil {
			var fe *store.FieldError
			if !errors.As(err, &fe) || fe.Field != "cursor" {
				t.Fatalf("error %v is not a FieldError on cursor", err)
			}
			return
		}
		if ok && (c.id <= 0 || c.kind != kind) {
			t.Fatalf("accepted %+v for kind %q", c, kind)
		}
	})
}
