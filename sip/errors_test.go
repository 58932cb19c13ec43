package sip

import (
	"errors"
	"fmt"
	"testing"
)

// TestStatusOf: the mapping from an error to the status we answer with
// sees through wrapping, prefers a status the error names itself (a final
// failure only), and falls back to 500.
func TestStatusOf(t *testing.T) {
	named := &StatusError{Code: 404, Reason: "Not Found"}
	tests := []struct {
		name   string
		err    error
		code   int
		reason string
	}{
		{"sentinel", ErrNoDialog, 481, "Call/Transaction Does Not Exist"},
		{"wrapped sentinel", fmt.Errorf("onBye: %w", ErrCallEnded), 481, "Call/Transaction Does Not Exist"},
		{"header detail", fmt.Errorf("%w: missing To", ErrBadHeader), 400, "Bad Request (missing To)"},
		{"header detail under a wrap", fmt.Errorf("invite: %w", fmt.Errorf("%w: missing To", ErrBadHeader)), 400, "Bad Request (missing To)"},
		{"header, no detail", ErrBadHeader, 400, "Bad Request (header)"},
		{"refusal names its status", fmt.Errorf("%w: %w", ErrTransferRefused, named), 404, "Not Found"},
		{"refusal without a status", fmt.Errorf("%w: %w", ErrTransferRefused, errors.New("policy")), 403, "Forbidden"},
		{"a 2xx is not a refusal", fmt.Errorf("%w: %w", ErrTransferRefused, &StatusError{Code: 202, Reason: "Accepted"}), 403, "Forbidden"},
		{"codec beats SDP", fmt.Errorf("%w: offered 9", ErrNoCommonCodec), 488, "Not Acceptable Here"},
		{"draining", ErrDraining, 503, "Service Unavailable"},
		{"unknown", errors.New("boom"), 500, "Server Internal Error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			se := statusOf(tt.err)
			if se.Code != tt.code || se.Reason != tt.reason {
				t.Fatalf("statusOf = %d %q, want %d %q", se.Code, se.Reason, tt.code, tt.reason)
			}
			if !errors.Is(se, tt.err) && !errors.Is(tt.err, se) {
				t.Errorf("%v does not keep the cause %v", se, tt.err)
			}
		})
	}
}
