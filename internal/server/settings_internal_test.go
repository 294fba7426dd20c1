package server

import (
	"math"
	"testing"
	"time"
)

// TestCheckLimits: the one range check of a session's memory and cell
// time limit, which settings, their use and new sessions share.
func TestCheckLimits(t *testing.T) {
	t.Parallel()
	c := Config{MaxMemory: 1 << 30, MaxCellTimeout: time.Minute}
	for _, tc := range []struct {
		name        string
		memory      int64
		cellTimeout float64
		want        string // "" when allowed
	}{
		{"defaults", 0, 0, ""},
		{"least memory", minMemory, 0, ""},
		{"most memory", 1 << 30, 0, ""},
		{"too little memory", minMemory - 1, 0, "memory 67108863 is not between 67108864 and the server's maximum of 1073741824 bytes"},
		{"too much memory", 1<<30 + 1, 0, "memory 1073741825 is not between 67108864 and the server's maximum of 1073741824 bytes"},
		{"negative memory", -1, 0, "memory -1 is not between 67108864 and the server's maximum of 1073741824 bytes"},
		{"shortest time", 0, 0.001, ""},
		{"longest time", 0, 60, ""},
		{"too short", 0, 0.0001, "cell_timeout 0.0001 s is not between 0.001 and the server's maximum of 60 s"},
		{"too long", 0, 61, "cell_timeout 61 s is not between 0.001 and the server's maximum of 60 s"},
		{"negative time", 0, -1, "cell_timeout -1 s is not between 0.001 and the server's maximum of 60 s"},
		{"not a number", 0, math.NaN(), "cell_timeout NaN s is not between 0.001 and the server's maximum of 60 s"},
		{"both wrong: memory first", 1 << 40, 3600, "memory 1099511627776 is not between 67108864 and the server's maximum of 1073741824 bytes"},
		{"both right", 256 << 20, 5, ""},
	} {
		err := c.checkLimits(tc.memory, tc.cellTimeout)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("%s: checkLimits(%d, %g) = %q, want %q", tc.name, tc.memory, tc.cellTimeout, got, tc.want)
		}
	}
}
