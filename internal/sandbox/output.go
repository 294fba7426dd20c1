package sandbox

import (
	"fmt"
	"io"
	"sync"
)

// outputLimiter shares one byte budget between a program's stdout and
// stderr. Past the budget it keeps draining the pipes, so the program never
// blocks on a full pipe, but drops the bytes and says so once.
type outputLimiter struct {
	mu        sync.Mutex
	remaining int64
	limit     int64
	drop      int64
}

func newOutputLimiter(limit int64) *outputLimiter {
	return &outputLimiter{remaining: limit, limit: limit}
}

func (l *outputLimiter) dropped() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.drop
}

// writer returns a writer to w that draws on the shared budget.
func (l *outputLimiter) writer(w io.Writer) io.Writer {
	return &limitedWriter{l: l, w: w}
}

type limitedWriter struct {
	l *outputLimiter
	w io.Writer
}

func (lw *limitedWriter) Write(b []byte) (int, error) {
	l := lw.l
	l.mu.Lock()
	n := int64(len(b))
	keep := min(n, l.remaining)
	first := keep < n && l.drop == 0
	l.remaining -= keep
	l.drop += n - keep
	l.mu.Unlock()

	if keep > 0 {
		if _, err := lw.w.Write(b[:keep]); err != nil {
			// The reader went away; keep draining the program regardless.
			return len(b), nil
		}
	}
	if first {
		fmt.Fprintf(lw.w, "\n[interp: output truncated at %s; the rest is dropped]\n", FormatBytes(l.limit))
	}
	return len(b), nil
}

// FormatBytes formats n bytes for people: 512 B, 1.5 KiB, 2.0 MiB.
func FormatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
