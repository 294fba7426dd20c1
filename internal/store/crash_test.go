package store

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/interp-dev/interp/internal/event"
	"github.com/interp-dev/interp/internal/store/storetest"
)

// The crash test's child: TestMain runs crashChild when this is set.
const (
	crashChildEnv   = "INTERP_STORE_CRASH_CHILD"
	crashDSNEnv     = "INTERP_STORE_CRASH_DSN"
	crashBlobDirEnv = "INTERP_STORE_CRASH_BLOBS"
)

// crashChild records events in a loop, printing each one's number once it
// is committed, until it is killed (or, at worst, after a minute).
func crashChild() {
	ctx := context.Background()
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		os.Exit(2)
	}
	s, err := Open(ctx, os.Getenv(crashDSNEnv), &Options{BlobDir: os.Getenv(crashBlobDirEnv)})
	if err != nil {
		fail(err)
	}
	rec, err := s.StartTask(ctx, "", "count forever", nil)
	if err != nil {
		fail(err)
	}
	fmt.Printf("conversation %s\n", rec.ConversationID())
	if err := rec.Event(event.Task{Event: event.Event{Type: event.Tool, Text: "i = 0\nwhile True: i += 1; print(i)"}, Step: 1}); err != nil {
		fail(err)
	}
	image := png("crash", 12000)
	deadline := time.Now().Add(time.Minute)
	for i := 1; time.Now().Before(deadline); i++ {
		e := event.Event{Type: event.Stdout, Text: fmt.Sprintf("line %d\n", i)}
		if i%25 == 0 {
			// Now and then an image, which goes through the blob store.
			e = event.Event{Type: event.Display, Data: map[string]any{"image/png": b64(image), "text/plain": fmt.Sprintf("line %d", i)}}
		}
		if err := rec.SessionEvent(e); err != nil {
			fail(err)
		}
		fmt.Printf("committed %d\n", i)
	}
	fail(fmt.Errorf("not killed within a minute"))
}

// TestCrashSafety runs a child process that records events into the
// store, SIGKILLs it midway, and checks that every event it reported
// committed is there, and that its task is then marked interrupted.
func TestCrashSafety(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts a process")
	}
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		dsn, blobDir := b.DSN(t)
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"=1", crashDSNEnv+"="+dsn, crashBlobDirEnv+"="+blobDir)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		must(t, err)
		must(t, cmd.Start())
		killed := false
		defer func() {
			if !killed {
				cmd.Process.Kill()
				cmd.Wait()
			}
		}()

		sc := bufio.NewScanner(out)
		var convID string
		committed := 0
		const killAt = 150
		timeout := time.AfterFunc(45*time.Second, func() { cmd.Process.Kill() })
		defer timeout.Stop()
		for sc.Scan() {
			line := sc.Text()
			if id, ok := strings.CutPrefix(line, "conversation "); ok {
				convID = id
				continue
			}
			n, err := strconv.Atoi(strings.TrimPrefix(line, "committed "))
			if err != nil {
				t.Fatalf("child said %q", line)
			}
			committed = n
			if n == killAt && !killed {
				// Mid-run: the child goes on writing until the signal lands.
				must(t, cmd.Process.Signal(syscall.SIGKILL))
				killed = true
			}
		}
		werr := cmd.Wait()
		if !killed {
			t.Fatalf("the child ended by itself after %d events: %v\n%s", committed, werr, stderr.String())
		}
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("child ended with %v, not SIGKILL\n%s", werr, stderr.String())
		}
		t.Logf("the child reported %d events committed before SIGKILL", committed)

		ctx := context.Background()
		s, err := Open(ctx, dsn, &Options{BlobDir: blobDir, NoRecover: true})
		must(t, err)
		defer s.Close()
		c, err := s.GetConversation(ctx, convID)
		must(t, err)
		if c.Tasks[0].Status != TaskRunning {
			t.Errorf("before recovery the task is %q", c.Tasks[0].Status)
		}
		seen := map[string]bool{}
		for _, e := range c.Events {
			switch e.Type {
			case event.Stdout:
				seen[strings.TrimSpace(e.Text)] = true
			case event.Display:
				seen[fmt.Sprint(e.Data["text/plain"])] = true
				if e.Data["image/png"] != b64(png("crash", 12000)) {
					t.Errorf("event %d: image not restored", e.Seq)
				}
			}
		}
		for i := 1; i <= committed; i++ {
			if !seen[fmt.Sprintf("line %d", i)] {
				t.Fatalf("event %d was reported committed but is missing (%d recorded)", i, len(seen))
			}
		}
		res, err := s.recoverInterrupted(ctx)
		must(t, err)
		if res.Tasks != 1 || res.Cells != 1 {
			t.Errorf("recovered %+v, want 1 task and 1 cell", res)
		}
		c, err = s.GetConversation(ctx, convID)
		must(t, err)
		if c.Tasks[0].Status != TaskInterrupted || c.Cells[0].Status != TaskInterrupted {
			t.Errorf("after recovery: task %q, cell %q", c.Tasks[0].Status, c.Cells[0].Status)
		}
		if last := c.Events[len(c.Events)-1].At; !c.Tasks[0].FinishedAt.Equal(last) {
			t.Errorf("interrupted task finished at %v, want its last event's time %v", c.Tasks[0].FinishedAt, last)
		}
		if c.Bytes == 0 {
			t.Error("the interrupted conversation was not measured")
		}
	})
}
