package cluster

import (
	"encoding/json"
	"strconv"

	"github.com/hotline-dev/hotline/queue"
)

// positions is the view's waiting callers by call ID. It is the bulk of a
// view (9,000 callers waiting: about 0.5 MB), written by the leader every
// ViewEvery under load, so it has its own encoder: the same JSON as
// encoding/json's for a map[string]queue.Position (any order of keys; a
// reader decodes it as that map), without reflection or sorting 9,000 keys.
type positions map[string]queue.Position

// encode is the view as JSON. The positions are appended after the rest:
// through MarshalJSON, encoding/json would check and copy their 0.5 MB
// once more.
func (v viewBody) encode() ([]byte, error) {
	ps := v.Positions
	v.Positions = nil // omitted
	b, err := json.Marshal(v)
	if err != nil || len(ps) == 0 {
		return b, err
	}
	b = append(b[:len(b)-1], `,"positions":`...) // b ends with the object's '}'
	if b, err = ps.appendJSON(b); err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}

// MarshalJSON is appendJSON.
func (ps positions) MarshalJSON() ([]byte, error) {
	return ps.appendJSON(make([]byte, 0, 64*len(ps)+2))
}

// appendJSON appends each entry by hand; a call ID that needs escaping
// goes through encoding/json.
func (ps positions) appendJSON(b []byte) ([]byte, error) {
	b = append(b, '{')
	first := true
	for id, p := range ps {
		if !first {
			b = append(b, ',')
		}
		first = false
		if plain(id) {
			b = append(b, '"')
			b = append(b, id...)
			b = append(b, '"')
		} else {
			k, err := json.Marshal(id)
			if err != nil {
				return nil, err
			}
			b = append(b, k...)
		}
		b = append(b, `:{"position":`...)
		b = strconv.AppendInt(b, int64(p.Position), 10)
		b = append(b, `,"ewt":`...)
		b = strconv.AppendInt(b, int64(p.EWT), 10)
		b = append(b, `,"ewt_known":`...)
		b = strconv.AppendBool(b, p.Known)
		b = append(b, '}')
	}
	return append(b, '}'), nil
}

// plain reports whether s is a JSON string as it is: printable ASCII with
// no quote, backslash or character encoding/json escapes for HTML.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}
