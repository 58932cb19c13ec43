package config

import (
	"slices"
	"strings"
)

// Strategy is how a queue picks the agent to offer a caller to
// (queues.<name>.strategy, Queue.Strategy); package queue switches on
// these constants.
type Strategy string

// Queue strategies; Strategies lists them for validation and the docs.
const (
	StrategyLongestIdle Strategy = "longest-idle" // the default: the agent idle longest
	StrategyRoundRobin  Strategy = "round-robin"  // the next agent after the last one offered
	StrategyRingAll     Strategy = "ring-all"     // every idle agent at once; the first to answer wins
	StrategyFewestCalls Strategy = "fewest-calls" // the agent who answered fewest calls today
	StrategySkills      Strategy = "skills"       // the highest level in the queue's skill
)

// Strategies are the queue strategies, the default first.
var Strategies = []Strategy{StrategyLongestIdle, StrategyRoundRobin, StrategyRingAll, StrategyFewestCalls, StrategySkills}

// validStrategy reports whether s names a strategy.
func validStrategy(s Strategy) bool { return slices.Contains(Strategies, s) }

// strategyNames is the list for error messages: "longest-idle, round-robin, ...".
func strategyNames() string {
	names := make([]string, len(Strategies))
	for i, s := range Strategies {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}
