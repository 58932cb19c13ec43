package sip

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/media"
	"github.com/hotline-dev/hotline/registrar"
)

// TestFeatureCodes dials feature codes with sip.Client's digest auth
// (sipgo's 401 handling) against a Server whose Authenticate is the real
// registrar: only the right password reaches the hook; a known code is
// answered and hung up by us after the tone, an unknown one is 404.
func TestFeatureCodes(t *testing.T) {
	tests := []struct {
		name, code, password string
		hookErr              error
		wantStatus           int  // 0: answered
		wantHook             bool // the hook ran
	}{
		{"login", "*11", "s3cret", nil, 0, true},
		{"pause with reason", "*132", "s3cret", nil, 0, true},
		{"code failed: still answered, failure tone", "*13", "s3cret", errors.New("agent logged out"), 0, true},
		{"unknown code", "*99", "s3cret", fmt.Errorf("queue: %w", ErrNotFound), 404, true},
		{"wrong password", "*11", "wrong", nil, 403, false},
		{"no credentials", "*11", "", nil, 401, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := registrar.New(registrar.Config{Agents: []config.Agent{{ID: "lan", Username: "1001", Password: "s3cret"}}})
			var mu sync.Mutex
			var got []string
			r := newRig(t, newWaitHandler(), func(c *ServerConfig) {
				c.Authenticate = reg.Authenticate
				c.FeatureCode = func(ctx context.Context, user, code string) error {
					mu.Lock()
					got = append(got, user+" "+code)
					mu.Unlock()
					return tt.hookErr
				}
			})
			o := DialOptions{}
			if tt.password != "" {
				o.Username, o.Password = "1001", tt.password
			}
			oc, err := r.cli.Dial(r.ctx, r.uri(tt.code), o)
			if tt.wantStatus != 0 {
				var se *StatusError
				if !errors.As(err, &se) || se.Code != tt.wantStatus {
					t.Fatalf("Dial: %v, want %d", err, tt.wantStatus)
				}
			} else {
				if err != nil {
					t.Fatalf("Dial: %v", err)
				}
				var beeps, reorder atomic.Int32
				oc.Media().SetAudioSink(func(pcm []int16) {
					if media.ToneShare(pcm, 880) > 0.6 {
						beeps.Add(1)
					}
					if media.ToneShare(pcm, 620) > 0.3 {
						reorder.Add(1)
					}
				})
				e := r.waitEvent(events.CallStarted)
				if p, _ := e.Payload.(CallStart); p.FeatureCode != tt.code || p.Agent != "lan" {
					t.Errorf("call.started %+v, want feature_code %s agent lan", e.Payload, tt.code)
				}
				select { // the server hangs up after the tone
				case <-oc.Done():
				case <-r.ctx.Done():
					t.Fatal("feature call not hung up by the server")
				}
				if cause, side := oc.Ended(); side != SideRemote {
					t.Errorf("ended %s by %s, want remote BYE", cause, side)
				}
				ok, bad := beeps.Load(), reorder.Load()
				if tt.hookErr == nil && (ok == 0 || bad != 0) || tt.hookErr != nil && (bad == 0 || ok != 0) {
					t.Errorf("heard %d confirmation and %d reorder frames (hook err %v)", ok, bad, tt.hookErr)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			want := 0
			if tt.wantHook {
				want = 1
			}
			if len(got) != want || want == 1 && got[0] != "lan "+tt.code {
				t.Errorf("hook calls %q, want %d for lan %s", got, want, tt.code)
			}
		})
	}
}

func TestFeatureCodeNeedsAuthenticate(t *testing.T) {
	pool, _ := mediaPool()
	_, err := NewServer(ServerConfig{UDP: "127.0.0.1:0", RTP: pool,
		FeatureCode: func(context.Context, string, string) error { return nil }}, newWaitHandler(), nil)
	if err == nil {
		t.Fatal("NewServer accepted FeatureCode without Authenticate")
	}
}
