package session

import "github.com/interp-dev/interp/internal/event"

// Event is one thing that happened while a cell ran; its vocabulary (types,
// statuses, phases) is package event's.
type Event = event.Event
