package config

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// Cluster runs this node as one of several sharing one PostgreSQL: one ACD
// for all of them, led by whichever node holds the leader lock
// (docs/cluster.md). Absent (or enabled: false): one node, its own ACD.
type Cluster struct {
	Enabled bool `yaml:"enabled"`
	// Node names this node cluster-wide; default the host name. Stable
	// across restarts of one host: a restart clears a lost mark.
	Node string `yaml:"node"`
	// Heartbeat is the interval of this node's heartbeats; default
	// node_timeout/4.
	Heartbeat time.Duration `yaml:"heartbeat"`
	// NodeTimeout is how long a node's heartbeat may be silent before the
	// leader declares it lost and ends its calls; default 10s. Every
	// node should use the same value.
	NodeTimeout time.Duration `yaml:"node_timeout"`
	// ViewMaxAge is how old this node's copy of the cluster's ACD view
	// (queues, agents, positions) may be before /readyz reports the node
	// not ready; default 5s (the leader writes one at least every second).
	ViewMaxAge time.Duration `yaml:"view_max_age"`
}

// DefaultViewMaxAge is cluster.view_max_age's default.
const DefaultViewMaxAge = 5 * time.Second

// DefaultNodeTimeout is cluster.node_timeout's default (cluster.Config's
// NodeExpiry default).
const DefaultNodeTimeout = 10 * time.Second

func (c *Cluster) fill() {
	if !c.Enabled {
		return
	}
	if c.Node == "" {
		if h, err := os.Hostname(); err == nil {
			c.Node = h
		}
	}
	fillDur(&c.NodeTimeout, DefaultNodeTimeout)
	fillDur(&c.Heartbeat, c.NodeTimeout/4)
	fillDur(&c.ViewMaxAge, DefaultViewMaxAge)
}

// validateCluster checks the cluster section against the keys a cluster
// needs: a shared PostgreSQL, and one nonce secret (each node verifies the
// digest nonces the others issued: a phone's next REGISTER may reach
// another node).
func (c *Config) validateCluster() error {
	k := c.Cluster
	if !k.Enabled {
		return nil
	}
	if u := c.Database.URL; !strings.HasPrefix(u, "postgres://") && !strings.HasPrefix(u, "postgresql://") {
		return fmt.Errorf("cluster.enabled: needs a PostgreSQL database.url (postgres://…) shared by every node, got %q", schemeOf(u))
	}
	if c.SIP.NonceSecret == "" {
		return errors.New("cluster.enabled: needs sip.nonce_secret, the same on every node (each node verifies the digest nonces the others issued)")
	}
	if k.Node == "" {
		return errors.New("cluster.node: empty and the host name is unknown")
	}
	if k.NodeTimeout <= 0 || k.Heartbeat <= 0 {
		return fmt.Errorf("cluster.heartbeat/node_timeout: need both > 0, got %s/%s", k.Heartbeat, k.NodeTimeout)
	}
	if k.ViewMaxAge < 0 { // 0 (a Config built in code): the default
		return fmt.Errorf("cluster.view_max_age: need > 0, got %s", k.ViewMaxAge)
	}
	if k.Heartbeat >= k.NodeTimeout {
		return fmt.Errorf("cluster.heartbeat: %s must be shorter than cluster.node_timeout %s (a node would be lost between two heartbeats)",
			k.Heartbeat, k.NodeTimeout)
	}
	return nil
}

// schemeOf is a database URL without its credentials, for errors.
func schemeOf(u string) string {
	if i := strings.Index(u, ":"); i >= 0 {
		return u[:i+1] + "…"
	}
	return u
}
