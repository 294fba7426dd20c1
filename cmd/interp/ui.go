package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/interp-dev/interp/internal/server"
	"github.com/interp-dev/interp/internal/store"
)

// localUser is the user interp ui signs its browser in as.
const localUser = "local"

// uiOptions are interp ui's: a single-user service on loopback.
type uiOptions struct {
	port      int
	noBrowser bool
	token     string
}

// newUICmd is `interp ui`: the web UI for one person on their own machine.
func newUICmd(g *globalFlags) *cobra.Command {
	f := &serveFlags{}
	ui := &uiOptions{}
	cmd := &cobra.Command{
		Use:   "ui [flags]",
		Short: "Open the web UI on this machine, for you alone",
		Long: "ui starts Interp's HTTP service and web UI on 127.0.0.1 with a random,\n" +
			"one-time sign-in token, prints its address (http://127.0.0.1:PORT/?token=...)\n" +
			"and opens it in a browser where there is one. No users or keys to set up:\n" +
			"the page signs in as the user \"local\" of the history database. For many\n" +
			"users, use interp serve and sign in with API keys.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServe(cmd, g, f, ui)
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&ui.port, "port", 0, "the port on 127.0.0.1 to listen on (default: a free one)")
	fl.BoolVar(&ui.noBrowser, "no-browser", false, "do not open a browser, only print the address")
	fl.StringVar(&f.db, "db", "", "the history database (env INTERP_HISTORY)")
	declare(fl, "provider", "model")
	fl.StringVar(&f.logLevel, "log-level", "warn", "debug, info, warn or error")
	f.deps.register(cmd)
	return cmd
}

func (u *uiOptions) listenAddr() (string, error) {
	if u.port < 0 || u.port > 65535 {
		return "", fmt.Errorf("--port %d: want 0 to 65535", u.port)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(u.port)), nil
}

// prepare makes sure the local user exists and gives the server a fresh
// one-time token that signs a browser in as them.
func (u *uiOptions) prepare(ctx context.Context, st *store.Store, sc *server.Config) error {
	usr, err := st.GetUser(ctx, localUser)
	if errors.Is(err, store.ErrNotFound) {
		usr, err = st.CreateUser(ctx, localUser)
	}
	if err != nil {
		return fmt.Errorf("the local user: %w", err)
	}
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return err
	}
	u.token = base64.RawURLEncoding.EncodeToString(b[:])
	sc.UIToken, sc.UIUser = u.token, usr.ID
	return nil
}

// announce prints the address to open and opens it where a browser is.
func (u *uiOptions) announce(w io.Writer, base string) {
	link := base + "/?token=" + u.token
	fmt.Fprintf(w, "Interp's web UI is at\n\n    %s\n\nThe link signs one browser in, once. Ctrl-C stops it.\n", link)
	if u.noBrowser {
		return
	}
	if open := browserOpener(); open != "" {
		c := exec.Command(open, link)
		c.Stdout, c.Stderr = io.Discard, io.Discard
		if c.Start() == nil {
			go func() { _ = c.Wait() }()
		}
	}
}

// browserOpener is the program that opens a URL in the desktop's browser,
// or "" where there is no desktop.
func browserOpener() string {
	if os.Getenv("BROWSER") != "" {
		if p, err := exec.LookPath(os.Getenv("BROWSER")); err == nil {
			return p
		}
	}
	if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
		return ""
	}
	for _, name := range []string{"xdg-open", "open"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}
