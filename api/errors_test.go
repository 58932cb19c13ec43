package api_test

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hotline-dev/hotline/api"
	"github.com/hotline-dev/hotline/queue"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// TestErrorBodiesGolden pins the exact error bodies clients see, one golden
// file per case (testdata/errors/<name>.golden: status line, then body).
// Run with -update after an intended change and review the diff.
func TestErrorBodiesGolden(t *testing.T) {
	e := newEnv(t, func(c *api.Config) { c.MaxBodyBytes = 256 })
	tests := []struct {
		name, method, path, token, body string
	}{
		{"bad_json_line", "POST", "/api/v1/customers", writeToken, "{\n  \"name\": \"An\",\n  \"phones\": [\"0912345678\",]\n}"},
		{"truncated_json", "POST", "/api/v1/customers", writeToken, `{"name": "An"`},
		{"trailing_data", "POST", "/api/v1/customers", writeToken, `{"name": "An"} {"name": "Bình"}`},
		{"not_an_object", "POST", "/api/v1/tickets", writeToken, `[1, 2]`},
		{"empty_body", "POST", "/api/v1/interactions", writeToken, ""},
		{"unknown_field", "POST", "/api/v1/customers", writeToken, `{"name": "An", "phone": "0912345678"}`},
		{"wrong_type", "POST", "/api/v1/tickets", writeToken, `{"customer_id": "7", "subject": "x"}`},
		{"invalid_value", "POST", "/api/v1/customers", writeToken, `{"name": "An", "tier": "gold"}`},
		{"too_large", "POST", "/api/v1/customers", writeToken, `{"name": "` + strings.Repeat("a", 300) + `"}`},
		{"not_found_route", "GET", "/api/v1/nothing/here", writeToken, ""},
		{"not_found_customer", "GET", "/api/v1/customers/424242", writeToken, ""},
		{"method_not_allowed", "DELETE", "/api/v1/customers", writeToken, ""},
		{"unauthorized", "GET", "/api/v1/customers", "", ""},
		{"forbidden", "POST", "/api/v1/customers", readToken, `{"name": "An"}`},
		{"all_problems_customer", "POST", "/api/v1/customers", writeToken, `{"tier": "gold", "phones": ["0912345678", "hello"], "emails": ["a@b.vn", "nope"], "chat_handles": [" "]}`},
		{"all_problems_ticket", "POST", "/api/v1/tickets", writeToken, `{"status": "done", "tags": ["ok", ""]}`},
		{"all_problems_interaction", "POST", "/api/v1/interactions", writeToken, `{"channel": "fax", "direction": "up", "started_at": "now", "details": []}`},
		{"unknown_parameter", "GET", "/api/v1/tickets?updated_snice=2026-01-01T00:00:00Z", writeToken, ""},
		{"since_not_a_time", "GET", "/api/v1/interactions?created_since=yesterday", writeToken, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body any
			if tt.body != "" {
				body = tt.body
			}
			r := e.do(tt.method, tt.path, tt.token, body)
			decodeErr(t, r) // the shape is right whatever the golden says
			got := fmt.Sprintf("%d %s\n%s", r.status, http.StatusText(r.status), r.body)
			if allow := r.header.Get("Allow"); allow != "" {
				got = "Allow: " + allow + "\n" + got
			}
			errorGolden(t, tt.name, got)
		})
	}
}

// errorGolden compares got with testdata/errors/<name>.golden (rewriting
// it with -update).
func errorGolden(t *testing.T, name, got string) {
	t.Helper()
	golden := filepath.Join("testdata", "errors", name+".golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("golden file (run with -update to create): %v", err)
	}
	if !bytes.Equal([]byte(got), want) {
		t.Fatalf("error body changed\n got: %s\nwant: %s", got, want)
	}
}

// TestTooLargeChunked checks the limit also holds when the client does not
// announce a Content-Length.
func TestTooLargeChunked(t *testing.T) {
	e := newEnv(t, func(c *api.Config) { c.MaxBodyBytes = 128 })
	pr, pw := io.Pipe()
	go func() { // writer owned here: ends when the body is consumed or the pipe closed
		_, _ = pw.Write([]byte(`{"name": "` + strings.Repeat("x", 1000) + `"}`))
		_ = pw.Close()
	}()
	req, err := http.NewRequest("POST", e.url+"/api/v1/customers", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+writeToken)
	res, err := e.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	_ = pr.Close()
	r := resp{status: res.StatusCode, header: res.Header, body: readAll(t, res)}
	if r.status != http.StatusRequestEntityTooLarge || decodeErr(t, r).Error.Code != "too_large" {
		t.Fatalf("status %d body %s", r.status, r.body)
	}
}

func TestPanicIsRecovered(t *testing.T) {
	e := newEnv(t, func(c *api.Config) { c.ACD = panicACD{} })
	r := e.do("GET", "/api/v1/queues", readToken, nil)
	if r.status != http.StatusInternalServerError || decodeErr(t, r).Error.Code != "internal" {
		t.Fatalf("status %d body %s", r.status, r.body)
	}
	if strings.Contains(string(r.body), "test panic") {
		t.Fatalf("panic value leaked to the client: %s", r.body)
	}
	if r := e.do("GET", "/api/v1/customers", readToken, nil); r.status != http.StatusOK {
		t.Fatalf("server unusable after a panic: %d", r.status)
	}
}

// panicACD panics in every method.
type panicACD struct{}

func (panicACD) Queues() []queue.QueueView                   { panic("test panic") }
func (panicACD) Queue(string) (queue.QueueView, error)       { panic("test panic") }
func (panicACD) Agents() []queue.AgentInfo                   { panic("test panic") }
func (panicACD) Agent(string) (queue.AgentInfo, error)       { panic("test panic") }
func (panicACD) SetState(string, string, string) error       { panic("test panic") }
func (panicACD) SetMember(string, string, int) (bool, error) { panic("test panic") }
func (panicACD) RemoveMember(string, string) error           { panic("test panic") }
