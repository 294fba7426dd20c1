package store

import (
	"context"
	"fmt"
	"testing"

	"github.com/interp-dev/interp/internal/event"
	"github.com/interp-dev/interp/internal/store/storetest"
)

// BenchmarkRecordEvent measures the recording of one small output event:
// one committed transaction.
//
//	INTERP_TEST_POSTGRES_DSN=$(scripts/postgres) go test -run '^$' -bench RecordEvent ./internal/store
func BenchmarkRecordEvent(b *testing.B) {
	for _, be := range storetest.Backends() {
		b.Run(be.Name, func(b *testing.B) {
			s := open(b, be, nil)
			ctx := context.Background()
			rec, err := s.StartTask(ctx, "", "bench", nil)
			must(b, err)
			must(b, rec.Event(event.Task{Event: event.Event{Type: event.Tool, Text: "print()"}}))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := rec.SessionEvent(event.Event{Type: event.Stdout, Text: fmt.Sprintf("line %d\n", i)}); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			must(b, rec.Finish(ctx, nil, nil))
		})
	}
}

// BenchmarkRecordImage measures an event whose image goes to the blob
// store: a blob write and a transaction of three statements.
func BenchmarkRecordImage(b *testing.B) {
	for _, be := range storetest.Backends() {
		b.Run(be.Name, func(b *testing.B) {
			s := open(b, be, nil)
			ctx := context.Background()
			rec, err := s.StartTask(ctx, "", "bench", nil)
			must(b, err)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				img := b64(png(fmt.Sprint("img", i), 50000))
				if err := rec.SessionEvent(event.Event{Type: event.Display, Data: map[string]any{"image/png": img}}); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			must(b, rec.Finish(ctx, nil, nil))
		})
	}
}
