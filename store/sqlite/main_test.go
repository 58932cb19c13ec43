package sqlite_test

import (
	"testing"

	"go.uber.org/goleak"
)

// The pool and database/sql start goroutines; Close must stop them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
