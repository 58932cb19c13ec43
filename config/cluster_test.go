package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestClusterConfig(t *testing.T) {
	secret := strings.Repeat("k", MinNonceSecret)
	for _, tc := range []struct {
		name, yaml, err string
		check           func(t *testing.T, c Config)
	}{
		{name: "absent: one node", yaml: "log: {level: info}\n", check: func(t *testing.T, c Config) {
			if c.Cluster.Enabled || c.Cluster.Node != "" || c.Cluster.NodeTimeout != 0 {
				t.Fatalf("cluster = %+v, want the zero value", c.Cluster)
			}
		}},
		{name: "defaults", yaml: "database: {url: 'postgres://127.0.0.1/test'}\nsip: {nonce_secret: " + secret + "}\ncluster: {enabled: true}\n",
			check: func(t *testing.T, c Config) {
				host, _ := os.Hostname()
				if c.Cluster.Node != host || c.Cluster.NodeTimeout != 10*time.Second || c.Cluster.Heartbeat != 2500*time.Millisecond {
					t.Fatalf("cluster = %+v, want node %q, 10s, 2.5s", c.Cluster, host)
				}
			}},
		{name: "set", yaml: "database: {url: 'postgres://127.0.0.1/test'}\nsip: {nonce_secret: " + secret + "}\ncluster: {enabled: true, node: a, heartbeat: 1s, node_timeout: 6s}\n",
			check: func(t *testing.T, c Config) {
				if c.Cluster.Node != "a" || c.Cluster.NodeTimeout != 6*time.Second || c.Cluster.Heartbeat != time.Second {
					t.Fatalf("cluster = %+v", c.Cluster)
				}
			}},
		{name: "sqlite", yaml: "database: {url: 'sqlite:x.db'}\nsip: {nonce_secret: " + secret + "}\ncluster: {enabled: true}\n",
			err: "cluster.enabled: needs a PostgreSQL database.url"},
		{name: "no nonce secret", yaml: "database: {url: 'postgres://127.0.0.1/test'}\ncluster: {enabled: true}\n",
			err: "cluster.enabled: needs sip.nonce_secret"},
		{name: "heartbeat too long", yaml: "database: {url: 'postgres://127.0.0.1/test'}\nsip: {nonce_secret: " + secret + "}\ncluster: {enabled: true, heartbeat: 10s}\n",
			err: "cluster.heartbeat"},
		{name: "typo", yaml: "cluster: {enabeld: true}\n", err: "field enabeld not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("HOTLINE_DATABASE_URL", "")
			p := filepath.Join(t.TempDir(), "hotline.yaml")
			if err := os.WriteFile(p, []byte(tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := Load(p)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Load = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load = %v", err)
			}
			tc.check(t, c)
		})
	}
}
