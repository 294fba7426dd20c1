package sandbox

import (
	"errors"
	"io/fs"
	"testing"
)

// TestRetryVanishedParent: a create that failed because another process
// removed the shared parent is tried again, a bounded number of times;
// any other failure is not.
func TestRetryVanishedParent(t *testing.T) {
	t.Parallel()
	vanished := &fs.PathError{Op: "mkdir", Path: "/sys/fs/cgroup/x/interp/probe", Err: fs.ErrNotExist}
	other := errors.New("permission denied")
	tests := []struct {
		name      string
		fails     []error // what the attempts return, in order; nil after
		wantCalls int
		wantErr   error
	}{
		{"first time", nil, 1, nil},
		{"parent vanished twice", []error{vanished, vanished}, 3, nil},
		{"another error", []error{other}, 1, other},
		{"always vanished", []error{vanished, vanished, vanished, vanished, vanished, vanished}, 5, fs.ErrNotExist},
	}
	for _, tt := range tests {
		calls := 0
		err := retryVanishedParent(func() error {
			calls++
			if calls <= len(tt.fails) {
				return tt.fails[calls-1]
			}
			return nil
		})
		if calls != tt.wantCalls || (tt.wantErr == nil) != (err == nil) || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) {
			t.Errorf("%s: %d calls, err %v; want %d calls, err %v", tt.name, calls, err, tt.wantCalls, tt.wantErr)
		}
	}
}
