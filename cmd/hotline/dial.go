package main

import (
	"context"
	"fmt"
	"io"
)

// dialCmd is a placeholder until its owner lands it.
func dialCmd(_ context.Context, _ []string, _, stderr io.Writer) int {
	fmt.Fprintln(stderr, "hotline dial: not implemented yet")
	return 1
}
