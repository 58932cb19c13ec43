package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/hotline-dev/hotline/api"
	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/store/postgres"
	"github.com/hotline-dev/hotline/store/postgres/pgtest"
	"github.com/hotline-dev/hotline/store/sqlite"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Tokens every test server accepts.
const (
	writeToken = "w-secret-0123456789"
	readToken  = "r-secret-0123456789"
)

type env struct {
	t     *testing.T
	url   string
	api   *api.Server
	bus   *events.Bus
	store store.Store
	http  *http.Client
}

type option func(*api.Config)

// openSQLite opens a fresh SQLite store in a temp dir, closed at cleanup.
func openSQLite(t *testing.T) store.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "hotline.db"), store.Options{DefaultCountry: "VN"})
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// openPostgres opens the PostgreSQL store on a fresh schema (dropped at
// cleanup); it skips when the server is unreachable unless HOTLINE_REQUIRE_PG=1.
func openPostgres(t *testing.T) store.Store {
	t.Helper()
	st, err := postgres.Open(context.Background(), pgtest.Schema(t), store.Options{DefaultCountry: "VN"})
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// onBothStores runs fn against an API on SQLite and on PostgreSQL.
func onBothStores(t *testing.T, fn func(t *testing.T, e *env)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, newEnv(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, newEnvWith(t, openPostgres(t))) })
}

// newEnv serves the API over a real loopback listener on a real SQLite store.
func newEnv(t *testing.T, opts ...option) *env {
	return newEnvWith(t, openSQLite(t), opts...)
}

func newEnvWith(t *testing.T, st store.Store, opts ...option) *env {
	t.Helper()
	bus := events.NewBus()
	cfg := api.Config{
		Store: st,
		Tokens: []config.Token{
			{Name: "mail", Secret: writeToken, Scope: "write"},
			{Name: "board", Secret: readToken, Scope: "read"},
		},
		RateLimit:      -1,
		Bus:            bus,
		DefaultCountry: "VN",
	}
	for _, o := range opts {
		o(&cfg)
	}
	srv := api.New(cfg)
	ts := httptest.NewServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("api shutdown: %v", err)
		}
		ts.Close()
	})
	return &env{t: t, url: ts.URL, api: srv, bus: bus, store: st, http: ts.Client()}
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request; body may be a string (sent as is) or a value (JSON).
func (e *env) do(method, path, token string, body any) resp {
	e.t.Helper()
	return e.doWith(method, path, token, body, nil)
}

// doWith is do with extra request headers.
func (e *env) doWith(method, path, token string, body any, header map[string]string) resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatalf("marshal: %v", err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		e.t.Fatalf("request: %v", err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := e.http.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatalf("read body: %v", err)
	}
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

// must sends a request and fails the test unless the status is want; it
// decodes the body into out (if not nil).
func (e *env) must(want int, method, path string, body, out any) resp {
	e.t.Helper()
	r := e.do(method, path, writeToken, body)
	if r.status != want {
		e.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, r.status, want, r.body)
	}
	if out != nil {
		if err := json.Unmarshal(r.body, out); err != nil {
			e.t.Fatalf("%s %s: decode %s: %v", method, path, r.body, err)
		}
	}
	return r
}

type apiErr struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field"`
	} `json:"error"`
}

func decodeErr(t *testing.T, r resp) apiErr {
	t.Helper()
	var e apiErr
	if err := json.Unmarshal(r.body, &e); err != nil || e.Error.Code == "" {
		t.Fatalf("not an error body (status %d): %s", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("error Content-Type %q, want application/json", ct)
	}
	return e
}

func (e *env) customer(body any) store.Customer {
	e.t.Helper()
	var c store.Customer
	e.must(http.StatusCreated, "POST", "/api/v1/customers", body, &c)
	return c
}

func (e *env) ticket(body any) store.Ticket {
	e.t.Helper()
	var tk store.Ticket
	e.must(http.StatusCreated, "POST", "/api/v1/tickets", body, &tk)
	return tk
}

func readAll(t *testing.T, res *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return b
}

// errorCase is one request that must fail with status, code and field.
// A body of nil or "" sends no body.
type errorCase struct {
	name, method, path string
	body               any
	status             int
	code, field        string
}

// checkErrors runs each case as a write-token request and checks the error.
func checkErrors(t *testing.T, e *env, tests []errorCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := tt.body
			if body == "" {
				body = nil
			}
			r := e.do(tt.method, tt.path, writeToken, body)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			got := decodeErr(t, r)
			if got.Error.Code != tt.code || got.Error.Field != tt.field {
				t.Fatalf("error %+v, want code %q field %q", got.Error, tt.code, tt.field)
			}
		})
	}
}
