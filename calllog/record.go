package calllog

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"

	"github.com/hotline-dev/hotline/store"
)

// Spool record framing: a 4-byte big-endian length of the JSON body, a
// 4-byte big-endian CRC-32C (Castagnoli) of the body, then the body (a
// store.CallRecord as JSON). The length detects a torn tail, the CRC a
// half-written or damaged body.
const (
	headerLen = 8
	// maxBody bounds one record; a larger length is corruption.
	maxBody = 1 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// appendRecord appends r's framed encoding to dst.
func appendRecord(dst []byte, r store.CallRecord) ([]byte, error) {
	body, err := json.Marshal(r)
	if err != nil {
		return dst, fmt.Errorf("calllog: encode call %s: %w", r.Voice.CallID, err)
	}
	if len(body) > maxBody {
		return dst, fmt.Errorf("calllog: call %s: record of %d bytes exceeds %d", r.Voice.CallID, len(body), maxBody)
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(body)))
	dst = binary.BigEndian.AppendUint32(dst, crc32.Checksum(body, castagnoli))
	return append(dst, body...), nil
}

// bodyLen reads the length from a header; ok is false when it cannot be a
// record (then nothing after it can be trusted).
func bodyLen(h []byte) (n int, ok bool) {
	l := binary.BigEndian.Uint32(h)
	return int(l), l > 0 && l <= maxBody
}

// decodeRecord decodes the record at the start of b and returns its framed
// size. ErrTorn: b ends inside the record. ErrCorrupt with size > 0: the
// record is damaged but framed, skip size bytes; with size 0: the framing
// itself is damaged.
func decodeRecord(b []byte) (r store.CallRecord, size int, err error) {
	if len(b) < headerLen {
		return r, 0, ErrTorn
	}
	n, ok := bodyLen(b)
	if !ok {
		return r, 0, fmt.Errorf("%w: length %d", ErrCorrupt, n)
	}
	if len(b) < headerLen+n {
		return r, 0, ErrTorn
	}
	size = headerLen + n
	body := b[headerLen:size]
	if crc32.Checksum(body, castagnoli) != binary.BigEndian.Uint32(b[4:]) {
		return r, size, fmt.Errorf("%w: CRC mismatch", ErrCorrupt)
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return store.CallRecord{}, size, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return r, size, nil
}
