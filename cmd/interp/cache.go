package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/interp-dev/interp/internal/config"
	"github.com/interp-dev/interp/internal/deps"
	"github.com/interp-dev/interp/internal/sandbox"
	"github.com/interp-dev/interp/internal/session"
)

// cacheDir is the package cache installs share: $INTERP_CACHE_DIR, else
// uv-cache in the state directory.
func cacheDir() string {
	return envOr("INTERP_CACHE_DIR", filepath.Join(session.DefaultStateDir(), "uv-cache"))
}

// storeDir is the store of installed packages that sessions share:
// $INTERP_STORE_DIR, else store in the state directory, beside the
// sessions' package directories (which link into it).
func storeDir() string {
	return envOr("INTERP_STORE_DIR", filepath.Join(session.DefaultStateDir(), "store"))
}

// cacheLimits are the configured bounds of the package cache and of the
// store, the built-in defaults where cache.max_size, cache.max_age or
// cache.store_max_size is unset.
func cacheLimits(cfg *config.Config) (cache, store deps.CacheLimits, err error) {
	l, err := oneCacheLimits(cfg)
	if err != nil {
		return l, l, err
	}
	store = deps.DefaultStoreLimits
	if cfg.Cache.MaxAge != "" {
		store.MaxAge = l.MaxAge
	}
	if cfg.Cache.StoreMaxSize != "" {
		if store.MaxBytes, err = config.ParseSize(cfg.Cache.StoreMaxSize); err != nil {
			return l, store, &exitError{code: exitUsage, msg: fmt.Sprintf("cache.store_max_size: %v", err)}
		}
	}
	return l, store, nil
}

func oneCacheLimits(cfg *config.Config) (deps.CacheLimits, error) {
	l := deps.DefaultCacheLimits
	var err error
	if cfg.Cache.MaxSize != "" {
		if l.MaxBytes, err = config.ParseSize(cfg.Cache.MaxSize); err != nil {
			return l, &exitError{code: exitUsage, msg: fmt.Sprintf("cache.max_size: %v", err)}
		}
	}
	if cfg.Cache.MaxAge != "" {
		if l.MaxAge, err = time.ParseDuration(cfg.Cache.MaxAge); err != nil || l.MaxAge <= 0 {
			return l, &exitError{code: exitUsage, msg: fmt.Sprintf("cache.max_age: %q is not a duration such as 720h", cfg.Cache.MaxAge)}
		}
	}
	return l, nil
}

// configuredCacheLimits loads the config file and returns the bounds of
// the cache and the store.
func configuredCacheLimits() (cache, store deps.CacheLimits, err error) {
	cfg, err := config.Load(config.Path())
	if err != nil {
		return cache, store, &exitError{code: exitUsage, msg: err.Error()}
	}
	return cacheLimits(cfg)
}

func newCacheCmd(*globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cache",
		Short: "Inspect or prune the package cache and the store of installed packages: info, prune",
	}
	var infoJSON bool
	info := &cobra.Command{
		Use:   "info [--json]",
		Short: "Say where the package cache and the package store are, their sizes and entries",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			st, err := deps.CacheInfo(c.Context(), cacheDir())
			if err != nil {
				return &exitError{code: exitInternal, msg: fmt.Sprintf("package cache: %v", err)}
			}
			store, err := (&deps.Store{Dir: storeDir()}).Info(c.Context())
			if err != nil {
				return &exitError{code: exitInternal, msg: fmt.Sprintf("package store: %v", err)}
			}
			return printCacheInfo(c.OutOrStdout(), st, store, infoJSON)
		},
	}
	info.Flags().BoolVar(&infoJSON, "json", false, "print JSON")

	var maxSize, maxAge, storeMaxSize string
	var pruneJSON bool
	prune := &cobra.Command{
		Use:   "prune [--max-size SIZE] [--store-max-size SIZE] [--max-age DURATION] [--json]",
		Short: "Remove the oldest cached packages, and the least recently used stored packages no session uses",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			limits, storeLimits, err := configuredCacheLimits()
			if err != nil {
				return err
			}
			if maxSize != "" {
				if limits.MaxBytes, err = config.ParseSize(maxSize); err != nil {
					return &exitError{code: exitUsage, msg: fmt.Sprintf("--max-size: %v", err)}
				}
			}
			if storeMaxSize != "" {
				if storeLimits.MaxBytes, err = config.ParseSize(storeMaxSize); err != nil {
					return &exitError{code: exitUsage, msg: fmt.Sprintf("--store-max-size: %v", err)}
				}
			}
			if maxAge != "" {
				if limits.MaxAge, err = time.ParseDuration(maxAge); err != nil || limits.MaxAge <= 0 {
					return &exitError{code: exitUsage, msg: fmt.Sprintf("--max-age: %q is not a duration such as 720h", maxAge)}
				}
				storeLimits.MaxAge = limits.MaxAge
			}
			res, err := deps.PruneCache(c.Context(), cacheDir(), limits)
			if errors.Is(err, deps.ErrCacheBusy) {
				return &exitError{code: exitInternal, msg: err.Error()}
			}
			if err != nil {
				return &exitError{code: exitInternal, msg: fmt.Sprintf("package cache: %v", err)}
			}
			stored, err := (&deps.Store{Dir: storeDir()}).Prune(c.Context(), storeLimits)
			if errors.Is(err, deps.ErrCacheBusy) {
				return &exitError{code: exitInternal, msg: err.Error()}
			}
			if err != nil {
				return &exitError{code: exitInternal, msg: fmt.Sprintf("package store: %v", err)}
			}
			if pruneJSON {
				enc := json.NewEncoder(c.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(map[string]any{"dir": cacheDir(), "removed": res.Entries, "freed_bytes": res.Freed, "bytes_left": res.Size,
					"store": map[string]any{"dir": storeDir(), "removed": stored.Entries, "freed_bytes": stored.Freed, "bytes_left": stored.Size}})
			}
			fmt.Fprintf(c.OutOrStdout(), "removed %d entries, freed %s; %s of entries left in %s\n",
				res.Entries, sandbox.FormatBytes(res.Freed), sandbox.FormatBytes(res.Size), cacheDir())
			fmt.Fprintf(c.OutOrStdout(), "removed %d stored packages, freed %s; %s left in %s (packages a session uses are kept)\n",
				stored.Entries, sandbox.FormatBytes(stored.Freed), sandbox.FormatBytes(stored.Size), storeDir())
			return nil
		},
	}
	prune.Flags().StringVar(&maxSize, "max-size", "", "prune the cache down to this size, oldest first (default cache.max_size, else 10GiB)")
	prune.Flags().StringVar(&storeMaxSize, "store-max-size", "", "prune the store down to this size, least recently used first (default cache.store_max_size, else 20GiB)")
	prune.Flags().StringVar(&maxAge, "max-age", "", "remove entries older (stored packages unused for longer) than this, such as 720h (default cache.max_age, else 1440h)")
	prune.Flags().BoolVar(&pruneJSON, "json", false, "print JSON")
	cmd.AddCommand(info, prune)
	return cmd
}

func printCacheInfo(w io.Writer, st deps.CacheStats, store deps.StoreStats, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			deps.CacheStats
			Store deps.StoreStats `json:"store"`
		}{st, store})
	}
	fmt.Fprintf(w, "dir      %s\nsize     %s\nentries  %d\n", st.Dir, sandbox.FormatBytes(st.Bytes), st.Entries)
	if !st.Oldest.IsZero() {
		fmt.Fprintf(w, "oldest   %s\n", st.Oldest.Format(time.DateTime))
	}
	inUse := 0
	for _, e := range store.Entries {
		if e.Users > 0 {
			inUse++
		}
	}
	fmt.Fprintf(w, "store    %s\nstored   %s in %d packages, %d in use by sessions\n", store.Dir, sandbox.FormatBytes(store.Bytes), len(store.Entries), inUse)
	return nil
}
