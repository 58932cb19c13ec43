package media

import (
	"bufio"
	"bytes"
	"fmt"
	"mime"
	"strconv"
	"strings"
	"time"
)

// maxInfoDuration bounds the Duration of an INFO digit; a larger value is a
// broken or hostile body.
const maxInfoDuration = 60 * time.Second

// ParseDTMFInfo parses the body of a SIP INFO request carrying a key press
// (RFC 6086 INFO; the bodies are de-facto formats):
//
//	application/dtmf-relay:  "Signal=5\r\nDuration=160\r\n" (Duration in ms)
//	application/dtmf:        "5"
//
// The returned Digit has Source SourceINFO and a zero At (InjectDigit stamps
// it). Anything else is an error wrapping ErrUnsupportedContentType or
// ErrBadDTMFInfo that names the field.
func ParseDTMFInfo(contentType string, body []byte) (Digit, error) {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return Digit{}, fmt.Errorf("%w: %q: %v", ErrUnsupportedContentType, contentType, err)
	}
	switch mt {
	case "application/dtmf-relay":
		return parseDTMFRelay(body)
	case "application/dtmf":
		k, err := parseInfoKey(strings.TrimSpace(string(body)))
		if err != nil {
			return Digit{}, fmt.Errorf("application/dtmf body: %w", err)
		}
		return Digit{Key: k, Source: SourceINFO}, nil
	}
	return Digit{}, fmt.Errorf("%w: %q", ErrUnsupportedContentType, mt)
}

func parseDTMFRelay(body []byte) (Digit, error) {
	d := Digit{Source: SourceINFO}
	var haveSignal bool
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 0, 256), 4096)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		if !ok {
			return Digit{}, fmt.Errorf("%w: dtmf-relay line %q has no '='", ErrBadDTMFInfo, line)
		}
		value = strings.TrimSpace(value)
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "signal":
			if haveSignal {
				return Digit{}, fmt.Errorf("%w: dtmf-relay Signal given twice", ErrBadDTMFInfo)
			}
			k, err := parseInfoKey(value)
			if err != nil {
				return Digit{}, fmt.Errorf("dtmf-relay Signal: %w", err)
			}
			d.Key, haveSignal = k, true
		case "duration":
			ms, err := strconv.Atoi(value)
			if err != nil || ms < 0 || time.Duration(ms)*time.Millisecond > maxInfoDuration {
				return Digit{}, fmt.Errorf("%w: dtmf-relay Duration %q, need 0-%d ms", ErrBadDTMFInfo, value, maxInfoDuration.Milliseconds())
			}
			d.Duration = time.Duration(ms) * time.Millisecond
		}
		// Other fields are ignored, as receivers commonly do.
	}
	if err := sc.Err(); err != nil {
		return Digit{}, fmt.Errorf("%w: dtmf-relay body: %v", ErrBadDTMFInfo, err)
	}
	if !haveSignal {
		return Digit{}, fmt.Errorf("%w: dtmf-relay Signal missing", ErrBadDTMFInfo)
	}
	return d, nil
}

// parseInfoKey accepts one key character, or the RFC 4733 event numbers
// 10/11 that some phones send for '*' and '#'.
func parseInfoKey(s string) (rune, error) {
	switch s {
	case "10":
		return '*', nil
	case "11":
		return '#', nil
	}
	if len(s) == 1 {
		k := rune(s[0])
		if k >= 'a' && k <= 'd' {
			k -= 'a' - 'A'
		}
		if _, err := eventCode(k); err == nil {
			return k, nil
		}
	}
	return 0, fmt.Errorf("%w: key %q, need 0-9, *, #, A-D", ErrBadDTMFInfo, s)
}
