package app

import (
	"github.com/hotline-dev/hotline/api"
	"github.com/hotline-dev/hotline/cluster"
)

// In cluster mode the API's queue and agent reads come from the leader's
// view on every node (docs/cluster.md "Views on every node"): the seam
// the wiring plugs in.
var _ api.ACDViews = (*cluster.View)(nil)
