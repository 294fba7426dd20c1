package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/interp-dev/interp/internal/config"
	"github.com/interp-dev/interp/internal/deps"
	"github.com/interp-dev/interp/internal/sandbox"
	"github.com/interp-dev/interp/internal/session"
)

// cacheDirs are the package cache installs share and the store of
// installed packages that sessions share: cache.dir and cache.store_dir,
// else uv-cache and store in the state directory (the store beside the
// sessions' package directories, which link into it).
func cacheDirs(s *config.Settings) (cache, store string) {
	cache, store = s.Cache.Dir, s.Cache.StoreDir
	if cache == "" {
		cache = filepath.Join(session.DefaultStateDir(), "uv-cache")
	}
	if store == "" {
		store = filepath.Join(session.DefaultStateDir(), "store")
	}
	return cache, store
}

// cacheLimits are the bounds of the package cache and of the store:
// cache.max_size, cache.store_max_size and cache.max_age.
func cacheLimits(s *config.Settings) (cache, store deps.CacheLimits) {
	return deps.CacheLimits{MaxBytes: s.Cache.MaxSize, MaxAge: s.Cache.MaxAge},
		deps.CacheLimits{MaxBytes: s.Cache.StoreMaxSize, MaxAge: s.Cache.MaxAge}
}

func newCacheCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cache",
		Short: "Inspect, prune or prewarm the package cache and the store of installed packages: info, prune, prewarm",
	}
	var infoJSON bool
	info := &cobra.Command{
		Use:   "info [--json]",
		Short: "Say where the package cache and the package store are, their sizes and entries",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			s, err := g.settings()
			if err != nil {
				return err
			}
			cacheDir, storeDir := cacheDirs(s)
			st, err := deps.CacheInfo(c.Context(), cacheDir)
			if err != nil {
				return &exitError{code: exitInternal, msg: fmt.Sprintf("package cache: %v", err)}
			}
			store, err := (&deps.Store{Dir: storeDir}).Info(c.Context())
			if err != nil {
				return &exitError{code: exitInternal, msg: fmt.Sprintf("package store: %v", err)}
			}
			limits, storeLimits := cacheLimits(s)
			return printCacheInfo(c.OutOrStdout(), st, store, limits, storeLimits, infoJSON)
		},
	}
	info.Flags().BoolVar(&infoJSON, "json", false, "print JSON")

	var pruneJSON bool
	prune := &cobra.Command{
		Use:   "prune [--max-size SIZE] [--store-max-size SIZE] [--max-age DURATION] [--json]",
		Short: "Remove the oldest cached packages, and the least recently used stored packages no session uses",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			s, err := g.settings()
			if err != nil {
				return err
			}
			cacheDir, storeDir := cacheDirs(s)
			limits, storeLimits := cacheLimits(s)
			res, err := deps.PruneCache(c.Context(), cacheDir, limits)
			if errors.Is(err, deps.ErrCacheBusy) {
				return &exitError{code: exitInternal, msg: err.Error()}
			}
			if err != nil {
				return &exitError{code: exitInternal, msg: fmt.Sprintf("package cache: %v", err)}
			}
			stored, err := (&deps.Store{Dir: storeDir}).Prune(c.Context(), storeLimits)
			if errors.Is(err, deps.ErrCacheBusy) {
				return &exitError{code: exitInternal, msg: err.Error()}
			}
			if err != nil {
				return &exitError{code: exitInternal, msg: fmt.Sprintf("package store: %v", err)}
			}
			if pruneJSON {
				enc := json.NewEncoder(c.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(map[string]any{"dir": cacheDir, "removed": res.Entries, "freed_bytes": res.Freed, "bytes_left": res.Size,
					"store": map[string]any{"dir": storeDir, "removed": stored.Entries, "freed_bytes": stored.Freed, "bytes_left": stored.Size}})
			}
			fmt.Fprintf(c.OutOrStdout(), "removed %d entries, freed %s; %s of entries left in %s\n",
				res.Entries, sandbox.FormatBytes(res.Freed), sandbox.FormatBytes(res.Size), cacheDir)
			fmt.Fprintf(c.OutOrStdout(), "removed %d stored packages, freed %s; %s left in %s (packages in use or prewarmed are kept)\n",
				stored.Entries, sandbox.FormatBytes(stored.Freed), sandbox.FormatBytes(stored.Size), storeDir)
			return nil
		},
	}
	declare(prune.Flags(), "cache.max_size", "cache.store_max_size", "cache.max_age")
	prune.Flags().BoolVar(&pruneJSON, "json", false, "print JSON")

	var prewarmJSON, replace bool
	prewarm := &cobra.Command{
		Use:   "prewarm [PKG...] [--replace] [--json]",
		Short: "Install packages into the store ahead of time and keep them there, so that new sessions get them at once (default: install.prewarm)",
		Long: "prewarm installs the packages named (else those of install.prewarm in the config file),\n" +
			"with what they need, into the store of installed packages, and keeps them there: prune\n" +
			"never evicts them. A session that imports one of them later gets it linked from the store,\n" +
			"with no uv run and no download; interp serve and interp mcp link them into every new\n" +
			"session. Earlier prewarmed packages stay, unless --replace.",
		RunE: func(c *cobra.Command, args []string) error {
			return runPrewarm(c.Context(), g, args, replace, prewarmJSON, c.OutOrStdout(), c.ErrOrStderr())
		},
	}
	declare(prewarm.Flags(), "index_url")
	prewarm.Flags().BoolVar(&replace, "replace", false, "forget the packages prewarmed before: keep only these")
	prewarm.Flags().BoolVar(&prewarmJSON, "json", false, "print JSON")
	cmd.AddCommand(info, prune, prewarm)
	return cmd
}

// runPrewarm is interp cache prewarm.
func runPrewarm(ctx context.Context, g *globalFlags, args []string, replace, asJSON bool, stdout, stderr io.Writer) error {
	s, err := g.settings()
	if err != nil {
		return err
	}
	reqs, err := prewarmList(s.File, args)
	if err != nil {
		return err
	}
	if len(reqs) == 0 && !replace {
		return &exitError{code: exitUsage, msg: fmt.Sprintf("nothing to prewarm: name packages (interp cache prewarm torch), or list them as install.prewarm in %s", config.Path())}
	}
	rt, err := g.runtime()
	if err != nil {
		return &exitError{code: exitUnsupported, msg: err.Error()}
	}
	if rt.UV == "" {
		return &exitError{code: exitUnsupported, msg: "uv is not installed, so nothing can be prewarmed: run scripts/setup"}
	}
	auto, err := (&depsFlags{}).auto(s, rt, stderr)
	if err != nil {
		return err
	}
	in := auto.Installer
	if replace {
		if err := in.Store.Unpin(ctx); err != nil {
			return &exitError{code: exitInternal, msg: err.Error()}
		}
	}
	if len(reqs) > 0 {
		r := newTextRenderer(stderr, stderr, "")
		err = in.Pin(ctx, reqs, r.event)
		r.endProgress()
		if err != nil {
			return &exitError{code: exitInternal, msg: err.Error()}
		}
	}
	st, err := in.Store.Info(ctx)
	if err != nil {
		return &exitError{code: exitInternal, msg: fmt.Sprintf("package store: %v", err)}
	}
	pinned := []deps.StoreEntry{}
	var size int64
	for _, e := range st.Entries {
		if e.Pinned {
			pinned = append(pinned, e)
			size += e.Bytes
		}
	}
	sort.Slice(pinned, func(i, j int) bool { return pinned[i].Name < pinned[j].Name })
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"store": st.Dir, "prewarmed": pinned, "bytes": size})
	}
	if len(pinned) == 0 {
		fmt.Fprintf(stdout, "no packages are prewarmed in %s\n", st.Dir)
		return nil
	}
	fmt.Fprintf(stdout, "prewarmed %d packages, %s, in %s:\n", len(pinned), sandbox.FormatBytes(size), st.Dir)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	for _, e := range pinned {
		fmt.Fprintf(tw, "  %s\t%s\n", e.Name, sandbox.FormatBytes(e.Bytes))
	}
	return tw.Flush()
}

func printCacheInfo(w io.Writer, st deps.CacheStats, store deps.StoreStats, limits, storeLimits deps.CacheLimits, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			deps.CacheStats
			MaxBytes int64     `json:"max_bytes"`
			Store    storeInfo `json:"store"`
		}{st, limits.MaxBytes, storeInfo{store, storeLimits.MaxBytes}})
	}
	fmt.Fprintf(w, "package cache  %s\n  %s in %d entries", st.Dir, sandbox.FormatBytes(st.Bytes), st.Entries)
	if !st.Oldest.IsZero() {
		fmt.Fprintf(w, ", the oldest from %s", st.Oldest.Format(time.DateTime))
	}
	fmt.Fprintf(w, "; budget %s, and entries older than %s go\n", sandbox.FormatBytes(limits.MaxBytes), formatAge(limits.MaxAge))
	inUse, pinned := 0, 0
	for _, e := range store.Entries {
		if e.Users > 0 {
			inUse++
		}
		if e.Pinned {
			pinned++
		}
	}
	fmt.Fprintf(w, "package store  %s\n  %s in %d packages, %d in use by sessions, %d prewarmed; budget %s (packages in use or prewarmed are kept)\n",
		store.Dir, sandbox.FormatBytes(store.Bytes), len(store.Entries), inUse, pinned, sandbox.FormatBytes(storeLimits.MaxBytes))
	if len(store.Entries) == 0 {
		return nil
	}
	// Least recently used first: the order prune evicts in.
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  PACKAGE\tSIZE\tLAST USED\tSESSIONS")
	for _, e := range store.Entries {
		note := ""
		if e.Pinned {
			note = "  prewarmed"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%d%s\n", e.Name, sandbox.FormatBytes(e.Bytes), e.LastUsed.Format(time.DateTime), e.Users, note)
	}
	return tw.Flush()
}

// formatAge writes a maximum age as people read it: "60 days", "36h".
func formatAge(d time.Duration) string {
	if d > 0 && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	}
	return strings.TrimSuffix(strings.TrimSuffix(d.String(), "0s"), "0m")
}

// storeInfo is the store's description with its budget, for --json.
type storeInfo struct {
	deps.StoreStats
	MaxBytes int64 `json:"max_bytes"`
}
