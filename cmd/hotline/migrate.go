package main

import (
	"context"
	"fmt"
	"io"
)

// migrateCmd is a placeholder until its owner lands it.
func migrateCmd(_ context.Context, _ []string, _, stderr io.Writer) int {
	fmt.Fprintln(stderr, "hotline migrate: not implemented yet")
	return 1
}
