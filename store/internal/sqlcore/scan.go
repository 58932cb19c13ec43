package sqlcore

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"time"
)

// tsDest scans a timestamp stored as timestamptz (PostgreSQL) or as integer
// Unix microseconds (SQLite). NULL leaves *t nil when nullable.
type tsDest struct {
	t    *time.Time
	null **time.Time
}

func ts(t *time.Time) *tsDest      { return &tsDest{t: t} }
func tsNull(t **time.Time) *tsDest { return &tsDest{null: t} }
func (d *tsDest) set(v time.Time) {
	v = v.UTC()
	if d.t != nil {
		*d.t = v
	} else {
		*d.null = &v
	}
}

func (d *tsDest) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		if d.null != nil {
			*d.null = nil
			return nil
		}
		return fmt.Errorf("sqlcore: NULL timestamp")
	case time.Time:
		d.set(v)
	case int64:
		d.set(time.UnixMicro(v))
	default:
		return fmt.Errorf("sqlcore: cannot scan %T as a timestamp", src)
	}
	return nil
}

// jsonDest scans a JSON column (jsonb or TEXT) into bytes; NULL is empty.
type jsonDest struct{ b *[]byte }

func (d jsonDest) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*d.b = nil
	case []byte:
		*d.b = append([]byte(nil), v...)
	case string:
		*d.b = []byte(v)
	default:
		return fmt.Errorf("sqlcore: cannot scan %T as JSON", src)
	}
	return nil
}

// nullInt scans a nullable integer id; NULL is 0.
type nullInt struct{ p *int64 }

func (d nullInt) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*d.p = 0
	case int64:
		*d.p = v
	case int32:
		*d.p = int64(v)
	default:
		return fmt.Errorf("sqlcore: cannot scan %T as an id", src)
	}
	return nil
}

// idArg binds 0 as NULL.
func idArg(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

var (
	_ interface{ Scan(any) error } = (*tsDest)(nil)
	_ driver.Value                 = int64(0)
)

// micro truncates t to what both backends keep (microseconds, UTC).
func micro(t time.Time) time.Time { return t.Truncate(time.Microsecond).UTC() }

func jsonUnmarshal(b []byte, v any) error {
	if len(b) == 0 {
		return nil
	}
	return json.Unmarshal(b, v)
}
