//go:build !linux

package spawner

import (
	"fmt"
	"os"
)

// Serve exits: only Linux has sandboxes.
func Serve() {
	fmt.Fprintln(os.Stderr, "interp-sandbox: sandboxes need Linux")
	os.Exit(1)
}
