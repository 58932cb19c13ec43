package main

import (
	"context"
	"fmt"
	"io"
)

// flowsCmd is a placeholder until its owner lands it.
func flowsCmd(_ context.Context, _ []string, _, stderr io.Writer) int {
	fmt.Fprintln(stderr, "hotline flows: not implemented yet")
	return 1
}
