package sandbox_test

import (
	"os"
	"testing"

	"github.com/interp-dev/interp/internal/sandbox"
)

// TestMain lets the test binary serve as the sandbox's init, as the interp
// binary does.
func TestMain(m *testing.M) {
	if sandbox.IsInit() {
		sandbox.RunInit()
	}
	os.Exit(m.Run())
}
