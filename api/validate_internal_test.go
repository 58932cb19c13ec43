package api

import "testing"

// TestJSONPointer: the API's field paths as RFC 6901 pointers, with ~ and /
// escaped (an attribute key may hold either).
func TestJSONPointer(t *testing.T) {
	for in, want := range map[string]string{
		"":                 "",
		"tier":             "/tier",
		"phones[1]":        "/phones/1",
		"voice.call_id":    "/voice/call_id",
		"voice.legs[2].at": "/voice/legs/2/at",
		"attributes.a/b~c": "/attributes/a~1b~0c",
	} {
		if got := jsonPointer(in); got != want {
			t.Errorf("jsonPointer(%q) = %q, want %q", in, got, want)
		}
	}
}
