package app

import (
	"fmt"
	"log/slog"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/outbound"
	"github.com/hotline-dev/hotline/store/storeopen"
)

// The outbound policy (toll-fraud guard) is compiled once and shared by the
// registrar, the ringer, transfers and the SIP client's dials, with
// the trunks numbers go out through and the caps on them (the daily cap
// counts the office calendar's day).
//
// CheckConfig makes the checks of `hotline serve` that need neither a
// secret nor a socket: the database URL's scheme, the outbound policy (an
// invalid allow:, outbound: or trunks: entry is an error naming its line; a
// wide one is a warning). `hotline flows check --config` runs it too, so
// the checker and the server agree on what is a mistake.
func CheckConfig(cfg config.Config) (warnings []string, err error) {
	_, warnings, err = compileConfig(cfg, nil, nil)
	return warnings, err
}

// compileConfig is CheckConfig keeping the compiled policy for New, which
// gives it the log and the bus for its refusals and alarms.
func compileConfig(cfg config.Config, log *slog.Logger, bus *events.Bus) (*outbound.Policy, []string, error) {
	// Mistakes found only when a call needs them would let the server run
	// broken (an unknown database scheme spools every record forever).
	if _, _, err := storeopen.Backend(cfg.Database.URL); err != nil {
		return nil, nil, err
	}
	p, err := outbound.New(outbound.Config{Allow: cfg.Allow, Agents: cfg.Agents, DefaultCountry: cfg.Phone.DefaultCountry,
		Domains: []string{cfg.SIP.Domain, ownHost(cfg.SIP)}, Trunks: cfg.Trunks, Limits: cfg.Outbound, Bus: bus, Logger: log,
		Location: officeLocation(cfg)})
	if err != nil {
		return nil, nil, fmt.Errorf("config: %w", err)
	}
	return p, p.Warnings(), nil
}
