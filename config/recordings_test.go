package config

import (
	"strings"
	"testing"
)

// TestRecordingsStore: recordings.store defaults to dir on one node and to
// database in a cluster (the nodes share the database, not a disk); an
// explicit choice wins; anything else is refused naming the key.
func TestRecordingsStore(t *testing.T) {
	secret := strings.Repeat("s", MinNonceSecret)
	cluster := "database: {url: 'postgres://127.0.0.1/test'}\nsip: {nonce_secret: " + secret + "}\ncluster: {enabled: true}\n"
	for _, tc := range []struct {
		name, yaml, want, err string
	}{
		{name: "single node", yaml: "", want: RecordingsDir},
		{name: "cluster", yaml: cluster, want: RecordingsDatabase},
		{name: "cluster, dir on shared storage", yaml: cluster + "recordings: {store: dir, dir: /mnt/shared}\n", want: RecordingsDir},
		{name: "single node, database", yaml: "recordings: {store: database}\n", want: RecordingsDatabase},
		{name: "unknown", yaml: "recordings: {store: s3}\n", err: `recordings.store: "s3" is not dir or database`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("HOTLINE_DATABASE_URL", "")
			p := writeConfig(t, tc.yaml)
			c, err := Load(p)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Load = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Recordings.Store != tc.want || c.Recordings.Dir == "" {
				t.Fatalf("recordings = %+v, want store %s", c.Recordings, tc.want)
			}
		})
	}
}
