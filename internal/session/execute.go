package session

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/interp-dev/interp/internal/event"
)

// ExecOptions tune one cell.
type ExecOptions struct {
	// Timeout overrides the kernel's CellTimeout; negative means none.
	Timeout time.Duration
	// Name is what tracebacks call the cell, such as the file it came
	// from; "" keeps IPython's "Cell In[N]".
	Name string
}

// interruptGrace is how long a cell has to stop after an interrupt before
// the kernel is killed.
const interruptGrace = 2 * time.Second

// resendInterrupt is how often an interrupt is repeated until the cell
// stops or the grace period ends.
const resendInterrupt = 300 * time.Millisecond

// NumberFrom makes the next cell In[n] and those after it go on from
// there, as a resumed conversation's numbering does; n < 1 does nothing.
func (k *Kernel) NumberFrom(n int) {
	if n >= 1 {
		k.nextCount.Store(int64(n))
	}
}

// Execute runs code as the next cell and calls emit with each event, in
// order, ending with exactly one done event, which it also returns. emit
// runs on the calling goroutine. Cancelling ctx interrupts the cell, as
// Ctrl-C would; the session survives.
//
// An error is returned only when the cell could not run at all: the
// kernel is dead or closed, or another cell is running on it.
func (k *Kernel) Execute(ctx context.Context, code string, opts ExecOptions, emit func(Event)) (Event, error) {
	if !k.run.TryLock() {
		return Event{}, fmt.Errorf("session is busy running another cell")
	}
	defer k.run.Unlock()
	select {
	case <-k.closed:
		return Event{}, ErrClosed
	default:
	}
	if !k.Alive() {
		return Event{}, fmt.Errorf("%w (%s)", ErrDead, k.deathReason())
	}
	if emit == nil {
		emit = func(Event) {}
	}
	id := "c" + strconv.FormatInt(k.cellSeq.Add(1), 10)
	before := k.ws.snapshot()
	start := time.Now()

	// Leftover raw output from between cells belongs to nobody.
	k.drainRaw()
	count := int(k.nextCount.Swap(0))
	if err := k.send(&message{Type: "execute", ID: id, Code: code, MaxImageBytes: k.cfg.MaxImage, Name: opts.Name, Count: count}); err != nil {
		return Event{}, err
	}

	timeout := k.cfg.CellTimeout
	if opts.Timeout != 0 {
		timeout = opts.Timeout
	}
	var timer, grace, again <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		timer = t.C
	}
	out := newCapper(k.cfg.MaxOutput, emit)
	done := Event{Type: event.Done, Cell: id}
	ctxDone := ctx.Done()
	stopStatus := "" // set when we interrupted the cell

loop:
	for {
		select {
		case m := <-k.frames:
			if m.ID != id && m.ID != rawID {
				continue // a stale frame of an earlier, abandoned cell
			}
			if m.Type == "done" {
				done.Status = m.Status
				done.CPUTime = m.CPUTime
				done.PeakMemory = m.PeakMemory
				done.ExecutionCount = m.ExecutionCount
				break loop
			}
			k.emitFrame(id, &m, out)
		case <-ctxDone:
			ctxDone = nil
			stopStatus = event.StatusInterrupted
			grace, again = k.interrupt(), time.After(resendInterrupt)
		case <-timer:
			timer = nil
			stopStatus = event.StatusTimeout
			grace, again = k.interrupt(), time.After(resendInterrupt)
		case <-again:
			// A SIGINT that lands while the runner is busy with its own
			// bookkeeping can be lost; asking again is harmless.
			_ = k.proc.Interrupt()
			again = time.After(resendInterrupt)
		case <-grace:
			// The cell ignored the interrupt: only killing it stops it.
			grace, again = nil, nil
			k.mu.Lock()
			k.reason = fmt.Sprintf("killed: the cell did not stop within %s of an interrupt", interruptGrace)
			k.mu.Unlock()
			k.proc.Kill()
		case <-k.readerDone:
			// The process ended. Take what it sent before dying.
			for drained := false; !drained; {
				select {
				case m := <-k.frames:
					if m.ID == id || m.ID == rawID {
						k.emitFrame(id, &m, out)
					}
				default:
					drained = true
				}
			}
			done.Status = event.StatusDied
			done.Reason = k.deathReason()
			if stopStatus == event.StatusTimeout {
				done.Status = event.StatusTimeout
			}
			break loop
		}
	}
	out.flush()
	if stopStatus != "" && done.Status == event.StatusInterrupted {
		done.Status = stopStatus
	}
	if done.Status == event.StatusTimeout && done.Reason == "" {
		done.Reason = fmt.Sprintf("the cell ran over its time limit of %s", timeout)
	}
	for _, ev := range k.ws.diff(before) {
		ev.Cell = id
		emit(ev)
	}
	done.Duration = time.Since(start).Seconds()
	emit(done)
	return done, nil
}

// interrupt sends SIGINT and returns the deadline after which the kernel
// is killed.
func (k *Kernel) interrupt() <-chan time.Time {
	_ = k.proc.Interrupt()
	return time.After(interruptGrace)
}

// drainRaw drops raw output queued while no cell was running.
func (k *Kernel) drainRaw() {
	for {
		select {
		case m := <-k.frames:
			if m.ID != rawID {
				// Not raw: nothing else should be queued between cells.
				continue
			}
		default:
			return
		}
	}
}

// emitFrame turns one runner frame into events, checking what an untrusted
// runner could get wrong.
func (k *Kernel) emitFrame(id string, m *message, out *capper) {
	switch m.Type {
	case "stream":
		typ := event.Stdout
		if m.Name == "stderr" {
			typ = event.Stderr
		}
		out.text(Event{Type: typ, Cell: id, Text: m.Text})
	case "display":
		if len(m.Data) == 0 {
			return
		}
		size := 0
		for _, v := range m.Data {
			if s, ok := v.(string); ok {
				size += len(s)
			} else if b, err := json.Marshal(v); err == nil {
				size += len(b)
			}
		}
		// Base64 makes binary data a third larger.
		if int64(size) > k.cfg.MaxImage*4/3+1024 {
			out.text(Event{Type: event.Stderr, Cell: id, Text: fmt.Sprintf("[interp: display output of %d bytes omitted: over the %d-byte limit]\n", size, k.cfg.MaxImage)})
			return
		}
		out.other(Event{Type: event.Display, Cell: id, Data: m.Data, Metadata: m.Metadata})
	case "error":
		out.other(Event{Type: event.Error, Cell: id, EName: m.EName, EValue: m.EValue, Traceback: m.Traceback})
	}
}
