package calllog

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"

	"github.com/hotline-dev/hotline/store"
)

// Spool entry framing: a 4-byte big-endian length of the JSON body, a
// 4-byte big-endian CRC-32C (Castagnoli) of the body, then the body (an
// entry as JSON). The length detects a torn tail, the CRC a half-written or
// damaged body.
const (
	headerLen = 8
	// maxBody bounds one entry; a larger length is corruption.
	maxBody = 1 << 20
)

// Entry kinds.
const (
	// kindBegin marks a call answered: Record is what was known then.
	kindBegin = "begin"
	// kindEnd is a finished call's record; Mark names the begin entry it
	// closes (0: a call logged without one).
	kindEnd = "end"
	// kindDamaged stands for a framed entry that failed its checks (never
	// written; spool.each reports it so readers can step over it).
	kindDamaged = "damaged"
)

// entry is one spool entry's body. Spools written before marks existed
// hold bare store.CallRecord bodies; they decode as end entries.
type entry struct {
	Kind   string           `json:"kind"`
	Mark   uint64           `json:"mark,omitempty"`
	Record store.CallRecord `json:"record"`
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// appendEntry appends e's framed encoding to dst.
func appendEntry(dst []byte, e entry) ([]byte, error) {
	body, err := json.Marshal(e)
	if err != nil {
		return dst, fmt.Errorf("calllog: encode call %s: %w", e.Record.Voice.CallID, err)
	}
	if len(body) > maxBody {
		return dst, fmt.Errorf("calllog: call %s: entry of %d bytes exceeds %d", e.Record.Voice.CallID, len(body), maxBody)
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(body)))
	dst = binary.BigEndian.AppendUint32(dst, crc32.Checksum(body, castagnoli))
	return append(dst, body...), nil
}

// bodyLen reads the length from a header; ok is false when it cannot be an
// entry (then nothing after it can be trusted).
func bodyLen(h []byte) (n int, ok bool) {
	l := binary.BigEndian.Uint32(h)
	return int(l), l > 0 && l <= maxBody
}

// head is an entry read back with its record still encoded, so a reader
// that skips the entry (the writer skips begin entries) never decodes it.
type head struct {
	Kind   string          `json:"kind"`
	Mark   uint64          `json:"mark,omitempty"`
	Record json.RawMessage `json:"record"`
}

// record decodes the entry's record.
func (h head) record() (store.CallRecord, error) {
	var r store.CallRecord
	if err := json.Unmarshal(h.Record, &r); err != nil {
		return store.CallRecord{}, fmt.Errorf("%w: record: %v", ErrCorrupt, err)
	}
	return r, nil
}

// decodeHead decodes the entry at the start of b, but not its record, and
// returns its framed size. ErrTorn: b ends inside the entry. ErrCorrupt
// with size > 0: the entry is damaged but framed, skip size bytes; with
// size 0: the framing itself is damaged.
func decodeHead(b []byte) (h head, size int, err error) {
	if len(b) < headerLen {
		return h, 0, ErrTorn
	}
	n, ok := bodyLen(b)
	if !ok {
		return h, 0, fmt.Errorf("%w: length %d", ErrCorrupt, n)
	}
	if len(b) < headerLen+n {
		return h, 0, ErrTorn
	}
	size = headerLen + n
	body := b[headerLen:size]
	if crc32.Checksum(body, castagnoli) != binary.BigEndian.Uint32(b[4:]) {
		return h, size, fmt.Errorf("%w: CRC mismatch", ErrCorrupt)
	}
	if err := json.Unmarshal(body, &h); err != nil {
		return head{}, size, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	switch h.Kind {
	case "": // a bare record from a spool of an older version
		h = head{Kind: kindEnd, Record: append(json.RawMessage(nil), body...)}
	case kindBegin:
		if h.Mark == 0 {
			return head{}, size, fmt.Errorf("%w: begin entry without a mark", ErrCorrupt)
		}
	case kindEnd:
	default:
		return head{}, size, fmt.Errorf("%w: unknown entry kind %q", ErrCorrupt, h.Kind)
	}
	return h, size, nil
}

// decodeEntry is decodeHead with the record decoded.
func decodeEntry(b []byte) (entry, int, error) {
	h, size, err := decodeHead(b)
	if err != nil {
		return entry{}, size, err
	}
	r, err := h.record()
	if err != nil {
		return entry{}, size, err
	}
	return entry{Kind: h.Kind, Mark: h.Mark, Record: r}, size, nil
}
