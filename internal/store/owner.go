package store

import (
	"os"
	"strconv"
	"strings"
)

// owner identifies a process across hosts and PID reuse: its host name,
// PID, and a start token (the boot ID and the process's start time since
// boot, where /proc tells them).
type owner struct {
	host  string
	pid   int
	start string
}

func currentOwner() owner {
	host, _ := os.Hostname()
	pid := os.Getpid()
	return owner{host: host, pid: pid, start: startToken(pid)}
}

// startToken is "BOOTID:STARTTIME" for pid, or "" where /proc has no answer.
func startToken(pid int) string {
	boot, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	st, ok := procStat(pid)
	if !ok || len(st) < 20 {
		return ""
	}
	return strings.TrimSpace(string(boot)) + ":" + st[19]
}

// procStat returns the fields of /proc/PID/stat after the command name:
// field 3 (the state) is at index 0.
func procStat(pid int) ([]string, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil, false
	}
	return strings.Fields(s[i+1:]), true
}

// alive reports whether the process o names still runs. Only processes of
// this host can be checked: for others it says true.
func (o owner) alive(self owner) bool {
	if o.host != self.host {
		return true
	}
	if o.pid <= 0 {
		return false
	}
	if o.pid == self.pid && o.start == self.start {
		return true
	}
	if st, ok := procStat(o.pid); ok {
		if len(st) > 0 && (st[0] == "Z" || st[0] == "X") {
			return false // a zombie: dead, not yet reaped
		}
		if o.start != "" {
			return startToken(o.pid) == o.start
		}
		return true
	}
	return processExists(o.pid)
}
