// Package layers writes down, in one place, which of Interp's packages may
// import which: each package has a layer, and a package imports only
// packages of lower layers (its test files excepted). Dependencies point
// down, never up, and never sideways: two front ends that need the same
// thing get it from a layer below them. The test of this package checks
// every package of the module against the table, and fails on a package
// the table does not list.
//
// ARCHITECTURE.md describes the layers.
package layers

// Module is the module path the table's package paths are relative to.
const Module = "github.com/interp-dev/interp"

// Layers maps each package, relative to Module, to its layer.
var Layers = map[string]int{
	// 0: leaves, importing nothing of Interp's.
	"internal/event":  0, // the event vocabulary
	"internal/config": 0, // settings from the file, the environment and flags
	// termimage draws images in terminals, for the CLI and the chat.
	"internal/termimage": 0,
	// syncbuf is a buffer written and read at once, for tests.
	"internal/syncbuf": 0,

	// 1: the sandbox, with its first process and the process that forks it.
	"internal/sandbox/sandboxinit": 10,
	"internal/sandbox/spawner":     10,
	"internal/sandbox":             11,
	"internal/sandbox/sandboxtest": 12,
	// The Python runtime sandboxes run, and what of the host it needs.
	"internal/python": 15,

	// 2: the session: kernel, runner, files, manager, warm pool.
	"internal/session": 20,

	// 3: dependencies: detection, mapping, installs.
	"internal/deps/pypitest": 0,
	"internal/deps":          30,

	// 4: one cell, for every front end.
	"internal/cell": 40,

	// 5: language models and the agent loop.
	"internal/llm":                 50,
	"internal/llm/llmtest":         50,
	"internal/llm/llmtest/fakellm": 51,
	"internal/models":              50, // local models: fetch, verify, keep
	"internal/llamacpp":            51, // the local provider: llama-server
	"internal/agent":               55,

	// 6: the history, and exports of it.
	"internal/store/storetest": 0,
	"internal/store":           60,
	"internal/export":          61,

	// 7: front ends and tools on top of the agent. The web UI's assets and
	// their handler sit just below, for the HTTP service to serve.
	"web":                65,
	"internal/server":    70,
	"internal/mcpserver": 70,
	"internal/chat":      70,
	"internal/eval":      70,

	// 8: the commands: flags and printing, wiring the layers together.
	"cmd/interp":         80,
	"cmd/interp-bench":   80,
	"cmd/interp-sandbox": 80,

	// This package: its table imports nothing.
	"internal/layers": 0,
}
