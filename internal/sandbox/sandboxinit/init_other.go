//go:build !linux

package sandboxinit

import (
	"fmt"
	"os"
)

// IsInit reports whether this process was started to become a sandbox's
// init; there are no sandboxes off Linux.
func IsInit() bool { return os.Getenv(Env) != "" }

// Main fails: sandboxes need Linux.
func Main() {
	fmt.Fprintln(os.Stderr, "interp-sandbox: sandboxes need Linux")
	os.Exit(127)
}
