package media

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestParseDTMFInfo(t *testing.T) {
	tests := []struct {
		name, ctype, body string
		key               rune
		dur               time.Duration
		err               error
	}{
		{"relay CRLF", "application/dtmf-relay", "Signal=5\r\nDuration=160\r\n", '5', 160 * time.Millisecond, nil},
		{"relay LF spaces", "application/dtmf-relay", "Signal= #\nDuration= 250\n", '#', 250 * time.Millisecond, nil},
		{"relay case and params", "Application/DTMF-Relay; charset=utf-8", "signal=*\r\n", '*', 0, nil},
		{"relay numeric star", "application/dtmf-relay", "Signal=10\r\nDuration=100", '*', 100 * time.Millisecond, nil},
		{"relay lower-case letter", "application/dtmf-relay", "Signal=b\r\n", 'B', 0, nil},
		{"relay unknown field ignored", "application/dtmf-relay", "Signal=1\r\nVolume=10\r\n", '1', 0, nil},
		{"dtmf", "application/dtmf", "5", '5', 0, nil},
		{"dtmf whitespace", "application/dtmf", " 0\r\n", '0', 0, nil},
		{"relay missing signal", "application/dtmf-relay", "Duration=160", 0, 0, ErrBadDTMFInfo},
		{"relay bad signal", "application/dtmf-relay", "Signal=x", 0, 0, ErrBadDTMFInfo},
		{"relay two signals", "application/dtmf-relay", "Signal=1\nSignal=2", 0, 0, ErrBadDTMFInfo},
		{"relay bad duration", "application/dtmf-relay", "Signal=1\nDuration=abc", 0, 0, ErrBadDTMFInfo},
		{"relay negative duration", "application/dtmf-relay", "Signal=1\nDuration=-5", 0, 0, ErrBadDTMFInfo},
		{"relay huge duration", "application/dtmf-relay", "Signal=1\nDuration=99999999", 0, 0, ErrBadDTMFInfo},
		{"relay no equals", "application/dtmf-relay", "Signal 1", 0, 0, ErrBadDTMFInfo},
		{"dtmf two keys", "application/dtmf", "12", 0, 0, ErrBadDTMFInfo},
		{"dtmf empty", "application/dtmf", "", 0, 0, ErrBadDTMFInfo},
		{"sdp is not dtmf", "application/sdp", "v=0", 0, 0, ErrUnsupportedContentType},
		{"broken content type", "application/", "5", 0, 0, ErrUnsupportedContentType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := ParseDTMFInfo(tt.ctype, []byte(tt.body))
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.Key != tt.key || d.Duration != tt.dur || d.Source != SourceINFO {
				t.Fatalf("got %+v, want key %q duration %v source info", d, tt.key, tt.dur)
			}
		})
	}
}

func FuzzParseDTMFInfo(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/info-*.txt")
	for _, fn := range seeds {
		b, err := os.ReadFile(fn)
		if err != nil {
			f.Fatal(err)
		}
		f.Add("application/dtmf-relay", b)
	}
	f.Add("application/dtmf", []byte("#"))
	f.Add("application/dtmf-relay", []byte("Signal=5\r\nDuration=160\r\n"))
	f.Fuzz(func(t *testing.T, ctype string, body []byte) {
		d, err := ParseDTMFInfo(ctype, body)
		if err != nil {
			if !errors.Is(err, ErrBadDTMFInfo) && !errors.Is(err, ErrUnsupportedContentType) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if _, err := eventCode(d.Key); err != nil {
			t.Fatalf("accepted non-DTMF key %q", d.Key)
		}
		if d.Duration < 0 || d.Duration > maxInfoDuration {
			t.Fatalf("duration %v out of range", d.Duration)
		}
	})
}
