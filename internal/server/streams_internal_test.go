package server

import (
	"strings"
	"testing"
	"time"
)

// TestStreamEviction: finished streams are forgotten past their retention
// or, oldest first, past the byte budget; running ones never are.
func TestStreamEviction(t *testing.T) {
	r := &streamRegistry{maxKept: 100}
	data := []byte(strings.Repeat("x", 40))
	running := r.start("u")
	running.add("stdout", data)
	var done []*journal
	for range 3 {
		j := r.start("u")
		j.add("stdout", data)
		r.finish(j)
		done = append(done, j)
	}
	// 120 bytes finished, over 100: the oldest went.
	if r.get("u", done[0].id) != nil || r.get("u", done[1].id) == nil || r.get("u", done[2].id) == nil {
		t.Fatalf("after the budget: kept %v", r.journals)
	}
	if r.kept != 80 {
		t.Fatalf("kept %d bytes, want 80", r.kept)
	}
	if r.get("u", running.id) == nil || r.get("v", running.id) != nil {
		t.Fatal("a running stream was dropped, or another user got it")
	}
	// Past the retention, the rest go at the next start or finish.
	r.mu.Lock()
	r.evict(time.Now().Add(streamRetention))
	r.mu.Unlock()
	if r.get("u", done[1].id) != nil || r.get("u", done[2].id) != nil || r.kept != 0 || r.get("u", running.id) == nil {
		t.Fatalf("after the retention: %v, %d bytes", r.journals, r.kept)
	}
	// A journal replays what came after an id.
	evs, isDone, _ := done[2].after(0)
	if len(evs) != 1 || !isDone {
		t.Fatalf("after(0): %v %v", evs, isDone)
	}
}
