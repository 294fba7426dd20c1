//go:build !linux

package sandbox

import (
	"context"
	"time"
)

// Zygote forks one loaded program into new sandboxes; only on Linux.
type Zygote struct{}

// NewZygote reports that this operating system cannot sandbox.
func (*Namespaces) NewZygote(context.Context, ZygoteSpec) (*Zygote, error) {
	return nil, ErrUnsupported
}

// Start implements the Linux zygote's method.
func (*Zygote) Start(context.Context, *Spec) (*Process, error) { return nil, ErrUnsupported }

// Forks implements the Linux zygote's method.
func (*Zygote) Forks() int { return 0 }

// Age implements the Linux zygote's method.
func (*Zygote) Age() time.Duration { return 0 }

// Pid implements the Linux zygote's method.
func (*Zygote) Pid() int { return 0 }

// Alive implements the Linux zygote's method.
func (*Zygote) Alive() bool { return false }

// Close implements the Linux zygote's method.
func (*Zygote) Close() error { return nil }
