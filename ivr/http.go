package ivr

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/flows"
)

// maxLookupBody bounds what a lookup answer may be.
const maxLookupBody = 1 << 20

// defaultLookupTimeout applies to a lookup configured without a timeout.
const defaultLookupTimeout = 3 * time.Second

// lookupNameKey carries the lookup's name in the request context, for the
// simulator's offline transport.
type lookupNameKey struct{}

// lookup runs an http node: the configured URL with {var} placeholders
// URL-escaped from the call's variables, its method, headers (env: secrets)
// and timeout; every assign path must be in the JSON answer, or the node
// goes to on_failure and no variable changes.
func (r *run) lookup(ctx context.Context, n *flows.Node) (string, error) {
	vals, err := r.fetch(ctx, n)
	if ctx.Err() != nil {
		return "", ctx.Err()
	}
	if err != nil {
		r.log.Warn("ivr: lookup failed", "node", n.Name, "lookup", n.Lookup, "err", err)
		r.traceEvent("lookup-failed", simLookupFailedEvent{Lookup: n.Lookup, Err: err.Error()})
		return n.OnFailure, nil
	}
	for _, a := range n.Assign {
		r.setVar(a.Name, vals[a.Name])
	}
	return n.Next, nil
}

func (r *run) fetch(ctx context.Context, n *flows.Node) (map[string]string, error) {
	lk, ok := r.e.lookups[n.Lookup]
	if !ok {
		return nil, fmt.Errorf("%w: no lookup %q in the configuration", ErrLookup, n.Lookup)
	}
	url, missing := flows.Expand(lk.URL, r.lookupVar, escapeAll)
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: URL needs unset variable(s) %v", ErrLookup, missing)
	}
	ctx, cancel := context.WithTimeout(context.WithValue(ctx, lookupNameKey{}, n.Lookup), lk.Timeout)
	defer cancel()
	method := lk.Method
	var body io.Reader
	if method == http.MethodPost {
		b, err := json.Marshal(r.vars)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrLookup, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrLookup, err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range lk.Headers {
		req.Header.Set(k, config.Secret(v))
	}
	resp, err := r.e.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %s %s: %w", ErrLookup, method, redact(url), err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxLookupBody+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading answer: %w", ErrLookup, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, fmt.Errorf("%w: %s %s: status %d", ErrLookup, method, redact(url), resp.StatusCode)
	}
	if len(data) > maxLookupBody {
		return nil, fmt.Errorf("%w: answer larger than %d bytes", ErrLookup, maxLookupBody)
	}
	return extract(data, n.Assign)
}

// extract reads every assign path from a JSON document.
func extract(data []byte, assign []flows.Assignment) (map[string]string, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%w: answer is not JSON: %w", ErrLookup, err)
	}
	out := map[string]string{}
	for _, a := range assign {
		v, ok := jsonPath(doc, a.Value)
		if !ok {
			return nil, fmt.Errorf("%w: answer has no field %q (for %s)", ErrLookup, a.Value, a.Name)
		}
		out[a.Name] = v
	}
	return out, nil
}

// jsonPath walks dot-separated keys (numbers index arrays) to a value;
// scalars become their text, objects and arrays compact JSON, null missing.
func jsonPath(doc any, path string) (string, bool) {
	cur := doc
	for _, part := range strings.Split(path, ".") {
		switch v := cur.(type) {
		case map[string]any:
			next, ok := v[part]
			if !ok {
				return "", false
			}
			cur = next
		case []any:
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 || i >= len(v) {
				return "", false
			}
			cur = v[i]
		default:
			return "", false
		}
	}
	switch v := cur.(type) {
	case nil:
		return "", false
	case string:
		return v, true
	case json.Number:
		return v.String(), true
	case bool:
		return strconv.FormatBool(v), true
	default:
		b, err := json.Marshal(v)
		return string(b), err == nil
	}
}

// escapeAll percent-encodes everything but RFC 3986 unreserved characters,
// so a variable is safe in a path segment and in a query value alike.
func escapeAll(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// redact drops the query string (it may carry tokens) from logged URLs.
func redact(url string) string {
	if i := strings.IndexByte(url, '?'); i >= 0 {
		return url[:i] + "?…"
	}
	return url
}
