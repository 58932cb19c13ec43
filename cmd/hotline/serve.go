package main

import (
	"context"
	"fmt"
	"io"
)

// serveCmd is a placeholder until its owner lands it.
func serveCmd(_ context.Context, _ []string, _, stderr io.Writer) int {
	fmt.Fprintln(stderr, "hotline serve: not implemented yet")
	return 1
}
