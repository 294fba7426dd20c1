// Package sandboxtest gives tests a real sandbox backend.
package sandboxtest

import (
	"errors"
	"os"
	"testing"

	"github.com/interp-dev/interp/internal/sandbox"
)

// Backend returns the namespaces backend, closed when the test ends. It
// skips the test where the host cannot sandbox, saying why, and fails it
// instead under CI=true, where every host can.
func Backend(t testing.TB) *sandbox.Namespaces {
	t.Helper()
	b, err := sandbox.NewNamespaces()
	if errors.Is(err, sandbox.ErrUnsupported) && os.Getenv("CI") != "true" {
		t.Skipf("host cannot sandbox: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}
