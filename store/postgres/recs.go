package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/store/internal/sqlcore"
)

// The leader's statistics records travel as one acd_recs row per commit
// (migration 0023): one row write per commit instead of one per record
// (five per routing decision). The body is one record a line, its fields
// separated by spaces: ID, queue, call ID, agent and kind as Go quoted
// strings (any byte survives, NUL included, which TEXT refuses raw), the
// time and the duration in microseconds. The figures' resolution is the
// microsecond, as queue_recs' columns (timestamptz, duration_us).

// encodeRecs returns rs's body and the newest record's time.
func encodeRecs(rs []store.QueueRec) (string, time.Time) {
	var last time.Time
	b := make([]byte, 0, 96*len(rs))
	for _, r := range rs {
		if r.At.After(last) {
			last = r.At
		}
		b = strconv.AppendQuote(b, r.ID)
		b = append(b, ' ')
		b = strconv.AppendQuote(b, r.Queue)
		b = append(b, ' ')
		b = strconv.AppendQuote(b, r.CallID)
		b = append(b, ' ')
		b = strconv.AppendQuote(b, r.Agent)
		b = append(b, ' ')
		b = strconv.AppendQuote(b, r.Kind)
		b = append(b, ' ')
		b = strconv.AppendInt(b, r.At.UnixMicro(), 10)
		b = append(b, ' ')
		b = strconv.AppendInt(b, r.Duration.Microseconds(), 10)
		b = append(b, '\n')
	}
	return string(b), last
}

// decodeRecs appends body's records at or after since to out.
func decodeRecs(out []store.QueueRec, body string, since time.Time) ([]store.QueueRec, error) {
	for n := 1; body != ""; n++ {
		line, rest, _ := strings.Cut(body, "\n")
		body = rest
		var r store.QueueRec
		var s [5]string
		for i := range s {
			q, err := strconv.QuotedPrefix(line)
			if err == nil {
				s[i], err = strconv.Unquote(q)
			}
			if err != nil {
				return out, fmt.Errorf("acd_recs line %d field %d: %w", n, i+1, err)
			}
			line = strings.TrimPrefix(line[len(q):], " ")
		}
		r.ID, r.Queue, r.CallID, r.Agent, r.Kind = s[0], s[1], s[2], s[3], s[4]
		at, dur, ok := strings.Cut(line, " ")
		us, err := strconv.ParseInt(at, 10, 64)
		var d int64
		if err == nil && ok {
			d, err = strconv.ParseInt(dur, 10, 64)
		} else if err == nil {
			err = fmt.Errorf("no duration")
		}
		if err != nil {
			return out, fmt.Errorf("acd_recs line %d (at, duration_us): %w", n, err)
		}
		r.At, r.Duration = time.UnixMicro(us), time.Duration(d)*time.Microsecond
		if !r.At.Before(since) {
			out = append(out, r)
		}
	}
	return out, nil
}

// leaderRecs appends the records at or after since that cluster leaders
// committed (acd_recs), pruning rows wholly older: a takeover's (Load)
// and, as the dialect's MoreQueueRecs, a single node's after the cluster
// (cluster.enabled turned off), which then starts with the window's
// figures as a takeover does.
func leaderRecs(ctx context.Context, q sqlcore.Querier, since time.Time, out []store.QueueRec) ([]store.QueueRec, error) {
	if err := q.Exec(ctx, `DELETE FROM acd_recs WHERE last_at < $1`, since); err != nil {
		return out, err
	}
	rows, err := q.Query(ctx, `SELECT id, body FROM acd_recs`)
	if err != nil {
		return out, err
	}
	defer rows.Close()
	for rows.Next() {
		var id, body string
		if err := rows.Scan(&id, &body); err != nil {
			return out, err
		}
		if out, err = decodeRecs(out, body, since); err != nil {
			return out, fmt.Errorf("acd_recs %s: %w", id, err)
		}
	}
	return out, rows.Err()
}
