package e2e

import "github.com/hotline-dev/hotline/internal/testports"

// toolPorts are the ports a test names before the process that binds them
// runs (sipp's -p and -mp, Kamailio's listen address, a child Hotline's
// sip.udp): this package's range in internal/testports, below the
// kernel's ephemeral range. No other test in the repository binds in it;
// keep it so.
var toolPorts = testports.New(18000, 19999)
