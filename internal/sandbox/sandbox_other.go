//go:build !linux

package sandbox

import (
	"context"
	"fmt"
	"runtime"
)

// Namespaces is the Linux backend; elsewhere it cannot be created.
type Namespaces struct{}

// NewNamespaces reports that this operating system cannot sandbox.
func NewNamespaces() (*Namespaces, error) {
	return nil, fmt.Errorf("%w: %s has no Linux namespaces; run interp on Linux", ErrUnsupported, runtime.GOOS)
}

// Name implements Backend.
func (*Namespaces) Name() string { return "namespaces" }

// Start implements Backend.
func (*Namespaces) Start(context.Context, *Spec) (*Process, error) { return nil, ErrUnsupported }

// Close implements Backend.
func (*Namespaces) Close() error { return nil }

// InspectHost reports that this operating system offers no sandboxes.
func InspectHost() Host {
	return Host{UserNamespaces: fmt.Errorf("%w: %s has no Linux namespaces", ErrUnsupported, runtime.GOOS)}
}
